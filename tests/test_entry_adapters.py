"""Entry adapters (SPEC section 7, issue 12 item 1): a host registers an `EntryAdapter`, and every
node compiled in that context also exports ``<native_name>__<name>``, a function of the host's own
shape generated in LLVM IR around the entry point. It is called here through ctypes at
``result.adapter_address(name)``, through `link`, from the persistent cache in a fresh process, and
from an AOT library by a C program with no Python.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import textwrap

import llvmlite.ir as ir
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numba_rt.abi import ErrorCode, Phase
from numba_cfunc_compiler import InternalCompilerError, State, host
from numba_cfunc_compiler.artifact import NodeArtifact
from numba_cfunc_compiler.cli import inspect_node
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all
from numba_cfunc_compiler.entry_adapters import (
    AdapterNode,
    EntryAdapter,
    adapter_symbol,
    register_entry_adapter,
    registered_entry_adapters,
    unregister_entry_adapter,
)
from numba_cfunc_compiler.host import NodeRunner, Signal, compile_node, start, stop, ticked
from numba_cfunc_compiler.linker import UnresolvedSymbolError, link, process_jit, release
from numba_cfunc_compiler.source_registry import CfuncParam
from numba_cfunc_compiler.utils.ffi import FFIFunction

from conftest import registry_snapshot

I64, I8 = ir.IntType(64), ir.IntType(8)


# -- adapters -------------------------------------------------------------------------------------


def zeroed_cells(b, count):
    """``count`` zeroed 8-byte cells in the adapter's frame: a ``void*`` array pointing at them."""
    cells = [b.builder.alloca(I64) for _ in range(count)]
    for cell in cells:
        b.builder.store(I64(0), cell)
    return b.array("void*", cells)


def host_inputs(node, b, cells, flag):
    """The reference host's input parameters, for the nodes that have them."""
    if node.param("inputs") is None:
        return {}
    flags = b.array("int8", [flag] * len(node.inputs))
    return {"inputs": cells, "input_ticked": flags, "input_valid": flags}


class Tick(EntryAdapter):
    """``int8_t tick(void** state, double* xs, double* out)``: one EXECUTE with input ``i`` read
    from ``xs[i]`` (all ticked and valid) and the single output written to ``*out``; returns
    whether it ticked."""

    name = "tick"
    restype = "int8"
    params = (CfuncParam("state", "void**"), CfuncParam("xs", "double*"), CfuncParam("out", "double*"))

    def applies_to(self, node):
        cells = [s.cell for s in node.inputs]
        return node.param("inputs") is not None and set(cells) <= {"float64"} and [s.cell for s in node.outputs] == ["float64"]

    def build(self, node, b):
        xs = b.args["xs"]
        cells = [b.builder.gep(xs, [I64(i)], source_etype=ir.DoubleType()) for i in range(len(node.inputs))]
        ticked = b.array("int8", [0])
        b.call_entry(
            outputs=b.array("void*", [b.args["out"]]),
            output_ticked=ticked,
            state=b.args["state"],
            lifecycle_phase=Phase.EXECUTE,
            **host_inputs(node, b, b.array("void*", cells), 1),
        )
        b.builder.ret(b.builder.load(ticked))


class Run(EntryAdapter):
    """``int32_t run(void** state, int8_t phase)``: clear the error record, run ``phase`` with no
    input ticked, return ``ncc_error_code()`` (both C functions of libnumba_rt, declared)."""

    name = "run"
    restype = "int32_t"
    params = (CfuncParam("state", "void**"), CfuncParam("phase", "int8_t"))

    def build(self, node, b):
        clear = b.declare("ncc_error_clear", "void")
        code = b.declare("ncc_error_code", "int32_t")
        b.builder.call(clear, [])
        b.call_entry(
            outputs=zeroed_cells(b, len(node.outputs)),
            output_ticked=b.array("int8", [0] * len(node.outputs)),
            state=b.args["state"],
            lifecycle_phase=b.args["phase"],
            **host_inputs(node, b, zeroed_cells(b, len(node.inputs)), 0),
        )
        b.builder.ret(b.builder.call(code, []))


