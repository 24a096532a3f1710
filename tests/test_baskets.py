"""Baskets in the reference host (SPEC section 7, issue 11): ``prices: Basket[float, N]`` is one
parameter holding N signals, fed through N consecutive input slots.

Every operation is checked through `NodeRunner` and through the raw entry point with ctypes (our
own cells and flags); a property test compares a node compiled once with a Python model over random
tick patterns; misuse is a `CompilationError` at the user's line; a run-time index out of range is
an INDEX fault; an AOT library round-trips through ``NodeRunner.from_library``.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import inspect
import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_rt.abi import ErrorCode, Phase
from numba_cfunc_compiler import CompilationError, NumbaList, State
from numba_cfunc_compiler.host import (
    Basket,
    BasketType,
    NodeRunner,
    NodeRuntimeError,
    Outputs,
    Signal,
    compile_node,
    output,
    start,
    ticked,
    valid,
)

UTC = timezone.utc

# -- nodes ----------------------------------------------------------------------------------------


def every_op(
    x: Signal[int], prices: Basket[float, 5], i: Signal[int]
) -> Outputs(
    n=Signal[int], any_ticked=Signal[bool], all_valid=Signal[bool], at=Signal[float], at_ticked=Signal[bool],
    at_valid=Signal[bool], last=Signal[float], first_ticked=Signal[int], ticked_sum=Signal[float],
    ticked_values=Signal[float], ticked_count=Signal[int], valid_sum=Signal[float], valid_values=Signal[float],
    valid_count=Signal[int], all_sum=Signal[float], x_out=Signal[int],
):
    output(n=len(prices), any_ticked=ticked(prices), all_valid=valid(prices), last=prices[-1])
    if ticked(i):
        output(at=prices[i], at_ticked=ticked(prices[i]), at_valid=valid(prices[i]))
    first = -1
    for k in prices.tickedkeys():
        first = k
        break
    output(first_ticked=first)
    s = 0.0
    for k, v in prices.tickeditems():
        s += v * (k + 1)
    t = 0.0
    for v in prices.tickedvalues():
        t += v
    c = 0
    for k in prices.tickedkeys():
        c += 1
    output(ticked_sum=s, ticked_values=t, ticked_count=c)
    s = 0.0
    for k, v in prices.validitems():
        s += v * (k + 1)
    t = 0.0
    for v in prices.validvalues():
        t += v
    c = 0
    for k in prices.validkeys():
        c += 1
    output(valid_sum=s, valid_values=t, valid_count=c)
    a = 0.0
    for v in prices:
        a += v
    output(all_sum=a)
    if ticked(x):
        output(x_out=x)


def expected_every_op(values, valid_flags, ticked_flags, i=None):
    """What `every_op` outputs (x not ticked), from the basket's cells and flags."""
    n = len(values)
    out = {
        "n": n,
        "any_ticked": any(ticked_flags),
        "all_valid": all(valid_flags),
        "last": values[-1],
        "first_ticked": next((k for k in range(n) if ticked_flags[k]), -1),
        "ticked_sum": sum(values[k] * (k + 1) for k in range(n) if ticked_flags[k]),
        "ticked_values": sum(values[k] for k in range(n) if ticked_flags[k]),
        "ticked_count": sum(ticked_flags),
        "valid_sum": sum(values[k] * (k + 1) for k in range(n) if valid_flags[k]),
        "valid_values": sum(values[k] for k in range(n) if valid_flags[k]),
        "valid_count": sum(valid_flags),
        "all_sum": sum(values),
    }
    if i is not None:
        out.update(at=values[i], at_ticked=bool(ticked_flags[i]), at_valid=bool(valid_flags[i]))
    return out


def mixed(a: Signal[float], prices: Basket[float], b: Signal[int]) -> Signal[float]:
    """A basket between two signals: a takes slot 0, prices 1..N, b slot N+1."""
    total = a if ticked(a) else 0.0
    for v in prices.tickedvalues():
        total += v
    if ticked(b):
        total += b
    return total


