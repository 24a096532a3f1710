"""NumbaList / NumbaDict in compiled nodes (SPEC §3, §5, §9).

Random operation sequences run in a compiled node and on Python's list/dict must agree, faults
included; containers live in state cells (START allocates, STOP frees and nulls); constant
list/dict parameters are read-only containers that never leak; faults reach the runtime's error
record and the node survives; the final IR holds no Python; unsupported uses are
`CompilationError`s at the user's line (marked ``# <- error``).

No ``from __future__ import annotations`` here: the per-element-type nodes are closures over their
element type, and closure names resolve only in annotations evaluated when the node is defined.
"""

import ctypes
import os

import llvmlite.binding as llvm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numba_rt
from numba_cfunc_compiler import (
    NumbaDict,
    NumbaList,
    State,
    create_new_dict,
    create_new_list,
)
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, start, stop

from conftest import DirectNode, rejected, started

KEY, INDEX, EMPTY, STATE = 1, 2, 3, 5  # enum ncc_error_code
PROPERTY = settings(max_examples=200, deadline=None)
FORBIDDEN_PREFIXES = ("Py", "_Py", "numba_gil_")
RT = numba_rt.load()


# -- helpers ------------------------------------------------------------------------------------


def live_containers() -> int:
    """Lists + dicts allocated by the runtime and not yet freed."""
    if hasattr(RT, "live_containers"):
        return RT.live_containers()
    fn = RT.lib.ncc_live_containers
    fn.restype = ctypes.c_int64
    return fn()


def cell_pointer(runner: NodeRunner, name: str) -> int | None:
    """The pointer held in the state cell of container ``name`` (None for NULL)."""
    index = runner.result.metadata["state_names"].index(name)
    return ctypes.c_void_p.from_buffer(runner._state.buffers[index]).value



def fault_of(call) -> NodeRuntimeError:
    with pytest.raises(NodeRuntimeError) as info:
        call()
    return info.value


def same_outputs(actual: dict, expected: dict) -> bool:
    """Equal outputs, with equal Python types (True is not 1, 1.0 is not 1)."""
    return actual == expected and all(type(actual[k]) is type(expected[k]) for k in expected)


def python_symbols(result) -> list[str]:
    module = llvm.parse_assembly(result.llvm_ir)
    return [v.name for v in [*module.functions, *module.global_variables] if v.name.startswith(FORBIDDEN_PREFIXES)]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the list node and its Python model -----------------------------------------------------------

APPEND, POP, POP_AT, GET, SET, CLEAR, CONTAINS, ITERATE, PRUNE = range(9)


def list_node_for(T):
    def list_node(op: Signal[int], i: Signal[int], v: Signal[T]) -> Outputs(
        val=Signal[T], hit=Signal[bool], acc=Signal[float], n=Signal[int]
    ):
        lst: State[NumbaList] = create_new_list(T)
        if op == APPEND:
            lst.append(v)
        elif op == POP:
            output(val=lst.pop())
        elif op == POP_AT:
            output(val=lst.pop(i))
        elif op == GET:
            output(val=lst[i])
        elif op == SET:
            lst[i] = v
        elif op == CLEAR:
            lst.clear()
        elif op == CONTAINS:
            output(hit=v in lst)
        elif op == ITERATE:
            acc = 0.0
            for x in lst:
                acc = acc * 0.5 + x
            output(acc=acc)
        elif op == PRUNE:
            for x in lst:  # the list shrinks while it is iterated
                if x == v:
                    lst.pop()
        output(n=len(lst))

    return list_node


def list_model(lst: list, op: int, i: int, v) -> dict:
    """What the list node outputs, in Python (raises where the node must fault)."""
    out = {}
    if op == APPEND:
        lst.append(v)
    elif op == POP:
        out["val"] = lst.pop()
    elif op == POP_AT:
        out["val"] = lst.pop(i)
    elif op == GET:
        out["val"] = lst[i]
    elif op == SET:
        lst[i] = v
    elif op == CLEAR:
        lst.clear()
    elif op == CONTAINS:
        out["hit"] = v in lst
    elif op == ITERATE:
        acc = 0.0
        for x in lst:
            acc = acc * 0.5 + x
        out["acc"] = acc
    elif op == PRUNE:
        for x in lst:
            if x == v:
                lst.pop()
    out["n"] = len(lst)
    return out


