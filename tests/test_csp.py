"""csp host extension (`numba_cfunc_compiler.contrib.csp`): nodes compiled here run in real csp
0.19.1 graphs through csp's ``PyNumbaNode``, and behave exactly as the same node written as a
Python ``@csp.node``: same ticks, same values (bit for bit), faults raised as a Python exception
naming the node, containers released when the engine stops, whatever happens in the graph."""

from __future__ import annotations

import ctypes
import gc
import math
import os
import struct
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import csp
import pytest
from csp import ts
from hypothesis import given, settings
from hypothesis import strategies as st

import numba_rt
from numba_cfunc_compiler import CompilationError, NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.contrib.csp import CompiledNodeError, compiled_node
from numba_cfunc_compiler.contrib.csp.adapters import may_fault
from numba_cfunc_compiler.contrib.csp.node import _Instance

START = datetime(2020, 1, 1)
RUNTIME = numba_rt.load()


def run(graph, *args):
    return csp.run(graph, *args, starttime=START, endtime=timedelta(days=1))


def curve(python_type, values, every=1):
    return csp.curve(python_type, [(timedelta(seconds=every * i), v) for i, v in enumerate(values)])


def bits(series):
    """Ticks with each float as its 64 bits: equal means bit for bit (NaN included)."""
    return [(t, struct.pack("<d", v) if isinstance(v, float) else v) for t, v in series]


@pytest.fixture(autouse=True)
def no_container_left():
    """Every test ends with as many live containers as it started with."""
    before = RUNTIME.live_containers()
    yield
    assert RUNTIME.live_containers() == before


# -- the nodes: compiled, and the same as Python @csp.node --------------------------------------


@compiled_node
def ema(x: ts[float], alpha: float) -> ts[float]:
    avg: State[float] = 0.0
    first: State[bool] = True
    if csp.ticked(x):
        if first:
            avg = x
            first = False
        else:
            avg = alpha * x + (1 - alpha) * avg
        return avg


@csp.node
def ema_py(x: ts[float], alpha: float) -> ts[float]:
    with csp.state():
        s_avg = 0.0
        s_first = True
    if csp.ticked(x):
        if s_first:
            s_avg = x
            s_first = False
        else:
            s_avg = alpha * x + (1 - alpha) * s_avg
        return s_avg


@compiled_node
def per_key(key: ts[int], value: ts[float]) -> csp.Outputs(total=ts[float], keys=ts[int]):
    sums: State[NumbaDict[int, float]] = create_new_dict(int, float)
    if csp.ticked(key) and csp.valid(value):
        if key not in sums:
            csp.output(keys=len(sums) + 1)
        sums[key] = sums.get(key, 0.0) + value
        csp.output(total=sums[key])


@csp.node
def per_key_py(key: ts[int], value: ts[float]) -> csp.Outputs(total=ts[float], keys=ts[int]):
    with csp.state():
        s_sums = {}
    if csp.ticked(key) and csp.valid(value):
        if key not in s_sums:
            csp.output(keys=len(s_sums) + 1)
        s_sums[key] = s_sums.get(key, 0.0) + value
        csp.output(total=s_sums[key])


@compiled_node
def cross(x: ts[float], fast: float, slow: float) -> csp.Outputs(fast=ts[float], slow=ts[float], up=ts[bool], crossings=ts[int]):
    f: State[float] = 0.0
    s: State[float] = 0.0
    n: State[int] = 0
    above: State[bool] = False
    window: State[NumbaList[float]] = create_new_list(float)
    if csp.ticked(x):
        window.append(x)
        if len(window) > 3:
            window.pop(0)
        f = fast * x + (1 - fast) * f
        s = slow * x + (1 - slow) * s
        if n % 2 == 0:
            csp.output(fast=f)
        if len(window) == 3:
            csp.output(slow=s)
        if (f > s) != above:
            above = f > s
            n += 1
            return csp.output(up=above, crossings=n)


