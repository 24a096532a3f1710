"""The final LLVM IR of compiled nodes and the semantic key that names it."""

from __future__ import annotations

import ctypes
import math
import os
import re
import subprocess
import sys
import textwrap
import types

import llvmlite.binding as llvm
import numba
import pytest

from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_node, output, start, stop, ticked, valid
from numba_cfunc_compiler.numba_core import CompilationOptions

from conftest import DirectNode, compile_direct

FORBIDDEN_PREFIXES = ("Py", "_Py", "numba_gil_")
LOCAL_LINKAGES = {llvm.Linkage.internal, llvm.Linkage.private}


@numba.njit
def sq(v):
    return v * v


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    n: State[int] = 0
    if ticked(x):
        if n == 0:
            avg = x
        else:
            avg = alpha * x + (1 - alpha) * avg
        n += 1
        return avg


def cross(a: Signal[float], b: Signal[int]) -> Outputs(diff=Signal[float], up=Signal[bool]):
    last: State[bool] = False
    count: State[int] = 0
    with start():
        count = 10
    if valid(a) and valid(b):
        d = a - b
        output(diff=math.sqrt(sq(d)))
        if (d > 0) != last:
            last = d > 0
            output(up=last)
    with stop():
        count = -1


def primitive(x: float, alpha: float) -> float:
    total: State[float] = 0.0
    total += alpha * x
    return total


@pytest.fixture(scope="module")
def ema_result():
    return compile_node(ema, alpha=0.5)


@pytest.fixture(scope="module")
def cross_result():
    return compile_node(cross)


@pytest.fixture(scope="module")
def primitive_results():
    """The primitive node without options (Numba's function kept apart) and force-inlined."""
    from numba_cfunc_compiler.compilation_context import CompilationContext
    from numba_cfunc_compiler.defaults import register_all

    with CompilationContext():
        register_all()
        return (
            compile_direct(primitive, 3.0, alpha=0.5),
            compile_direct(primitive, 3.0, alpha=0.5, options=CompilationOptions(force_inline=True)),
        )


def all_symbols(result) -> list:
    module = llvm.parse_assembly(result.llvm_ir)
    return [*module.functions, *module.global_variables]


def external_definitions(result) -> list[str]:
    return [v.name for v in all_symbols(result) if not v.is_declaration and v.linkage not in LOCAL_LINKAGES]


def python_symbols(result) -> list[str]:
    return [v.name for v in all_symbols(result) if v.name.startswith(FORBIDDEN_PREFIXES)]


# -- no Python inside ----------------------------------------------------------------------------


def test_scalar_node_ir_has_no_python_symbols(ema_result):
    assert python_symbols(ema_result) == []


def test_named_outputs_njit_and_start_stop_node_ir_has_no_python_symbols(cross_result):
    assert python_symbols(cross_result) == []


def test_direct_api_ir_has_no_python_symbols(primitive_results):
    for result in primitive_results:
        assert python_symbols(result) == []


def test_ir_text_mentions_no_python_symbols(ema_result, cross_result):
    for result in (ema_result, cross_result):
        for prefix in FORBIDDEN_PREFIXES:
            assert f"@{prefix}" not in result.llvm_ir
            assert f'@"{prefix}' not in result.llvm_ir


# -- one exported definition ---------------------------------------------------------------------


def test_entry_point_is_the_only_external_definition(ema_result, cross_result, primitive_results):
    for result in (ema_result, cross_result, *primitive_results):
        assert external_definitions(result) == [result.native_name]
        assert result.native_name.startswith("_gc_numba_")


def test_force_inline_leaves_a_single_function_definition(primitive_results):
    _, inlined = primitive_results
    definitions = [f.name for f in llvm.parse_assembly(inlined.llvm_ir).functions if not f.is_declaration]
    assert definitions == [inlined.native_name]


