"""START / EXECUTE / STOP: state initialisation, start/stop blocks and robustness."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import numba_rt

from numba_cfunc_compiler import CompilationError, NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, start, stop, ticked, valid

from conftest import DirectNode, compile_direct


def many_states(x: Signal[float]) -> Signal[float]:
    count: State[int] = 7
    neg: State[int] = -3
    level: State[float] = -2.5
    low: State[float] = -math.inf
    armed: State[bool] = True
    quiet: State[bool] = False
    count += 1
    neg -= 1
    level += x
    low = x
    armed = not armed
    quiet = not quiet
    return level


def plain_states(step: int) -> int:
    total: State[int] = 40
    ratio: State[float] = 0.25
    flag: State[bool] = True
    total += step
    ratio *= 2.0
    flag = not flag
    return total


@pytest.fixture(scope="module")
def many_states_result():
    return compile_node(many_states)


def state_cells(runner: NodeRunner) -> list:
    return [runner.state(name) for name in runner.result.state_names]


def test_start_on_zeroed_memory_writes_every_state_value(many_states_result):
    runner = NodeRunner(many_states_result)
    assert state_cells(runner) == [0, 0, 0.0, 0.0, 0, 0]
    runner.start()
    assert many_states_result.state_values == [7, -3, -2.5, -math.inf, 1, 0]
    assert state_cells(runner) == many_states_result.state_values


def test_start_again_resets_every_state_value(many_states_result):
    runner = NodeRunner(many_states_result)
    runner.start()
    runner.execute(x=1.0)
    assert state_cells(runner) != many_states_result.state_values
    runner.start()
    assert state_cells(runner) == many_states_result.state_values


def test_start_initialises_state_without_the_host(fresh_context):
    result = compile_direct(plain_states, 2)
    node = DirectNode(result)
    node.start()
    assert [node.state_value(n) for n in ("total", "ratio", "flag")] == [40, 0.25, 1]
    assert result.state_values == [40, 0.25, 1]
    assert node.execute() == [42]


def phases(x: Signal[int]) -> Signal[int]:
    opened: State[int] = 0
    closed: State[int] = 0
    with start():
        opened = 10
    if ticked(x):
        return x + opened
    with stop():
        closed = opened + 1


@pytest.fixture(scope="module")
def phases_result():
    return compile_node(phases)


def test_start_block_runs_in_start(phases_result):
    runner = NodeRunner(phases_result)
    runner.start()
    assert (runner.state("opened"), runner.state("closed")) == (10, 0)


def test_start_and_stop_blocks_do_not_run_in_execute(phases_result):
    runner = NodeRunner(phases_result)
    assert runner.execute(x=1) == 1
    assert (runner.state("opened"), runner.state("closed")) == (0, 0)


def test_stop_block_runs_in_stop(phases_result):
    runner = NodeRunner(phases_result)
    runner.start()
    assert runner.execute(x=1) == 11
    runner.stop()
    assert runner.state("closed") == 11


def test_stop_twice_and_execute_after_stop_do_not_crash(phases_result):
    runner = NodeRunner(phases_result)
    runner.start()
    runner.stop()
    runner.stop()
    assert runner.state("closed") == 11
    assert runner.execute(x=5) == 15


def test_stop_without_start_does_not_crash(phases_result):
    runner = NodeRunner(phases_result)
    runner.stop()
    assert runner.state("closed") == 1


# -- random lifecycles against a Python model ---------------------------------------------------


def lifecycle_node(x: Signal[int]) -> Outputs(total=Signal[int], n=Signal[int]):
    total: State[int] = 100
    n: State[int] = 0
    starts: State[int] = 0
    stops: State[int] = 0
    with start():
        starts += 1
    if ticked(x):
        total += x
        n += 1
        output(total=total, n=n)
    elif valid(x):
        output(n=n)
    with stop():
        stops += total


class LifecycleModel:
    """What `lifecycle_node` does, in Python, on host memory that starts zeroed."""

    def __init__(self) -> None:
        self.state = {"total": 0, "n": 0, "starts": 0, "stops": 0}
        self.valid = False

    def start(self) -> None:
        self.state = {"total": 100, "n": 0, "starts": 1, "stops": 0}

    def stop(self) -> None:
        self.state["stops"] += self.state["total"]

    def execute(self, x: int | None) -> dict:
        s = self.state
        if x is not None:
            self.valid = True
            s["total"] += x
            s["n"] += 1
            return {"total": s["total"], "n": s["n"]}
        if self.valid:
            return {"n": s["n"]}
        return {}


@pytest.fixture(scope="module")
def lifecycle_result():
    return compile_node(lifecycle_node)


OPERATIONS = st.lists(
    st.one_of(st.sampled_from(["start", "stop", "execute"]), st.integers(min_value=-1000, max_value=1000)),
    max_size=25,
)


@settings(max_examples=50, deadline=None)
@given(operations=OPERATIONS)
def test_random_lifecycles_match_the_model(lifecycle_result, operations):
    runner = NodeRunner(lifecycle_result)
    model = LifecycleModel()
    for op in operations:
        if op == "start":
            runner.start()
            model.start()
        elif op == "stop":
            runner.stop()
            model.stop()
        elif op == "execute":
            assert runner.execute() == model.execute(None)
        else:
            assert runner.execute(x=op) == model.execute(op)
        assert {name: runner.state(name) for name in model.state} == model.state


# -- STOP frees what the node owns, whatever the stop block does ------------------------------


def _stop_faults(x: Signal[float]) -> Signal[float]:
    d: State[NumbaDict] = create_new_dict(int, float)
    xs: State[NumbaList] = create_new_list(float)
    d[1] = x
    xs.append(x)
    with stop():
        missing = d[99]  # KeyError: a fault in STOP
        xs.append(missing)
    return x


def _stop_returns_early(x: Signal[float]) -> Signal[float]:
    d: State[NumbaDict] = create_new_dict(int, float)
    seen: State[int] = 0
    d[1] = x
    seen += 1
    with stop():
        if d[1] > 0.0:
            seen = -1
            return
        seen = -2
    return x


def test_a_fault_in_the_stop_block_still_frees_the_containers():
    runtime = numba_rt.load()
    runner = NodeRunner(compile_node(_stop_faults))
    before = runtime.live_containers()
    runner.start()
    runner.execute(x=2.0)
    assert runtime.live_containers() == before + 2
    with pytest.raises(NodeRuntimeError, match="key 99"):
        runner.stop()
    assert runtime.live_containers() == before
    assert runner.state("d") is None and runner.state("xs") is None


def test_a_return_in_the_stop_block_still_frees_the_containers():
    runtime = numba_rt.load()
    runner = NodeRunner(compile_node(_stop_returns_early))
    before = runtime.live_containers()
    runner.start()
    runner.execute(x=2.0)
    assert runtime.live_containers() == before + 1
    runner.stop()
    assert runtime.live_containers() == before
    assert runner.state("seen") == -1 and runner.state("d") is None


def _nested_stop(x: Signal[float]) -> Signal[float]:
    if x > 0:
        with stop():
            pass
    return x


def test_a_lifecycle_block_inside_another_statement_is_an_error_at_its_line():
    with pytest.raises(CompilationError, match="must be at the top level of the node") as info:
        compile_node(_nested_stop)
    assert info.value.lineno == _nested_stop.__code__.co_firstlineno + 2
    assert "out of the if" in info.value.hint