class Scaled(EntryAdapter):
    """``double scaled(void** state, double x)``: the output of one EXECUTE times ``factor``
    (an instance attribute: it enters the semantic key through the default `key()`)."""

    name = "scaled"
    restype = "double"
    params = (CfuncParam("state", "void**"), CfuncParam("x", "double"))

    def __init__(self, factor):
        self.factor = factor

    def applies_to(self, node):
        return len(node.inputs) == 1 and Tick().applies_to(node)

    def build(self, node, b):
        cell = b.builder.alloca(ir.DoubleType())
        b.builder.store(b.args["x"], cell)
        out = b.builder.alloca(ir.DoubleType())
        b.call_entry(
            outputs=b.array("void*", [out]),
            output_ticked=b.array("int8", [0]),
            state=b.args["state"],
            lifecycle_phase=0,
            **host_inputs(node, b, b.array("void*", [cell]), 1),
        )
        b.builder.ret(b.builder.fmul(b.builder.load(out), b.constant("double", self.factor)))


# -- nodes ----------------------------------------------------------------------------------------


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


def spread(a: Signal[float], b: Signal[float], k: float) -> Signal[float]:
    if ticked(a) and ticked(b):
        return a - k * b


def counter(x: Signal[int], d: int) -> Signal[int]:
    n: State[int] = 0
    with start():
        n = 10 // d
    if ticked(x):
        n += x
        return n
    with stop():
        n = -1


def adapted_context(*adapters):
    """A new context with the built-ins, the reference host and ``adapters``."""
    ctx = CompilationContext()
    with ctx:
        register_all()
        host.register()
        for adapter in adapters:
            register_entry_adapter(adapter)
    return ctx


@pytest.fixture(scope="module")
def results():
    with adapted_context(Tick(), Run()):
        return {
            "ema": compile_node(ema, alpha=0.5),
            "spread": compile_node(spread, k=2.0),
            "counter": compile_node(counter, d=2),
            "faulty": compile_node(counter, d=0),
        }


class StateCells:
    """Zeroed 8-byte state cells for ``result`` and the ``void*`` array pointing at them."""

    def __init__(self, result):
        self.cells = (ctypes.c_double * max(len(result.state_values), 1))()
        self.ints = ctypes.cast(self.cells, ctypes.POINTER(ctypes.c_int64))
        base = ctypes.addressof(self.cells)
        self.pointers = (ctypes.c_void_p * max(len(result.state_values), 1))(*[base + 8 * i for i in range(len(self.cells))])


def tick_fn(address):
    return ctypes.CFUNCTYPE(ctypes.c_int8, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_double))(address)


def run_fn(address):
    return ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_int8)(address)


def tick(fn, state, *xs):
    values = (ctypes.c_double * max(len(xs), 1))(*xs)
    out = ctypes.c_double(-99.0)
    return (out.value if fn(state.pointers, values, ctypes.byref(out)) else None)


# -- calling adapters in this process ----------------------------------------------------------------


def test_the_adapter_is_exported_beside_the_unchanged_entry_point(results):
    for name in ("ema", "spread"):
        result = results[name]
        symbols = {a["symbol"] for a in result.artifact.adapters}
        assert symbols == {adapter_symbol(result.native_name, "tick"), adapter_symbol(result.native_name, "run")}
        assert adapter_symbol(result.native_name, "tick") == result.native_name + "__tick"
        external = {
            line.split("@", 1)[1].split("(", 1)[0].strip('"')
            for line in result.llvm_ir.splitlines()
            if line.startswith("define ") and " internal " not in line and " private " not in line
        }
        assert external == {result.native_name} | symbols
        assert result.cfunc_params[3] == CfuncParam("lifecycle_phase", "int8")  # the ABI of the entry point
        assert result.signature.startswith("void(outputs: void**, output_ticked: int8*, state: void**, lifecycle_phase: int8")
    # Tick needs float inputs: the int node has only the generic Run adapter
    assert [a["name"] for a in results["counter"].artifact.adapters] == ["run"]
    with pytest.raises(KeyError, match="has no entry adapter 'tick' .*it has: run"):
        results["counter"].adapter_address("tick")