@csp.node
def cross_py(x: ts[float], fast: float, slow: float) -> csp.Outputs(fast=ts[float], slow=ts[float], up=ts[bool], crossings=ts[int]):
    with csp.state():
        s_f = 0.0
        s_s = 0.0
        s_n = 0
        s_above = False
        s_window = []
    if csp.ticked(x):
        s_window.append(x)
        if len(s_window) > 3:
            s_window.pop(0)
        s_f = fast * x + (1 - fast) * s_f
        s_s = slow * x + (1 - slow) * s_s
        if s_n % 2 == 0:
            csp.output(fast=s_f)
        if len(s_window) == 3:
            csp.output(slow=s_s)
        if (s_f > s_s) != s_above:
            s_above = s_f > s_s
            s_n += 1
            csp.output(up=s_above, crossings=s_n)


@compiled_node
def lookup(key: ts[int]) -> ts[float]:
    table: State[NumbaDict[int, float]] = create_new_dict(int, float)
    with csp.start():
        table[1] = 10.0
        table[2] = 20.0
    return table[key]


@csp.node
def fails_at(x: ts[float], at: float) -> ts[float]:
    if x == at:
        raise ValueError(f"python node fails at {x}")
    return x


# -- compiled == Python, bit for bit --------------------------------------------------------------

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(FLOATS, max_size=40), alpha=st.sampled_from([0.1, 0.5, 1 / 3]))
def test_ema_equals_the_python_node(values, alpha):
    @csp.graph
    def g():
        x = curve(float, values)
        csp.add_graph_output("compiled", ema(x, alpha))
        csp.add_graph_output("python", ema_py(x, alpha))

    out = run(g)
    assert len(out["compiled"]) == len(values)
    assert bits(out["compiled"]) == bits(out["python"])


@settings(max_examples=20, deadline=None)
@given(
    keys=st.lists(st.integers(-5, 5), max_size=40),
    values=st.lists(st.floats(-100, 100, allow_nan=False), max_size=40),
)
def test_dict_aggregate_equals_the_python_node(keys, values):
    @csp.graph
    def g():
        k, v = curve(int, keys, every=2), curve(float, values, every=3)  # ticking at different times
        compiled, python = per_key(k, v), per_key_py(k, v)
        for name in ("total", "keys"):
            csp.add_graph_output(f"compiled {name}", compiled[name])
            csp.add_graph_output(f"python {name}", python[name])

    out = run(g)
    for name in ("total", "keys"):
        assert bits(out[f"compiled {name}"]) == bits(out[f"python {name}"])


@settings(max_examples=20, deadline=None)
@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60))
def test_named_outputs_tick_independently_as_in_python(values):
    @csp.graph
    def g():
        x = curve(float, values)
        compiled, python = cross(x, 0.5, 0.1), cross_py(x, 0.5, 0.1)
        for name in ("fast", "slow", "up", "crossings"):
            csp.add_graph_output(f"compiled {name}", compiled[name])
            csp.add_graph_output(f"python {name}", python[name])

    out = run(g)
    for name in ("fast", "slow", "up", "crossings"):
        assert bits(out[f"compiled {name}"]) == bits(out[f"python {name}"]), name


def test_compiled_nodes_chain_and_take_int_edges():
    @csp.graph
    def g():
        x = curve(int, [3, 1, 4, 1, 5, 9, 2, 6])  # an int edge into ts[float]: csp casts it
        csp.add_graph_output("compiled", ema(ema(x, 0.5), 0.25))
        csp.add_graph_output("python", ema_py(ema_py(x, 0.5), 0.25))

    out = run(g)
    assert len(out["compiled"]) == 8 and bits(out["compiled"]) == bits(out["python"])


@compiled_node
def scale(x: ts["T"], factor: int) -> ts["T"]:  # noqa: F821 - a csp type variable
    return x * factor