def sized(prices: Basket[float]) -> Signal[int]:
    return len(prices)


def typed(flags: Basket[bool, 3], stamps: Basket[datetime, 2], gaps: Basket[timedelta, 2]) -> Outputs(
    n_true=Signal[int], latest=Signal[datetime], total=Signal[timedelta]
):
    n = 0
    for f in flags.validvalues():
        if f:
            n += 1
    output(n_true=n)
    if valid(stamps):
        output(latest=max(stamps[0], stamps[1]))
    if valid(gaps):
        output(total=gaps[0] + gaps[1])


def dynamic(prices: Basket[float, 4], i: Signal[int]) -> Signal[float]:
    count: State[int] = 0
    v = prices[i]
    count += 1
    return v + count


def plain_signal(x: Signal[float]) -> Signal[float]:
    return x


def empty(prices: Basket[float, 0], i: Signal[int]) -> Outputs(n=Signal[int], any_t=Signal[bool], all_v=Signal[bool], s=Signal[float], at=Signal[float]):
    s = 0.0
    for v in prices:
        s += v
    output(n=len(prices), any_t=ticked(prices), all_v=valid(prices), s=s)
    if ticked(i):
        output(at=prices[i])


@pytest.fixture(scope="module")
def every_op_result():
    return compile_node(every_op)


# -- NodeRunner -----------------------------------------------------------------------------------


def test_every_operation_through_node_runner(every_op_result):
    runner = NodeRunner(every_op_result)
    runner.start()
    values = [0.0] * 5
    out = runner.execute(prices={1: 1.5, 3: 2.0}, i=1)
    values[1], values[3] = 1.5, 2.0
    valid_flags = [0, 1, 0, 1, 0]
    assert out == expected_every_op(values, valid_flags, [0, 1, 0, 1, 0], 1)

    out = runner.execute(prices=[4.0, None, None, 8.0, 16.0], i=-5)  # a list: every element but None ticks
    values[0], values[3], values[4] = 4.0, 8.0, 16.0
    valid_flags = [1, 1, 0, 1, 1]
    assert out == expected_every_op(values, valid_flags, [1, 0, 0, 1, 1], 0)

    out = runner.execute(x=7, prices={2: -1.0, -1: 32.0})  # negative keys count from the end
    values[2], values[4] = -1.0, 32.0
    assert out == {**expected_every_op(values, [1] * 5, [0, 0, 1, 0, 1]), "x_out": 7}

    out = runner.execute()  # nothing ticks; every element keeps its value and stays valid
    assert out == expected_every_op(values, [1] * 5, [0] * 5)
    runner.stop()


def test_layout_in_the_artifact_and_metadata(every_op_result):
    artifact = every_op_result.artifact
    names = ["x", *(f"prices[{k}]" for k in range(5)), "i"]
    assert [s.name for s in artifact.inputs] == names
    assert [(s.type, s.cell) for s in artifact.inputs] == [("int", "int64"), *[("float", "float64")] * 5, ("int", "int64")]
    assert artifact.extra["baskets"] == {"prices": {"base": 1, "size": 5, "type": "float"}}
    assert every_op_result.ordered_input_signals == names
    assert every_op_result.input_cell_types == ["int64", *["float64"] * 5, "int64"]
    assert NodeRunner(every_op_result).input_names == names
    assert compile_node(plain_signal).artifact.extra == {"named_outputs": None}  # no key without baskets


def test_size_given_at_compile_time_and_int_widened_into_float():
    assert NodeRunner(compile_node(sized, prices=Basket[float, 3])).execute() == 3
    eight = compile_node(sized, prices=Basket[float, 8])
    assert NodeRunner(eight).execute() == 8
    assert [s.name for s in eight.artifact.inputs][-1] == "prices[7]"

    result = compile_node(mixed, prices=Basket[int, 3])  # int cells read as float
    assert [(s.name, s.cell) for s in result.artifact.inputs] == [
        ("a", "float64"), ("prices[0]", "int64"), ("prices[1]", "int64"), ("prices[2]", "int64"), ("b", "int64")
    ]
    runner = NodeRunner(result)
    runner.start()
    assert runner.execute(a=0.5, prices={0: 1, 2: 4}, b=10) == 15.5
    out = runner.execute(prices=[2, None, 2**53 + 1])
    assert out == 2.0 + float(2**53 + 1) and type(out) is float
    with pytest.raises(TypeError, match=r"input 'prices\[1\]' of mixed takes int, got float 1.5"):
        runner.execute(prices={1: 1.5})


