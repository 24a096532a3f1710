"""Ahead-of-time export: a shared library of compiled nodes, its JSON manifest and its C header.

`build_library(items, output_dir, name)` links the nodes (`targets.link.link`), emits one
position-independent object for a portable CPU (``cpu="generic"``, the architecture's baseline) or
for this one (``cpu="host"``), and links it with the system C compiler into ``lib<name>.so``, which
exports only the nodes' entry points and their entry adapters and needs ``libnumba_rt.so`` (copied next to it; the library's
RUNPATH is ``$ORIGIN``) and libm — never libpython. ``<name>.json`` is the manifest (SPEC section 7)
and ``<name>.h`` the C/C++ header.

`load_manifest` / `check_compatible` read a manifest back and refuse a library this machine cannot
run (another format, architecture or OS, a runtime ABI that differs, CPU features this CPU lacks),
with a `LibraryError`. They import neither Numba nor llvmlite: the module-level imports here are
the standard library and ``numba_rt`` only; the compiler is imported inside `build_library`.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numba_rt
from numba_rt import abi
from numba_rt.toolchain import find_c_compiler

__all__ = [
    "MANIFEST_FORMAT",
    "LibraryError",
    "LibraryFiles",
    "build_library",
    "c_type",
    "check_compatible",
    "load_manifest",
    "render_header",
    "runtime_abi_fingerprint",
]

#: Version of the manifest's JSON shape; `load_manifest` refuses any other.
MANIFEST_FORMAT = 1

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class LibraryError(ValueError, RuntimeError):
    """A library cannot be built, or a built one cannot be used here (a ValueError and a
    RuntimeError, so either ``except`` catches it)."""


@dataclass(frozen=True)
class LibraryFiles:
    """What `build_library` wrote (all in one directory)."""

    library: Path  # lib<name>.so: the nodes' code
    manifest: Path  # <name>.json: the nodes' ABI and the toolchain
    header: Path  # <name>.h: one declaration and a layout comment per node
    runtime: Path  # libnumba_rt.so, next to the library (found through RUNPATH $ORIGIN)


# -- compatibility (no Numba, no llvmlite) ------------------------------------------------------

_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "i686": "x86", "i386": "x86"}


def _arch(name: str) -> str:
    name = (name or "").lower()
    return _ARCH_ALIASES.get(name, name)


def _os_of_triple(triple: str) -> str:
    parts = (triple or "").lower().split("-")
    rest = "-".join(parts[1:])
    for os_name, markers in (("linux", ("linux",)), ("darwin", ("darwin", "macos", "apple")), ("win32", ("windows", "win32", "msvc", "mingw"))):
        if any(m in rest for m in markers):
            return os_name
    return parts[2] if len(parts) > 2 else rest


def _this_os() -> str:
    return "linux" if sys.platform.startswith("linux") else sys.platform


def runtime_abi_fingerprint() -> str:
    """16 hex digits naming the runtime ABI of `numba_rt.abi` (phases, fault codes, cell types,
    container layouts, function signatures): a library whose manifest names another one was built
    against a runtime this host's bindings do not describe."""
    data = {
        "constants": dict(abi.C_CONSTANTS),
        "cells": {name: cell.size for name, cell in abi.CELL_TYPES.items()},
        "structs": {name: [dict(layout), dict(types), size] for name, (layout, types, size) in abi.STRUCTS.items()},
        "functions": [[f.name, f.restype, list(f.argtypes)] for f in abi.FUNCTIONS],
        "node_params": [list(p) for p in abi.NODE_PARAMS],
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# LLVM x86 feature -> /proc/cpuinfo flag, for the features code built for a named CPU may use.
_X86_CPUINFO = {
    "sse3": "pni", "ssse3": "ssse3", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "popcnt": "popcnt",
    "avx": "avx", "avx2": "avx2", "fma": "fma", "f16c": "f16c", "bmi": "bmi1", "bmi2": "bmi2",
    "lzcnt": "abm", "movbe": "movbe", "avx512f": "avx512f", "avx512bw": "avx512bw",
    "avx512cd": "avx512cd", "avx512dq": "avx512dq", "avx512vl": "avx512vl",
}  # fmt: skip


def _cpuinfo_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else None


def _missing_cpu_features(features: str) -> list[str]:
    """Features of ``features`` (LLVM's ``+a,-b`` text) that this x86 CPU lacks, as far as
    /proc/cpuinfo tells (empty when it cannot tell)."""
    if _arch(platform.machine()) != "x86_64":
        return []
    flags = _cpuinfo_flags()
    if flags is None:
        return []
    wanted = [f[1:] for f in features.split(",") if f.startswith("+")]
    return [f for f in wanted if f in _X86_CPUINFO and _X86_CPUINFO[f] not in flags]


def check_compatible(manifest: dict[str, Any]) -> None:
    """Raise `LibraryError` unless this machine can run the library ``manifest`` describes: the same
    manifest format, machine architecture and OS, the runtime ABI of this ``numba_rt``, and (for a
    library built for a named CPU) the CPU features its code uses."""
    if not isinstance(manifest, dict):
        raise LibraryError(f"a library manifest is a JSON object, got {type(manifest).__name__}")
    name = manifest.get("name", "?")
    fmt = manifest.get("format")
    if fmt != MANIFEST_FORMAT:
        raise LibraryError(
            f"library {name!r}: manifest format {fmt!r} is not {MANIFEST_FORMAT}, the format this "
            "numba_cfunc_compiler reads; rebuild the library with this version"
        )
    missing = [key for key in ("name", "library", "runtime", "cpu", "toolchain", "nodes") if key not in manifest]
    if missing:
        raise LibraryError(f"library {name!r}: the manifest has no {', '.join(repr(k) for k in missing)}")
    toolchain = manifest["toolchain"]
    if not isinstance(toolchain, dict) or not isinstance(manifest["nodes"], list):
        raise LibraryError(f"library {name!r}: the manifest's 'toolchain' must be an object and 'nodes' a list")
    here_arch, here_os = _arch(platform.machine()), _this_os()
    triple = str(toolchain.get("triple", ""))
    built_arch = {_arch(str(toolchain.get("machine", ""))), _arch(triple.split("-")[0])} - {""}
    built_os = manifest.get("platform") or _os_of_triple(triple)
    if built_arch != {here_arch} or built_os != here_os:
        raise LibraryError(
            f"library {name!r} was built for {'/'.join(sorted(built_arch)) or 'an unknown architecture'} "
            f"on {built_os or 'an unknown OS'} (triple {triple or '?'}); this machine is {here_arch} on "
            f"{here_os}: rebuild it here (python -m numba_cfunc_compiler build ...)"
        )
    built_abi = manifest.get("runtime_abi")
    if built_abi is not None and built_abi != runtime_abi_fingerprint():
        raise LibraryError(
            f"library {name!r} was built against another runtime ABI ({built_abi}, this numba_rt has "
            f"{runtime_abi_fingerprint()}): rebuild it with this version of numba_cfunc_compiler"
        )
    for node in manifest["nodes"]:
        for slot in node.get("state", ()) if isinstance(node, dict) else ():
            if slot.get("kind") == "array" and not _valid_array_slot(slot):
                raise LibraryError(
                    f"library {name!r}: state slot {slot.get('name')!r} of {node.get('qualname')} is an array "
                    f"whose element, length and size do not agree ({slot}); rebuild the library"
                )
    if manifest["cpu"] != "generic":
        lacking = _missing_cpu_features(str(toolchain.get("features", "")))
        if lacking:
            raise LibraryError(
                f"library {name!r} was built for CPU {toolchain.get('cpu', manifest['cpu'])!r} and uses "
                f"{', '.join(lacking)}, which this CPU lacks: rebuild it with cpu='generic'"
            )


def _valid_array_slot(slot: dict[str, Any]) -> bool:
    """An ``"array"`` state slot is ``length`` packed ``element`` cells: ``size`` bytes of "bytes" cell."""
    element, length = slot.get("element"), slot.get("length")
    if element not in ("int64", "float64", "int8") or type(length) is not int or length < 1:
        return False
    return slot.get("cell") == "bytes" and slot.get("size") == length * ctypes.sizeof(abi.cell_ctype(element))


def load_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read ``<name>.json`` and check (`check_compatible`) that this machine can run its library.
    Raises `LibraryError` with the reason otherwise; imports neither Numba nor llvmlite."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LibraryError(f"cannot read the library manifest {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise LibraryError(f"{path} is not a library manifest (invalid JSON: {exc})") from None
    try:
        check_compatible(manifest)
    except LibraryError as exc:
        raise LibraryError(f"{path}: {exc}") from None
    return manifest


# -- the header ---------------------------------------------------------------------------------

_C_SCALARS = {
    "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "int8_t": "int8_t", "int16_t": "int16_t", "int32_t": "int32_t", "int64_t": "int64_t",
    "uint8_t": "uint8_t", "uint16_t": "uint16_t", "uint32_t": "uint32_t", "uint64_t": "uint64_t",
    "byte": "uint8_t", "intp": "intptr_t", "uintp": "uintptr_t", "ssize_t": "intptr_t", "size_t": "uintptr_t",
    "intc": "int", "uintc": "unsigned int", "float32": "float", "float": "float",
    "float64": "double", "double": "double", "boolean": "uint8_t", "bool_": "uint8_t", "bool": "uint8_t",
    "void": "void", "voidptr": "void*", "ptr": "void*",
}  # fmt: skip


def c_type(spelling: str) -> str:
    """The C spelling of a parameter type of a node artifact (``int8*`` -> ``int8_t*``)."""
    text = spelling.replace(" ", "")
    base = text.rstrip("*")
    stars = text[len(base) :]
    if base not in _C_SCALARS or (base == "void" and not stars):
        raise LibraryError(f"no C spelling for the parameter type {spelling!r}")
    return _C_SCALARS[base] + stars


def _macro(text: str) -> str:
    macro = re.sub(r"\W+", "_", text).strip("_").upper()
    return "_" + macro if macro[:1].isdigit() else macro


def _initial(value: Any) -> str:
    return json.dumps(value)


def _bytes(slot: dict[str, Any]) -> str:
    """``", 32 bytes"`` for a slot pointing at host memory of its own size (a struct), else ``""``."""
    return f", {slot['size']} bytes" if slot["cell"] == "bytes" else ""


def _layout_lines(node: dict[str, Any]) -> list[str]:
    lines = []
    for what, slots in (("inputs", node["inputs"]), ("outputs", node["outputs"])):
        lines.append(f"{what}:" if slots else f"{what}: none")
        lines += [f"  [{i}] {s['name']}: {s['type']}, {s['cell']} cell{_bytes(s)}" for i, s in enumerate(slots)]
    lines.append("state:" if node["state"] else "state: none")
    for i, s in enumerate(node["state"]):
        kind = f"{s['type']}, {s['kind']}" if s.get("type") else s["kind"]
        size, initial = f"{s['size']} bytes", f"initial {_initial(s['initial'])}"
        if s["kind"] == "array":  # the elements, packed: docs/arrays.md
            size += f" ({c_type(s['element'])} {s['name']}[{s['length']}])"
            if all(_initial(v) in ("0", "0.0", "false") for v in s["initial"]):
                initial = "initial all 0"
        lines.append(f"  [{i}] {s['name']}: {kind}, {s['cell']} cell, {size}, {initial}")
    return lines


def _basket_lines(node: dict[str, Any], macro: str) -> list[str]:
    """The first input slot and the size of each basket of a reference-host node (its artifact's
    ``extra["baskets"]``, docs/baskets.md): ``<NODE>_BASKET_<NAME>_BASE`` / ``_SIZE``."""
    lines = []
    for basket, where in ((node.get("extra") or {}).get("baskets") or {}).items():
        name = f"{macro}_BASKET_{_macro(basket)}"
        lines += [f"#define {name}_BASE {where['base']}", f"#define {name}_SIZE {where['size']}"]
    return lines


def _adapter_lines(node: dict[str, Any], macro: str) -> list[str]:
    """The declarations of a node's entry adapters (`numba_cfunc_compiler.entry_adapters`)."""
    lines = []
    for adapter in node.get("adapters", ()):
        restype = "void" if adapter["restype"] == "void" else c_type(adapter["restype"])
        params = ", ".join(f"{c_type(p['type'])} {p['name']}" for p in adapter["params"]) or "void"
        name = f"{macro}_ADAPTER_{_macro(adapter['name'])}"
        lines += [
            f"/* entry adapter {adapter['name']!r} of node {node['qualname']} */",
            f'#define {name}_SYMBOL "{adapter["symbol"]}"',
            f"typedef {restype} (*{name.lower()}_fn)({params});",
            f"{restype} {adapter['symbol']}({params});",
        ]
    return lines


def render_header(manifest: dict[str, Any]) -> str:
    """The text of ``<name>.h`` for ``manifest`` (see docs/aot.md)."""
    name = manifest["name"]
    prefix = _macro(name) or "NODES"
    guard = f"NCC_AOT_{prefix}_H"
    out = [
        f"/* {name}.h: the nodes of {manifest['library']}, built by numba_cfunc_compiler.aot.build_library.",
        " *",
        " * Every node runs as START (lifecycle_phase 1), EXECUTE (0) per event, STOP (2); see",
        " * ncc_runtime.h. Each input, output and state slot is an 8-byte host-owned cell (int64 / double /",
        " * int8 in the low byte / pointer), except \"bytes\" slots (structs): host memory of the slot's",
        " * size. Give zeroed state; clear output_ticked before each EXECUTE. A faulting call records the",
        f" * fault in {manifest['runtime']}'s thread-local error record: read it with ncc_error_code() /",
        " * ncc_error_message() after each call and discard that call's outputs.",
        " */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"#define {prefix}_N_NODES {len(manifest['nodes'])}",
    ]
    seen: dict[str, int] = {}
    for index, node in enumerate(manifest["nodes"]):
        base = f"{prefix}_{_macro(node['qualname']) or 'NODE'}"
        seen[base] = seen.get(base, 0) + 1
        macro = base if seen[base] == 1 else f"{base}_{seen[base]}"
        params = ", ".join(f"{c_type(p['type'])} {p['name']}" for p in node["params"])
        out += ["", f"/* node {index}: {node['qualname']}"]
        out += [f" *   {line}" for line in _layout_lines(node)]
        out += [" */"]
        out += [
            f'#define {macro}_SYMBOL "{node["native_name"]}"',
            f"#define {macro}_ENTRY {node['native_name']}",
            f"#define {macro}_N_INPUTS {len(node['inputs'])}",
            f"#define {macro}_N_OUTPUTS {len(node['outputs'])}",
            f"#define {macro}_N_STATE {len(node['state'])}",
            *_basket_lines(node, macro),
            f"typedef void (*{macro.lower()}_fn)({params});",
            f"void {node['native_name']}({params});",
        ]
        out += _adapter_lines(node, macro)
    out += ["", "#ifdef __cplusplus", "}", "#endif", "", f"#endif /* {guard} */", ""]
    return "\n".join(out)


# -- building -------------------------------------------------------------------------------------


def _c_compiler() -> list[str]:
    try:
        return find_c_compiler()
    except LookupError as exc:
        raise LibraryError(f"building a shared library needs a C compiler: {exc} (install one, or set CC)") from None


def _replace(source: Path, target: Path) -> None:
    """Move ``source`` onto ``target`` atomically: a process that has the old file mapped keeps it."""
    os.replace(source, target)


def build_library(
    items: Iterable[Any],
    output_dir: str | os.PathLike[str],
    name: str,
    *,
    cpu: str = "generic",
    ffi_bitcode: bytes | None = None,
) -> LibraryFiles:
    """Write ``lib<name>.so``, ``<name>.json``, ``<name>.h`` and ``libnumba_rt.so`` into
    ``output_dir`` for ``items`` (`CompilationResult`s or `NodeArtifact`s; a node given twice is
    built once). ``cpu="generic"`` (default) runs on any machine of this architecture,
    ``cpu="host"`` uses this CPU's features (or give an LLVM CPU name). ``ffi_bitcode`` as for
    `link`. Raises `LibraryError` when no C compiler is found or linking fails."""
    import llvmlite.binding as llvm

    from ..artifact import toolchain_fingerprint
    from .link import artifact_of, link

    if not isinstance(name, str) or not _NAME.match(name):
        raise LibraryError(f"library name {name!r}: use letters, digits, '_', '.', '+' or '-' (it names lib<name>.so)")
    if not isinstance(cpu, str) or not cpu:
        raise LibraryError(f"cpu must be 'generic', 'host' or an LLVM CPU name, got {cpu!r}")
    if sys.platform != "linux":
        raise LibraryError(f"build_library builds ELF shared libraries on Linux; this is {sys.platform}")
    artifacts: dict[str, Any] = {}
    for item in items:
        artifact = artifact_of(item)
        artifacts.setdefault(artifact.native_name, artifact)
    if not artifacts:
        raise LibraryError(f"library {name!r}: no nodes to build")
    toolchain = toolchain_fingerprint()
    for artifact in artifacts.values():
        triple = artifact.toolchain.get("triple")
        if triple and triple != toolchain["triple"]:
            raise LibraryError(
                f"{artifact.qualname} ({artifact.native_name}) was compiled for {triple}; this toolchain "
                f"builds for {toolchain['triple']}: compile it on this machine"
            )
    manifest_nodes = [a.abi() for a in artifacts.values()]
    render_header({"name": name, "library": "", "runtime": "", "nodes": manifest_nodes})  # C types, before building

    linked = link(artifacts.values(), ffi_bitcode=ffi_bitcode)
    exports = linked.exports  # the only external definitions: entry points and entry adapters

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    runtime_src = Path(numba_rt.library_path())
    files = LibraryFiles(
        library=out / f"lib{name}.so",
        manifest=out / f"{name}.json",
        header=out / f"{name}.h",
        runtime=out / runtime_src.name,
    )
    compiler = _c_compiler()
    with tempfile.TemporaryDirectory(prefix=f"ncc-aot-{name}-", dir=out) as tmp:
        tmp_dir = Path(tmp)
        obj = tmp_dir / f"{name}.o"
        linked.emit_object(obj, cpu=cpu)  # portable unless cpu="host": see LinkedModule.emit_object
        if not (files.runtime.exists() and files.runtime.samefile(runtime_src)):
            shutil.copy2(runtime_src, tmp_dir / runtime_src.name)
            _replace(tmp_dir / runtime_src.name, files.runtime)
        version_script = tmp_dir / "exports.map"
        version_script.write_text("{\n  global:\n" + "".join(f"    {e};\n" for e in exports) + "  local: *;\n};\n")
        library_tmp = tmp_dir / files.library.name
        command = [
            *compiler, "-shared", "-o", str(library_tmp), str(obj),
            f"-Wl,-soname,{files.library.name}", f"-Wl,--version-script={version_script}",
            f"-L{out.resolve()}", "-Wl,--no-as-needed", f"-l{runtime_src.stem.removeprefix('lib')}",
            "-Wl,--as-needed", "-lm", "-Wl,-rpath,$ORIGIN",
        ]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            raise LibraryError(
                f"linking lib{name}.so failed (exit {proc.returncode}):\n  {shlex.join(command)}\n{proc.stderr.strip()}"
            )
        _replace(library_tmp, files.library)

        if cpu == "host":
            toolchain["cpu"], toolchain["features"] = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
        else:
            toolchain["cpu"], toolchain["features"] = cpu, ""
        manifest = {
            "format": MANIFEST_FORMAT,
            "name": name,
            "library": files.library.name,
            "runtime": files.runtime.name,
            "cpu": cpu,
            "platform": _this_os(),
            "runtime_abi": runtime_abi_fingerprint(),
            "toolchain": toolchain,
            "imports": sorted(linked.imports),
            "nodes": manifest_nodes,
        }
        (tmp_dir / files.header.name).write_text(render_header(manifest), encoding="utf-8")
        _replace(tmp_dir / files.header.name, files.header)
        (tmp_dir / files.manifest.name).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace(tmp_dir / files.manifest.name, files.manifest)  # last: a manifest names a complete library
    return files