def test_generic_node_is_compiled_per_type():
    @csp.graph
    def g():
        csp.add_graph_output("int", scale(curve(int, [1, 2, 3]), 3))
        csp.add_graph_output("float", scale(curve(float, [0.5, 1.5]), 2))

    out = run(g)
    assert [v for _, v in out["int"]] == [3, 6, 9] and all(type(v) is int for _, v in out["int"])
    assert [v for _, v in out["float"]] == [1.0, 3.0]


@compiled_node
def gate(x: ts[float], on: ts[bool]) -> ts[float]:
    if csp.ticked(on):
        if on:
            csp.make_active(x)
        else:
            csp.make_passive(x)
    if csp.ticked(x):
        return x


@compiled_node
def wait_for(x: ts[float], go: ts[bool]) -> ts[float]:
    with csp.start():
        csp.make_passive(x)
    if csp.ticked(go):
        csp.make_active(x)
    if csp.ticked(x):
        return x


def test_make_passive_and_make_active():
    @csp.graph
    def g():
        x = curve(float, [1.0, 2.0, 3.0, 4.0, 5.0], every=2)  # at 0, 2, 4, 6, 8 s
        on = csp.curve(bool, [(timedelta(seconds=3), False), (timedelta(seconds=7), True)])
        csp.add_graph_output("gate", gate(x, on))
        csp.add_graph_output("wait_for", wait_for(x, csp.curve(bool, [(timedelta(seconds=3), True)])))

    out = run(g)
    assert [v for _, v in out["gate"]] == [1.0, 2.0, 5.0]
    assert [v for _, v in out["wait_for"]] == [3.0, 4.0, 5.0]


def test_the_node_exports_the_csp_callbacks():
    result = ema.compile(alpha=0.1)
    assert result.signature == "void(outputs: void**, output_ticked: int8*, state: void**, lifecycle_phase: int8, csp_node: void*)"
    assert [(a["name"], a["symbol"]) for a in result.artifact.adapters] == [
        (name, f"{result.native_name}__{name}") for name in ("csp_start", "csp_execute", "csp_execute_unchecked", "csp_stop")
    ]
    assert all(a["params"] == [{"name": "node", "type": "void*"}, {"name": "state", "type": "void*"}] for a in result.artifact.adapters)
    # inputs are read by calling csp's accessors in the compiled code, not copied into cells
    assert "declare double @__csp_get_node_double_value__(ptr, i32)" in result.llvm_ir
    widened = ema.compile(alpha=0.1, x=int)  # an int edge into ts[float] is read as int, then widened
    assert "float(_ncc_csp_get_node_int64_value(csp_node, 0))" in widened.transformed_source
    assert not any(line.startswith("declare") and ("@Py" in line or "numba_gil" in line) for line in result.llvm_ir.splitlines())


# -- faults, STOP and containers ------------------------------------------------------------------


def test_a_fault_is_raised_naming_the_node():
    @csp.graph
    def g():
        csp.add_graph_output("y", lookup(curve(int, [1, 2, 3, 1])))

    with pytest.raises(CompiledNodeError) as info:
        run(g)
    err = info.value
    assert (err.node, err.phase, err.code) == ("lookup", "EXECUTE", numba_rt.ErrorCode.KEY)
    assert str(err).startswith("compiled csp node 'lookup' faulted in EXECUTE: key 3 not found (error code 1 in _gc_numba_")
    assert RUNTIME.error() is None  # raised once, and cleared


@compiled_node
def inverse(x: ts[float]) -> ts[float]:
    return 1.0 / x


