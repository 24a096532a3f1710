"""Errors that say what to do: each user mistake is a `CompilationError` at the user's line with the
caret on the offending sub-expression (marked ``# <- error``; ``at=`` is where the caret points) and
a hint; misuse of `NodeRunner` is a `TypeError`/`KeyError` naming what was expected."""

from __future__ import annotations

import ctypes
import enum
import math

import numba
import pytest

from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_node, output

from conftest import rejected, started


def plain_helper(v):
    return v + 1.0


@numba.njit
def jitted_helper(v):
    return v + 1.0


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2


class Tick(ctypes.Structure):
    _fields_ = [("price", ctypes.c_double), ("size", ctypes.c_int64)]


# -- 1. calling a plain Python function --------------------------------------------------------


def calls_plain_function(x: Signal[float]) -> Signal[float]:
    y = x * 2.0
    return y + plain_helper(x)  # <- error


def test_calling_a_plain_python_function_says_to_njit_it(host_context):
    err = rejected(calls_plain_function, at="plain_helper(x)")
    assert "cannot call plain Python function 'plain_helper' from compiled code" in err.message
    assert "decorate it with @numba.njit" in err.hint
    assert err.stage == "AST conversion"


def aliases_plain_function(x: Signal[float]) -> Signal[float]:
    f = plain_helper  # <- error
    return f(x)


def test_a_plain_function_numba_meets_is_reported_at_its_name(host_context):
    err = rejected(aliases_plain_function, at="plain_helper")
    assert "plain Python function 'plain_helper'" in err.message
    assert "Untyped global" not in err.message
    assert "@numba.njit" in err.hint


def calls_jitted_function(x: Signal[float]) -> Signal[float]:
    return jitted_helper(x)


def test_an_njit_function_is_still_callable(host_context):
    assert started(compile_node(calls_jitted_function)).execute(x=1.5) == 2.5


# -- 2. print ------------------------------------------------------------------------------------


def prints(x: Signal[float]) -> Signal[float]:
    print(x)  # <- error
    return x


def test_print_says_compiled_code_cannot_print(host_context):
    err = rejected(prints, at="print")
    assert err.message == "compiled code cannot print"
    assert err.hint == "return the value or write it to an output"


# -- 3. a float stored into an int output or state variable --------------------------------------


def returns_float_into_int(x: Signal[float]) -> Signal[int]:
    y = x * 2.0
    return y + 1.0  # <- error


def test_float_returned_into_an_int_output_says_wrap_in_int(host_context):
    err = rejected(returns_float_into_int, at="y + 1.0")
    assert "a float value cannot be returned into int output 'output0'" in err.message
    assert "variable" not in err.message
    assert "wrap the value in int(...)" in err.hint


def writes_float_to_named_int_output(x: Signal[float]) -> Outputs(count=Signal[int], mean=Signal[float]):
    output(mean=x, count=x * 2.0)  # <- error


def test_float_written_to_a_named_int_output_names_it(host_context):
    err = rejected(writes_float_to_named_int_output, at="x * 2.0")
    assert "a float value cannot be stored in int output 'count'" in err.message
    assert "wrap the value in int(...)" in err.hint


def stores_float_in_int_state(x: Signal[float]) -> Signal[int]:
    count: State[int] = 0
    count = x * 2.0  # <- error
    return 1


def test_float_stored_in_int_state_names_the_state_variable(host_context):
    err = rejected(stores_float_in_int_state, at="x * 2.0")
    assert "a float value cannot be stored in int state variable 'count'" in err.message
    assert "wrap the value in int(...)" in err.hint


def adds_float_to_int_state(x: Signal[float]) -> Signal[int]:
    count: State[int] = 0
    count += x  # <- error
    return count


def test_float_added_to_int_state_names_the_state_variable(host_context):
    err = rejected(adds_float_to_int_state, at="x")
    assert "state variable 'count'" in err.message
    assert "wrap the value in int(...)" in err.hint


def wraps_in_int(x: Signal[float]) -> Signal[int]:
    count: State[int] = 0
    count += int(x)
    return int(count * 1.5)


def test_following_the_hint_compiles(host_context):
    assert started(compile_node(wraps_in_int)).execute(x=2.5) == 3


# -- 4. unknown functions of a module -------------------------------------------------------------


def calls_missing_math_function(x: Signal[float]) -> Signal[float]:
    return math.nosuchfunc(x)  # noqa  # <- error


