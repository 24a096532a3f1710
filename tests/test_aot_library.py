"""Ahead-of-time export (SPEC §7, issue 9): `numba_cfunc_compiler.aot.build_library` writes a shared
library of nodes, its manifest and its header; a C program with no Python in its process dlopens the
library and gets what `NodeRunner` gets from the same nodes compiled in this process.

No ``from __future__ import annotations``: node annotations are evaluated when the node is defined.
"""

import ctypes
import enum
import json
import os
import platform
import re
import shutil
import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import numba_rt
from numba_rt import abi
from numba_cfunc_compiler import NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.containers import ListSpec
from numba_cfunc_compiler.aot import MANIFEST_FORMAT, LibraryError, LibraryFiles, build_library, check_compatible, load_manifest
from numba_cfunc_compiler.host import NodeRunner, NodeRuntimeError, Outputs, Signal, compile_node, output, start, stop, ticked

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="AOT libraries are ELF shared objects")

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Side(enum.IntEnum):
    BUY = 1
    SELL = -1


class Stats(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int64), ("total", ctypes.c_double)]


# -- one node of each built-in kind ---------------------------------------------------------------


def ema(x: Signal[float], alpha: float) -> Signal[float]:  # scalar state
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


def window(x: Signal[float], k: Signal[int]) -> Outputs(mean=Signal[float], hits=Signal[int]):  # containers
    xs: State[NumbaList[float]] = create_new_list(float)
    counts: State[NumbaDict[int, int]] = create_new_dict(int, int)
    if ticked(x):
        xs.append(x)
        total = 0.0
        for v in xs:
            total += v
        output(mean=total / len(xs))
    if ticked(k):
        counts[k] = counts.get(k, 0) + 1
        output(hits=counts[k])


def lookup(k: Signal[int], table: NumbaDict[int, float]) -> Signal[float]:  # constant container; KEY fault
    return table[k]


def tally(x: Signal[int]) -> Outputs(total=Signal[int], n=Signal[int], big=Signal[bool]):  # named outputs, lifecycle
    total: State[int] = 100
    n: State[int] = 0
    with start():
        total += 1
    if ticked(x):
        total += x
        n += 1
        output(total=total, n=n, big=x > 10)
    with stop():
        n = -1


def stamp(t: Signal[datetime], side: Signal[Side], gap: timedelta) -> Outputs(
    later=Signal[datetime], since=Signal[timedelta], flipped=Signal[Side], previous=Signal[Side]
):  # datetime / timedelta / enum
    last: State[datetime] = EPOCH
    prev: State[Side] = Side.SELL
    if ticked(t):
        output(later=t + gap, since=t - last)
        last = t
    if ticked(side):
        output(flipped=Side.SELL if side == Side.BUY else Side.BUY, previous=prev)
        prev = side


def ratio(a: Signal[int], b: Signal[int]) -> Signal[int]:  # DIVISION_BY_ZERO fault
    return a // b


def track(x: Signal[float]) -> Outputs(count=Signal[int], mean=Signal[float]):  # struct state
    stats: State[Stats]
    stats.count += 1
    stats.total += x
    output(count=stats.count, mean=stats.total / stats.count)


T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)