def test_plain_signals_are_unchanged_beside_baskets():
    runner = NodeRunner(compile_node(mixed, prices=Basket[float, 2]))
    runner.start()
    assert runner.execute(a=1.0) == 1.0
    assert runner.execute(b=2) == 2.0
    assert runner.execute(a=1.0, prices={1: 0.25}, b=2) == 3.25


def test_element_types_bool_datetime_timedelta():
    runner = NodeRunner(compile_node(typed))
    runner.start()
    t0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert runner.execute(flags=[True, False, True]) == {"n_true": 2}
    assert runner.execute(stamps={0: t0}) == {"n_true": 2}  # stamps[1] not valid yet
    out = runner.execute(stamps={1: t0 + timedelta(seconds=1)}, gaps=[timedelta(minutes=1), timedelta(seconds=30)])
    assert out == {"n_true": 2, "latest": t0 + timedelta(seconds=1), "total": timedelta(minutes=1, seconds=30)}
    with pytest.raises(TypeError, match=r"input 'flags\[0\]' of typed takes bool, got int 2"):
        runner.execute(flags={0: 2})


def test_node_runner_input_errors_name_the_input(every_op_result):
    runner = NodeRunner(every_op_result)
    runner.start()
    with pytest.raises(TypeError, match=r"input 'prices' of every_op is a basket of 5: it has no element 5 \(indices 0..4\)"):
        runner.execute(prices={5: 1.0})
    with pytest.raises(TypeError, match=r"it has no element -6"):
        runner.execute(prices={-6: 1.0})
    with pytest.raises(TypeError, match=r"it has no element '1'"):
        runner.execute(prices={"1": 1.0})
    with pytest.raises(TypeError, match=r"it has no element True"):
        runner.execute(prices={True: 1.0})
    with pytest.raises(TypeError, match=r"input 'prices' of every_op is a basket of 5: got 4 values"):
        runner.execute(prices=[1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match=r"give \{index: value, ...\} or a list of 5 values, got float 1.0"):
        runner.execute(prices=1.0)
    with pytest.raises(TypeError, match=r"input 'prices\[2\]' of every_op takes float, got str 'a'"):
        runner.execute(prices={2: "a"})
    with pytest.raises(TypeError, match=r"input 'prices\[0\]' of every_op takes float, got NoneType None"):
        runner.execute(prices={0: None})
    with pytest.raises(TypeError, match=r"every_op has no input 'price'; did you mean 'prices'\? \(inputs: x, prices, i\)"):
        runner.execute(price={0: 1.0})


# -- raw addresses ----------------------------------------------------------------------------------

NodeFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int8,
                          ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)  # ncc_host_node_fn