def test_the_faulting_node_is_named_among_several():
    """``per_key`` runs in the same cycle as ``inverse``'s fault, drops its outputs and raises
    nothing: ``inverse``'s guard raises its own fault."""

    @csp.graph
    def g():
        x = curve(float, [2.0, 4.0, 0.0, 1.0])
        csp.add_graph_output("y", inverse(x))
        csp.add_graph_output("totals", per_key(curve(int, [1, 2, 3, 4]), inverse(x)).total)

    with pytest.raises(CompiledNodeError, match="compiled csp node 'inverse' faulted in EXECUTE: float division by zero") as info:
        run(g)
    assert info.value.code == numba_rt.ErrorCode.DIVISION_BY_ZERO


def test_only_nodes_that_can_fault_check_the_error_record():
    assert not may_fault(ema.compile(alpha=0.1).llvm_ir)  # csp's accessors and arithmetic only
    assert may_fault(inverse.compile().llvm_ir)  # division by zero
    assert may_fault(lookup.compile().llvm_ir)  # a missing key


def test_outputs_before_the_fault_are_delivered():
    seen = []

    @csp.node
    def record(x: ts[float]):
        seen.append(x)

    @csp.graph
    def g():
        record(lookup(curve(int, [2, 1, 9, 1])))

    with pytest.raises(CompiledNodeError):
        run(g)
    assert seen == [20.0, 10.0]  # the faulting call ticks nothing, and the graph stops there


@compiled_node
def fails_in_start(x: ts[float]) -> ts[float]:
    seen: State[NumbaList[float]] = create_new_list(float)
    with csp.start():
        seen.append(seen[3])
    return x


@compiled_node
def fails_in_stop(x: ts[float]) -> ts[float]:
    seen: State[NumbaList[float]] = create_new_list(float)
    with csp.stop():
        seen.append(seen[3])
    seen.append(x)
    return x


@pytest.mark.parametrize("node, phase", [(fails_in_start, "START"), (fails_in_stop, "STOP")])
def test_faults_in_start_and_stop_are_raised_and_release_the_containers(node, phase):
    @csp.graph
    def g():
        csp.add_graph_output("y", node(curve(float, [1.0, 2.0])))

    with pytest.raises(CompiledNodeError, match=f"'{node.__name__}' faulted in {phase}: list index 3 out of range"):
        run(g)


@pytest.mark.parametrize("fail_at", [None, 2.0, 3.0])
def test_stop_releases_the_containers_whatever_the_graph_does(fail_at):
    """A normal end, a Python node raising upstream of the compiled nodes, and downstream."""
    values = [float(i % 4) for i in range(10)]

    @csp.graph
    def g():
        x = curve(float, values)
        if fail_at == 2.0:
            x = fails_at(x, fail_at)
        y = cross(x, 0.5, 0.1)
        totals = per_key(curve(int, [i % 3 for i in range(10)]), x)
        keys = fails_at(totals.keys, 3.0) if fail_at == 3.0 else totals.keys  # the third key
        csp.add_graph_output("fast", y.fast)
        csp.add_graph_output("keys", keys)
        csp.add_graph_output("totals", totals.total)

    before = RUNTIME.live_containers()  # other tests' nodes may hold containers in this process
    if fail_at is None:
        assert len(run(g)["totals"]) == 10
    else:
        with pytest.raises(ValueError, match="python node fails at"):
            run(g)
    assert RUNTIME.live_containers() == before  # STOP ran before csp.run returned or raised


def test_no_c_compiler_at_run_time(tmp_path):
    """Compile and run a graph in a process that finds no C compiler and cannot start any
    program, with the persistent cache off: everything is generated in LLVM IR."""
    script = tmp_path / "run_graph.py"
    script.write_text(textwrap.dedent(
        """
        import shutil, subprocess
        def refuse(*args, **kwargs):
            raise AssertionError(f"a program was started: {args!r}")
        subprocess.Popen.__init__ = refuse
        assert shutil.which("cc") is None and shutil.which("gcc") is None
        from datetime import datetime, timedelta
        import csp
        from csp import ts
        from numba_cfunc_compiler import State
        from numba_cfunc_compiler.contrib.csp import compiled_node

        @compiled_node
        def total(x: ts[float]) -> ts[float]:
            s: State[float] = 0.0
            s += x
            return s

        @csp.graph
        def g():
            csp.add_graph_output("y", total(csp.curve(float, [(timedelta(seconds=i), 0.5 * i) for i in range(5)])))

        print(csp.run(g, starttime=datetime(2020, 1, 1), endtime=timedelta(minutes=1))["y"][-1][1])
        """
    ))
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty), "NCC_CACHE_DIR": "off"}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "5.0\n"