def list_fault_code(exc: IndexError) -> int:
    return EMPTY if "empty" in str(exc) else INDEX


ELEMENTS = {
    int: st.integers(-3, 3) | st.sampled_from([2**62, -(2**63), 2**63 - 1]),
    float: st.integers(-8, 8).map(lambda n: n / 4),
    bool: st.booleans(),
}
LIST_OPS = st.sampled_from([APPEND] * 5 + [POP, POP_AT, GET, GET, SET, CLEAR, CONTAINS, ITERATE, PRUNE])


def list_steps(T):
    return st.lists(st.tuples(LIST_OPS, st.integers(-12, 12), ELEMENTS[T]), min_size=20, max_size=80)


@pytest.fixture(scope="module")
def list_nodes():
    return {T: compile_node(list_node_for(T)) for T in (int, float, bool)}


def check_list_sequence(result, steps) -> None:
    runner = started(result)
    model: list = []
    for op, i, v in steps:
        try:
            expected, error = list_model(model, op, i, v), None
        except IndexError as exc:
            expected, error = None, exc
        try:
            actual = runner.execute(op=op, i=i, v=v)
        except NodeRuntimeError as fault:
            assert error is not None, f"unexpected fault {fault} at {(op, i, v)}, Python gives {expected}"
            assert fault.code == list_fault_code(error), (op, i, v, str(error), fault)
            assert fault.entry == result.native_name
            continue
        assert error is None, f"Python raises {error!r} at {(op, i, v)}, the node gave {actual}"
        assert same_outputs(actual, expected), ((op, i, v), actual, expected)
    assert RT.list_items(cell_pointer(runner, "lst")) == model
    runner.stop()


@PROPERTY
@given(steps=list_steps(float))
def test_float_list_agrees_with_python_list(list_nodes, steps):
    check_list_sequence(list_nodes[float], steps)


@PROPERTY
@given(steps=list_steps(int))
def test_int_list_agrees_with_python_list(list_nodes, steps):
    check_list_sequence(list_nodes[int], steps)


@PROPERTY
@given(steps=list_steps(bool))
def test_bool_list_agrees_with_python_list(list_nodes, steps):
    check_list_sequence(list_nodes[bool], steps)


def test_list_iteration_sees_appends_like_python():
    def grow(xs: Signal[int]) -> Signal[int]:
        lst: State[NumbaList[int]] = create_new_list(int)
        lst.clear()
        lst.append(xs)
        for x in lst:
            if len(lst) < 5:
                lst.append(x + 1)
        return len(lst)

    assert started(compile_node(grow)).execute(xs=1) == 5


# -- the dict node and its Python model -----------------------------------------------------------

GET_ITEM, SET_ITEM, DEL_ITEM, HAS, HAS_NOT, GET_OR, POP_KEY, POP_OR, CLEAR_ALL, KEYS, KEYS_VIEW, VALUES, ITEMS = range(13)


def dict_node_for(V):
    def dict_node(op: Signal[int], k: Signal[int], v: Signal[V]) -> Outputs(
        val=Signal[V], hit=Signal[bool], acc=Signal[float], n=Signal[int]
    ):
        d: State[NumbaDict[int, V]] = create_new_dict(int, V)
        if op == GET_ITEM:
            output(val=d[k])
        elif op == SET_ITEM:
            d[k] = v
        elif op == DEL_ITEM:
            del d[k]
        elif op == HAS:
            output(hit=k in d)
        elif op == HAS_NOT:
            output(hit=k not in d)
        elif op == GET_OR:
            output(val=d.get(k, v))
        elif op == POP_KEY:
            output(val=d.pop(k))
        elif op == POP_OR:
            output(val=d.pop(k, v))
        elif op == CLEAR_ALL:
            d.clear()
        elif op == KEYS:
            acc = 0.0
            for key in d:
                acc = acc * 0.5 + key
            output(acc=acc)
        elif op == KEYS_VIEW:
            acc = 0.0
            for key in d.keys():
                acc = acc * 0.5 + key
            output(acc=acc)
        elif op == VALUES:
            acc = 0.0
            for value in d.values():
                acc = acc * 0.5 + value
            output(acc=acc)
        elif op == ITEMS:
            acc = 0.0
            for key, value in d.items():
                acc = (acc * 0.5 + key) * 0.5 + value
            output(acc=acc)
        output(n=len(d))

    return dict_node