#: node -> (constants, steps). A step is "start", "stop", a dict of inputs (one EXECUTE) or
#: ("state", name) to read a state variable.
SCENARIOS = {
    "ema": (ema, {"alpha": 0.5}, ["start", {"x": 10.0}, {}, {"x": 20.0}, {"x": 30.0}, ("state", "avg"), "stop"]),
    "window": (window, {}, [
        "start", {"x": 1.0}, {"k": 7}, {"x": 2.5, "k": 7}, {"k": 3}, ("state", "xs"), ("state", "counts"), "stop",
        ("state", "xs"),
    ]),
    "lookup": (lookup, {"table": {1: 2.5, 3: -0.5}}, ["start", {"k": 1}, {"k": 2}, {"k": 3}, "stop"]),
    "tally": (tally, {}, ["start", {"x": 5}, {"x": 20}, {}, ("state", "total"), "stop", ("state", "n")]),
    "stamp": (stamp, {"gap": timedelta(seconds=90)}, [
        "start", {"t": T0}, {"side": Side.BUY}, {"t": T0 + timedelta(hours=1), "side": Side.SELL}, "stop",
    ]),
    "ratio": (ratio, {}, ["start", {"a": 7, "b": 2}, {"a": 7, "b": 0}, {"a": -7, "b": 2}, "stop"]),
    "track": (track, {}, ["start", {"x": 2.0}, {"x": 4.0}, {"x": 9.0}, "stop"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def results():
    return {name: compile_node(func, **constants) for name, (func, constants, _) in SCENARIOS.items()}


@pytest.fixture(scope="module")
def built(results, tmp_path_factory):
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; AOT libraries need one (CI has it)")
    out = tmp_path_factory.mktemp("aot") / "lib"
    items = list(results.values()) + [results["ema"]]  # a node given twice is built once
    return build_library(items, out, "allnodes")


def manifest_of(files: LibraryFiles) -> dict:
    return json.loads(files.manifest.read_text())


def tool(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


# -- the files --------------------------------------------------------------------------------------


def test_build_library_writes_the_files(built, results):
    assert built.library.name == "liballnodes.so" and built.manifest.name == "allnodes.json"
    assert built.header.name == "allnodes.h" and built.runtime.name == "libnumba_rt.so"
    assert len({p.parent for p in (built.library, built.manifest, built.header, built.runtime)}) == 1
    for path in (built.library, built.manifest, built.header, built.runtime):
        assert path.is_file(), path
    assert built.runtime.read_bytes() == open(numba_rt.library_path(), "rb").read()
    assert not [p.name for p in built.library.parent.iterdir() if p.name.startswith(("ncc-aot-", "."))]


def test_only_the_node_symbols_are_exported(built, results):
    exported = {line.split()[-1] for line in tool("nm", "-D", "--defined-only", str(built.library)).splitlines()}
    assert exported == {r.native_name for r in results.values()}
    undefined = {line.split()[-1] for line in tool("nm", "-D", "--undefined-only", str(built.library)).splitlines()}
    assert undefined, undefined
    allowed = {f.name for f in abi.FUNCTIONS} | {abi.ENTRY_UNKNOWN_SYMBOL}
    ours = {s for s in undefined if s.startswith("ncc_")}
    assert ours and ours <= allowed
    assert not [s for s in undefined if s.startswith(("Py", "_Py", "numba_", "NRT_"))], undefined


def test_no_python_and_the_runtime_is_found_next_to_it(built):
    dynamic = tool("readelf", "-d", str(built.library))
    assert re.search(r"\((RUNPATH|RPATH)\)\s+Library r(un)?path: \[\$ORIGIN\]", dynamic), dynamic
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    assert "libnumba_rt.so" in needed and not [n for n in needed if "python" in n], needed
    ldd = tool("ldd", str(built.library))
    assert "python" not in ldd, ldd
    assert re.search(rf"libnumba_rt\.so => {re.escape(str(built.runtime.resolve()))}", ldd), ldd


def test_generic_cpu_by_default_host_on_request(built, results, tmp_path):
    def vex_instructions(path):
        asm = tool("objdump", "-d", "--no-show-raw-insn", str(path))
        return re.findall(r"\tv[a-z0-9]+\s+.*%[xyz]mm", asm) + re.findall(r"%[yz]mm", asm)

    manifest = manifest_of(built)
    assert manifest["cpu"] == "generic" and manifest["toolchain"]["cpu"] == "generic"
    assert manifest["toolchain"]["features"] == ""
    if platform.machine() != "x86_64":
        return
    assert vex_instructions(built.library) == []  # baseline x86-64: SSE2, no AVX
    host = build_library([results["ema"]], tmp_path, "hostnodes", cpu="host")
    host_manifest = manifest_of(host)
    assert host_manifest["cpu"] == "host" and host_manifest["toolchain"]["cpu"] == results["ema"].artifact.toolchain["cpu"]
    assert host_manifest["toolchain"]["features"] == results["ema"].artifact.toolchain["features"]
    load_manifest(host.manifest)  # this CPU has the features it was built for
    if "+avx," in host_manifest["toolchain"]["features"] + ",":
        assert vex_instructions(host.library), "cpu='host' should use this CPU's AVX"


# -- the manifest -----------------------------------------------------------------------------------


def test_manifest_shape(built, results):
    manifest = manifest_of(built)
    assert manifest["format"] == MANIFEST_FORMAT == 1
    assert manifest["name"] == "allnodes" and manifest["library"] == "liballnodes.so"
    assert manifest["runtime"] == "libnumba_rt.so"
    toolchain = dict(results["ema"].artifact.toolchain, cpu="generic", features="")
    assert manifest["toolchain"] == toolchain
    assert [n["native_name"] for n in manifest["nodes"]] == [r.native_name for r in results.values()]
    for node, result in zip(manifest["nodes"], results.values()):
        assert node == json.loads(json.dumps(result.artifact.abi()))
        assert "llvm_ir" not in node
        assert {"native_name", "qualname", "params", "inputs", "outputs", "state"} <= set(node)
        assert all(set(p) == {"name", "type"} for p in node["params"])
        for slot in node["inputs"] + node["outputs"]:
            assert set(slot) >= {"name", "type", "cell"} and slot["cell"] in abi.CELL_TYPES
        for slot in node["state"]:
            assert set(slot) >= {"name", "kind", "cell", "size", "initial"} and slot["cell"] in abi.CELL_TYPES
    kinds = {s["kind"] for n in manifest["nodes"] for s in n["state"]}
    assert kinds == {"scalar", "container", "constant_container", "struct"}
    assert load_manifest(built.manifest) == manifest


def test_foreign_libraries_are_refused(built, tmp_path):
    manifest = manifest_of(built)
    other = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    foreign = json.loads(json.dumps(manifest))
    foreign["toolchain"].update(machine=other, triple=f"{other}-unknown-linux-gnu")
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(foreign))
    with pytest.raises(LibraryError, match=rf"built for {other} on linux .*this machine is {platform.machine()}") as info:
        load_manifest(path)
    assert str(path) in str(info.value) and "rebuild it here" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)

    windows = json.loads(json.dumps(manifest))
    windows["platform"] = "win32"
    with pytest.raises(LibraryError, match="on win32"):
        check_compatible(windows)
    newer = dict(manifest, format=MANIFEST_FORMAT + 1)
    with pytest.raises(LibraryError, match=f"manifest format {MANIFEST_FORMAT + 1} is not {MANIFEST_FORMAT}"):
        check_compatible(newer)
    with pytest.raises(LibraryError, match="another runtime ABI"):
        check_compatible(dict(manifest, runtime_abi="0123456789abcdef"))
    with pytest.raises(LibraryError, match="has no 'nodes'"):
        check_compatible({k: v for k, v in manifest.items() if k != "nodes"})
    path.write_text("{not json")
    with pytest.raises(LibraryError, match="not a library manifest"):
        load_manifest(path)
    with pytest.raises(LibraryError, match="cannot read"):
        load_manifest(tmp_path / "missing.json")


def test_a_library_for_a_richer_cpu_is_refused(built, monkeypatch):
    from numba_cfunc_compiler.targets import aot

    manifest = dict(manifest_of(built), cpu="host")
    manifest["toolchain"] = dict(manifest["toolchain"], cpu="znver5", features="+64bit,+avx2,-avx512f,+fma")
    if platform.machine() != "x86_64":
        pytest.skip("the CPU feature check reads x86 /proc/cpuinfo flags")
    monkeypatch.setattr(aot, "_cpuinfo_flags", lambda: {"sse2", "avx", "fma"})
    with pytest.raises(LibraryError, match=r"built for CPU 'znver5' and uses avx2, which this CPU lacks: rebuild it with cpu='generic'"):
        check_compatible(manifest)
    monkeypatch.setattr(aot, "_cpuinfo_flags", lambda: {"sse2", "avx", "avx2", "fma"})
    check_compatible(manifest)
    check_compatible(dict(manifest, cpu="generic"))  # generic code needs nothing beyond the baseline


def test_manifest_checks_need_neither_numba_nor_llvmlite(built):
    code = (
        "import sys\n"
        "from numba_cfunc_compiler.aot import load_manifest\n"
        f"m = load_manifest({str(built.manifest)!r})\n"
        "print(len(m['nodes']), 'numba' in sys.modules, 'llvmlite' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == f"{len(SCENARIOS)} False False\n"


def test_build_errors_are_clear(results, tmp_path, monkeypatch):
    with pytest.raises(LibraryError, match="no nodes"):
        build_library([], tmp_path, "empty")
    with pytest.raises(LibraryError, match="library name"):
        build_library([results["ema"]], tmp_path, "a/b")
    with pytest.raises(TypeError, match="CompilationResult or a NodeArtifact"):
        build_library([ema], tmp_path, "bad")
    monkeypatch.setenv("CC", "no-such-compiler-ncc")
    with pytest.raises(LibraryError, match="CC='no-such-compiler-ncc' is not on PATH"):
        build_library([results["ema"]], tmp_path, "nocc")
    assert not (tmp_path / "nocc.json").exists()


def test_artifacts_build_like_results(results, tmp_path):
    from numba_cfunc_compiler.artifact import NodeArtifact

    artifact = NodeArtifact.from_json(results["ratio"].artifact.to_json())
    files = build_library([artifact], tmp_path, "fromartifact")
    assert [n["native_name"] for n in manifest_of(files)["nodes"]] == [artifact.native_name]


# -- the header -------------------------------------------------------------------------------------


def test_header_declares_each_node_and_its_layout(built, results):
    header = built.header.read_text()
    assert "#ifndef NCC_AOT_ALLNODES_H" in header and '#ifdef __cplusplus\nextern "C" {' in header
    assert "#include <stdint.h>" in header and "ncc_error_code()" in header
    assert f"#define ALLNODES_N_NODES {len(SCENARIOS)}" in header
    for result in results.values():
        assert re.search(rf"^void {result.native_name}\(void\*\* outputs, int8_t\* output_ticked, void\*\* state, "
                         r"int8_t lifecycle_phase, void\*\* inputs, int8_t\* input_ticked, int8_t\* input_valid\);$",
                         header, re.M), result.qualname
    assert f'#define ALLNODES_EMA_SYMBOL "{results["ema"].native_name}"' in header
    assert f'#define ALLNODES_EMA_ENTRY {results["ema"].native_name}\n' in header
    assert "#define ALLNODES_TRACK_N_STATE 1" in header and "#define ALLNODES_STAMP_N_OUTPUTS 4" in header
    assert " *     [0] avg: float, scalar, float64 cell, 8 bytes, initial 0.0\n" in header
    assert " *     [0] stats: Stats, struct, bytes cell, 16 bytes, initial 0\n" in header
    assert " *     [1] counts: NumbaDict[int, int], container, ptr cell, 8 bytes, initial 0\n" in header
    assert " *     [1] prev: Side, scalar, int64 cell, 8 bytes, initial -1\n" in header
    assert " *     [2] big: bool, int8 cell\n" in header


@pytest.mark.parametrize("compiler", ["cc", "c++"])
def test_header_compiles_as_c_and_cpp(built, results, tmp_path, compiler):
    if shutil.which(compiler) is None:
        pytest.fail(f"no `{compiler}` on PATH")
    checks = "".join(
        f"static const allnodes_{name}_fn check_{name} = ALLNODES_{name.upper()}_ENTRY;\n" for name, r in results.items()
    )
    source = tmp_path / ("use.c" if compiler == "cc" else "use.cpp")
    source.write_text(
        '#include "allnodes.h"\n#include "allnodes.h"\n#include "ncc_runtime.h"\n' + checks +
        "const void* all_nodes[] = {" + ", ".join(f"(const void*)check_{n}" for n in results) + "};\n"
        "int n_nodes = ALLNODES_N_NODES + ALLNODES_WINDOW_N_STATE;\n"
    )  # fmt: skip
    std = "-std=c11" if compiler == "cc" else "-std=c++11"
    subprocess.run(
        [compiler, std, "-Wall", "-Wextra", "-Werror", f"-I{built.header.parent}", f"-I{numba_rt.include_dir()}",
         "-c", str(source), "-o", str(tmp_path / "use.o")],
        check=True,
    )  # fmt: skip


# -- a C program runs the library with no Python -------------------------------------------------------

DRIVER_C = r"""
/* A data-driven C host: dlopens an AOT library and runs the script on stdin.
 *   node SYMBOL N_IN N_OUT N_STATE SIZE...   select a node (reference-host signature), zeroed state
 *   start | stop | exec N (INDEX BITS)*      one call; prints "ok (INDEX:BITS)*" or "fault CODE ENTRY|MESSAGE"
 *   cell I                                    prints the state cell's 8 bytes
 *   list I | dict I                           prints a container state's kind and items (via libnumba_rt)
 *   maps                                      how many mappings of this process mention python
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*node_fn)(void**, int8_t*, void**, int8_t, void**, int8_t*, int8_t*);
static int32_t (*error_code)(void);
static const char* (*error_message)(void);
static const char* (*error_entry)(void);
static void (*error_clear)(void);
static int64_t (*list_len)(void*);
static int32_t (*list_get)(void*, int64_t, int64_t*);
static int32_t (*dict_next)(void*, int64_t*, int64_t*, int64_t*);

static void* need(void* lib, const char* name) {
    void* p = dlsym(lib, name);
    if (!p) { fprintf(stderr, "dlsym %s: %s\n", name, dlerror()); exit(2); }
    return p;
}

int main(int argc, char** argv) {
    if (argc != 4) { fprintf(stderr, "usage: driver LIB LIST_KIND_OFFSET DICT_KIND_OFFSET\n"); return 2; }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
    int list_kind_at = atoi(argv[2]), dict_kind_at = atoi(argv[3]);
    /* the runtime is the library's dependency: dlsym searches it through the library's handle */
    *(void**)&error_code = need(lib, "ncc_error_code");
    *(void**)&error_message = need(lib, "ncc_error_message");
    *(void**)&error_entry = need(lib, "ncc_error_entry");
    *(void**)&error_clear = need(lib, "ncc_error_clear");
    *(void**)&list_len = need(lib, "ncc_list_len");
    *(void**)&list_get = need(lib, "ncc_list_get");
    *(void**)&dict_next = need(lib, "ncc_dict_next");

    node_fn node = NULL;
    int n_in = 0, n_out = 0, n_state = 0;
    int64_t in_cells[16], out_cells[16];
    void* inputs[16]; void* outputs[16]; void* state[16];
    int8_t in_ticked[16], in_valid[16], out_ticked[16];
    char cmd[256];
    while (scanf("%255s", cmd) == 1) {
        if (!strcmp(cmd, "node")) {
            char symbol[256];
            if (scanf("%255s %d %d %d", symbol, &n_in, &n_out, &n_state) != 4) return 2;
            *(void**)&node = need(lib, symbol);
            for (int i = 0; i < n_state; ++i) {
                int size; if (scanf("%d", &size) != 1) return 2;
                state[i] = calloc(1, size < 8 ? 8 : size);
            }
            memset(in_valid, 0, sizeof in_valid);
            for (int i = 0; i < 16; ++i) { inputs[i] = &in_cells[i]; outputs[i] = &out_cells[i]; }
            printf("node %s\n", symbol);
            continue;
        }
        if (!strcmp(cmd, "cell")) {
            int i; if (scanf("%d", &i) != 1) return 2;
            printf("cell %lld\n", (long long)*(int64_t*)state[i]);
            continue;
        }
        if (!strcmp(cmd, "list") || !strcmp(cmd, "dict")) {
            int i; if (scanf("%d", &i) != 1) return 2;
            void* c = *(void**)state[i];
            if (!c) { printf("null\n"); continue; }
            if (cmd[0] == 'l') {
                printf("list %d", *(int32_t*)((char*)c + list_kind_at));
                for (int64_t j = 0, n = list_len(c); j < n; ++j) {
                    int64_t bits; list_get(c, j, &bits); printf(" %lld", (long long)bits);
                }
            } else {
                printf("dict %d", *(int32_t*)((char*)c + dict_kind_at));
                int64_t pos = 0, key, bits;
                while (dict_next(c, &pos, &key, &bits)) printf(" %lld:%lld", (long long)key, (long long)bits);
            }
            printf("\n");
            continue;
        }
        if (!strcmp(cmd, "maps")) {
            FILE* f = fopen("/proc/self/maps", "r");
            char line[1024]; int python = 0, ours = 0;
            while (f && fgets(line, sizeof line, f)) {
                if (strstr(line, "python") || strstr(line, "Python")) ++python;
                if (strstr(line, "libnumba_rt.so")) ++ours;
            }
            if (f) fclose(f);
            printf("maps python=%d runtime=%d\n", python, ours > 0);
            continue;
        }
        int8_t phase = !strcmp(cmd, "start") ? 1 : !strcmp(cmd, "stop") ? 2 : 0;
        memset(out_ticked, 0, sizeof out_ticked); /* the host clears ticks */
        memset(in_ticked, 0, sizeof in_ticked);
        if (!strcmp(cmd, "exec")) {
            int n; if (scanf("%d", &n) != 1) return 2;
            for (int k = 0; k < n; ++k) {
                int i; long long bits; if (scanf("%d %lld", &i, &bits) != 2) return 2;
                in_cells[i] = bits; in_ticked[i] = 1; in_valid[i] = 1;
            }
        } else if (phase == 0) { fprintf(stderr, "unknown command %s\n", cmd); return 2; }
        node(outputs, out_ticked, state, phase, inputs, in_ticked, in_valid);
        if (error_code() != 0) {
            printf("fault %d %s|%s\n", (int)error_code(), error_entry(), error_message());
            error_clear();
            continue;
        }
        printf("ok");
        for (int i = 0; i < n_out; ++i) if (out_ticked[i]) printf(" %d:%lld", i, (long long)out_cells[i]);
        printf("\n");
    }
    return 0;
}
"""


def to_bits(cell: str, value) -> int:
    if cell == "float64":
        return struct.unpack("<q", struct.pack("<d", value))[0]
    if cell == "int8":
        return int(value) & 0xFF
    return int(value)


def from_bits(cell: str, bits: int):
    if cell == "float64":
        return struct.unpack("<d", struct.pack("<q", bits))[0]
    if cell == "int8":
        return ctypes.c_int8(bits & 0xFF).value
    return bits


def expected_steps(result, steps):
    """What NodeRunner sees for ``steps``, in the driver's terms."""
    runner = NodeRunner(result)
    seen = []
    for step in steps:
        try:
            if step == "start":
                runner.start()
                seen.append("ok")
            elif step == "stop":
                runner.stop()
                seen.append("ok")
            elif isinstance(step, tuple):
                seen.append(("state", runner.state(step[1])))
            else:
                out = runner.execute(**step)
                if result.named_outputs is None:
                    out = {} if out is None else {"output0": out}
                seen.append(("ok", out))
        except NodeRuntimeError as exc:
            seen.append(("fault", exc.code, exc.entry, exc.message))
    return seen


def driver_script(result, steps) -> str:
    artifact, meta = result.artifact, result.metadata
    lines = [" ".join(map(str, ["node", artifact.native_name, len(artifact.inputs), len(artifact.outputs),
                                len(artifact.state), *[s.size for s in artifact.state]]))]  # fmt: skip
    names = [s.name for s in artifact.inputs]
    for step in steps:
        if step in ("start", "stop"):
            lines.append(step)
        elif isinstance(step, tuple):
            i = [s.name for s in artifact.state].index(step[1])
            slot = artifact.state[i]
            if slot.kind == "scalar":
                lines.append(f"cell {i}")
            else:
                is_list = isinstance(meta["state_variable_types"][i].python_type, ListSpec)
                lines.append(f"{'list' if is_list else 'dict'} {i}")
        else:
            pairs = []
            for name, value in step.items():
                i = names.index(name)
                raw = meta["input_variable_types"][i].host_encode(value)
                pairs += [i, to_bits(artifact.inputs[i].cell, raw)]
            lines.append(" ".join(map(str, ["exec", len(step), *pairs])))
    return "\n".join(lines) + "\n"


def parse_driver(result, steps, output: list[str]):
    artifact, meta = result.artifact, result.metadata
    seen = []
    for step, line in zip(steps, output):
        word, *rest = line.split(" ", 1)
        rest = rest[0] if rest else ""
        if word == "fault":
            code, text = rest.split(" ", 1)
            entry, message = text.split("|", 1)
            seen.append(("fault", int(code), entry, message))
        elif isinstance(step, tuple):
            i = [s.name for s in artifact.state].index(step[1])
            var_type = meta["state_variable_types"][i]
            if word == "cell":
                seen.append(("state", var_type.host_decode(from_bits(artifact.state[i].cell, int(rest)))))
            elif word == "null":
                seen.append(("state", None))
            elif word == "list":
                kind, *items = map(int, rest.split())
                seen.append(("state", [numba_rt.decode(kind, b) for b in items]))
            else:
                kind, *items = rest.split()
                pairs = [tuple(map(int, item.split(":"))) for item in items]
                seen.append(("state", {k: numba_rt.decode(int(kind), b) for k, b in pairs}))
        elif step in ("start", "stop"):
            seen.append(word)
        else:
            out = {}
            for item in rest.split():
                i, bits = map(int, item.split(":"))
                cell = artifact.outputs[i].cell
                out[artifact.outputs[i].name] = meta["output_variable_types"][i].host_decode(from_bits(cell, bits))
            seen.append(("ok", out))
    return seen


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    build = tmp_path_factory.mktemp("driver")
    (build / "driver.c").write_text(DRIVER_C)
    subprocess.run(["cc", "-std=c11", "-O1", "-Wall", "-Werror", str(build / "driver.c"), "-ldl", "-o", str(build / "driver")],
                   check=True)  # fmt: skip
    return build / "driver"


def run_driver(driver, built, script: str) -> list[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}  # no PYTHONPATH, LD_PRELOAD, LD_LIBRARY_PATH
    proc = subprocess.run(
        [str(driver), str(built.library), str(abi.LIST_LAYOUT["kind"]), str(abi.DICT_LAYOUT["value_kind"])],
        input=script, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_a_c_program_without_python_runs_the_library(built, driver):
    out = run_driver(driver, built, "maps\n")
    assert out == ["maps python=0 runtime=1"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_c_program_matches_node_runner(name, results, built, driver):
    result, steps = results[name], SCENARIOS[name][2]
    lines = run_driver(driver, built, driver_script(result, steps))
    assert lines[0] == f"node {result.native_name}"
    from_c = parse_driver(result, steps, lines[1:])
    assert len(from_c) == len(steps), lines
    assert from_c == expected_steps(result, steps)


def test_faults_reach_the_c_program(results, built, driver):
    """The scenarios above include a missing key and a division by zero: check they are faults."""
    for name, code in (("lookup", abi.ErrorCode.KEY), ("ratio", abi.ErrorCode.DIVISION_BY_ZERO)):
        result, steps = results[name], SCENARIOS[name][2]
        lines = run_driver(driver, built, driver_script(result, steps))
        faults = [line for line in lines if line.startswith("fault")]
        assert len(faults) == 1 and faults[0].startswith(f"fault {int(code)} {result.native_name}|"), lines


def test_a_c_program_links_the_library_directly(built, results, tmp_path):
    """-l<name> instead of dlopen: the header's _ENTRY macro names the entry point."""
    (tmp_path / "linked.c").write_text(r"""
#include <stdio.h>
#include "allnodes.h"
#include "ncc_runtime.h"
int main(void) {
    int64_t a = 7, b = 2, out = 0;
    void* inputs[2] = {&a, &b};
    void* outputs[1] = {&out};
    int8_t ticked[2] = {1, 1}, valid[2] = {1, 1}, out_ticked[1] = {0};
    ALLNODES_RATIO_ENTRY(outputs, out_ticked, NULL, NCC_START, inputs, ticked, valid);
    ALLNODES_RATIO_ENTRY(outputs, out_ticked, NULL, NCC_EXECUTE, inputs, ticked, valid);
    printf("%lld %d\n", (long long)out, (int)out_ticked[0]);
    b = 0;
    ALLNODES_RATIO_ENTRY(outputs, out_ticked, NULL, NCC_EXECUTE, inputs, ticked, valid);
    printf("%d %s\n", (int)ncc_error_code(), ncc_error_entry());
    return 0;
}
""")
    lib_dir = str(built.library.parent)
    subprocess.run(
        ["cc", "-std=c11", "-Wall", "-Werror", f"-I{lib_dir}", f"-I{numba_rt.include_dir()}", str(tmp_path / "linked.c"),
         f"-L{lib_dir}", "-lallnodes", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-o", str(tmp_path / "linked")],
        check=True,
    )  # fmt: skip
    out = subprocess.run([str(tmp_path / "linked")], capture_output=True, text=True, check=True,
                         env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}).stdout  # fmt: skip
    assert out == f"3 1\n{int(abi.ErrorCode.DIVISION_BY_ZERO)} {results['ratio'].native_name}\n"