def test_missing_module_function_is_a_compilation_error(host_context):
    err = rejected(calls_missing_math_function, at="math.nosuchfunc")
    assert err.message == "module 'math' has no function 'nosuchfunc'"


def calls_misspelt_math_function(x: Signal[float]) -> Signal[float]:
    return math.sqr(x)  # noqa  # <- error


def test_misspelt_module_function_suggests_the_close_one(host_context):
    err = rejected(calls_misspelt_math_function, at="math.sqr")
    assert err.message == "module 'math' has no function 'sqr'; did you mean 'sqrt'?"


def reads_missing_math_constant(x: Signal[float]) -> Signal[float]:
    return x * math.pii  # noqa  # <- error


def test_missing_module_attribute_suggests_the_close_one(host_context):
    err = rejected(reads_missing_math_constant, at="math.pii")
    assert err.message == "module 'math' has no attribute 'pii'; did you mean 'pi'?"


# -- 5. a state variable named like a parameter ----------------------------------------------------


def state_named_like_input(x: Signal[float]) -> Signal[float]:
    x: State[float] = 0.0  # <- error
    return x


def test_state_variable_clashing_with_an_input_says_rename(host_context):
    err = rejected(state_named_like_input, at="x: State")
    assert "state variable 'x' has the same name as a parameter" in err.message
    assert "rename the state variable" in err.hint


# -- 6. range() over a float --------------------------------------------------------------------


def ranges_over_float_input(x: Signal[float]) -> Signal[int]:
    total = 0
    for i in range(x):  # <- error
        total += i
    return total


def test_range_of_a_float_is_rejected_at_the_argument(host_context):
    err = rejected(ranges_over_float_input, at="x):")
    assert err.message == "range() arguments must be integers, got a float"
    assert err.hint == "use int(x)"
    assert err.stage == "Numba typing"


def ranges_to_float_local(x: Signal[float], n: Signal[int]) -> Signal[int]:
    total = 0
    stop = x * 2.0
    for i in range(n, stop, 1):  # <- error
        total += i
    return total


def test_range_points_at_the_float_argument(host_context):
    err = rejected(ranges_to_float_local, at="stop, 1")
    assert err.message == "range() arguments must be integers, got a float"
    assert err.hint == "use int(stop)"


def ranges_over_float_constant(x: Signal[int], k: float) -> Signal[int]:
    total = 0
    for i in range(k):  # <- error
        total += i
    return total


def test_range_of_a_float_constant_is_rejected_before_numba(host_context):
    err = rejected(ranges_over_float_constant, at="k)", k=2.5)
    assert err.message == "range() arguments must be integers, got a float"
    assert err.stage == "AST conversion"


def ranges_over_ints(n: Signal[int], flag: Signal[bool]) -> Signal[int]:
    total = 0
    for i in range(1, n + 1, 2):
        total += i
    for j in range(flag):
        total += 100
    return total


def test_range_of_integers_and_bools_still_runs(host_context):
    runner = started(compile_node(ranges_over_ints))
    assert runner.execute(n=5, flag=True) == sum(range(1, 6, 2)) + 100


# -- 7. unknown names: "did you mean" ---------------------------------------------------------------


def misspells_local(x: Signal[float]) -> Signal[float]:
    alpha = 0.5
    return x * alph  # noqa: F821  # <- error


def test_unknown_name_suggests_a_local(host_context):
    err = rejected(misspells_local, at="alph")
    assert err.message == "unknown name 'alph'; did you mean 'alpha'?"
    assert "define it before use" in err.hint


def misspells_parameter(price: Signal[float]) -> Signal[float]:
    return prise * 2.0  # noqa: F821  # <- error


def test_unknown_name_suggests_a_parameter(host_context):
    assert "did you mean 'price'?" in rejected(misspells_parameter, at="prise").message


def misspells_state(x: Signal[float]) -> Signal[float]:
    total: State[float] = 0.0
    return totl + x  # noqa: F821  # <- error


def test_unknown_name_suggests_a_state_variable(host_context):
    assert "did you mean 'total'?" in rejected(misspells_state, at="totl").message


def updates_misspelt_state(x: Signal[float]) -> Signal[float]:
    total: State[float] = 0.0
    totl += x  # noqa: F821  # <- error
    return total


