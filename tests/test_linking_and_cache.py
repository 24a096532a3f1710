"""Node artifacts, the process JIT (code lifetime, sharing, release), `linker.link`, the persistent
compile cache through the pipeline, and the ``inspect`` / ``cache`` commands (SPEC sections 3, 7)."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import llvmlite.binding as llvm
import pytest

import numba_rt
from numba_cfunc_compiler import NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.artifact import NodeArtifact
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.host import NodeRunner, Outputs, Signal, compile_many, compile_node, output, ticked
from numba_cfunc_compiler.linker import link, process_jit, release
from numba_cfunc_compiler.numba_core import cache_key, compile_cache

from conftest import CellArray, NCC_EXECUTE, NCC_START
from test_ffi import ACCESSORS_IR, Book, book_mid_only, book_value, ffi_library, make_book  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, directory: Path, *, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``code`` as a script in a fresh interpreter (a crash fails the test, it does not kill
    the run)."""
    script = directory / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def scaled(x: Signal[float], k: float) -> Signal[float]:
    total: State[float] = 0.0
    if ticked(x):
        total += k * x
        return total


def window(x: Signal[float], size: int) -> Outputs(mean=Signal[float], n=Signal[int]):
    xs: State[NumbaList[float]] = create_new_list(float)
    counts: State[NumbaDict[int, int]] = create_new_dict(int, int)
    xs.append(x)
    if len(xs) > size:
        xs.pop(0)
    counts[len(xs)] = counts.get(len(xs), 0) + 1
    total = 0.0
    for v in xs:
        total += v
    output(mean=total / len(xs), n=len(counts))


# -- the artifact -----------------------------------------------------------------------------
def test_the_artifact_describes_the_node_as_plain_data():
    result = compile_node(window, size=2)
    data = json.loads(result.artifact.to_json())
    assert data["native_name"] == result.native_name and data["semantic_key"] == result.semantic_key
    assert data["qualname"] == "window"
    assert [p["name"] for p in data["params"]] == [p.name for p in result.cfunc_params]
    assert data["inputs"] == [{"name": "x", "type": "float", "cell": "float64"}]
    assert data["outputs"] == [{"name": "mean", "type": "float", "cell": "float64"}, {"name": "n", "type": "int", "cell": "int64"}]
    assert [(s["name"], s["kind"], s["cell"], s["size"]) for s in data["state"]] == [
        ("xs", "container", "ptr", 8),
        ("counts", "container", "ptr", 8),
    ]
    assert data["llvm_ir"] == result.llvm_ir
    assert {"package", "numba", "llvmlite", "python", "cpu", "features"} <= data["toolchain"].keys()
    assert any(name.startswith("ncc_") for name in data["imports"])
    # the metadata attributes are views of it
    assert result.nrt_state_indices == [0, 1] and result.state_values == [0, 0]
    assert result.output_names == ["mean", "n"]


class Quote(ctypes.Structure):
    _fields_ = [("bid", ctypes.c_double), ("ask", ctypes.c_double), ("size", ctypes.c_int64)]


def struct_and_table(q: Signal[float], table: NumbaList[int]) -> Signal[int]:
    book: State[Quote] = None
    return table[0]


def test_struct_and_constant_container_slots():
    result = compile_node(struct_and_table, table=[3, 4])
    kinds = [(s.name, s.kind, s.cell, s.size) for s in result.artifact.state]
    assert kinds == [("book", "struct", "bytes", ctypes.sizeof(Quote)), ("table", "constant_container", "ptr", 8)]
    assert NodeArtifact.from_json(result.artifact.to_json()) == result.artifact