def test_state_dropped_without_stop_runs_stop():
    """The last resort: memory csp's node owns, dropped by an engine that never stopped the guard."""
    result = cross.compile(fast=0.5, slow=0.1)
    instance = _Instance(result, "cross")
    start = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)(result.adapter_address("csp_start"))
    before = RUNTIME.live_containers()
    start(None, instance.state_address)
    assert RUNTIME.live_containers() == before + 1  # the window list
    del instance
    gc.collect()
    assert RUNTIME.live_containers() == before


LIFECYCLE_SCRIPT = """
import gc, sys
from datetime import datetime, timedelta
import csp
from csp import ts
import numba_rt
from numba_cfunc_compiler import NumbaList, State, create_new_list
from numba_cfunc_compiler.contrib.csp import compiled_node

@compiled_node
def keep(x: ts[float]) -> ts[float]:
    xs: State[NumbaList[float]] = create_new_list(float)
    xs.append(x)
    return float(len(xs))

@csp.node
def stop_raises(x: ts[float]):
    with csp.stop():
        raise ValueError("stop")
    pass

@csp.node
def start_raises(x: ts[float]):
    with csp.start():
        raise ValueError("start")
    pass

@csp.graph
def g(case: str):
    x = csp.curve(float, [(timedelta(seconds=i), float(i)) for i in range(5)])
    if case == "python stop raises first":
        stop_raises(x)
    if case == "python start raises first":
        start_raises(x)
    csp.add_graph_output("y", keep(x))
    if case == "python start raises last":
        start_raises(x)

rt = numba_rt.load()
for case in sys.argv[1:]:
    try:
        print(case, csp.run(g, case, starttime=datetime(2020, 1, 1), endtime=timedelta(minutes=1))["y"][-1][1], end=" ")
    except ValueError as err:
        print(case, "raised", err, end=" ")
    gc.collect()  # the engine and what it owns go
    print("live", rt.live_containers())
"""


def test_lifecycle_edge_cases_in_a_subprocess(tmp_path):
    """Nodes that started or not when another node's start raises, and a Python node whose stop
    raises before the guard's: no container is left in any case."""
    script = tmp_path / "lifecycle.py"
    script.write_text(LIFECYCLE_SCRIPT)
    cases = ["normal", "python stop raises first", "python start raises first", "python start raises last"]
    proc = subprocess.run([sys.executable, str(script), *cases], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "normal 5.0 live 0",
        "python stop raises first raised stop live 0",
        "python start raises first raised start live 0",
        "python start raises last raised start live 0",
    ]


# -- what cannot be compiled ----------------------------------------------------------------------


def _compile_error(source: str, tmp_path: Path, **constants) -> CompilationError:
    module = tmp_path / "bad_node.py"
    module.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(module), "exec"), namespace)
    with pytest.raises(CompilationError) as info:
        namespace["node"].compile(**constants)
    return info.value


HEADER = """from datetime import datetime
import csp
from csp import ts
from numba_cfunc_compiler import State
from numba_cfunc_compiler.contrib.csp import compiled_node
"""


