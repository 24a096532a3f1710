"""Public API for ahead-of-time export (SPEC section 7, docs/aot.md).

- `build_library(items, output_dir, name, *, cpu="generic", ffi_bitcode=None)` -> `LibraryFiles`
  (``library``, ``manifest``, ``header``, ``runtime``): a shared library of compiled nodes that a C
  program loads with no Python, its JSON manifest and its C header.
- `load_manifest(path)` / `check_compatible(manifest)`: read a manifest back and refuse, with a
  `LibraryError`, a library this machine cannot run. Neither imports Numba nor llvmlite.
- `MANIFEST_FORMAT`: the version of the manifest's shape.

The implementation lives in `numba_cfunc_compiler.targets.aot`.
"""

from __future__ import annotations

from .targets.aot import (
    MANIFEST_FORMAT,
    LibraryError,
    LibraryFiles,
    build_library,
    c_type,
    check_compatible,
    load_manifest,
    render_header,
    runtime_abi_fingerprint,
)

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