def test_tick_adapter_gives_what_the_node_runner_gives(results):
    result = results["ema"]
    runner = NodeRunner(result)
    runner.start()
    state = StateCells(result)
    run_fn(result.adapter_address("run"))(state.pointers, Phase.START)
    fn = tick_fn(result.adapter_address("tick"))
    for x in (10.0, 20.0, -3.5, 7.25):
        assert tick(fn, state, x) == runner.execute(x=x)
    assert state.cells[0] == runner.state("avg")

    two = results["spread"]
    fn = tick_fn(two.adapter_address("tick"))
    assert tick(fn, StateCells(two), 10.0, 3.0) == 4.0


def test_start_execute_stop_and_faults_through_the_run_adapter(results):
    result = results["counter"]
    state = StateCells(result)
    run = run_fn(result.adapter_address("run"))
    assert run(state.pointers, Phase.START) == ErrorCode.OK and state.ints[0] == 5  # 10 // 2 in START
    assert run(state.pointers, Phase.EXECUTE) == ErrorCode.OK and state.ints[0] == 5  # nothing ticked
    assert run(state.pointers, Phase.STOP) == ErrorCode.OK and state.ints[0] == -1
    faulty = results["faulty"]
    state = StateCells(faulty)
    assert run_fn(faulty.adapter_address("run"))(state.pointers, Phase.START) == ErrorCode.DIVISION_BY_ZERO
    assert run_fn(faulty.adapter_address("run"))(state.pointers, Phase.STOP) == ErrorCode.OK  # cleared first


@settings(max_examples=40, deadline=None)
@given(xs=st.lists(st.one_of(st.none(), st.floats(-1e9, 1e9)), max_size=25))
def test_random_sequences_agree_with_the_node_runner(results, xs):
    result = results["ema"]
    runner = NodeRunner(result)
    runner.start()
    state = StateCells(result)
    run = run_fn(result.adapter_address("run"))
    fn = tick_fn(result.adapter_address("tick"))
    assert run(state.pointers, Phase.START) == 0
    for x in xs:
        if x is None:  # an EXECUTE with nothing ticked
            assert run(state.pointers, Phase.EXECUTE) == 0 and runner.execute() is None
        else:
            assert tick(fn, state, x) == runner.execute(x=x)
        assert state.cells[0] == runner.state("avg")


def test_adapter_calls_a_host_function_made_available_through_ffi():
    seen = []
    sink = ctypes.CFUNCTYPE(None, ctypes.c_double, ctypes.c_int8)(lambda value, ticked: seen.append((value, ticked)))
    FFIFunction("ncc_test_adapter_sink", "void", ("float64", "int8")).make_available(sink)

    class Report(EntryAdapter):
        name = "report"
        params = (CfuncParam("state", "void**"), CfuncParam("x", "double"))

        def applies_to(self, node):
            return len(node.inputs) == 1

        def build(self, node, b):
            sink_fn = b.declare("ncc_test_adapter_sink", "void", "double", "int8")
            cell, out = b.builder.alloca(ir.DoubleType()), b.builder.alloca(ir.DoubleType())
            b.builder.store(b.args["x"], cell)
            b.builder.store(b.constant("double", 0.0), out)
            ticked = b.array("int8", [0])
            flags = b.array("int8", [1])
            b.call_entry(outputs=b.array("void*", [out]), output_ticked=ticked, state=b.args["state"],
                         inputs=b.array("void*", [cell]), input_ticked=flags, input_valid=flags)
            b.builder.call(sink_fn, [b.builder.load(out), b.builder.load(ticked)])
            b.builder.ret_void()

    with adapted_context(Report()):
        result = compile_node(ema, alpha=0.25)
    assert "ncc_test_adapter_sink" in result.artifact.imports
    state = StateCells(result)
    report = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_double)(result.adapter_address("report"))
    report(state.pointers, 8.0)
    report(state.pointers, 16.0)
    assert seen == [(2.0, 1), (5.5, 1)]