def dict_model(d: dict, op: int, k: int, v) -> dict:
    """What the dict node outputs, in Python (raises KeyError where the node must fault)."""
    out = {}
    if op == GET_ITEM:
        out["val"] = d[k]
    elif op == SET_ITEM:
        d[k] = v
    elif op == DEL_ITEM:
        del d[k]
    elif op == HAS:
        out["hit"] = k in d
    elif op == HAS_NOT:
        out["hit"] = k not in d
    elif op == GET_OR:
        out["val"] = d.get(k, v)
    elif op == POP_KEY:
        out["val"] = d.pop(k)
    elif op == POP_OR:
        out["val"] = d.pop(k, v)
    elif op == CLEAR_ALL:
        d.clear()
    elif op in (KEYS, KEYS_VIEW):
        acc = 0.0
        for key in d:
            acc = acc * 0.5 + key
        out["acc"] = acc
    elif op == VALUES:
        acc = 0.0
        for value in d.values():
            acc = acc * 0.5 + value
        out["acc"] = acc
    elif op == ITEMS:
        acc = 0.0
        for key, value in d.items():
            acc = (acc * 0.5 + key) * 0.5 + value
        out["acc"] = acc
    out["n"] = len(d)
    return out


KEYS_STRATEGY = st.integers(-3, 20) | st.sampled_from([2**40, -(2**63), 2**63 - 1])
DICT_OPS = st.sampled_from(
    [SET_ITEM] * 8 + [GET_ITEM, DEL_ITEM, HAS, HAS_NOT, GET_OR, POP_KEY, POP_OR, CLEAR_ALL, KEYS, KEYS_VIEW, VALUES, ITEMS]
)


def dict_steps(V):
    return st.lists(st.tuples(DICT_OPS, KEYS_STRATEGY, ELEMENTS[V]), min_size=20, max_size=100)


@pytest.fixture(scope="module")
def dict_nodes():
    return {V: compile_node(dict_node_for(V)) for V in (int, float, bool)}


def check_dict_sequence(result, steps) -> None:
    runner = started(result)
    model: dict = {}
    for op, k, v in steps:
        try:
            expected, error = dict_model(model, op, k, v), None
        except KeyError as exc:
            expected, error = None, exc
        try:
            actual = runner.execute(op=op, k=k, v=v)
        except NodeRuntimeError as fault:
            assert error is not None, f"unexpected fault {fault} at {(op, k, v)}, Python gives {expected}"
            assert fault.code == KEY and str(k) in fault.message, (op, k, v, fault)
            assert fault.entry == result.native_name
            continue
        assert error is None, f"Python raises KeyError at {(op, k, v)}, the node gave {actual}"
        assert same_outputs(actual, expected), ((op, k, v), actual, expected)
    assert RT.dict_items(cell_pointer(runner, "d")) == list(model.items())
    runner.stop()


@PROPERTY
@given(steps=dict_steps(float))
def test_int_to_float_dict_agrees_with_python_dict(dict_nodes, steps):
    check_dict_sequence(dict_nodes[float], steps)


@PROPERTY
@given(steps=dict_steps(int))
def test_int_to_int_dict_agrees_with_python_dict(dict_nodes, steps):
    check_dict_sequence(dict_nodes[int], steps)