# -- code lifetime ----------------------------------------------------------------------------
def test_an_address_outlives_its_result_its_context_and_garbage_collection(tmp_path):
    code = """
        import ctypes, gc
        from numba_cfunc_compiler import State
        from numba_cfunc_compiler.compilation_context import CompilationContext
        from numba_cfunc_compiler.defaults import register_all
        from numba_cfunc_compiler.host import Signal, compile_node, ticked

        def scaled(x: Signal[float], k: float) -> Signal[float]:
            total: State[float] = 0.0
            if ticked(x):
                total += k * x
                return total

        with CompilationContext():
            register_all()
            address = compile_node(scaled, k=3.0).address   # the host keeps only the address
        gc.collect()
        for i in range(200):                               # 200 other nodes meanwhile
            compile_node(scaled, k=10.0 + i)
        gc.collect()
        fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, ctypes.c_int8, *[ctypes.c_void_p] * 3)(address)
        out, total, x = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(2.0)
        outputs = (ctypes.c_void_p * 1)(ctypes.addressof(out))
        state = (ctypes.c_void_p * 1)(ctypes.addressof(total))
        inputs = (ctypes.c_void_p * 1)(ctypes.addressof(x))
        ticks, flags = (ctypes.c_int8 * 1)(), (ctypes.c_int8 * 1)(1)
        fn(outputs, ticks, state, 1, inputs, flags, flags)
        for _ in range(3):
            fn(outputs, ticks, state, 0, inputs, flags, flags)
        print(out.value, ticks[0])
    """
    proc = run_python(code, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["18.0", "1"]


def test_the_same_code_compiled_twice_is_shared_and_release_is_counted():
    first = compile_node(scaled, k=7.25)
    with CompilationContext() as ctx:  # another context: no in-memory memo, same machine code
        from numba_cfunc_compiler.defaults import register_all

        register_all()
        second = compile_node(scaled, k=7.25)
    assert ctx.results is not CompilationContext.current().results
    assert second.address == first.address and second.native_name == first.native_name
    jit = process_jit()
    holders = jit.holders(first.native_name)
    assert holders >= 2
    assert release(second) is (holders == 1)
    assert jit.holders(first.native_name) == holders - 1
    runner = NodeRunner(first)  # still mapped: the first holder remains
    runner.start()
    assert runner.execute(x=2.0) == 14.5


def test_releasing_the_last_holder_unmaps_and_a_new_compile_maps_again():
    result = compile_node(scaled, k=-1.5)
    while not release(result):
        pass
    assert process_jit().address(result.native_name) is None
    with pytest.raises(KeyError, match="not loaded"):
        release(result)
    again = compile_node(scaled, k=-1.5)  # memo or cache: the code comes back without Numba
    runner = NodeRunner(again)
    runner.start()
    assert runner.execute(x=2.0) == -3.0


# -- linking ----------------------------------------------------------------------------------
def call_book_node(address: int, book: Book, w: float | None = None) -> float:
    n_inputs = 2 if w is not None else 1
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, ctypes.c_int8, *[ctypes.c_void_p] * 3)(address)
    outputs, state, inputs = CellArray(1), CellArray(1), CellArray(n_inputs)
    ticks = (ctypes.c_int8 * 1)()
    flags = (ctypes.c_int8 * n_inputs)(*[1] * n_inputs)
    inputs.pointers[0] = ctypes.addressof(book)
    if w is not None:
        inputs.set(1, "float64", w)
    for phase in (NCC_START, NCC_EXECUTE):
        fn(outputs.pointers, ticks, state.pointers, phase, inputs.pointers, flags, flags)
    assert ticks[0] == 1
    return outputs.get(0, "float64")


def test_link_runs_three_results_and_ffi_bitcode_in_one_module(ffi_library):
    value, mid = compile_node(book_value), compile_node(book_mid_only)
    plain = compile_node(scaled, k=0.5)
    module = link([value, mid, plain.artifact, value], ffi_bitcode=llvm.parse_assembly(ACCESSORS_IR).as_bitcode())
    assert module.native_names == [value.native_name, mid.native_name, plain.native_name]
    assert "call double @ncc_test_book_mid" not in module.llvm_ir  # inlined from the bitcode
    book = make_book([101.0, 100.5], [101.5, 102.0])
    assert call_book_node(module.address(value.native_name), book, 2.0) == 101.0 * 2.0 + (101.0 + 101.5) / 2
    assert call_book_node(module.address(mid.native_name), book) == 101.0 + 101.5
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 3, ctypes.c_int8, *[ctypes.c_void_p] * 3)(module.address(plain.native_name))
    outputs, state, inputs = CellArray(1), CellArray(1), CellArray(1)
    ticks, flags = (ctypes.c_int8 * 1)(), (ctypes.c_int8 * 1)(1)
    inputs.set(0, "float64", 4.0)
    for phase in (NCC_START, NCC_EXECUTE, NCC_EXECUTE):
        fn(outputs.pointers, ticks, state.pointers, phase, inputs.pointers, flags, flags)
    assert outputs.get(0, "float64") == 4.0
    with pytest.raises(KeyError):
        module.address("_gc_numba_0000000000000000")
    assert module.release() is True


