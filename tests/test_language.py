"""SPEC §5: the per-call language, compiled through the reference host and compared with the
same Python function run by Python (stateless nodes), or with a Python model (stateful ones)."""

from __future__ import annotations

import functools
import math

import numba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_cfunc_compiler import CompilationError, State
from numba_cfunc_compiler import State as Keep
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_node, output, ticked, valid

EXAMPLES = settings(max_examples=50, deadline=None)


def started(func, **constants) -> NodeRunner:
    runner = NodeRunner(compile_node(func, **constants))
    runner.start()
    return runner


def same(actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        if math.isnan(expected) and math.isnan(actual):
            return True
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)
    return actual == expected and type(actual) is type(expected)


def check_against_python(func, rows: list[dict], **constants) -> None:
    """EXECUTE ``func`` natively with every input of each row; compare with ``func(**row)``."""
    runner = started(func, **constants)
    for row in rows:
        actual = runner.execute(**row)
        expected = func(**row, **constants)
        assert same(actual, expected), (row, actual, expected)


@numba.njit
def weighted_sum(a, b):
    return 2 * a + b


@numba.njit
def square_then_weigh(v):
    return weighted_sum(v * v, 1.0)


# -- arithmetic ---------------------------------------------------------------------------------


def int_ops(a: Signal[int], b: Signal[int]) -> Signal[int]:
    return (a + b) * (a - b) + a // b + a % b + -a + a**2 + (a & b) + (a | b) + (a ^ b) + (a >> 2) + (b << 3)


def test_int_arithmetic():
    rows = [{"a": a, "b": b} for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -3), (0, 5), (123456, 789)]]
    check_against_python(int_ops, rows)


def float_ops(a: Signal[float], b: Signal[float]) -> Signal[float]:
    return a * 1.5 - a / b + a**2 - b + a // b + a % b


def test_float_arithmetic():
    rows = [{"a": a, "b": b} for a, b in [(2.5, 0.5), (-2.5, 0.75), (7.25, -2.0), (-7.25, -2.0), (0.0, 3.0)]]
    check_against_python(float_ops, rows)


def int_true_division(a: Signal[int], b: Signal[int]) -> Signal[float]:
    return a / b


def test_int_true_division_gives_float():
    check_against_python(int_true_division, [{"a": 7, "b": 2}, {"a": -1, "b": 4}])


def bool_ops(p: Signal[bool], q: Signal[bool], n: Signal[int]) -> Signal[int]:
    return p + q * 2 + (p and q) * 4 + (not p) * 8 + (p or q) * 16 + p * n


def test_bool_arithmetic():
    rows = [{"p": p, "q": q, "n": 5} for p in (False, True) for q in (False, True)]
    check_against_python(bool_ops, rows)


def mixed_ops(a: Signal[float], n: Signal[int], p: Signal[bool]) -> Signal[float]:
    return a * n + p - n / 4


def test_mixed_int_float_bool_arithmetic():
    check_against_python(mixed_ops, [{"a": 1.5, "n": 3, "p": True}, {"a": -0.25, "n": -8, "p": False}])


# -- comparisons and boolean logic --------------------------------------------------------------


def comparisons(a: Signal[float], n: Signal[int]) -> Signal[int]:
    return (
        (a < n) * 1 + (a <= n) * 2 + (a > n) * 4 + (a >= n) * 8 + (a == n) * 16 + (a != n) * 32
        + (0 < n <= 10) * 64 + (a < n < a + 2) * 128
    )  # fmt: skip


def test_comparisons():
    rows = [{"a": a, "n": n} for a, n in [(1.0, 1), (0.5, 1), (2.5, 1), (-3.0, 0), (9.5, 10), (10.0, 11)]]
    check_against_python(comparisons, rows)


def logic(a: Signal[int], b: Signal[int]) -> Signal[int]:
    if (a > 0 and b > 0) or not (a < b):
        return 1
    return (a or 7) + (b and 3)


def test_and_or_not():
    rows = [{"a": a, "b": b} for a in (-2, 0, 3) for b in (-1, 0, 5)]
    check_against_python(logic, rows)


def classify(x: Signal[int]) -> Signal[int]:
    if x > 10:
        return 3
    elif x > 5:
        return 2
    elif x == 5:
        return 1
    else:
        pass
    return -1


def test_if_elif_else():
    check_against_python(classify, [{"x": v} for v in (-3, 0, 5, 6, 10, 11)])