@PROPERTY
@given(steps=dict_steps(bool))
def test_int_to_bool_dict_agrees_with_python_dict(dict_nodes, steps):
    check_dict_sequence(dict_nodes[bool], steps)


def dict_get_without_default(k: Signal[int]) -> Outputs(val=Signal[float], missing=Signal[bool]):
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    with start():
        d[1] = 2.5
    x = d.get(k)
    if x is None:
        output(missing=True)
    else:
        output(val=x)


def test_dict_get_without_default_is_none_when_missing():
    runner = started(compile_node(dict_get_without_default))
    assert runner.execute(k=1) == {"val": 2.5}
    assert runner.execute(k=2) == {"missing": True}


def delete_while_iterating(which: Signal[int], size: Signal[int]) -> Signal[int]:
    d: State[NumbaDict] = create_new_dict(int, bool)
    d.clear()
    for j in range(size):
        d[j] = True
    seen = 0
    for key in d:
        seen += 1
        if key == which:
            del d[key]
    return seen


@pytest.mark.parametrize("which, size", [(0, 3), (2, 3), (0, 1)], ids=["first-of-3", "last-of-3", "only"])
def test_deleting_from_a_dict_while_iterating_it_is_a_fault_as_in_python(which, size):
    python = dict.fromkeys(range(size), True)
    with pytest.raises(RuntimeError, match="changed size during iteration"):
        for key in python:
            if key == which:
                del python[key]
    runner = started(compile_node(delete_while_iterating))
    assert fault_of(lambda: runner.execute(which=which, size=size)).code == STATE
    assert runner.execute(which=-1, size=2) == 2  # the node keeps working


# -- the four State forms -------------------------------------------------------------------------


def state_forms(x: Signal[int]) -> Outputs(a=Signal[float], b=Signal[int], c=Signal[float], d=Signal[bool]):
    window: State[NumbaList] = create_new_list(float)
    counts: State[NumbaList[int]] = create_new_list(int)
    totals: State[NumbaDict[int, float]] = create_new_dict(int, float)
    flags: State[NumbaDict] = create_new_dict(int, bool)
    window.append(x / 2)
    counts.append(x)
    totals[x] = totals.get(x, 0.0) + 0.5
    flags[x] = not flags.get(x, False)
    output(a=window[-1], b=counts[-1] * len(counts), c=totals[x], d=flags[x])


def test_every_state_form_compiles_and_keeps_its_element_type():
    result = compile_node(state_forms)
    runner = started(result)
    assert runner.execute(x=3) == {"a": 1.5, "b": 3, "c": 0.5, "d": True}
    assert same_outputs(runner.execute(x=3), {"a": 1.5, "b": 6, "c": 1.0, "d": False})
    names = result.metadata["state_names"]
    assert sorted(result.nrt_state_indices) == sorted(names.index(n) for n in ("window", "counts", "totals", "flags"))
    assert RT.list_items(cell_pointer(runner, "counts")) == [3, 3]
    assert RT.dict_items(cell_pointer(runner, "flags")) == [(3, False)]
    runner.stop()


# -- constant parameters --------------------------------------------------------------------------


def constants_node(
    k: Signal[int], xs: NumbaList[float], table: NumbaDict[int, float], flags, counts
) -> Outputs(first=Signal[float], total=Signal[float], lookup=Signal[float], hits=Signal[int], size=Signal[int]):
    opened: State[float] = 0.0
    closed: State[float] = 0.0
    copy: State[NumbaList] = create_new_list(float)
    with start():
        opened = xs[0] + table[1] + counts[4]
        for x in xs:
            copy.append(x)
    total = 0.0
    for x in xs:
        total = total * 0.5 + x
    for key, value in table.items():
        total = (total * 0.5 + key) * 0.5 + value
    hits = 0
    for flag in flags:
        hits += flag
    for key in counts.keys():
        hits += counts[key]
    output(first=opened, total=total, lookup=table.get(k, -1.0) + xs[-1], hits=hits + (k in counts))
    output(size=len(xs) + len(table) + len(flags) + len(counts) + len(copy))
    with stop():
        closed = xs[-1] * table[3] + (2 in counts)