def test_link_rejects_what_is_not_a_compiled_node():
    with pytest.raises(TypeError, match="CompilationResult or a NodeArtifact"):
        link([scaled])
    with pytest.raises(ValueError, match="at least one"):
        link([])


C_MAIN = r"""
#include <stdio.h>
#include "ncc_runtime.h"
void NODE(void**, int8_t*, void**, int8_t, void**, int8_t*, int8_t*);
int main(void) {
    double out = 0, x = 0, mean = 0; int64_t n = 0;
    void* cells[2] = {0, 0};                  /* host-owned state cells, zeroed */
    void* state[2] = {&cells[0], &cells[1]};
    void* outputs[2] = {&mean, &n};
    void* inputs[1] = {&x};
    int8_t ticks[2] = {0, 0}, flags[1] = {1};
    NODE(outputs, ticks, state, NCC_START, inputs, flags, flags);
    for (int i = 1; i <= 4; i++) {
        x = i; ticks[0] = ticks[1] = 0;
        NODE(outputs, ticks, state, NCC_EXECUTE, inputs, flags, flags);
        if (ncc_error_code() != NCC_OK) { printf("fault %s\n", ncc_error_message()); return 1; }
    }
    NODE(outputs, ticks, state, NCC_STOP, inputs, flags, flags);
    printf("%g %lld %lld\n", mean, (long long)n, (long long)ncc_live_containers());
    (void)out;
    return 0;
}
"""


def test_an_emitted_object_links_into_a_c_program_that_runs_without_python(tmp_path):
    result = compile_node(window, size=2)
    obj = link([result]).emit_object(tmp_path / "nodes.o")
    (tmp_path / "main.c").write_text(C_MAIN.replace("NODE", result.native_name))
    lib_dir = str(Path(numba_rt.library_path()).parent)
    exe = tmp_path / "host"
    subprocess.run(
        ["cc", "-O1", "-o", str(exe), str(tmp_path / "main.c"), obj, "-I", numba_rt.include_dir(),
         "-L", lib_dir, "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-lm"],
        check=True, capture_output=True,
    )  # fmt: skip
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, env={"PATH": os.environ.get("PATH", "")})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.split() == ["3.5", "2", "0"]  # mean of (3, 4); window sizes 1 and 2 seen; no leak


# -- the persistent cache through the pipeline --------------------------------------------------
NODES_MODULE = """
from numba_cfunc_compiler import NumbaDict, State, create_new_dict
from numba_cfunc_compiler.host import Signal, ticked

def acc(k: Signal[int], v: Signal[float], scale: float) -> Signal[float]:
    d: State[NumbaDict[int, float]] = create_new_dict(int, float)
    if ticked(v):
        d[k] = d.get(k, 0.0) + v * scale
        return d[k]
"""

CACHE_CHILD = """
import json, sys
import numba.core.compiler
if "{forbid}" == "yes":
    def refuse(*args, **kwargs):
        raise AssertionError("Numba's compiler ran")
    numba.core.compiler.compile_extra = refuse
import warnings
warnings.simplefilter("always")
from numba_cfunc_compiler.host import NodeRunner, compile_node
sys.path.insert(0, sys.argv[1])
import cache_nodes
result = compile_node(cache_nodes.acc, scale=2.0)
runner = NodeRunner(result)
runner.start()
values = [runner.execute(k=1, v=1.0), runner.execute(k=1, v=2.5), runner.execute(k=2, v=1.0)]
meta = {{k: v for k, v in result.metadata.items() if not k.endswith("variable_types")}}
print(json.dumps({{"key": result.semantic_key, "ir": result.llvm_ir, "values": values, "meta": repr(meta),
                  "artifact": result.artifact.to_json()}}))
"""


