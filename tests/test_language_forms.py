"""SPEC §5 "Also allowed": the walrus operator, a State variable as a `for` or unpacking target, a
local alias of a container, and a container passed to an `@njit` helper that reads it.

Each node is compiled with the reference host and run through `NodeRunner` next to its Python
twin: the same function run by Python, its `State` declarations run once (START) and kept between
calls, its containers plain lists and dicts. Outputs and state must agree call by call. The
rejected variants give a `CompilationError` at the marked line."""

from __future__ import annotations

import ast
import inspect
import math
import textwrap

import numba
import pytest
from numba.core.dispatcher import Dispatcher

from numba_cfunc_compiler import CompilationError, NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Signal, compile_node
from tests.conftest import rejected


# -- the Python twin ------------------------------------------------------------------------------
def _is_state(annotation: ast.expr) -> bool:
    return isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name) and annotation.value.id == "State"


class PythonTwin:
    """``func`` run by Python with its state kept between calls (module-level names of a private
    namespace): what the compiled node must compute."""

    def __init__(self, func, **constants) -> None:
        lines, first = inspect.getsourcelines(func)
        tree = ast.increment_lineno(ast.parse(textwrap.dedent("".join(lines))), first - 1)
        fn = tree.body[0]
        declarations = [s for s in fn.body if isinstance(s, ast.AnnAssign) and _is_state(s.annotation)]
        self.names = [d.target.id for d in declarations]
        fn.body = [ast.Global(names=self.names)] * bool(self.names) + [s for s in fn.body if s not in declarations]
        fn.returns = None
        self.namespace = {
            **{k: v.py_func if isinstance(v, Dispatcher) else v for k, v in func.__globals__.items()},
            "create_new_list": lambda element: [],
            "create_new_dict": lambda key, value: {},
            "ticked": lambda value: True,
        }
        for declaration in declarations:
            self.namespace[declaration.target.id] = eval(ast.unparse(declaration.value), self.namespace)  # noqa: S307
        exec(compile(ast.fix_missing_locations(tree), inspect.getsourcefile(func), "exec"), self.namespace)  # noqa: S102
        self.func = self.namespace[fn.name]
        self.constants = constants

    def __call__(self, **inputs):
        return self.func(**inputs, **self.constants)

    def state(self, name: str):
        return self.namespace[name]


def same(actual, expected) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(expected, (list, dict)):
        return actual == expected
    return actual == expected and type(actual) is type(expected)


def check_against_python(func, rows: list[dict], **constants) -> NodeRunner:
    """Run ``func`` natively and as its Python twin on each row; outputs and state must agree."""
    runner = NodeRunner(compile_node(func, **constants))
    twin = PythonTwin(func, **constants)
    runner.start()
    for row in rows:
        expected = twin(**row)
        actual = runner.execute(**row)
        assert same(actual, expected), (func.__name__, row, actual, expected)
        for name in twin.names:
            assert same(runner.state(name), twin.state(name)), (func.__name__, row, name, runner.state(name), twin.state(name))
    return runner


# -- the walrus operator --------------------------------------------------------------------------
def walrus_local(x: Signal[int]) -> Signal[int]:
    if (y := x * 2) > 4:
        return y + (z := y - 1) * z
    elif (w := x - 10) < -8:
        return w
    return -y