XS, TABLE, FLAGS, COUNTS = [1.0, 2.0, 0.25], {1: 2.5, 3: -0.5}, [True, False, True], {4: 40, 5: 50}


def python_constants(k: int) -> dict:
    total = 0.0
    for x in XS:
        total = total * 0.5 + x
    for key, value in TABLE.items():
        total = (total * 0.5 + key) * 0.5 + value
    hits = sum(FLAGS) + sum(COUNTS.values()) + (k in COUNTS)
    return {
        "first": XS[0] + TABLE[1] + COUNTS[4],
        "total": total,
        "lookup": TABLE.get(k, -1.0) + XS[-1],
        "hits": hits,
        "size": len(XS) + len(TABLE) + len(FLAGS) + len(COUNTS) + len(XS),
    }


@pytest.fixture(scope="module")
def constants_result():
    return compile_node(constants_node, xs=XS, table=TABLE, flags=FLAGS, counts=COUNTS)


def test_constant_containers_are_readable_in_start_execute_and_stop(constants_result):
    runner = started(constants_result)
    assert runner.state("opened") == python_constants(0)["first"]
    for k in (1, 3, 4, 7):
        assert runner.execute(k=k) == python_constants(k)
    assert RT.list_items(cell_pointer(runner, "xs")) == XS
    assert RT.dict_items(cell_pointer(runner, "counts")) == list(COUNTS.items())
    runner.stop()
    assert runner.state("closed") == XS[-1] * TABLE[3] + (2 in COUNTS)


def test_constant_containers_are_state_slots_and_never_leak(constants_result):
    names = constants_result.metadata["state_names"]
    container_slots = {names.index(n) for n in ("copy", "xs", "table", "flags", "counts")}
    assert set(constants_result.nrt_state_indices) == container_slots
    baseline = live_containers()
    runner = NodeRunner(constants_result)
    for _ in range(3):
        runner.start()
        assert live_containers() == baseline + 5
        runner.start()  # START again re-creates, it does not add
        assert live_containers() == baseline + 5
        runner.execute(k=1)
        runner.stop()
        assert live_containers() == baseline
        assert all(cell_pointer(runner, n) is None for n in ("xs", "table", "flags", "counts", "copy"))
    assert fault_of(lambda: runner.execute(k=1)).code == STATE


def test_empty_constant_containers_with_annotations():
    def sizes(x: Signal[int], xs: NumbaList[float], table: NumbaDict[int, int]) -> Signal[int]:
        return len(xs) + len(table) + (x in table) + x

    assert started(compile_node(sizes, xs=[], table={})).execute(x=2) == 2


def test_constants_change_the_semantic_key():
    a = compile_node(constants_node, xs=XS, table=TABLE, flags=FLAGS, counts=COUNTS)
    b = compile_node(constants_node, xs=XS, table={1: 2.5, 3: -0.75}, flags=FLAGS, counts=COUNTS)
    assert a.semantic_key != b.semantic_key
    assert started(b).execute(k=3)["lookup"] == -0.75 + XS[-1]


# -- lifecycle ------------------------------------------------------------------------------------


def keeper(n: Signal[int]) -> Outputs(size=Signal[int], evens=Signal[int]):
    xs: State[NumbaList[int]] = create_new_list(int)
    seen: State[NumbaDict] = create_new_dict(int, bool)
    for j in range(n):
        xs.append(j)
        seen[len(xs)] = j % 2 == 0
    evens = 0
    for flag in seen.values():
        evens += flag
    output(size=len(xs) + len(seen), evens=evens)


@pytest.fixture(scope="module")
def keeper_result():
    return compile_node(keeper)