def test_augmented_assignment_to_an_unassigned_name_suggests_the_state_variable(host_context):
    err = rejected(updates_misspelt_state, at="totl")
    assert err.message == "local variable 'totl' is read before it is assigned; did you mean 'total'?"
    assert "State[...]" in err.hint


def misspells_global(x: Signal[float]) -> Signal[float]:
    return jitted_helpr(x)  # noqa: F821  # <- error


def test_unknown_name_suggests_a_global(host_context):
    assert "did you mean 'jitted_helper'?" in rejected(misspells_global, at="jitted_helpr").message


def misspells_builtin(x: Signal[float]) -> Signal[float]:
    return maxx(x, 1.0)  # noqa: F821  # <- error


def test_unknown_name_suggests_an_allowed_builtin(host_context):
    assert "did you mean 'max'?" in rejected(misspells_builtin, at="maxx").message


def far_from_anything(x: Signal[float]) -> Signal[float]:
    return x + zzqqy  # noqa: F821  # <- error


def test_no_suggestion_when_nothing_is_close(host_context):
    assert rejected(far_from_anything, at="zzqqy").message == "unknown name 'zzqqy'"


def uses_python_builtin(x: Signal[float]) -> Signal[float]:
    y = sum(x)  # <- error
    return y


def test_python_builtin_outside_compiled_code_lists_the_allowed_ones(host_context):
    err = rejected(uses_python_builtin, at="sum")
    assert err.message == "Python built-in 'sum' is not available in compiled code"
    assert "min" in err.hint and "@numba.njit" in err.hint


def misspells_enum_member(x: Signal[float]) -> Signal[int]:
    return Side.BYU  # <- error


def test_unknown_enum_member_suggests_the_close_one(host_context):
    err = rejected(misspells_enum_member, at="Side.BYU")
    assert err.message == "Side has no member 'BYU'; did you mean 'BUY'?"


def misspells_struct_field(t: Signal[Tick]) -> Signal[float]:
    return t.prize  # <- error


def test_unknown_struct_field_suggests_the_close_one(host_context):
    err = rejected(misspells_struct_field, at="t.prize")
    assert err.message == "input 't' has no attribute 'prize'; did you mean 'price'?"


def misspells_state_attribute(x: Signal[float]) -> Signal[float]:
    total: State[float] = 0.0
    return total.real_part  # <- error


def test_unknown_attribute_of_a_state_variable(host_context):
    assert rejected(misspells_state_attribute, at="total.real_part").message == "state 'total' has no attribute 'real_part'"


# -- 8. NodeRunner misuse ------------------------------------------------------------------------


def small_node(x: Signal[float], n: Signal[int]) -> Signal[float]:
    total: State[float] = 0.0
    total += x + n
    return total


def test_node_runner_of_a_function_says_to_compile_it(host_context):
    with pytest.raises(TypeError) as info:
        NodeRunner(small_node)
    assert "NodeRunner takes a CompilationResult (from compile_node(...)), got function 'small_node'" in str(info.value)


def test_node_runner_state_typo_names_the_state_variables(host_context):
    runner = started(compile_node(small_node))
    with pytest.raises(KeyError) as info:
        runner.state("totl")
    text = str(info.value)
    assert "no state variable 'totl'" in text
    assert "did you mean 'total'?" in text
    assert "(state variables: total)" in text


def test_unknown_input_lists_the_inputs(host_context):
    runner = started(compile_node(small_node))
    with pytest.raises(TypeError) as info:
        runner.execute(xx=1.0)
    text = str(info.value)
    assert "has no input 'xx'" in text and "did you mean 'x'?" in text and "(inputs: x, n)" in text


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"x": "a"}, "input 'x' of small_node takes float, got str 'a'"),
        ({"n": 2.5}, "input 'n' of small_node takes int, got float 2.5"),
        ({"n": None}, "input 'n' of small_node takes int, got NoneType None"),
    ],
)
def test_wrong_input_value_type_names_the_input_and_its_type(host_context, inputs, expected):
    runner = started(compile_node(small_node))
    with pytest.raises(TypeError) as info:
        runner.execute(**inputs)
    assert expected in str(info.value)
    assert runner.execute(x=1.0, n=2) == 3.0  # the runner is still usable


def test_input_value_out_of_range_names_the_input(host_context):
    runner = started(compile_node(small_node))
    with pytest.raises(ValueError, match="input 'n' of small_node: .*does not fit in 64 bits"):
        runner.execute(n=2**70)