def ternary(x: Signal[float]) -> Signal[float]:
    y = x if x > 0 else -x
    return 1.0 if y > 10 else (y * 2 if y > 1 else 0.5)


def test_ternary():
    check_against_python(ternary, [{"x": v} for v in (-20.0, -3.0, 0.25, 2.0, 11.0)])


# -- loops and control flow ---------------------------------------------------------------------


def ranges(n: Signal[int]) -> Signal[int]:
    total = 0
    for i in range(n):
        total += i
    for i in range(2, n):
        total += 10 * i
    for i in range(1, n, 3):
        total += 100 * i
    for i in range(n, -n, -2):
        total -= i
    for i in range(n, 0, -1):
        total = total * 3 - i
    return total


def test_for_over_range_with_one_two_three_arguments_and_negative_steps():
    check_against_python(ranges, [{"n": v} for v in (-3, 0, 1, 2, 5, 9)])


def collatz_steps_local(n: Signal[int]) -> Signal[int]:
    m = n
    steps = 0
    while m > 1:
        if m % 2 == 0:
            m = m // 2
        else:
            m = 3 * m + 1
        steps += 1
    return steps


def test_while_loop():
    check_against_python(collatz_steps_local, [{"n": v} for v in (1, 2, 3, 7, 27)])


def break_continue(n: Signal[int]) -> Signal[int]:
    total = 0
    for i in range(100):
        if i % 3 == 0:
            continue
        if i > n:
            break
        total += i
    k = 0
    while True:
        k += 1
        if k % 2 == 1:
            continue
        if k >= n:
            break
    return total * 1000 + k


def test_break_and_continue():
    check_against_python(break_continue, [{"n": v} for v in (0, 1, 4, 10, 50)])


def first_multiple(n: Signal[int], of: Signal[int]) -> Signal[int]:
    for i in range(1, n):
        if i % of == 0:
            return i
    return -1


def test_early_return_from_a_loop():
    check_against_python(first_multiple, [{"n": 20, "of": 7}, {"n": 5, "of": 7}, {"n": 8, "of": 1}])


def guard(x: Signal[float]) -> Signal[float]:
    if x < 0:
        return
    return x * 2


def test_bare_return_ticks_nothing():
    check_against_python(guard, [{"x": -1.0}, {"x": 2.0}])


# -- variables -----------------------------------------------------------------------------------


def locals_node(x: Signal[int]) -> Signal[int]:
    """A docstring is fine."""
    a = b = x + 1
    p, q = a * 2, b - 1
    p, q = q, p
    a = a + p
    return a * 100 + p * 10 + q


def test_local_variables_chained_and_tuple_assignment():
    check_against_python(locals_node, [{"x": v} for v in (-2, 0, 3)])


def augmented_locals(x: Signal[int]) -> Signal[float]:
    n = x
    n += 3
    n -= 1
    n *= 4
    n //= 3
    n %= 50
    n **= 2
    f = 1.0
    f /= 4
    f += n
    return f


def test_augmented_assignment_on_locals():
    check_against_python(augmented_locals, [{"x": v} for v in (-9, 0, 7, 100)])


def annotated_locals(x: Signal[int]) -> Signal[int]:
    n: Keep[int] = 0
    y: int = x * 2
    z: float  # noqa: F842 - a bare annotation declares nothing
    n += y
    return n


def test_annotated_locals_and_state_under_another_name():
    runner = started(annotated_locals)
    assert [runner.execute(x=1), runner.execute(x=2)] == [2, 6]


def clashing_names(state: Signal[int], inputs: int) -> Signal[int]:
    outputs = state * 2
    lifecycle_phase = inputs + 1
    output_ticked = outputs + lifecycle_phase
    return output_ticked


def test_user_names_may_equal_generated_parameter_names():
    check_against_python(clashing_names, [{"state": 5}, {"state": -1}], inputs=10)