def test_start_allocates_the_cells_and_stop_frees_and_nulls_them(keeper_result):
    baseline = live_containers()
    node = DirectNode(keeper_result)  # the bare ABI, as a C host calls it
    no_inputs = (None, None, None)  # START and STOP read no inputs
    names = keeper_result.metadata["state_names"]
    cells = [node.state.cells[names.index(n)] for n in ("xs", "seen")]
    assert cells == [0, 0]  # zeroed memory is all a host gives
    node.start(*no_inputs)
    xs, seen = (node.state.cells[names.index(n)] for n in ("xs", "seen"))
    assert xs and seen and xs != seen
    assert live_containers() == baseline + 2
    assert RT.list_items(xs) == [] and RT.dict_items(seen) == []
    node.stop(*no_inputs)
    assert [node.state.cells[names.index(n)] for n in ("xs", "seen")] == [0, 0]
    assert live_containers() == baseline
    node.stop(*no_inputs)  # STOP twice
    assert live_containers() == baseline
    assert RT.error() is None


def test_execute_before_start_and_after_stop_is_a_state_fault(keeper_result):
    runner = NodeRunner(keeper_result)
    before = fault_of(lambda: runner.execute(n=2))
    assert (before.code, before.entry) == (STATE, keeper_result.native_name)
    assert "START" in before.message
    runner.start()
    assert runner.execute(n=2) == {"size": 4, "evens": 1}
    runner.stop()
    runner.stop()
    after = fault_of(lambda: runner.execute(n=2))
    assert after.code == STATE
    runner.start()  # the node starts again, with fresh containers
    assert runner.execute(n=3) == {"size": 6, "evens": 2}
    runner.stop()


def test_start_again_gives_empty_containers_without_leaking(keeper_result):
    baseline = live_containers()
    runner = started(keeper_result)
    runner.execute(n=5)
    runner.start()
    assert live_containers() == baseline + 2
    assert runner.execute(n=1) == {"size": 2, "evens": 1}
    runner.stop()
    assert live_containers() == baseline


def test_thousands_of_cycles_do_not_grow_memory(keeper_result):
    runner = NodeRunner(keeper_result)

    def cycles(count: int) -> None:
        for _ in range(count):
            runner.start()
            runner.execute(n=200)  # grows both containers several times
            runner.stop()

    cycles(200)  # warm up allocator and ctypes caches
    baseline, rss = live_containers(), rss_bytes()
    cycles(5000)
    assert live_containers() == baseline
    # A leak of one cycle's containers would be ~15 KB, so 5,000 cycles would add ~75 MB.
    assert rss_bytes() - rss < 16 * 2**20


@PROPERTY
@given(phases=st.lists(st.sampled_from(["start", "stop", "execute"]), max_size=30))
def test_random_lifecycle_sequences_never_crash_and_never_leak(keeper_result, phases):
    baseline = live_containers()
    runner = NodeRunner(keeper_result)
    running, appended = False, 0
    for phase in phases:
        if phase == "start":
            runner.start()
            running, appended = True, 0
        elif phase == "stop":
            runner.stop()
            running = False
        elif running:
            appended += 3
            assert runner.execute(n=3)["size"] == 2 * appended
        else:
            assert fault_of(lambda: runner.execute(n=3)).code == STATE
        assert live_containers() == baseline + (2 if running else 0)
    runner.stop()
    assert live_containers() == baseline


# -- faults ---------------------------------------------------------------------------------------


def faults(op: Signal[int], i: Signal[int]) -> Signal[float]:
    lst: State[NumbaList] = create_new_list(float)
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    if op == 0:
        lst.append(1.5)
        d[i] = 2.5
        return len(lst) + len(d)
    if op == 1:
        return d[i]
    if op == 2:
        return lst[i]
    if op == 3:
        lst.clear()
        return lst.pop()
    return lst[i] + d[i]  # two faults in one call


@pytest.fixture(scope="module")
def faults_result():
    return compile_node(faults)