def cache_child(tmp_path: Path, cache_dir: Path, *, forbid_numba: bool) -> dict:
    (tmp_path / "cache_nodes.py").write_text(NODES_MODULE)
    script = CACHE_CHILD.format(forbid="yes" if forbid_numba else "no")
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={**os.environ, "NCC_CACHE_DIR": str(cache_dir)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "stderr": proc.stderr}


def test_a_second_process_gets_an_identical_result_from_the_cache_without_numba(tmp_path):
    cache_dir = tmp_path / "cache"
    cold = cache_child(tmp_path, cache_dir, forbid_numba=False)
    warm = cache_child(tmp_path, cache_dir, forbid_numba=True)
    for field in ("key", "ir", "values", "meta", "artifact"):
        assert warm[field] == cold[field], field
    assert cold["values"] == [2.0, 7.0, 2.0]


def entry_files(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.rglob("*.ncc"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: os.urandom(len(data)),  # random bytes
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # one flipped payload byte
        lambda data: data.replace(b"numba", b"nxmba", 1),  # written by another toolchain
    ],
    ids=["truncated", "random", "flipped", "foreign"],
)
def test_a_damaged_cache_entry_is_rebuilt_and_its_neighbour_kept(tmp_path, damage):
    cache_dir = tmp_path / "cache"
    cache_child(tmp_path, cache_dir, forbid_numba=False)
    (entry,) = entry_files(cache_dir)
    neighbour = entry.parent / ("0" * 32 + ".ncc")
    neighbour.write_bytes(entry.read_bytes())
    entry.write_bytes(damage(entry.read_bytes()))
    rebuilt = cache_child(tmp_path, cache_dir, forbid_numba=False)
    assert rebuilt["values"] == [2.0, 7.0, 2.0]
    assert neighbour.is_file()
    cache_child(tmp_path, cache_dir, forbid_numba=True)  # the rebuilt entry serves the next process


def test_an_entry_whose_object_code_does_not_load_is_rebuilt(tmp_path):
    from numba_cfunc_compiler.codegen import Code, _pack, _toolchain_text
    from numba_cfunc_compiler.targets.cache import CompileCache

    cache_dir = tmp_path / "cache"
    cold = cache_child(tmp_path, cache_dir, forbid_numba=False)
    store = CompileCache(cache_dir, toolchain=_toolchain_text())
    store.put(cache_key(cold["key"]), _pack(Code(cold["ir"], ("ncc_error_set",), b"\x7fELF not an object")))
    assert cache_child(tmp_path, cache_dir, forbid_numba=False)["values"] == [2.0, 7.0, 2.0]
    cache_child(tmp_path, cache_dir, forbid_numba=True)


def test_an_unwritable_cache_directory_compiles_without_the_cache_with_one_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("NCC_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(RuntimeWarning, match="without the cache") as record:
        results = [compile_node(scaled, k=100.0 + i) for i in range(3)]
    assert len([w for w in record if issubclass(w.category, RuntimeWarning)]) == 1
    runner = NodeRunner(results[2])
    runner.start()
    assert runner.execute(x=1.0) == 102.0


def test_the_cache_key_covers_the_toolchain_and_the_off_switch(monkeypatch):
    assert cache_key("0123456789abcdef") != cache_key("0123456789abcdee")
    monkeypatch.setenv("NCC_CACHE_DIR", "off")
    assert compile_cache() is None


# -- compile_many ---------------------------------------------------------------------------
def test_compile_many_gives_what_sequential_compiles_give(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path / "cache"))
    jobs = [(scaled, {"k": 1000.5 + i}) for i in range(5)] + [(window, {"size": 7})]  # new to this process
    results = compile_many(jobs, workers=1)
    assert [r.semantic_key for r in results] == [compile_node(f, **c).semantic_key for f, c in jobs]
    assert len(entry_files(tmp_path / "cache")) == len(jobs)
    runner = NodeRunner(results[2])
    runner.start()
    assert runner.execute(x=2.0) == 2005.0