class RawNode:
    """A node driven through its address with our own cells: inputs as doubles/int64 by slot."""

    def __init__(self, result):
        self.fn = NodeFn(result.address)
        self.n_in = len(result.artifact.inputs)
        self.in_cells = [ctypes.c_double() if s.cell == "float64" else ctypes.c_int64() for s in result.artifact.inputs]
        self.inputs = (ctypes.c_void_p * max(self.n_in, 1))(*[ctypes.addressof(c) for c in self.in_cells])
        self.ticked = (ctypes.c_int8 * max(self.n_in, 1))()
        self.valid = (ctypes.c_int8 * max(self.n_in, 1))()
        self.out_cells = [
            ctypes.c_double() if s.cell == "float64" else ctypes.c_int8() if s.cell == "int8" else ctypes.c_int64()
            for s in result.artifact.outputs
        ]
        self.outputs = (ctypes.c_void_p * max(len(self.out_cells), 1))(*[ctypes.addressof(c) for c in self.out_cells])
        self.out_ticked = (ctypes.c_int8 * max(len(self.out_cells), 1))()
        self.names = [s.name for s in result.artifact.outputs]
        self.state_cells = [ctypes.c_int64() for _ in result.artifact.state]
        self.state = (ctypes.c_void_p * max(len(self.state_cells), 1))(*[ctypes.addressof(c) for c in self.state_cells])

    def call(self, phase):
        self.fn(self.outputs, self.out_ticked, self.state, phase, self.inputs, self.ticked, self.valid)

    def execute(self, values: dict[int, float]):
        """Tick input slots ``values`` (slot -> value); returns the ticked outputs by name."""
        ctypes.memset(self.ticked, 0, ctypes.sizeof(self.ticked))
        ctypes.memset(self.out_ticked, 0, ctypes.sizeof(self.out_ticked))
        for slot, value in values.items():
            self.in_cells[slot].value = value
            self.ticked[slot] = self.valid[slot] = 1
        self.call(int(Phase.EXECUTE))
        return {name: self.out_cells[k].value for k, name in enumerate(self.names) if self.out_ticked[k]}


def test_every_operation_through_the_raw_entry_point(every_op_result):
    node = RawNode(every_op_result)
    node.call(int(Phase.START))
    # slots: x = 0, prices[k] = 1 + k, i = 6
    out = node.execute({2: 1.5, 4: 2.0, 6: 3})
    values, valid_flags, ticked_flags = [0.0, 1.5, 0.0, 2.0, 0.0], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0]
    expected = expected_every_op(values, valid_flags, ticked_flags, 3)
    assert out == {k: int(v) if isinstance(v, bool) else v for k, v in expected.items()}

    # the host owns the flags: a cell marked valid but never ticked is read as it is
    node.in_cells[1].value = 9.0
    node.valid[1] = 1
    out = node.execute({3: -2.0, 6: 0})
    values[0], values[2] = 9.0, -2.0
    expected = expected_every_op(values, [1, 1, 1, 1, 0], [0, 0, 1, 0, 0], 0)
    assert out == {k: int(v) if isinstance(v, bool) else v for k, v in expected.items()}
    node.call(int(Phase.STOP))


def test_mixed_layout_through_the_raw_entry_point():
    node = RawNode(compile_node(mixed, prices=Basket[float, 3]))
    node.call(int(Phase.START))
    assert node.execute({0: 1.0, 1: 10.0, 3: 100.0, 4: 1000}) == {"output0": 1111.0}
    assert node.execute({2: 0.5}) == {"output0": 0.5}


# -- property: a node compiled once against a Python model ------------------------------------------


def model_node(
    prices: Basket[float, 8], i: Signal[int]
) -> Outputs(tsum=Signal[float], nvalid=Signal[int], first=Signal[int], lastv=Signal[int], anyt=Signal[bool],
             allv=Signal[bool], at=Signal[float], atv=Signal[bool], running=Signal[float]):
    running: State[float] = 0.0
    s = 0.0
    for v in prices.tickedvalues():
        s += v
        running += v
    n = 0
    lastv = -1
    for k in prices.validkeys():
        n += 1
        lastv = k
    first = -1
    for k, v in prices.tickeditems():
        first = k
        break
    output(tsum=s, nvalid=n, first=first, lastv=lastv, anyt=ticked(prices), allv=valid(prices), running=running)
    if ticked(i):
        output(at=prices[i], atv=valid(prices[i]))


@pytest.fixture(scope="module")
def model_result():
    return compile_node(model_node)