def test_fault_details_name_the_code_the_culprit_and_the_entry_point(faults_result):
    runner = started(faults_result)
    runner.execute(op=0, i=1)
    key = fault_of(lambda: runner.execute(op=1, i=123456789))
    index = fault_of(lambda: runner.execute(op=2, i=-7))
    empty = fault_of(lambda: runner.execute(op=3, i=0))
    assert (key.code, index.code, empty.code) == (KEY, INDEX, EMPTY)
    assert "123456789" in key.message
    assert "-7" in index.message
    assert "empty" in empty.message
    for fault in (key, index, empty):
        assert fault.entry == faults_result.native_name
        assert str(fault.code) in str(fault) and fault.message in str(fault)
    assert RT.error() is None  # the host cleared the record
    assert runner.execute(op=0, i=2) == 3  # the node survives: lst == [1.5], d == {1: 2.5, 2: 2.5}


def test_the_first_fault_in_a_call_wins(faults_result):
    runner = started(faults_result)
    fault = fault_of(lambda: runner.execute(op=4, i=42))
    assert fault.code == INDEX and "42" in fault.message


def fault_then_mutation(op: Signal[int], i: Signal[int]) -> Outputs(n=Signal[int], m=Signal[int]):
    lst: State[NumbaList[int]] = create_new_list(int)
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    if op == 0:
        lst.append(i)
        d[i] = i
    elif op == 1:
        lst.append(lst.pop(i))  # Python: pop(i) raises, nothing is appended
    elif op == 2:
        d[i + 1] = d[i]  # Python: d[i] raises, nothing is stored
    output(n=len(lst), m=len(d))


def test_a_fault_ends_the_call_leaving_containers_as_python_would():
    result = compile_node(fault_then_mutation)
    runner = started(result)
    assert runner.execute(op=0, i=7) == {"n": 1, "m": 1}
    assert fault_of(lambda: runner.execute(op=1, i=5)).code == INDEX
    assert fault_of(lambda: runner.execute(op=2, i=5)).code == KEY
    contents = RT.list_items(cell_pointer(runner, "lst")), RT.dict_items(cell_pointer(runner, "d"))
    assert contents == ([7], [(7, 7)])
    assert runner.execute(op=3, i=0) == {"n": 1, "m": 1}


def del_from_list(i: Signal[int]) -> Signal[int]:
    lst: State[NumbaList] = create_new_list(float)
    del lst[i]
    return len(lst)


def test_del_from_an_empty_list_is_an_index_fault_as_in_python():
    python: list = []
    with pytest.raises(IndexError, match="assignment index out of range"):
        del python[0]
    fault = fault_of(lambda: started(compile_node(del_from_list)).execute(i=0))
    assert fault.code == INDEX and "pop" not in fault.message


# -- final IR -------------------------------------------------------------------------------------


def test_container_nodes_declare_no_python_symbols(list_nodes, dict_nodes, constants_result, keeper_result, faults_result):
    results = [*list_nodes.values(), *dict_nodes.values(), constants_result, keeper_result, faults_result]
    results.append(compile_node(dict_get_without_default))  # unwrapping an Optional may fault
    for result in results:
        assert python_symbols(result) == [], result.qualname
        for prefix in FORBIDDEN_PREFIXES:
            assert f"@{prefix}" not in result.llvm_ir and f'@"{prefix}' not in result.llvm_ir
        llvm.parse_assembly(result.llvm_ir).verify()


def test_container_operations_are_inlined_into_the_entry_point(keeper_result, faults_result):
    for result in (keeper_result, faults_result, compile_node(state_forms)):
        module = llvm.parse_assembly(result.llvm_ir)
        definitions = [f.name for f in module.functions if not f.is_declaration]
        assert definitions == [result.native_name]
        declared = {f.name for f in module.functions if f.is_declaration}
        assert all(name.startswith(("ncc_", "llvm.")) for name in declared), declared


# -- compile-time errors --------------------------------------------------------------------------