class Ping(EntryAdapter):
    """``int64_t ping(void)``: returns what the host function ``ncc_test_adapter_ping()`` returns."""

    name = "ping"
    restype = "int64"

    def build(self, node, b):
        b.builder.ret(b.builder.call(b.declare("ncc_test_adapter_ping", "int64"), []))


def test_a_missing_symbol_is_an_unresolved_symbol_error_at_load():
    ctx = adapted_context(Ping())
    before = registry_snapshot(ctx)
    with ctx, pytest.raises(UnresolvedSymbolError, match="ncc_test_adapter_ping"):
        compile_node(ema, alpha=0.125)
    assert registry_snapshot(ctx) == before  # nothing remembered
    ping = ctypes.CFUNCTYPE(ctypes.c_int64)(lambda: 42)
    FFIFunction("ncc_test_adapter_ping", "int64").make_available(ping)
    with ctx:
        result = compile_node(ema, alpha=0.125)
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(result.adapter_address("ping"))() == 42


def test_adapters_are_released_with_the_entry_point():
    with adapted_context(Tick()):
        result = compile_node(ema, alpha=0.0625)  # a node no other test compiles
    symbol = result.artifact.adapter("tick")["symbol"]
    jit = process_jit()
    assert jit.symbol_address(result.native_name, symbol) == result.adapter_address("tick")
    assert jit.holders(result.native_name) == 1
    assert release(result) is True
    assert jit.symbol_address(result.native_name, symbol) is None and jit.address(result.native_name) is None


# -- what the adapter sees, and the semantic key --------------------------------------------------


def test_applies_to_and_build_see_the_node_as_plain_data():
    seen = []

    class Spy(Run):
        name = "spy"

        def applies_to(self, node):
            seen.append(("applies_to", node))
            return True

        def build(self, node, b):
            seen.append(("build", node))
            super().build(node, b)

    with adapted_context(Spy()):
        result = compile_node(ema, alpha=0.375)
    (_, asked), (_, built) = seen
    artifact = result.artifact
    assert asked.native_name == "" and built.native_name == result.native_name
    assert isinstance(built, AdapterNode) and built.qualname == "ema"
    assert built.params == tuple(result.cfunc_params)
    assert (built.inputs, built.outputs, built.state) == (artifact.inputs, artifact.outputs, artifact.state)


class Never(Ping):
    """Applies to no node (so its missing host function is never declared)."""

    name = "never"

    def applies_to(self, node):
        return False


def test_semantic_key_changes_with_the_adapters():
    keys = {}
    for label, adapters in {
        "none": (),
        "tick": (Tick(),),
        "tick+run": (Tick(), Run()),
        "scaled2": (Scaled(2.0),),
        "scaled3": (Scaled(3.0),),
        "not applying": (Never(),),
    }.items():
        with adapted_context(*adapters):
            keys[label] = compile_node(ema, alpha=0.5)
    assert len({keys[k].semantic_key for k in ("none", "tick", "tick+run", "scaled2", "scaled3")}) == 5
    assert keys["not applying"].semantic_key == keys["none"].semantic_key
    assert keys["none"].artifact.adapters == () and keys["none"].adapter_addresses == {}
    state = StateCells(keys["scaled2"])
    fns = {k: ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_double)(keys[k].adapter_address("scaled"))
           for k in ("scaled2", "scaled3")}
    assert fns["scaled2"](state.pointers, 4.0) == 4.0  # 2 * ema(4) with alpha 0.5
    assert fns["scaled3"](StateCells(keys["scaled3"]).pointers, 4.0) == 6.0


