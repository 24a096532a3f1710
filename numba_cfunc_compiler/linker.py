"""Public API for linking and code lifetime (SPEC sections 3 and 7).

- `link(items, *, ffi_bitcode=None)` -> `LinkedModule` (``address(native_name)``, ``llvm_ir``,
  ``emit_object(path)``): many compiled nodes in one optimised module.
- `release(item)`: give a node's machine code back to the system (explicit; nothing else unmaps it).
- `process_jit()`: the process-wide JIT that holds every node's machine code.

The implementation lives in `numba_cfunc_compiler.targets`.
"""

from __future__ import annotations

from .targets.jit import ProcessJIT, UnresolvedSymbolError, process_jit
from .targets.link import LinkedModule, artifact_of, link, release

__all__ = ["LinkedModule", "ProcessJIT", "UnresolvedSymbolError", "artifact_of", "link", "process_jit", "release"]
