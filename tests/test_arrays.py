"""NumbaArray in compiled nodes (SPEC section 7 "Host breadth", docs/arrays.md).

A fixed-size array of int/float/bool/datetime/timedelta lives in the host's state memory (state kind
"array", N * itemsize bytes, no allocation ever) or, for a constant parameter, in read-only data
baked into the code. Every operation runs through `NodeRunner` and through the raw entry point with
memory the test owns; random operation sequences agree with a Python list (faults exactly where
Python raises IndexError, and a faulting call changes nothing); misuse is a `CompilationError` at
the user's line (marked ``# <- error``); AOT libraries carry the layout in their manifest and header
and run under `NodeRunner.from_library` without Numba.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import re
import ctypes
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import llvmlite.binding as llvm
import numba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_cfunc_compiler import NumbaArray, NumbaList, State, create_new_array, create_new_list
from numba_cfunc_compiler.aot import LibraryError, build_library, check_compatible, load_manifest
from numba_cfunc_compiler.artifact import NodeArtifact
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Signal, compile_node

from conftest import NCC_EXECUTE, NCC_START, NCC_STOP, entry_point, rejected, started

INDEX = 2  # NCC_ERR_INDEX
PROPERTY = settings(max_examples=150, deadline=None)
UTC = timezone.utc
T0 = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)
N = 5  # length of the arrays the property tests drive


def fault_of(call) -> NodeRuntimeError:
    with pytest.raises(NodeRuntimeError) as info:
        call()
    return info.value


@numba.njit
def helper_sum(xs):
    total = 0.0
    for x in xs:
        total += x
    return total


@numba.njit
def helper_stats(xs):
    """len, indexing (negative too) and iteration of an array view."""
    count = 0
    for x in xs:
        if x:
            count += 1
    return len(xs) * 1000 + count * 10 + (1 if xs[-1] else 0)


@numba.njit
def helper_mixed(xs, ys):
    return len(xs) + len(ys) + xs[0] + ys[0]


@numba.njit
def helper_writes(xs):
    xs[0] = 1.0
    return xs[0]


# -- every operation, through NodeRunner ------------------------------------------------------------


def every_op(x: Signal[float], i: Signal[int]) -> Signal[float]:
    values: State[NumbaArray] = create_new_array(float, 8)
    values[i] = x  # store (negative i counts from the end)
    values[-1] += 0.5  # augmented store at a constant negative index
    values[i] *= 2.0  # augmented store at a runtime index
    alias = values
    alias[0] = alias[0] + 1.0  # a local alias writes the state
    total = 0.0
    for v in values:  # iteration
        total += v
    weighted = 0.0
    for k, v in enumerate(values):
        weighted += k * v
    return total + len(values) * 1000.0 + weighted * 1e-6 + helper_sum(values) * 1e6


def test_every_operation_through_node_runner():
    runner = started(compile_node(every_op))
    model = [0.0] * 8
    for x, i in [(1.5, 2), (3.0, -3), (0.25, 0), (-2.0, 7)]:
        model[i] = x
        model[-1] += 0.5
        model[i] *= 2.0
        model[0] = model[0] + 1.0
        weighted = sum(k * v for k, v in enumerate(model))
        expected = sum(model) + 8000.0 + weighted * 1e-6 + sum(model) * 1e6
        assert runner.execute(x=x, i=i) == pytest.approx(expected, rel=1e-12)
        assert runner.state("values") == model
    runner.start()  # START again resets the array
    assert runner.state("values") == [0.0] * 8
    runner.stop()
    assert runner.state("values") == [0.0] * 8  # STOP has nothing to free; EXECUTE after it is safe
    runner.execute(x=1.0, i=1)


def typed_arrays(t: Signal[datetime], d: Signal[timedelta], flag: Signal[bool], n: Signal[int]) -> Signal[int]:
    stamps: State[NumbaArray[datetime, 3]] = create_new_array(datetime, 3)
    gaps: State[NumbaArray[timedelta, 3]]
    flags: State[NumbaArray] = create_new_array(bool, 4)
    counts: State[NumbaArray[int, 2]] = [10, -20]  # declared initial values
    stamps[n] = t
    gaps[n] = d
    gaps[-1] += d
    flags[n] = flag
    counts[0] += n
    set_flags = 0
    for f in flags:
        if f:
            set_flags += 1
    return set_flags + counts[0] * 100 + counts[1]


def test_datetime_timedelta_bool_and_int_elements():
    result = compile_node(typed_arrays)
    runner = started(result)
    zero = datetime(1970, 1, 1, tzinfo=UTC)
    assert runner.state("stamps") == [zero] * 3 and runner.state("gaps") == [timedelta(0)] * 3
    assert runner.state("flags") == [False] * 4 and runner.state("counts") == [10, -20]
    out = runner.execute(t=T0, d=timedelta(minutes=5), flag=True, n=1)
    assert out == 1 + 11 * 100 - 20
    assert runner.state("stamps") == [zero, T0, zero]
    assert runner.state("gaps") == [timedelta(0), timedelta(minutes=5), timedelta(minutes=5)]
    assert runner.state("flags") == [False, True, False, False]
    assert all(type(f) is bool for f in runner.state("flags"))
    runner.execute(t=T0 + timedelta(hours=1), d=timedelta(seconds=1), flag=True, n=-1)
    assert runner.state("stamps") == [zero, T0, T0 + timedelta(hours=1)]
    assert runner.state("gaps") == [timedelta(0), timedelta(minutes=5), timedelta(seconds=2)]
    assert runner.state("flags") == [False, True, False, True]  # -1 is the last of each array
    assert runner.state("counts") == [10, -20]
    runner.start()
    assert runner.state("counts") == [10, -20] and runner.state("stamps") == [zero] * 3


def test_typed_arrays_slots():
    slots = {s.name: s for s in compile_node(typed_arrays).artifact.state}
    assert (slots["stamps"].type, slots["stamps"].kind, slots["stamps"].cell, slots["stamps"].size) == (
        "NumbaArray[datetime, 3]", "array", "bytes", 24)
    assert (slots["flags"].type, slots["flags"].size, slots["flags"].initial) == ("NumbaArray[bool, 4]", 4, [False] * 4)
    assert (slots["counts"].size, slots["counts"].initial) == (16, [10, -20])
    assert slots["gaps"].initial == [0, 0, 0]  # nanoseconds, as in the cells


# -- random operation sequences against a Python list ---------------------------------------------


def float_ops(op: Signal[int], i: Signal[int], v: Signal[float]) -> Signal[float]:
    a: State[NumbaArray[float, 5]] = create_new_array(float, 5)
    if op == 0:
        return a[i]
    if op == 1:
        a[i] = v
    elif op == 2:
        a[i] += v
    elif op == 3:
        b = a
        b[i] = b[i] * v
    elif op == 4:
        total = 0.0
        for x in a:
            total += x
        return total
    elif op == 5:
        return a[i] + a[len(a) - 1 - i]  # two reads: the second may fault after the first
    return -1.0


def int_ops(op: Signal[int], i: Signal[int], v: Signal[int]) -> Signal[int]:
    a: State[NumbaArray[int, 5]] = create_new_array(int, 5)
    if op == 0:
        return a[i]
    if op == 1:
        a[i] = v
    elif op == 2:
        a[i] += v
    elif op == 3:
        b = a
        b[i] = b[i] * v
    elif op == 4:
        total = 0
        for x in a:
            total += x
        return total
    elif op == 5:
        return a[i] + a[len(a) - 1 - i]
    return -1


def bool_ops(op: Signal[int], i: Signal[int], v: Signal[bool]) -> Signal[int]:
    a: State[NumbaArray[bool, 5]] = create_new_array(bool, 5)
    if op == 0:
        return 1 if a[i] else 0
    if op == 1:
        a[i] = v
    elif op == 2:
        a[i] = a[i] != v
    elif op == 3:
        b = a
        b[i] = not b[i]
    elif op == 4:
        total = 0
        for x in a:
            if x:
                total += 1
        return total
    elif op == 5:
        return (1 if a[i] else 0) + (1 if a[len(a) - 1 - i] else 0)
    return -1


def wrap(value):
    """A Python int as int64 arithmetic leaves it (SPEC section 5: int cells wrap)."""
    return (value + 2**63) % 2**64 - 2**63 if isinstance(value, int) and not isinstance(value, bool) else value


def model_step(model: list, op: int, i: int, v, kind: str):
    """Apply one operation to the Python list; the output, or IndexError as Python raises it."""
    if op == 0:
        return int(model[i]) if kind == "bool" else model[i]
    if op == 1:
        model[i] = v
    elif op == 2:
        model[i] = (model[i] != v) if kind == "bool" else wrap(model[i] + v)
    elif op == 3:
        model[i] = (not model[i]) if kind == "bool" else wrap(model[i] * v)
    elif op == 4:
        total = 0.0 if kind == "float" else 0
        for x in model:
            total = wrap(total + (int(x) if kind == "bool" else x))
        return total
    elif op == 5:
        first, second = model[i], model[len(model) - 1 - i]
        return int(first) + int(second) if kind == "bool" else wrap(first + second)
    return -1.0 if kind == "float" else -1


NODES = {"float": float_ops, "int": int_ops, "bool": bool_ops}
VALUES = {
    "float": st.floats(-1e3, 1e3, allow_nan=False),
    "int": st.integers(-1000, 1000),
    "bool": st.booleans(),
}


@pytest.fixture(scope="module")
def op_nodes():
    return {kind: compile_node(func) for kind, func in NODES.items()}


def steps_of(kind: str):
    step = st.tuples(st.integers(0, 6), st.integers(-8, 8), VALUES[kind])
    return st.lists(step, max_size=40)


def check_against_list(result, kind: str, steps) -> None:
    runner = started(result)
    model = [{"float": 0.0, "int": 0, "bool": False}[kind]] * N
    for op, i, v in steps:
        before = list(model)
        try:
            expected = model_step(model, op, i, v, kind)
        except IndexError:
            error = fault_of(lambda: runner.execute(op=op, i=i, v=v))
            assert error.code == INDEX and re.fullmatch(r"array index -?\d+ out of range \(length 5\)", error.message)
            assert runner.state("a") == before  # the faulting call changed nothing
            model[:] = before
            continue
        out = runner.execute(op=op, i=i, v=v)
        assert out == expected and type(out) is type(expected), (op, i, v, out, expected)
        assert runner.state("a") == model


@PROPERTY
@given(steps=steps_of("float"))
def test_float_array_matches_a_python_list(op_nodes, steps):
    check_against_list(op_nodes["float"], "float", steps)


@PROPERTY
@given(steps=steps_of("int"))
def test_int_array_matches_a_python_list(op_nodes, steps):
    check_against_list(op_nodes["int"], "int", steps)


@PROPERTY
@given(steps=steps_of("bool"))
def test_bool_array_matches_a_python_list(op_nodes, steps):
    check_against_list(op_nodes["bool"], "bool", steps)


# -- raw entry point, memory owned by the test ----------------------------------------------------


class RawNode:
    """Calls a host node through ``result.address`` with cells and array memory made here."""

    def __init__(self, result, state_memory: list) -> None:
        self.fn = entry_point(result)
        self.out = (ctypes.c_double * 1)()
        self.ticked = (ctypes.c_int8 * 1)()
        self.inputs_cells = (ctypes.c_double * 2)()
        self.input_flags = (ctypes.c_int8 * 2)(1, 1)
        self.memory = state_memory
        self.state = (ctypes.c_void_p * len(state_memory))(*[ctypes.addressof(m) for m in state_memory])
        base = ctypes.addressof(self.inputs_cells)
        self.inputs = (ctypes.c_void_p * 2)(base, base + 8)
        self.outputs = (ctypes.c_void_p * 1)(ctypes.addressof(self.out))

    def call(self, phase: int) -> None:
        self.fn(self.outputs, self.ticked, self.state, phase, self.inputs, self.input_flags, self.input_flags)


def ring(x: Signal[float]) -> Signal[float]:
    buf: State[NumbaArray] = create_new_array(float, 4)
    pos: State[int] = 0
    buf[pos] = x
    pos = (pos + 1) % len(buf)
    total = 0.0
    for v in buf:
        total += v
    return total / len(buf)


def test_raw_entry_point_uses_the_hosts_memory():
    result = compile_node(ring)
    assert [(s.name, s.kind, s.cell, s.size) for s in result.artifact.state] == [
        ("buf", "array", "bytes", 32), ("pos", "scalar", "int64", 8)]
    buf = (ctypes.c_double * 4)(9.0, 9.0, 9.0, 9.0)  # not zeroed: START must zero it
    pos = ctypes.c_int64(3)
    node = RawNode(result, [buf, pos])
    node.call(NCC_START)
    assert list(buf) == [0.0] * 4 and pos.value == 0
    seen = []
    for x in (1.0, 2.0, 3.0, 4.0, 5.0):
        node.inputs_cells[0] = x
        node.ticked[0] = 0
        node.call(NCC_EXECUTE)
        seen.append(node.out[0] if node.ticked[0] else None)
    assert seen == [0.25, 0.75, 1.5, 2.5, 3.5]
    assert list(buf) == [5.0, 2.0, 3.0, 4.0] and pos.value == 1
    buf[2] = 100.0  # the host may write the array between calls: the node sees it
    node.inputs_cells[0] = 0.0
    node.call(NCC_EXECUTE)
    assert node.out[0] == (5.0 + 0.0 + 100.0 + 4.0) / 4
    node.call(NCC_STOP)
    node.call(NCC_START)
    assert list(buf) == [0.0] * 4 and pos.value == 0


def test_every_operation_through_the_raw_entry_point():
    """`every_op` (store, negative index, +=, *=, alias, iteration, enumerate, a helper) on memory
    the test owns gives what NodeRunner gives, and the memory holds the elements packed."""
    result = compile_node(every_op)
    values = (ctypes.c_double * 8)()
    node = RawNode(result, [values])
    runner = started(result)
    node.call(NCC_START)
    for x, i in [(1.5, 2), (3.0, -3), (0.25, 0), (-2.0, 7)]:
        node.inputs_cells[0] = x
        ctypes.c_int64.from_buffer(node.inputs_cells, 8).value = i
        node.ticked[0] = 0
        node.call(NCC_EXECUTE)
        assert node.ticked[0] == 1 and node.out[0] == runner.execute(x=x, i=i)
        assert list(values) == runner.state("values")
    assert bytes(values) == b"".join(ctypes.c_double(v) for v in runner.state("values"))


def counts_node(i: Signal[int]) -> Signal[int]:
    counts: State[NumbaArray[int, 3]] = [7, 8, 9]
    counts[i] += 1
    return counts[i]


def test_raw_entry_point_faults_and_initial_values():
    result = compile_node(counts_node)
    memory = (ctypes.c_int64 * 3)()
    node = RawNode(result, [memory])
    node.call(NCC_START)
    assert list(memory) == [7, 8, 9]
    ctypes.c_int64.from_buffer(node.inputs_cells, 0).value = -1
    node.call(NCC_EXECUTE)
    assert list(memory) == [7, 8, 10] and ctypes.c_int64.from_buffer(node.out).value == 10
    from numba_rt import load

    rt = load()
    rt.clear_error()
    ctypes.c_int64.from_buffer(node.inputs_cells, 0).value = 3
    node.ticked[0] = 0
    node.call(NCC_EXECUTE)
    assert node.ticked[0] == 0 and list(memory) == [7, 8, 10]
    code, message, entry = rt.error()
    assert (code, message, entry) == (INDEX, "array index 3 out of range (length 3)", result.native_name)
    rt.clear_error()


# -- constant arrays ------------------------------------------------------------------------------


def weighted(x: Signal[float], weights: NumbaArray[float, 3], flags: NumbaArray[bool, 3]) -> Signal[float]:
    recent: State[NumbaArray] = create_new_array(float, 3)
    for k in range(len(recent) - 1):
        recent[k] = recent[k + 1]
    recent[-1] = x
    total = 0.0
    for k in range(len(weights)):
        if flags[k]:
            total += weights[k] * recent[k]
    w = weights  # an alias of a constant array reads it
    return total + w[-1] * 1000.0 + helper_sum(weights) * 1e6 + helper_stats(flags) * 1e9


def test_constant_arrays_are_baked_in():
    result = compile_node(weighted, weights=[0.5, 0.25, 0.125], flags=(True, False, True))
    assert [s.name for s in result.artifact.state] == ["recent"]  # constants take no state memory
    runner = started(result)
    stats = 3 * 1000 + 2 * 10 + 1
    assert runner.execute(x=8.0) == pytest.approx(0.125 * 8 + 125.0 + 0.875e6 + stats * 1e9)
    assert runner.execute(x=4.0) == pytest.approx(0.125 * 4 + 125.0 + 0.875e6 + stats * 1e9)
    other = compile_node(weighted, weights=[0.5, 0.25, 0.25], flags=(True, False, True))
    assert other.semantic_key != result.semantic_key
    assert started(other).execute(x=8.0) == pytest.approx(0.25 * 8 + 250.0 + 1e6 + stats * 1e9)


def test_no_allocation_and_no_python_in_the_code():
    for result in (compile_node(every_op), compile_node(weighted, weights=[1.0, 2.0, 3.0], flags=[True] * 3)):
        assert set(result.artifact.imports) <= {"ncc_error_set", "ncc_fault_index_of"}, result.artifact.imports
        module = llvm.parse_assembly(result.llvm_ir)
        names = [v.name for v in [*module.functions, *module.global_variables]]
        assert not [n for n in names if n.startswith(("Py", "_Py", "numba_gil_", "NRT_"))]


def test_helpers_get_a_read_only_view_and_may_mix_containers():
    def mixed(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        xs: State[NumbaList] = create_new_list(float)
        values[0] = x
        xs.append(x * 2)
        return helper_mixed(values, ys=xs)

    assert started(compile_node(mixed)).execute(x=1.5) == 4 + 1 + 1.5 + 3.0

    def writes(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        return helper_writes(values)  # <- error

    err = rejected(writes)
    assert "readonly" in str(err).lower() or "read-only" in str(err).lower()


# -- misuse: CompilationErrors at the user's line ---------------------------------------------------


def test_constant_index_out_of_range():
    def high(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 8)
        return values[8]  # <- error

    err = rejected(high)
    assert "index 8 is out of range" in err.message and "from -8 to 7" in err.hint

    def low(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 8)
        values[-9] = x  # <- error

    assert "index -9 is out of range" in rejected(low).message


def test_constant_arrays_cannot_be_modified():
    def store(x: Signal[float], w: NumbaArray[float, 2]) -> Signal[float]:
        w[0] = x  # <- error
        return x

    err = rejected(store, w=[1.0, 2.0])
    assert "constant array 'w' cannot be modified" in err.message and "State[NumbaArray[float, 2]]" in err.hint

    def update(x: Signal[float], w: NumbaArray[float, 2]) -> Signal[float]:
        w[1] += x  # <- error
        return x

    assert "cannot be modified" in rejected(update, w=[1.0, 2.0]).message

    def through_alias(x: Signal[float], w: NumbaArray[float, 2]) -> Signal[float]:
        b = w
        b[0] = x  # <- error
        return x

    assert "cannot be modified" in rejected(through_alias, w=[1.0, 2.0]).message


def test_constant_array_values_are_checked():
    def node(x: Signal[float], w: NumbaArray[float, 3]) -> Signal[float]:  # <- error
        return w[0] + x

    assert "takes 3 values, got 2" in rejected(node, w=[1.0, 2.0]).message
    assert "expected a float" in rejected(node, w=[1.0, "2", 3.0]).message
    assert "list of values" in rejected(node, w=2.0).message

    def ints(x: Signal[float], w: NumbaArray[int, 2]) -> Signal[float]:  # <- error
        return x

    assert "expected an int" in rejected(ints, w=[1, 2.5]).message


def test_sizes_and_element_types_are_checked():
    def not_constant(x: Signal[float], n: Signal[int]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, n)  # <- error
        return x

    assert "at compile time" in rejected(not_constant).message

    def empty(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 0)  # <- error
        return x

    assert "at least 1" in rejected(empty).message

    def strings(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(str, 4)  # <- error
        return x

    assert "must be int, float, bool, datetime or timedelta, not str" in rejected(strings).message

    def annotated(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray[str, 4]]  # <- error
        return x + values[0]

    assert "not str" in rejected(annotated).message

    def mismatch(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray[float, 8]] = create_new_array(float, 4)  # <- error
        return x

    assert "NumbaArray[float, 4] does not match NumbaArray[float, 8]" in rejected(mismatch).message

    def bare(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray]  # <- error
        return x + values[0]

    assert "needs an element type and a length" in rejected(bare).message


def test_length_from_a_constant_parameter():
    def sized(x: Signal[float], n: int) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, n)
        values[-1] = x
        return values[n - 1] + len(values)

    runner = started(compile_node(sized, n=6))
    assert runner.execute(x=2.5) == 8.5 and runner.state("values") == [0.0] * 5 + [2.5]


def test_arrays_are_neither_inputs_nor_outputs():
    def as_input(x: Signal[NumbaArray[float, 3]]) -> Signal[float]:  # <- error
        return 1.0

    assert "cannot be a container" in rejected(as_input).message

    def as_output(x: Signal[float]) -> Signal[NumbaArray[float, 3]]:  # <- error
        return x

    assert "output 'output0' cannot be a NumbaArray[float, 3]" in rejected(as_output).message


def test_misuse_in_node_code():
    def lossy(x: Signal[float]) -> Signal[float]:
        counts: State[NumbaArray] = create_new_array(int, 4)
        counts[0] = x  # <- error
        return x

    assert "cannot be stored where an int is expected" in str(rejected(lossy))

    def float_index(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        return values[x]  # <- error

    assert "array indices must be integers, got a float" in str(rejected(float_index))

    def replaced(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        values = x  # <- error
        return x

    err = rejected(replaced)
    assert "array 'values' cannot be replaced" in err.message and "values[i] = value" in err.hint

    def deleted(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        del values[0]  # <- error
        return x

    assert "its length is fixed" in rejected(deleted).message

    def sliced(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        return values[1:3]  # <- error

    assert "cannot be sliced" in rejected(sliced).message

    def bare_use(x: Signal[float]) -> Signal[float]:
        values: State[NumbaArray] = create_new_array(float, 4)
        return values  # <- error

    err = rejected(bare_use)
    assert "can only be used through its operations" in err.message and "len(a)" in err.hint


# -- artifacts, AOT libraries, from_library --------------------------------------------------------


def test_artifact_json_has_the_layout_and_round_trips():
    artifact = compile_node(typed_arrays).artifact
    slots = {s["name"]: s for s in json.loads(artifact.to_json())["state"]}
    assert {k: slots["flags"][k] for k in ("kind", "cell", "size", "type", "element", "length")} == {
        "kind": "array", "cell": "bytes", "size": 4, "type": "NumbaArray[bool, 4]", "element": "int8", "length": 4}
    assert (slots["stamps"]["element"], slots["counts"]["element"]) == ("int64", "int64")
    pos = json.loads(compile_node(ring).artifact.to_json())["state"][1]
    assert pos["kind"] == "scalar" and "element" not in pos and "length" not in pos
    assert NodeArtifact.from_json(artifact.to_json()) == artifact
    data = json.loads(artifact.to_json())
    data["state"][0]["length"] = 4  # derived keys must agree with the type
    with pytest.raises(ValueError, match="does not match its type"):
        NodeArtifact.from_dict(data)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; AOT libraries need one (CI has it)")
    results = [compile_node(ring), compile_node(typed_arrays), compile_node(weighted, weights=[1.0, 2.0, 3.0], flags=[True] * 3)]
    return results, build_library(results, tmp_path_factory.mktemp("arrays"), "arrays")


def test_manifest_and_header_describe_the_layout(library):
    results, files = library
    manifest = load_manifest(files.manifest)
    ring_node = next(n for n in manifest["nodes"] if n["qualname"] == "ring")
    assert ring_node["state"][0] == {
        "name": "buf", "kind": "array", "cell": "bytes", "size": 32, "initial": [0.0] * 4,
        "type": "NumbaArray[float, 4]", "element": "float64", "length": 4}
    header = files.header.read_text()
    assert "[0] buf: NumbaArray[float, 4], array, bytes cell, 32 bytes (double buf[4]), initial all 0" in header
    assert "(int8_t flags[4])" in header and "(int64_t counts[2]), initial [10, -20]" in header
    broken = json.loads(files.manifest.read_text())
    broken["nodes"][0]["state"][0]["size"] = 16
    with pytest.raises(LibraryError, match="element, length and size do not agree"):
        check_compatible(broken)


def test_from_library_runs_array_nodes(library):
    results, files = library
    for result in results[:2]:
        here, there = NodeRunner(result), NodeRunner.from_library(files.library, result.native_name)
        here.start()
        there.start()
        for name in here.state_names:
            assert there.state(name) == here.state(name)
    runner = NodeRunner.from_library(files.library, "typed_arrays")
    runner.start()
    runner.execute(t=T0, d=timedelta(minutes=5), flag=True, n=1)
    assert runner.state("stamps")[1] == T0 and runner.state("flags") == [False, True, False, False]
    assert runner.state("counts") == [11, -20]
    error = fault_of(lambda: runner.execute(n=3))
    assert error.code == INDEX and error.message == "array index 3 out of range (length 3)"
    assert runner.state("counts") == [11, -20]


DRIVER = """
import json, sys
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError
runner = NodeRunner.from_library({library!r}, "ring")
runner.start()
outs = [runner.execute(x=x) for x in (1.0, 2.0, 3.0, 4.0, 5.0)]
print(json.dumps({{"outs": outs, "buf": runner.state("buf"),
                  "imported": sorted(m for m in ("numba", "llvmlite") if m in sys.modules)}}))
"""


def test_from_library_needs_no_numba(library, tmp_path):
    _, files = library
    script = tmp_path / "drive.py"
    script.write_text(DRIVER.format(library=str(files.library)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {"outs": [0.25, 0.75, 1.5, 2.5, 3.5], "buf": [5.0, 2.0, 3.0, 4.0], "imported": []}


def test_node_facing_names_are_exported():
    import numba_cfunc_compiler

    assert numba_cfunc_compiler.NumbaArray is NumbaArray and numba_cfunc_compiler.create_new_array is create_new_array
    assert repr(NumbaArray[float, 8]) == "NumbaArray[float, 8]" == repr(create_new_array(float, 8))
    with pytest.raises(TypeError, match="not str"):
        create_new_array(str, 4)
    with pytest.raises(TypeError, match="NumbaArray\\[ElementType, length\\]"):
        NumbaArray[float]