ticks = st.dictionaries(st.integers(0, 7), st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: float(int(v))), max_size=8)
steps = st.lists(st.tuples(ticks, st.one_of(st.none(), st.integers(-8, 7))), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(steps=steps)
def test_node_agrees_with_a_python_model(model_result, steps):
    runner = NodeRunner(model_result)
    runner.start()
    values, valid_flags, running = [0.0] * 8, [False] * 8, 0.0
    for tick, i in steps:
        for k, v in tick.items():
            values[k], valid_flags[k] = v, True
        ticked_keys = sorted(tick)
        running += sum(values[k] for k in ticked_keys)
        expected = {
            "tsum": sum(values[k] for k in ticked_keys),
            "nvalid": sum(valid_flags),
            "first": ticked_keys[0] if ticked_keys else -1,
            "lastv": max((k for k in range(8) if valid_flags[k]), default=-1),
            "anyt": bool(ticked_keys),
            "allv": all(valid_flags),
            "running": running,
        }
        if i is not None:
            expected.update(at=values[i], atv=valid_flags[i])
        inputs = {"prices": tick} if i is None else {"prices": tick, "i": i}
        assert runner.execute(**inputs) == expected
    runner.stop()


# -- run-time faults --------------------------------------------------------------------------------


def test_dynamic_index_out_of_range_is_an_index_fault():
    result = compile_node(dynamic)
    runner = NodeRunner(result)
    runner.start()
    assert runner.execute(prices={3: 2.0}, i=3) == 3.0
    assert runner.execute(i=-1) == 4.0
    for bad in (4, -5, 2**40):
        with pytest.raises(NodeRuntimeError) as info:
            runner.execute(i=bad)
        assert info.value.code == ErrorCode.INDEX
        assert f"index {bad} out of range (length 4)" in info.value.message
        assert info.value.entry == result.native_name
    assert runner.state("count") == 2  # a faulting call ends where it faults: nothing after it ran
    assert runner.execute(i=0) == 3.0  # the record was cleared: the next call runs normally


def test_empty_basket():
    runner = NodeRunner(compile_node(empty))
    runner.start()
    assert runner.execute() == {"n": 0, "any_t": False, "all_v": True, "s": 0.0}
    assert runner.execute(prices={}) == {"n": 0, "any_t": False, "all_v": True, "s": 0.0}
    with pytest.raises(NodeRuntimeError) as info:
        runner.execute(i=0)
    assert info.value.code == ErrorCode.INDEX


# -- misuse: CompilationErrors at the user's line ------------------------------------------------


def line_of(func, text: str) -> int:
    """The file line number of the first line of ``func``'s source containing ``text``."""
    lines, start_line = inspect.getsourcelines(func)
    return start_line + next(k for k, line in enumerate(lines) if text in line)


def bad_constant_index(prices: Basket[float, 4]) -> Signal[float]:
    return prices[4]  # error


def bad_negative_index(prices: Basket[float, 4]) -> Signal[float]:
    return prices[-5]  # error


def bad_store(prices: Basket[float, 4]) -> Signal[float]:
    prices[0] = 1.0  # error
    return 0.0


def bad_augmented_store(prices: Basket[float, 4]) -> Signal[float]:
    prices[1] += 1.0  # error
    return 0.0


def bad_rebind(prices: Basket[float, 4]) -> Signal[float]:
    prices = 3.0  # error
    return prices


def bad_bare_use(prices: Basket[float, 4]) -> Signal[float]:
    alias = prices  # error
    return 0.0


def bad_not_iterated(prices: Basket[float, 4]) -> Signal[float]:
    items = prices.tickeditems()  # error
    return 0.0


def bad_method(prices: Basket[float, 4]) -> Signal[float]:
    for v in prices.values():  # error
        pass
    return 0.0


def bad_attribute(prices: Basket[float, 4]) -> Signal[int]:
    return prices.size  # error


def bad_float_index(prices: Basket[float, 4], x: Signal[float]) -> Signal[float]:
    return prices[x]  # error


def bad_method_args(prices: Basket[float, 4]) -> Signal[float]:
    for v in prices.tickedvalues(2):  # error
        pass
    return 0.0


def bad_in_start(prices: Basket[float, 4]) -> Signal[float]:
    first: State[float] = 0.0
    with start():
        first = prices[0]  # error
    return first


def bad_ticked_of_expression(prices: Basket[float, 4]) -> Signal[bool]:
    return ticked(prices[0] + 1.0)  # error


MISUSE = [
    (bad_constant_index, {}, "prices[4]", r"index 4 is out of range for basket 'prices' of 4 element\(s\)"),
    (bad_negative_index, {}, "prices[-5]", r"index -5 is out of range for basket 'prices'"),
    (bad_store, {}, "prices[0] = 1.0", r"basket 'prices' is an input: its elements are read-only"),
    (bad_augmented_store, {}, "prices[1] += 1.0", r"basket 'prices' is an input: its elements are read-only"),
    (bad_rebind, {}, "prices = 3.0", r"basket 'prices' is an input: it is read-only"),
    (bad_bare_use, {}, "alias = prices", r"basket 'prices' can only be used through its operations"),
    (bad_not_iterated, {}, "prices.tickeditems()", r"prices.tickeditems\(\) can only be iterated"),
    (bad_method, {}, "prices.values()", r"basket 'prices' has no attribute 'values' \(it has: tickeditems"),
    (bad_attribute, {}, "prices.size", r"basket 'prices' has no attribute 'size'"),
    (bad_float_index, {}, "prices[x]", r"a basket index must be an integer, got a float"),
    (bad_method_args, {}, "tickedvalues(2)", r"tickedvalues\(\) takes no arguments"),
    (bad_in_start, {}, "first = prices[0]", r"basket 'prices' is not available here"),
    (bad_ticked_of_expression, {}, "ticked(prices[0] + 1.0)", r"ticked\(\) takes one input name"),
]


@pytest.mark.parametrize("func, constants, marker, message", MISUSE, ids=[m[0].__name__ for m in MISUSE])
def test_misuse_is_a_compilation_error_at_its_line(func, constants, marker, message):
    with pytest.raises(CompilationError, match=message) as info:
        compile_node(func, **constants)
    assert info.value.location.lineno == line_of(func, marker), str(info.value)
    assert info.value.location.filename == __file__


def f_no_size(prices: Basket[float]) -> Signal[int]:
    return len(prices)


def f_bad_size(prices: Basket[float, "16"]) -> Signal[int]:
    return len(prices)


def f_negative_size(prices: Basket[float, -1]) -> Signal[int]:
    return len(prices)


def f_bool_elements(prices: Basket[bool, 4]) -> Signal[int]:
    return len(prices)


def f_float_elements(prices: Basket[float, 4]) -> Signal[int]:
    return len(prices)


def f_list_elements(prices: Basket[NumbaList[float], 2]) -> Signal[int]:
    return len(prices)


def f_str_elements(prices: Basket[str, 2]) -> Signal[int]:
    return len(prices)


PARAMETER_ERRORS = [
    (f_no_size, {}, r"basket 'prices' has no size: give it when compiling, compile_node\(f, prices=Basket\[float, N\]\)"),
    (f_bad_size, {}, r"basket 'prices': the size must be a constant int, got '16'"),
    (f_negative_size, {}, r"basket 'prices': the size must be between 0 and 65536, got -1"),
    (f_float_elements, {"prices": Basket[float, 1.5]}, r"the size must be a constant int, got 1.5"),
    (f_float_elements, {"prices": Basket[float, True]}, r"the size must be a constant int, got True"),
    (f_float_elements, {"prices": Basket[float, 8]}, r"basket 'prices' is declared Basket\[float, 4\] but receives Basket\[float, 8\]"),
    (f_bool_elements, {"prices": Basket[int, 4]}, r"basket 'prices' is declared Basket\[bool, 4\] but receives Basket\[int, 4\] \(only int into float"),
    (f_float_elements, {"prices": Basket[str, 4]}, r"declared Basket\[float, 4\] but receives Basket\[str, 4\]"),
    (f_float_elements, {"prices": Signal[float]}, r"basket 'prices' must be bound to a Basket\[...\], got Signal\[float\]"),
    (f_list_elements, {}, r"basket 'prices': elements cannot be a container"),
    (f_str_elements, {}, r"basket 'prices' has unsupported element type 'str'"),
]


@pytest.mark.parametrize("func, constants, message", PARAMETER_ERRORS, ids=[f"{f.__name__}-{i}" for i, (f, _, _) in enumerate(PARAMETER_ERRORS)])
def test_bad_types_and_sizes_are_errors_at_the_parameter(func, constants, message):
    with pytest.raises(CompilationError, match=message) as info:
        compile_node(func, **constants)
    assert info.value.location.lineno == line_of(func, "def "), str(info.value)


def test_basket_annotations_are_plain_values():
    assert Basket[float, 16] == BasketType(float, 16) and repr(Basket[float, 16]) == "Basket[float, 16]"
    assert Basket[int] == BasketType(int) and repr(Basket[int]) == "Basket[int]"
    assert Basket[float, 1, 2].size == (1, 2)  # rejected when compiled, not when the node is defined


# -- AOT: a library round trip -----------------------------------------------------------------------

DRIVER = """
import json, sys
from numba_cfunc_compiler.host import NodeRunner
runner = NodeRunner.from_library(sys.argv[1], "mixed")
runner.start()
out = [runner.execute(a=1.0, prices={0: 2.0, 2: 4.0}, b=3), runner.execute(prices=[None, 0.5, None])]
print(json.dumps({"out": out, "imported": [m for m in ("numba", "llvmlite") if m in sys.modules]}))
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; AOT libraries need one (CI has it)")
    from numba_cfunc_compiler.aot import build_library

    results = {"mixed": compile_node(mixed, prices=Basket[float, 3]), "every_op": compile_node(every_op)}
    return results, build_library(results.values(), tmp_path_factory.mktemp("baskets"), "baskets")


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_aot_library_round_trip(library):
    results, files = library
    manifest = json.loads(files.manifest.read_text())
    node = next(n for n in manifest["nodes"] if n["qualname"] == "mixed")
    assert [s["name"] for s in node["inputs"]] == ["a", "prices[0]", "prices[1]", "prices[2]", "b"]
    assert node["extra"]["baskets"] == {"prices": {"base": 1, "size": 3, "type": "float"}}
    header = files.header.read_text()
    assert "[1] prices[0]: float, float64 cell" in header and "[3] prices[2]: float, float64 cell" in header
    assert "#define BASKETS_MIXED_BASKET_PRICES_BASE 1\n#define BASKETS_MIXED_BASKET_PRICES_SIZE 3\n" in header
    assert "#define BASKETS_EVERY_OP_BASKET_PRICES_BASE 1\n#define BASKETS_EVERY_OP_BASKET_PRICES_SIZE 5\n" in header

    steps = [
        {"prices": {1: 1.5, 3: 2.0}, "i": 1},
        {"prices": [4.0, None, None, 8.0, 16.0], "i": -5},
        {"x": 7, "prices": {2: -1.0}},
        {},
    ]
    for name in results:
        in_process, from_library = NodeRunner(results[name]), NodeRunner.from_library(files.library, name)
        in_process.start()
        from_library.start()
        plan = steps if name == "every_op" else [{"a": 1.0, "prices": {0: 2.0, 2: 4.0}, "b": 3}, {"prices": [None, 0.5, None]}]
        for step in plan:
            assert from_library.execute(**step) == in_process.execute(**step)
    runner = NodeRunner.from_library(files.library, "every_op")
    runner.start()
    with pytest.raises(TypeError, match=r"input 'prices' of every_op is a basket of 5: it has no element 7"):
        runner.execute(prices={7: 1.0})
    with pytest.raises(TypeError, match=r"input 'prices\[0\]' of every_op takes float, got str 'a'"):
        runner.execute(prices=["a", None, None, None, None])


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_from_library_needs_no_numba(library, tmp_path):
    _, files = library
    script = tmp_path / "drive.py"
    script.write_text(DRIVER)
    proc = subprocess.run([sys.executable, str(script), str(files.library)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {"out": [10.0, 0.5], "imported": []}