def test_a_worker_feeds_the_cache_and_this_process_then_skips_numba(tmp_path, monkeypatch):
    import concurrent.futures
    import multiprocessing

    import numba.core.compiler

    from numba_cfunc_compiler.host.batch import _compile_in_worker

    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path / "cache"))
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=spawn) as pool:
        pool.submit(_compile_in_worker, compile_node, scaled, {"k": 123.5}).result()
    assert len(entry_files(tmp_path / "cache")) == 1
    calls = []
    original = numba.core.compiler.compile_extra
    monkeypatch.setattr(numba.core.compiler, "compile_extra", lambda *a, **k: calls.append(a) or original(*a, **k))
    runner = NodeRunner(compile_node(scaled, k=123.5))
    assert calls == []
    runner.start()
    assert runner.execute(x=2.0) == 247.0


def test_compile_many_compiles_here_what_a_worker_cannot_receive(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path / "cache"))

    def local(x: Signal[int], n: int) -> Signal[int]:  # not importable by name: compiled here
        return x + n

    results = compile_many([(local, {"n": 1}), (local, {"n": 2})], workers=2)
    assert [NodeRunner(r).execute(x=1) for r in results] == [2, 3]
    with pytest.raises(TypeError, match="function, constants"):
        compile_many([42])


def test_compile_many_raises_the_first_compile_error_here(tmp_path, monkeypatch):
    monkeypatch.setenv("NCC_CACHE_DIR", str(tmp_path / "cache"))
    from numba_cfunc_compiler import CompilationError

    with pytest.raises(CompilationError, match="no value given for parameter 'k'"):
        compile_many([(scaled, {"k": 1.0}), (scaled, {})], workers=2)


# -- the command line -------------------------------------------------------------------------
def cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "numba_cfunc_compiler", *args],
        capture_output=True, text=True, timeout=600, cwd=cwd, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_inspect_prints_the_source_signature_key_abi_and_ir_statistics(tmp_path):
    (tmp_path / "cache_nodes.py").write_text(NODES_MODULE)
    proc = cli("inspect", "cache_nodes:acc", "scale=2.0", "--ir", "--asm", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    result = compile_node(__import__("importlib").import_module("cache_nodes").acc if False else _acc(tmp_path), scale=2.0)
    assert f"semantic key: {result.semantic_key}" in out
    assert f"signature:    {result.signature}" in out
    assert "  [0] k: int (int64)" in out and "  [0] d: container, ptr, 8 bytes, initial 0" in out
    assert "instructions:" in out and "def _ncc_node(" in out
    assert f'define void @"{result.native_name}"' in out or f"define void @{result.native_name}" in out
    assert "# assembly" in out and result.native_name + ":" in out


def _acc(directory: Path):
    sys.path.insert(0, str(directory))
    try:
        import cache_nodes

        return cache_nodes.acc
    finally:
        sys.path.remove(str(directory))


@pytest.mark.parametrize(
    "args, message",
    [
        (("inspect", "no_such_module_here:f"), "cannot import module 'no_such_module_here'"),
        (("inspect", "cache_nodes:nope"), "has no function 'nope'"),
        (("inspect", "cache_nodes:acc", "scale=two"), "is not a Python literal"),
        (("inspect", "cache_nodes"), "expected module:function"),
    ],
)
def test_inspect_says_clearly_what_is_wrong(tmp_path, args, message):
    (tmp_path / "cache_nodes.py").write_text(NODES_MODULE)
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_inspect_reports_a_compile_error_at_the_users_line(tmp_path):
    (tmp_path / "cache_nodes.py").write_text(NODES_MODULE)
    proc = cli("inspect", "cache_nodes:acc", cwd=tmp_path)  # scale is missing
    assert proc.returncode == 1
    assert "cache_nodes.py:" in proc.stderr and "scale" in proc.stderr and "Traceback" not in proc.stderr


def test_cache_info_and_clear(tmp_path):
    env = {"NCC_CACHE_DIR": str(tmp_path / "cache")}
    cache_child(tmp_path, tmp_path / "cache", forbid_numba=False)
    info = cli("cache", "info", env=env)
    assert info.returncode == 0 and "entries:   1" in info.stdout and str(tmp_path / "cache") in info.stdout
    cleared = cli("cache", "clear", env=env)
    assert cleared.returncode == 0 and "removed 1 entry" in cleared.stdout
    assert entry_files(tmp_path / "cache") == []
    off = cli("cache", "info", env={"NCC_CACHE_DIR": "off"})
    assert "disabled" in off.stdout