def bare_use(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    return lst  # <- error


def unknown_method(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    lst.sort()  # <- error
    return x


def keys_outside_a_loop(x: Signal[int]) -> Signal[int]:
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    keys = d.keys()  # <- error
    return x


def reassigned(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    lst = create_new_list(int)  # <- error
    return x


def float_into_int_list(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    lst.append(1.5)  # <- error
    return x


def float_set_into_int_list(x: Signal[float]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    lst[0] = x  # <- error
    return 0


def float_key(x: Signal[float]) -> Signal[int]:
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    d[x] = 1  # <- error
    return 0


def float_key_lookup(x: Signal[float]) -> Signal[int]:
    d: State[NumbaDict[int, int]] = create_new_dict(int, int)
    return d.get(x, 0)  # <- error


def list_without_element_type(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList] = None  # <- error
    return x


def list_of_strings(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList] = create_new_list(str)  # <- error
    return x


def dict_with_float_keys(x: Signal[int]) -> Signal[int]:
    d: State[NumbaDict] = create_new_dict(float, int)  # <- error
    return x


def mismatched_element_type(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(float)  # <- error
    return x


def wrong_arity(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    lst.append()  # <- error
    return x


def list_keys(x: Signal[int]) -> Signal[int]:
    lst: State[NumbaList[int]] = create_new_list(int)
    for k in lst.keys():  # <- error
        x += k
    return x


def appends_to_constant(x: Signal[int], xs: NumbaList[float]) -> Signal[int]:
    xs.append(1.0)  # <- error
    return x


def stores_into_constant(x: Signal[int], table: NumbaDict[int, float]) -> Signal[int]:
    table[1] = 2.0  # <- error
    return x


def clears_unannotated_constant(x: Signal[int], xs) -> Signal[int]:
    xs.clear()  # <- error
    return x


def pops_unannotated_constant(x: Signal[int], table) -> Signal[int]:
    return table.pop(x, 0)  # <- error


def deletes_from_constant(x: Signal[int], xs: NumbaList[int]) -> Signal[int]:
    del xs[0]  # <- error
    return x


REJECTED = [
    pytest.param(bare_use, "lst", {}, id="bare-use"),
    pytest.param(unknown_method, "lst.sort", {}, id="unknown-method"),
    pytest.param(keys_outside_a_loop, "d.keys", {}, id="keys-outside-for"),
    pytest.param(reassigned, "lst", {}, id="reassign"),
    pytest.param(float_into_int_list, None, {}, id="float-append-into-int-list"),
    pytest.param(float_set_into_int_list, None, {}, id="float-set-into-int-list"),
    pytest.param(float_key, None, {}, id="float-key-set"),
    pytest.param(float_key_lookup, None, {}, id="float-key-get"),
    pytest.param(list_without_element_type, None, {}, id="no-element-type"),
    pytest.param(list_of_strings, None, {}, id="list-of-str"),
    pytest.param(dict_with_float_keys, None, {}, id="dict-float-keys"),
    pytest.param(mismatched_element_type, None, {}, id="mismatched-element"),
    pytest.param(wrong_arity, "lst.append", {}, id="wrong-arity"),
    pytest.param(list_keys, None, {}, id="list-keys"),
    pytest.param(appends_to_constant, "xs", {"xs": [1.0]}, id="append-to-constant"),
    pytest.param(stores_into_constant, "table", {"table": {1: 1.0}}, id="store-into-constant"),
    pytest.param(clears_unannotated_constant, "xs", {"xs": [1, 2]}, id="clear-unannotated-constant"),
    pytest.param(pops_unannotated_constant, None, {"table": {1: True}}, id="pop-unannotated-constant"),
    pytest.param(deletes_from_constant, "del", {"xs": [1]}, id="del-from-constant"),
]


@pytest.mark.parametrize("func, at, constants", REJECTED)
def test_unsupported_container_use_is_rejected_at_its_line(func, at, constants):
    rejected(func, at=at, **constants)


def takes_strings(x: Signal[int], names) -> Signal[int]:  # <- error
    return x + len(names)


def test_constant_list_of_unsupported_elements_is_rejected():
    rejected(takes_strings, names=["a", "b"])


def test_package_root_annotations_and_factories():
    assert NumbaList[bool].element is bool
    assert (NumbaDict[int, float].key, NumbaDict[int, float].value) == (int, float)
    with pytest.raises(TypeError):
        create_new_list(str)
    with pytest.raises(TypeError):
        create_new_dict(int, str)