def decorate(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@decorate
def decorated(x: Signal[int]) -> Signal[int]:
    return x + 1


def test_decorated_function_is_compiled_without_its_decorator():
    check_against_python(decorated, [{"x": 1}, {"x": 41}])


def builtins_node(x: Signal[float], n: Signal[int]) -> Signal[float]:
    q, r = divmod(n, 3)
    return round(x) * 1000 + int(x) * 100 + float(n) / 8 + bool(n) * 10 + pow(n, 2) + q * 7 + r + +x + ~n + (not x)


def test_builtin_conversions_and_unary_operators():
    rows = [{"x": x, "n": n} for x, n in [(2.5, 7), (-2.7, -7), (3.5, 0), (0.0, 1), (-0.5, -1)]]
    check_against_python(builtins_node, rows)


def state_swap(x: Signal[int]) -> Signal[int]:
    a: State[int] = 1
    b: State[int] = 2
    a, b = b, a + x
    c = d = a
    return (a + c) * 1000 + b + d


def test_tuple_and_chained_assignment_to_state():
    runner = started(state_swap)
    a, b, seen = 1, 2, []
    for x in (10, 1, -3):
        a, b = b, a + x
        seen.append(runner.execute(x=x) == (a + a) * 1000 + b + a)
    assert seen == [True, True, True]


# -- functions available to node code -----------------------------------------------------------


def math_node(x: Signal[float]) -> Signal[float]:
    y = abs(x) + 0.5
    return (
        math.sqrt(y) + math.exp(-y) + math.log(y) + math.sin(x) * math.cos(x) + math.floor(x) + math.ceil(x)
        + math.fabs(x) + math.pow(y, 1.5) + math.hypot(x, 3.0) + math.atan2(x, 2.0) + math.tanh(x)
    )  # fmt: skip


def test_math_functions():
    check_against_python(math_node, [{"x": v} for v in (-2.75, -0.5, 0.0, 0.3, 4.0, 123.456)])


def math_predicates(x: Signal[float]) -> Signal[int]:
    return math.isnan(x) * 1 + math.isinf(x) * 2 + math.isfinite(x) * 4 + (math.copysign(1.0, x) > 0) * 8


def test_math_predicates():
    check_against_python(math_predicates, [{"x": v} for v in (math.nan, math.inf, -math.inf, -0.0, 2.0)])


def min_max_abs(a: Signal[float], n: Signal[int]) -> Signal[float]:
    return min(a, n) + max(a, n) * 10 + abs(a) * 100 + abs(n) * 1000 + min(n, 3, -n) + max(a, 0.5, n)


def test_min_max_abs():
    rows = [{"a": a, "n": n} for a, n in [(1.5, 2), (-1.5, -2), (0.0, 0), (7.25, -9)]]
    check_against_python(min_max_abs, rows)


def uses_njit(x: Signal[float]) -> Signal[float]:
    return weighted_sum(x, 1.0) + square_then_weigh(x)


def test_njit_helper_from_module_globals():
    check_against_python(uses_njit, [{"x": v} for v in (-1.5, 0.0, 2.0)])


# -- constants -----------------------------------------------------------------------------------


def with_constants(x: Signal[float], k: int, s: float, flip: bool) -> Signal[float]:
    total = 0.0
    for i in range(k):
        total += x * s
    if flip:
        return -total
    return total


def test_int_float_bool_constants_are_baked_in():
    check_against_python(with_constants, [{"x": 2.0}, {"x": -0.5}], k=3, s=0.25, flip=True)
    check_against_python(with_constants, [{"x": 2.0}], k=5, s=2.0, flip=False)


def test_constants_are_not_runtime_parameters():
    result = compile_node(with_constants, k=3, s=0.25, flip=True)
    names = {p.name for p in result.cfunc_params}
    assert not names & {"k", "s", "flip"}


def clipped(x: Signal[float], lo: float, hi: float) -> Signal[float]:
    return min(max(x, lo), hi)


def test_infinite_float_constants():
    check_against_python(clipped, [{"x": -1e300}, {"x": 5.0}], lo=-math.inf, hi=10.0)
    check_against_python(clipped, [{"x": 1e300}, {"x": -5.0}], lo=0.0, hi=math.inf)


def test_constant_of_the_wrong_type_is_rejected():
    with pytest.raises(CompilationError):
        compile_node(with_constants, k=2.5, s=0.25, flip=True)


# -- state ---------------------------------------------------------------------------------------


def accumulate(x: Signal[int]) -> Outputs(i=Signal[int], f=Signal[float], b=Signal[bool]):
    si: State[int] = 5
    sf: State[float] = 0.5
    sb: State[bool] = True
    si += x
    sf *= 2.0
    sb = not sb
    output(i=si, f=sf, b=sb)


def test_state_int_float_bool_persist_across_calls():
    runner = started(accumulate)
    assert runner.execute(x=1) == {"i": 6, "f": 1.0, "b": False}
    assert runner.execute(x=2) == {"i": 8, "f": 2.0, "b": True}
    assert runner.execute(x=-10) == {"i": -2, "f": 4.0, "b": False}


def running_stats(x: Signal[float]) -> Signal[float]:
    count: State[int] = 0
    total: State[float] = 0.0
    peak: State[float] = -math.inf
    count += 1
    total += x
    peak = max(peak, x)
    return total / count + peak


def test_state_matches_python_model():
    runner = started(running_stats)
    count, total, peak = 0, 0.0, -math.inf
    for x in (3.0, -1.0, 10.0, 2.5):
        count, total, peak = count + 1, total + x, max(peak, x)
        assert same(runner.execute(x=x), total / count + peak)


# -- signals -------------------------------------------------------------------------------------


def half(x: Signal[float]) -> Signal[float]:
    return x / 2


def test_int_input_into_float_parameter_is_widened():
    runner = started(half, x=Signal[int])
    assert runner.execute(x=3) == 1.5
    assert runner.execute(x=-7) == -3.5


def double_int(x: Signal[int]) -> Signal[int]:
    return x * 2


def test_float_input_into_int_parameter_is_rejected():
    with pytest.raises(CompilationError):
        compile_node(double_int, x=Signal[float])


def fan_out(x: Signal[int]) -> Outputs(even=Signal[int], odd=Signal[int], seen=Signal[int]):
    seen: State[int] = 0
    seen += 1
    if x % 2 == 0:
        output(even=x)
    else:
        output(odd=x)
    if seen % 3 == 0:
        output(seen=seen)


def test_named_outputs_tick_independently():
    runner = started(fan_out)
    assert runner.execute(x=2) == {"even": 2}
    assert runner.execute(x=3) == {"odd": 3}
    assert runner.execute(x=4) == {"even": 4, "seen": 3}


def flags(a: Signal[int], b: Signal[int]) -> Outputs(t=Signal[bool], v=Signal[bool], total=Signal[int]):
    output(t=ticked(a), v=valid(a))
    if valid(a) and valid(b):
        output(total=a + b)


def test_valid_versus_ticked():
    runner = started(flags)
    assert runner.execute() == {"t": False, "v": False}
    assert runner.execute(a=1) == {"t": True, "v": True}
    assert runner.execute(b=5) == {"t": False, "v": True, "total": 6}


def test_input_not_given_keeps_its_last_value():
    runner = started(flags)
    runner.execute(a=1, b=2)
    assert runner.execute(b=10)["total"] == 11
    assert runner.execute()["total"] == 11
    assert runner.execute(a=-4)["total"] == 6


def on_tick_only(x: Signal[float], y: Signal[float]) -> Signal[float]:
    if ticked(x):
        return x + y


def test_nothing_ticks_when_the_node_does_not_output():
    runner = started(on_tick_only)
    assert runner.execute(x=1.0, y=2.0) == 3.0
    assert runner.execute(y=5.0) is None
    assert runner.execute(x=0.5) == 5.5


# -- property tests: one compiled node, many inputs ----------------------------------------------

SMALL_INTS = st.integers(min_value=-(2**20), max_value=2**20)
FLOATS = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def int_kernel(i: Signal[int], j: Signal[int], p: Signal[bool]) -> Signal[int]:
    r = i * 3 - j + (i & 0xFF) - (j | 5) + (i ^ j) + (i >> 3) + abs(j) + max(i, j) - min(i, -j)
    if j != 0:
        r += i // j + i % j
    if p:
        r = -r
    return r + p


def float_kernel(a: Signal[float], b: Signal[float], n: Signal[int]) -> Signal[float]:
    r = a * b - a / 3.0 + n * 0.5 + abs(b) + max(a, b) - min(a, n)
    if b != 0.0:
        r += a / b + a // b + a % b
    return r if a < b else -r


@pytest.fixture(scope="module")
def int_kernel_runner():
    return started(int_kernel)


@pytest.fixture(scope="module")
def float_kernel_runner():
    return started(float_kernel)


@EXAMPLES
@given(i=SMALL_INTS, j=SMALL_INTS, p=st.booleans())
def test_int_kernel_matches_python(int_kernel_runner, i, j, p):
    assert int_kernel_runner.execute(i=i, j=j, p=p) == int_kernel(i, j, p)


@EXAMPLES
@given(a=FLOATS, b=FLOATS, n=SMALL_INTS)
def test_float_kernel_matches_python(float_kernel_runner, a, b, n):
    actual = float_kernel_runner.execute(a=a, b=b, n=n)
    expected = float_kernel(a, b, n)
    assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-9), (actual, expected)