def test_derived_contexts_share_compiled_code_but_not_adapters():
    with adapted_context() as parent:
        plain = compile_node(ema, alpha=0.5)
        with parent.derive() as child:
            register_entry_adapter(Tick())
            adapted = compile_node(ema, alpha=0.5)
            assert registered_entry_adapters() and len(child.entry_adapters) == 1
        assert registered_entry_adapters() == [] and parent.entry_adapters == {}
        again = compile_node(ema, alpha=0.5)
    assert adapted.semantic_key != plain.semantic_key == again.semantic_key
    assert [a["name"] for a in adapted.artifact.adapters] == ["tick"] and again.artifact.adapters == ()


# -- artifact, cache, link, AOT ---------------------------------------------------------------------


def test_artifact_lists_the_adapters_and_round_trips(results):
    artifact = results["ema"].artifact
    assert artifact.adapters == (
        {
            "name": "tick",
            "symbol": artifact.native_name + "__tick",
            "restype": "int8",
            "params": [{"name": "state", "type": "void**"}, {"name": "xs", "type": "double*"}, {"name": "out", "type": "double*"}],
        },
        {
            "name": "run",
            "symbol": artifact.native_name + "__run",
            "restype": "int32",
            "params": [{"name": "state", "type": "void**"}, {"name": "phase", "type": "int8"}],
        },
    )
    assert NodeArtifact.from_json(artifact.to_json()) == artifact
    assert json.loads(artifact.to_json())["adapters"] == artifact.abi()["adapters"] == list(artifact.adapters)
    assert artifact.adapter("run")["restype"] == "int32"
    with pytest.raises(KeyError, match="no entry adapter 'nope'"):
        artifact.adapter("nope")


def test_link_finds_the_adapter_symbols(results):
    from_json = NodeArtifact.from_json(results["spread"].artifact.to_json())
    linked = link([results["ema"], from_json])
    assert linked.native_names == [results["ema"].native_name, from_json.native_name]
    assert set(linked.exports) == set(linked.native_names) | {a["symbol"] for r in ("ema", "spread") for a in results[r].artifact.adapters}
    ema_tick = tick_fn(linked.address(results["ema"].artifact.adapter("tick")["symbol"]))
    state = StateCells(results["ema"])
    assert run_fn(linked.address(results["ema"].native_name + "__run"))(state.pointers, Phase.START) == 0
    assert [tick(ema_tick, state, x) for x in (4.0, 8.0)] == [2.0, 5.0]
    assert tick(tick_fn(linked.address(from_json.native_name + "__tick")), StateCells(results["spread"]), 1.0, 0.25) == 0.5
    with pytest.raises(KeyError):
        linked.address(results["ema"].native_name + "__nope")


CACHE_SCRIPT = textwrap.dedent('''
    import ctypes, sys
    import llvmlite.ir as ir
    from numba_cfunc_compiler import State, codegen, host
    from numba_cfunc_compiler.compilation_context import CompilationContext
    from numba_cfunc_compiler.defaults import register_all
    from numba_cfunc_compiler.entry_adapters import EntryAdapter, register_entry_adapter
    from numba_cfunc_compiler.host import Signal, compile_node, ticked
    from numba_cfunc_compiler.source_registry import CfuncParam

    class Twice(EntryAdapter):
        name = "twice"
        restype = "double"
        params = (CfuncParam("state", "void**"), CfuncParam("x", "double"))

        def build(self, node, b):
            cell, out = b.builder.alloca(ir.DoubleType()), b.builder.alloca(ir.DoubleType())
            b.builder.store(b.args["x"], cell)
            flags = b.array("int8", [1])
            args = dict(outputs=b.array("void*", [out]), output_ticked=b.array("int8", [0]), state=b.args["state"],
                        inputs=b.array("void*", [cell]), input_ticked=flags, input_valid=flags)
            b.call_entry(**args)
            b.call_entry(**args)
            b.builder.ret(b.builder.load(out))

    def ema(x: Signal[float], alpha: float) -> Signal[float]:
        avg: State[float] = 0.0
        if ticked(x):
            avg = alpha * x + (1 - alpha) * avg
            return avg

    if sys.argv[1] == "cached":  # no Numba, no code generation: the entry must come from the cache
        def refuse(unit):
            raise AssertionError("compiled instead of read from the persistent cache")
        codegen.compile_code = refuse
    with CompilationContext():
        register_all()
        host.register()
        register_entry_adapter(Twice())
        result = compile_node(ema, alpha=0.5)
    state = (ctypes.c_double * 1)()
    cells = (ctypes.c_void_p * 1)(ctypes.addressof(state))
    twice = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.c_double)(result.adapter_address("twice"))
    print(result.native_name, result.artifact.adapters[0]["symbol"], twice(cells, 8.0), twice(cells, 8.0))
''')