@pytest.mark.parametrize(
    "body, line, message, hint",
    [
        ("def node(x: ts[str]) -> ts[float]:\n    return 1.0\n", 8, "input 'x' is ts[str]: csp 0.19.1 exports input accessors for int, float and bool only", "convert"),
        ("def node(x: ts[float]) -> ts[datetime]:\n    return x\n", 8, "output 'output0' is ts[datetime]: csp 0.19.1 exports output accessors for int, float and bool only", "output an int"),
        ("def node(x: ts[float]) -> ts[float]:\n    return csp.now()\n", 9, "csp.now() cannot be compiled: csp 0.19.1 exports no accessor for the engine time", "Python @csp.node"),
        ("def node(x: ts[float]) -> ts[float]:\n    with csp.state():\n        s = 0\n    return x\n", 9, "`with csp.state():` is not supported", "State[T]"),
        ("def node(x: [ts[float]]) -> ts[float]:\n    return 1.0\n", 8, "input 'x' is a basket", "own parameter"),
        ("def node(x: ts[float], y: float) -> ts[float]:\n    return csp.ticked(y)\n", 9, "csp.ticked() takes ts[...] inputs of this node", "csp.ticked(x)"),
        ("def node(x: ts[float]) -> csp.Outputs(a=ts[float]):\n    csp.output(b=x)\n", 9, "unknown output 'b' (outputs: a)", None),
        ("def node(x: ts[float]) -> ts[float]:\n    with csp.stop():\n        csp.make_passive(x)\n    return x\n", 10, "csp.make_passive() can only be used in the main body or a start block", "main body"),
        ("def node(x: ts[float]) -> ts[float]:\n    with csp.start():\n        if csp.ticked(x):\n            pass\n    return x\n", 10, "csp.ticked() can only be used in the main body", "main body"),
        ("def node(x: ts[float]) -> ts[float]:\n    y: State[float] = 0.0\n    with csp.stop():\n        y = x\n    return x\n", 11, "input 'x' is not available in STOP", "main body"),
        ("def node(x: ts[float]) -> ts[float]:\n    with csp.start():\n        csp.output(x)\n    return x\n", 10, "csp.output(...) cannot run in a start or stop block", "main body"),
        ("def node(x: ts[float]) -> ts[float]:\n    if x > 0:\n        with csp.stop():\n            pass\n    return x\n", 10, "`with csp.start():` / `with csp.stop():` must be at the top level", "out of the if"),
    ],
)
def test_what_cannot_be_compiled_is_a_compilation_error_at_its_line(tmp_path, body, line, message, hint):
    err = _compile_error(HEADER + "\n@compiled_node\n" + body, tmp_path, **({"y": 1.0} if "y: float" in body else {}))
    assert message in err.message
    assert err.filename.endswith("bad_node.py") and err.lineno == line
    if hint:
        assert hint in err.hint


def test_a_node_that_cannot_be_compiled_for_its_edges_fails_the_graph():
    @csp.graph
    def g():
        csp.add_graph_output("y", scale(csp.const("text"), 2))  # generic: compiled for ts[str]

    with pytest.raises(CompilationError, match="output 'output0' has unsupported type <class 'str'>") as info:
        run(g)
    assert info.value.filename == __file__ and info.value.lineno == scale.__wrapped__.__code__.co_firstlineno + 1  # the def


def test_a_bad_signature_is_reported_at_decoration(tmp_path):
    module = tmp_path / "bad_signature.py"
    module.write_text(HEADER + "\n@compiled_node\ndef node(x) -> ts[float]:\n    return 1.0\n")
    with pytest.raises(CompilationError, match="args must be type annotated") as info:
        exec(compile(module.read_text(), str(module), "exec"), {})
    assert info.value.filename == str(module)


@compiled_node
def root(x: ts[float]) -> ts[float]:
    return math.sqrt(x)


def test_math_functions_work_in_compiled_nodes():
    @csp.graph
    def g():
        csp.add_graph_output("y", root(curve(float, [4.0, 9.0, -1.0])))

    out = [v for _, v in run(g)["y"]]
    assert out[:2] == [2.0, 3.0] and math.isnan(out[2])