def test_without_force_inline_numbas_function_stays_a_separate_internal_definition(primitive_results):
    plain, _ = primitive_results
    definitions = [f for f in llvm.parse_assembly(plain.llvm_ir).functions if not f.is_declaration]
    assert len(definitions) == 2
    assert [f.name for f in definitions if f.linkage not in LOCAL_LINKAGES] == [plain.native_name]


def float_ops(x: float, y: float) -> float:
    s: State[float] = 1.0
    s = s * x + y / s
    return s


def test_fastmath_option_reaches_the_generated_code(fresh_context):
    fast = compile_direct(float_ops, 2.0, 3.0, options=CompilationOptions(fastmath=True))
    plain = compile_direct(float_ops, 2.0, 3.0)
    fast_flag = r"= f(add|mul|div) (fast|reassoc|nnan|ninf|nsz|arcp|contract|afn)\b"
    assert re.search(fast_flag, fast.llvm_ir)
    assert not re.search(fast_flag, plain.llvm_ir)


def test_final_ir_verifies(ema_result, cross_result, primitive_results):
    for result in (ema_result, cross_result, *primitive_results):
        llvm.parse_assembly(result.llvm_ir).verify()


def test_two_results_link_into_one_module(ema_result, cross_result):
    module = llvm.parse_assembly(ema_result.llvm_ir)
    module.link_in(llvm.parse_assembly(cross_result.llvm_ir))
    module.verify()
    exported = sorted(
        f.name for f in module.functions if not f.is_declaration and f.linkage not in LOCAL_LINKAGES
    )
    assert exported == sorted([ema_result.native_name, cross_result.native_name])


def test_linked_module_runs_both_entry_points(primitive_results, fresh_context):
    other = compile_direct(primitive, 5.0, alpha=2.0)
    first, _ = primitive_results
    module = llvm.parse_assembly(first.llvm_ir)
    module.link_in(llvm.parse_assembly(other.llvm_ir))
    target = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(module, target)
    engine.finalize_object()
    values = []
    for result in (first, other):
        node = DirectNode(result)
        argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int8]
        node.fn = ctypes.CFUNCTYPE(None, *argtypes)(engine.get_function_address(result.native_name))
        node.start()
        values.append([node.execute(), node.execute()])
    assert values == [[[1.5], [3.0]], [[10.0], [20.0]]]


# -- the semantic key ----------------------------------------------------------------------------

KEY_SCRIPT = textwrap.dedent(
    '''
    import math
    import numba
    from numba_cfunc_compiler import State
    from numba_cfunc_compiler.host import Outputs, Signal, compile_node, output, ticked, valid

    @numba.njit
    def sq(v):
        return v * v

    def ema(x: Signal[float], alpha: float) -> Signal[float]:
        avg: State[float] = 0.0
        if ticked(x):
            avg = alpha * x + (1 - alpha) * avg
            return avg

    def spread(a: Signal[float], b: Signal[int], k: int) -> Outputs(hi=Signal[float], lo=Signal[float], n=Signal[int]):
        seen: State[int] = 0
        peak: State[float] = -math.inf
        flag: State[bool] = True
        if valid(a) and valid(b):
            seen += k
            peak = max(peak, sq(a - b))
            output(hi=peak, lo=-peak, n=seen)

    for func, constants in ((ema, {"alpha": 0.25}), (spread, {"k": 3})):
        print(compile_node(func, **constants).semantic_key)
    '''
)


def keys_with_hash_seeds(tmp_path, seeds) -> list[list[str]]:
    script = tmp_path / "keys.py"
    script.write_text(KEY_SCRIPT)
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in seeds
    ]
    keys = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        keys.append(out.split())
    return keys


def test_semantic_key_is_identical_across_processes_and_hash_seeds(tmp_path):
    first, second = keys_with_hash_seeds(tmp_path, [1, 987654])
    assert len(first) == 2 and len(set(first)) == 2
    assert first == second