def walrus_in_while(x: Signal[int]) -> Signal[int]:
    steps: State[int] = 0
    n = x
    while (n := n // 2) > 0:
        steps += 1
        if n == 3:
            continue
    return steps * 100 + n


def walrus_into_state(x: Signal[int]) -> Signal[float]:
    total: State[float] = 0.0
    seen: State[int] = 0
    value = (total := total + x) * 2 + (seen := seen + 1)
    return value + total / seen


def walrus_short_circuit(k: Signal[int]) -> Signal[float]:
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    d[k % 3] = k * 1.5
    if k in d and (v := d[k]) > 2.0:  # d[k] is read only when k is in d
        return v
    if k > 100 or (v := d.get(k % 3, 0.0)) > 4.0:
        return -1.0 if k > 100 else -v
    return (m := k) * 1.0 if k % 2 == 0 else (m := -k) * 2.0


def walrus_in_ternary_and_args(x: Signal[float]) -> Signal[float]:
    a = (p := x + 1.0) if x > 0 else (p := x - 1.0)
    return max(a, (q := p * 3.0)) + min(q, p)


@pytest.mark.parametrize(
    "func, rows",
    [
        (walrus_local, [{"x": x} for x in (1, 3, 0, -2, 7)]),
        (walrus_in_while, [{"x": x} for x in (0, 1, 7, 100, 64)]),
        (walrus_into_state, [{"x": x} for x in (1, 2, -5, 10)]),
        (walrus_short_circuit, [{"k": k} for k in (0, 1, 2, 3, 4, 5, 101)]),
        (walrus_in_ternary_and_args, [{"x": x} for x in (1.5, -2.0, 0.0)]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_walrus_behaves_as_in_python(func, rows):
    check_against_python(func, rows)


def test_walrus_value_is_the_expression_not_the_state_cell():
    def node(x: Signal[int]) -> Signal[int]:
        s: State[float] = 0.0
        return (s := x + 1)  # the int value, although s keeps 2.0

    runner = check_against_python(node, [{"x": 1}, {"x": 4}])
    assert runner.state("s") == 5.0


# -- State variables as loop and unpacking targets ------------------------------------------------
def state_loop_target(n: Signal[int]) -> Signal[int]:
    last: State[int] = -1
    for last in range(n):
        pass
    return last


def state_loop_over_containers(x: Signal[int]) -> Signal[float]:
    xs: State[NumbaList[float]] = create_new_list(float)
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    newest: State[float] = 0.0
    key: State[int] = 0
    best: State[float] = 0.0
    xs.append(x * 0.5)
    d[x] = x * 2.0
    for newest in xs:
        pass
    for key, best in d.items():
        if best > 10.0:
            break
    return newest + key + best


def fibonacci(x: Signal[int]) -> Signal[int]:
    a: State[int] = 0
    b: State[int] = 1
    a, b = b, a + b
    return a


def mixed_unpacking(x: Signal[int]) -> Signal[int]:
    lo: State[int] = 0
    hi: State[int] = 0
    xs: State[NumbaList[int]] = create_new_list(int)
    xs.append(x)
    xs.append(-x)
    (lo, hi), spread = (min(lo, x), max(hi, x)), hi - lo
    xs[0], xs[-1] = xs[-1], xs[0]  # swap through container items
    [first, second] = xs[0], xs[1]
    return spread * 1000 + first * 10 + second


@pytest.mark.parametrize(
    "func, rows",
    [
        (state_loop_target, [{"n": n} for n in (3, 0, 5, 1)]),
        (state_loop_over_containers, [{"x": x} for x in (1, 2, 6, 3)]),
        (fibonacci, [{"x": 0}] * 8),
        (mixed_unpacking, [{"x": x} for x in (3, -4, 10, 2)]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_state_as_loop_and_unpacking_target(func, rows):
    check_against_python(func, rows)


def test_loop_over_an_empty_range_keeps_the_state_value():
    runner = check_against_python(state_loop_target, [{"n": 4}, {"n": 0}])
    assert runner.state("last") == 3


# -- local aliases of containers ------------------------------------------------------------------
def list_alias(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    a = xs
    a.append(x)
    a[0] = a[0] + 1
    b = a  # an alias of an alias
    total = 0
    for v in b:
        total += v
    if len(b) > 3:
        b.pop(0)
    return total * 10 + len(xs) + (x in a)


def dict_alias(k: Signal[int]) -> Signal[float]:
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    other: State[NumbaDict[int, float]] = create_new_dict(int, float)
    a = d
    if k % 2 == 0:
        a = other  # rebinding to a container of the same type
    a[k] = a.get(k, 0.0) + 1.5
    a[k] += 1.0
    if k - 2 in a:
        del a[k - 2]
    total = 0.0
    for key, value in a.items():
        total += key * value
    for key in a:
        total += key
    return total + len(a) + len(d) * 100 + len(other) * 1000


def alias_of_constants(i: Signal[int], weights: NumbaDict[int, float], levels) -> Signal[float]:
    w = weights
    lv = levels
    return w.get(i, 0.0) * lv[i % len(lv)] + (i in w)


def alias_in_start(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    a = xs
    a.append(x)
    return len(xs)


@pytest.mark.parametrize(
    "func, rows, constants",
    [
        (list_alias, [{"x": x} for x in (1, 2, 3, 4, 5, -1)], {}),
        (dict_alias, [{"k": k} for k in (1, 2, 3, 4, 1, 6)], {}),
        (alias_of_constants, [{"i": i} for i in (0, 1, 2, 5)], {"weights": {1: 0.5, 2: 0.25}, "levels": [1.0, 2.0, 4.0]}),
        (alias_in_start, [{"x": 1}, {"x": 2}], {}),
    ],
    ids=lambda v: getattr(v, "__name__", "") if callable(v) else "",
)
def test_container_alias_changes_the_container(func, rows, constants):
    check_against_python(func, rows, **constants)


# -- containers passed to @njit helpers -----------------------------------------------------------
@numba.njit
def total(xs):
    s = 0.0
    for v in xs:
        s += v
    return s


@numba.njit
def describe_list(xs, probe):
    return len(xs) * 1000.0 + xs[0] * 10.0 + xs[-1] + (probe in xs) * 0.5


@numba.njit
def weighted(d, missing):
    s = 0.0
    for k in d:
        s += k
    for k in d.keys():
        s += k
    for v in d.values():
        s += v * 10.0
    for k, v in d.items():
        s += k * v * 100.0
    found = d.get(missing)
    if found is None:
        s += 0.25
    return s + d.get(missing, -1.0) + d[1] + (1 in d) + (missing in d) + len(d)


@numba.njit
def any_true(flags):
    for f in flags:
        if f:
            return True
    return False


def helpers_read_containers(x: Signal[float], table: NumbaDict[int, float], scale) -> Signal[float]:
    xs: State[NumbaList[float]] = create_new_list(float)
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    flags: State[NumbaList[bool]] = create_new_list(bool)
    xs.append(x)
    d[len(xs)] = x
    flags.append(x > 2.0)
    a = xs
    return total(a) + describe_list(xs, probe=2.0) + weighted(d, 99) + weighted(table, 3) + total(scale) + any_true(flags)


def test_helpers_read_state_constant_and_aliased_containers():
    constants = {"table": {1: 0.5, 3: 2.0}, "scale": [1.0, 2.0]}
    check_against_python(helpers_read_containers, [{"x": x} for x in (1.0, 2.0, 3.5, -1.0)], **constants)


@numba.njit
def at(xs, i):
    return xs[i]


def helper_faults(i: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    if len(xs) == 0:
        xs.append(7)
    return at(xs, i)


def test_a_fault_inside_a_helper_is_the_nodes_fault():
    runner = NodeRunner(compile_node(helper_faults))
    runner.start()
    assert runner.execute(i=0) == 7
    assert runner.execute(i=-1) == 7
    with pytest.raises(NodeRuntimeError, match="index"):
        runner.execute(i=5)
    with pytest.raises(IndexError):
        PythonTwin(helper_faults)(i=5)


def test_helper_code_is_inlined_without_python_or_nrt():
    import llvmlite.binding as llvm

    result = compile_node(helpers_read_containers, table={1: 0.5}, scale=[1.0])
    module = llvm.parse_assembly(result.llvm_ir)
    assert [f.name for f in module.functions if not f.is_declaration] == [result.native_name]
    declared = {f.name for f in module.functions if f.is_declaration}
    assert all(name.startswith(("ncc_", "llvm.")) for name in declared), declared


# -- rejected variants ----------------------------------------------------------------------------
@numba.njit
def appends(xs):
    xs.append(1.0)
    return 0.0


@numba.njit
def stores(d):
    d[1] = 2.0
    return 0.0


@numba.njit
def deletes(xs):
    del xs[0]
    return 0.0


def helper_appends(x: Signal[float]) -> Signal[float]:
    xs: State[NumbaList[float]] = create_new_list(float)
    return appends(xs)  # <- error


def helper_stores(x: Signal[float]) -> Signal[float]:
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    y = x + 1.0
    y += stores(d)  # <- error
    return y


def helper_deletes(x: Signal[float], xs) -> Signal[float]:
    return x + deletes(xs)  # <- error


@pytest.mark.parametrize("func, constants", [(helper_appends, {}), (helper_stores, {}), (helper_deletes, {"xs": [1.0]})])
def test_helper_cannot_change_a_container(func, constants):
    err = rejected(func, **constants)
    assert "read-only" in str(err) and "change it in the node" in str(err)


def walrus_into_input(x: Signal[int]) -> Signal[int]:
    return (x := 1) + 1  # <- error


def walrus_binds_container(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    if len(a := xs) > 0:  # <- error
        return 1
    return 0


def walrus_in_chained_comparison(x: Signal[int]) -> Signal[bool]:
    return 0 < x < (y := 10)  # <- error


def alias_rebound_to_a_value(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    a = xs
    a.append(x)
    a = len(a)  # <- error
    return a


def alias_rebound_to_another_type(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    a = xs
    if x > 0:
        a = d  # <- error
    return len(a)


def alias_as_loop_target(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    a = xs
    for a in range(3):  # <- error
        pass
    return x


def alias_of_constant_modified(x: Signal[int], xs: NumbaList[int]) -> Signal[int]:
    a = xs
    a.append(x)  # <- error
    return x


def container_replaced_by_alias(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    ys: State[NumbaList[int]] = create_new_list(int)
    xs = ys  # <- error
    return x


def container_into_scalar_state(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    n: State[int] = 0
    n = xs  # <- error
    return n


def container_into_item(x: Signal[int]) -> Signal[int]:
    xs: State[NumbaList[int]] = create_new_list(int)
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    d[0] = xs  # <- error
    return x


def state_loop_target_of_wrong_type(x: Signal[float]) -> Signal[int]:
    n: State[int] = 0
    for n in (x, x):  # <- error
        pass
    return n


REJECTED = [
    pytest.param(walrus_into_input, "x", {}, "read-only", id="walrus-into-input"),
    pytest.param(walrus_binds_container, "a := xs", {}, "walrus", id="walrus-binds-container"),
    pytest.param(walrus_in_chained_comparison, "0 < x", {}, "chained comparison", id="walrus-chained-compare"),
    pytest.param(alias_rebound_to_a_value, "a", {}, "alias of NumbaList[int] 'xs'", id="alias-rebound-to-value"),
    pytest.param(alias_rebound_to_another_type, "a", {}, "NumbaDict[int, int] 'd'", id="alias-rebound-to-dict"),
    pytest.param(alias_as_loop_target, "a", {}, "alias", id="alias-as-loop-target"),
    pytest.param(alias_of_constant_modified, "a.append", {"xs": [1]}, "cannot be modified", id="alias-of-constant"),
    pytest.param(container_replaced_by_alias, "xs", {}, "cannot be replaced", id="container-replaced"),
    pytest.param(container_into_scalar_state, "n", {}, "local name", id="container-into-scalar-state"),
    pytest.param(container_into_item, "xs", {}, "can only be used through its operations", id="container-into-item"),
    pytest.param(state_loop_target_of_wrong_type, None, {}, None, id="float-into-int-loop-target"),
]


@pytest.mark.parametrize("func, at, constants, words", REJECTED)
def test_rejected_forms_name_the_line(func, at, constants, words):
    err = rejected(func, at=at, **constants)
    assert isinstance(err, CompilationError)
    if words is not None:
        assert words in str(err), str(err)