def test_a_fresh_process_gets_a_working_adapter_from_the_persistent_cache(tmp_path):
    (tmp_path / "cached_adapter.py").write_text(CACHE_SCRIPT)
    env = {**os.environ, "NCC_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [
        subprocess.run([sys.executable, "cached_adapter.py", mode], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        for mode in ("compile", "cached")
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (run.stdout.split() for run in runs)
    assert first == second
    native_name, symbol, *values = first
    assert symbol == native_name + "__twice" and values == ["6.0", "7.5"]  # 4, 6 | 7, 7.5


@pytest.fixture(scope="module")
def library(results, tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; AOT libraries need one (CI has it)")
    from numba_cfunc_compiler.aot import build_library

    return build_library(list(results.values()), tmp_path_factory.mktemp("aot") / "lib", "adapters")


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_build_library_exports_lists_and_declares_the_adapters(results, library):
    nm = subprocess.run(["nm", "-D", "--defined-only", str(library.library)], capture_output=True, text=True, check=True)
    exported = {line.split()[-1] for line in nm.stdout.splitlines()}
    expected = {r.native_name for r in results.values()} | {a["symbol"] for r in results.values() for a in r.artifact.adapters}
    assert exported == expected
    manifest = json.loads(library.manifest.read_text())
    for node, result in zip(manifest["nodes"], results.values()):
        assert node["adapters"] == list(result.artifact.adapters)
    header = library.header.read_text()
    ema_tick = results["ema"].native_name + "__tick"
    assert f"int8_t {ema_tick}(void** state, double* xs, double* out);" in header
    assert f"int32_t {results['counter'].native_name}__run(void** state, int8_t phase);" in header
    assert f'#define ADAPTERS_EMA_ADAPTER_TICK_SYMBOL "{ema_tick}"' in header
    lib = ctypes.CDLL(str(library.library))
    state = StateCells(results["ema"])
    assert [tick(tick_fn(ctypes.cast(getattr(lib, ema_tick), ctypes.c_void_p).value), state, x) for x in (2.0, 4.0)] == [1.0, 2.5]


C_PROGRAM = r"""
#include <dlfcn.h>
#include <stdio.h>
#include "adapters.h"

int main(int argc, char** argv) {
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    adapters_ema_adapter_run_fn run = (adapters_ema_adapter_run_fn)dlsym(lib, ADAPTERS_EMA_ADAPTER_RUN_SYMBOL);
    adapters_ema_adapter_tick_fn tick = (adapters_ema_adapter_tick_fn)dlsym(lib, ADAPTERS_EMA_ADAPTER_TICK_SYMBOL);
    adapters_counter_adapter_run_fn counter = (adapters_counter_adapter_run_fn)dlsym(lib, ADAPTERS_COUNTER_ADAPTER_RUN_SYMBOL);
    adapters_counter_adapter_run_fn faulty = (adapters_counter_adapter_run_fn)dlsym(lib, ADAPTERS_COUNTER_2_ADAPTER_RUN_SYMBOL);
    if (!run || !tick || !counter || !faulty) { fprintf(stderr, "missing symbol\n"); return 1; }
    double avg = 0.0;
    void* state[1] = {&avg};
    printf("start %d\n", run(state, 1));
    const double xs[] = {10.0, 20.0, -4.0};
    for (int i = 0; i < 3; i++) {
        double x = xs[i], out = 0.0;
        int ticked = tick(state, &x, &out);
        printf("tick %d %.17g\n", ticked, out);
    }
    printf("stop %d %.17g\n", run(state, 2), avg);
    long long n = 0;
    void* counter_state[1] = {&n};
    int started = counter(counter_state, 1);
    long long after_start = n;
    int stopped = counter(counter_state, 2);
    printf("counter %d %lld %d %lld\n", started, after_start, stopped, n);
    printf("faulty %d\n", faulty(counter_state, 1));
    return 0;
}
"""


@pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")
def test_a_c_program_without_python_calls_the_adapters(results, library, tmp_path):
    (tmp_path / "main.c").write_text(C_PROGRAM)
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", f"-I{library.header.parent}", str(tmp_path / "main.c"), "-ldl",
                    "-o", str(tmp_path / "main")], check=True)  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no PYTHONPATH, LD_PRELOAD, LD_LIBRARY_PATH
    proc = subprocess.run([str(tmp_path / "main"), str(library.library)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    runner = NodeRunner(results["ema"])
    runner.start()
    expected = ["start 0"] + [f"tick 1 {runner.execute(x=x):.17g}" for x in (10.0, 20.0, -4.0)]
    runner.stop()
    expected += [f"stop 0 {runner.state('avg'):.17g}", "counter 0 5 0 -1", f"faulty {int(ErrorCode.DIVISION_BY_ZERO)}"]
    assert proc.stdout.splitlines() == expected


def test_inspect_shows_the_adapters(tmp_path, capsys):
    (tmp_path / "inspected_nodes.py").write_text(textwrap.dedent('''
        from numba_cfunc_compiler import State
        from numba_cfunc_compiler.host import Signal, ticked

        def last(x: Signal[float]) -> Signal[float]:
            if ticked(x):
                return x
    '''))
    import io

    out = io.StringIO()
    with adapted_context(Tick()):
        assert inspect_node(f"{tmp_path / 'inspected_nodes.py'}:last", [], out=out) == 0
    text = out.getvalue()
    native_name = next(line.split()[-1] for line in text.splitlines() if line.startswith("native name:"))
    assert f"adapters:\n  tick: int8 {native_name}__tick(state: void**, xs: double*, out: double*)\nir:" in text


# -- registration and failures ----------------------------------------------------------------------


class Good(Run):
    name = "good"


def bad(**attributes):
    return type("Bad", (Good,), attributes)()


@pytest.mark.parametrize(
    "adapter, error, message",
    [
        (object(), TypeError, "expects an EntryAdapter instance"),
        (bad(name=""), ValueError, "name '' must be a C identifier"),
        (bad(name="9lives"), ValueError, "must be a C identifier"),
        (bad(name="on-tick"), ValueError, "must be a C identifier"),
        (bad(name="double"), ValueError, "must be a C identifier"),
        (bad(restype="string"), ValueError, "restype 'string' is not a C result type"),
        (bad(restype="NumbaList"), ValueError, "restype"),
        (bad(params=(("state", "void**"),)), TypeError, "must be CfuncParam instances"),
        (bad(params="state"), TypeError, "params must be a tuple of CfuncParam"),
        (bad(params=(CfuncParam("a", "int64"), CfuncParam("a", "double"))), ValueError, "parameter 'a' appears twice"),
        (bad(params=(CfuncParam("int", "int64"),)), ValueError, "parameter name 'int' must be a C identifier"),
        (bad(build=None), TypeError, "build must be callable"),
        (bad(build=lambda self, node: None), TypeError, r"build .* must accept \(node, b\)"),
        (bad(applies_to=lambda self: True), TypeError, r"applies_to .* must accept \(node\)"),
    ],
)
def test_registration_checks_the_adapter(adapter, error, message):
    with adapted_context(Run()) as ctx:
        before = dict(ctx.entry_adapters)
        with pytest.raises(error, match=message):
            register_entry_adapter(adapter)
        assert ctx.entry_adapters == before


def test_names_are_unique_per_context_and_can_be_unregistered():
    with adapted_context(Run()) as ctx:
        with pytest.raises(ValueError, match="entry adapter 'run' is already registered .*test_entry_adapters.Run"):
            register_entry_adapter(Run())
        register_entry_adapter(Good())
        assert [type(a) for a in registered_entry_adapters()] == [Run, Good]
        unregister_entry_adapter("run")
        assert list(ctx.entry_adapters) == ["good"]
        with pytest.raises(KeyError):
            unregister_entry_adapter("run")


class Raises(Run):
    name = "raises"

    def build(self, node, b):
        raise ZeroDivisionError("adapter bug")


class NoReturn(Run):
    name = "no_return"

    def build(self, node, b):
        b.call_entry(lifecycle_phase=1)


class WrongReturn(Run):
    name = "wrong_return"
    restype = "void"

    def build(self, node, b):
        b.builder.ret(b.constant("int64", 1))


class WrongArgument(Run):
    name = "wrong_argument"

    def build(self, node, b):
        b.call_entry(state=b.args["phase"])


class UnknownArgument(Run):
    name = "unknown_argument"

    def build(self, node, b):
        b.call_entry(nodes=b.args["state"])


class TwoDeclarations(Run):
    name = "two_declarations"

    def build(self, node, b):
        b.declare("ncc_error_code", "int32")
        b.declare("ncc_error_code", "int64")


class BadKey(Run):
    name = "bad_key"

    def key(self):
        return 42


class ApplyRaises(Run):
    name = "apply_raises"

    def applies_to(self, node):
        raise RuntimeError("applies_to bug")


@pytest.mark.parametrize(
    "adapter, message, cause",
    [
        (Raises(), "failed in build\\(\\): ZeroDivisionError: adapter bug", ZeroDivisionError),
        (NoReturn(), "left block\\(s\\) 'entry' without a terminator", None),
        (WrongReturn(), "built invalid LLVM IR", RuntimeError),
        (WrongArgument(), "parameter 'state' is ptr, got a value of type i8", TypeError),
        (UnknownArgument(), "the entry point has no parameter 'nodes'", TypeError),
        (TwoDeclarations(), "'ncc_error_code' is already declared as i32 \\(\\), not i64 \\(\\)", ValueError),
        (BadKey(), "key\\(\\) must return a str, got 42", None),
        (ApplyRaises(), "failed in applies_to\\(\\): RuntimeError: applies_to bug", RuntimeError),
    ],
)
def test_a_failing_adapter_is_an_internal_error_naming_it(adapter, message, cause):
    ctx = adapted_context(adapter)
    before = registry_snapshot(ctx), dict(ctx.entry_adapters)
    with ctx, pytest.raises(InternalCompilerError, match=message) as info:
        compile_node(ema, alpha=0.75)
    err = info.value
    cls = type(adapter)
    assert err.stage == "entry adapters"
    assert err.extension == f"{cls.__module__}.{cls.__qualname__} (entry adapter {adapter.name!r})"
    assert f"extension {cls.__module__}.{cls.__qualname__}" in str(err)
    if cause is not None:
        assert isinstance(err.__cause__, cause)
    assert (registry_snapshot(ctx), dict(ctx.entry_adapters)) == before  # the context is unchanged
    with ctx:
        unregister_entry_adapter(adapter.name)
        assert NodeRunner(compile_node(ema, alpha=0.75)).execute(x=4.0) == 3.0  # and still works