def test_semantic_key_is_stable_within_a_process(fresh_context):
    assert compile_node(ema, alpha=0.5).semantic_key == compile_node(ema, alpha=0.5).semantic_key


def test_semantic_key_changes_with_a_constant(ema_result):
    assert compile_node(ema, alpha=0.25).semantic_key != ema_result.semantic_key


def test_semantic_key_changes_with_an_option(ema_result):
    fast = compile_node(ema, alpha=0.5, options=CompilationOptions(force_inline=True, fastmath=True))
    plain = compile_node(ema, alpha=0.5, options=CompilationOptions())
    assert len({fast.semantic_key, plain.semantic_key, ema_result.semantic_key}) == 3


def scaled(x: Signal[int]) -> Signal[int]:
    return scale(x)  # noqa: F821 - bound by with_globals


def with_globals(func, **names):
    """``func`` seeing ``names`` as globals (same source, same file and line)."""
    clone = types.FunctionType(func.__code__, {**func.__globals__, **names}, func.__name__)
    clone.__annotations__ = dict(func.__annotations__)
    clone.__qualname__ = func.__qualname__
    return clone


def exec_helper(source: str, **globals_):
    """An ``@njit`` function called ``scale`` made from ``source``, in this module's name."""
    namespace = {"__name__": __name__, **globals_}
    exec(textwrap.dedent(source), namespace)  # noqa: S102 - test helper
    return numba.njit(namespace["scale"])


def run_scaled(helper) -> tuple[str, int]:
    result = compile_node(with_globals(scaled, scale=helper))
    runner = NodeRunner(result)
    runner.start()
    return result.semantic_key, runner.execute(x=5)


def test_semantic_key_changes_with_an_njit_helper_body(fresh_context):
    key2, out2 = run_scaled(exec_helper("def scale(v):\n    return v * 2\n"))
    key3, out3 = run_scaled(exec_helper("def scale(v):\n    return v * 3\n"))
    assert (out2, out3) == (10, 15)
    assert key2 != key3


def make_closure_helper(factor: int):
    @numba.njit
    def scale(v):
        return v * factor

    return scale


def test_semantic_key_changes_with_an_njit_helper_closure_value(fresh_context):
    key2, out2 = run_scaled(make_closure_helper(2))
    key3, out3 = run_scaled(make_closure_helper(3))
    assert (out2, out3) == (10, 15)
    assert key2 != key3


def test_semantic_key_changes_with_a_global_read_by_an_njit_helper(fresh_context):
    source = "def scale(v):\n    return v * FACTOR\n"
    key2, out2 = run_scaled(exec_helper(source, FACTOR=2))
    key3, out3 = run_scaled(exec_helper(source, FACTOR=3))
    assert (out2, out3) == (10, 15)
    assert key2 != key3


WEIGHTS = (1, 2, 3)


def weighted(x: Signal[int]) -> Signal[int]:
    return x * WEIGHTS[1]


def test_semantic_key_changes_with_a_module_level_tuple_the_node_reads(fresh_context):
    results = [compile_node(with_globals(weighted, WEIGHTS=w)) for w in ((1, 2, 3), (1, 5, 3))]
    outputs = []
    for result in results:
        runner = NodeRunner(result)
        runner.start()
        outputs.append(runner.execute(x=2))
    assert outputs == [4, 10]
    assert results[0].semantic_key != results[1].semantic_key


def fast_name(x: Signal[float]) -> Outputs(fast=Signal[float]):
    output(fast=x)


def slow_name(x: Signal[float]) -> Outputs(slow=Signal[float]):
    output(slow=x)


def test_nodes_sharing_generated_code_keep_their_own_output_names(fresh_context):
    fast = compile_node(fast_name)
    slow = compile_node(slow_name)
    assert fast.named_outputs == ["fast"]
    assert slow.named_outputs == ["slow"]
    runner = NodeRunner(slow)
    runner.start()
    assert runner.execute(x=1.0) == {"slow": 1.0}
