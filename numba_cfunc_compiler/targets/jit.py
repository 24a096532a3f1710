"""The one JIT of the process: machine code that lives as long as the process.

Every compiled node's object code is loaded once into a single process-wide ORC JIT (`process_jit`),
as its own JIT library. Its address stays valid whatever happens to Python objects: dropping a
`CompilationResult`, leaving a `CompilationContext` or collecting garbage never unmaps it (SPEC
section 3). Loading the same ``native_name`` again shares the code already loaded and counts one
more holder; `ProcessJIT.release` drops one holder and unmaps the code when none is left — the
explicit way for a host to get memory back.

Object code is produced by `emit_object` with `host_target_machine(jit=True)` (this CPU, static relocation
like Numba's own JIT), so the bytes the persistent cache stores load here without code generation.
This module is a leaf service: it imports nothing from the compiler above it.
"""

from __future__ import annotations

import functools
import itertools
import threading
from dataclasses import dataclass
from typing import Any, Iterable

import llvmlite.binding as llvm

import numba_rt

__all__ = ["ProcessJIT", "UnresolvedSymbolError", "process_jit", "host_target_machine", "emit_object"]


class UnresolvedSymbolError(RuntimeError):
    """Compiled code needs a C symbol that nothing in this process defines."""


@functools.lru_cache(maxsize=None)
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


def host_target_machine(opt: int = 3, *, jit: bool = False) -> llvm.TargetMachine:
    """A target machine for this CPU and its features: position-independent code in the default
    code model for objects a host links, or (``jit=True``) code for this process, with the code
    model and relocation model Numba's own JIT uses (static on x86: PIC adds a GOT set-up and long
    constant loads to every call)."""
    _initialize()
    target = llvm.Target.from_default_triple()
    reloc, codemodel = "pic", "default"
    if jit:
        reloc = "static" if target.name.startswith("x86") else "pic" if target.name.startswith("ppc") else "default"
        codemodel = "jitdefault"
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=opt,
        reloc=reloc,
        codemodel=codemodel,
    )


@dataclass
class _Library:
    tracker: Any  # llvmlite ResourceTracker: the library stays mapped while it is referenced
    addresses: dict[str, int]
    holders: int


class ProcessJIT:
    """Owns every node's machine code in this process (use `process_jit()`, not the constructor)."""

    def __init__(self) -> None:
        _initialize()
        numba_rt.load()  # ncc_* symbols resolve to the copy the Python bindings use
        self._lljit = llvm.create_lljit_compiler()
        self._target_machine = host_target_machine(jit=True)
        self._lock = threading.Lock()
        self._code: dict[str, _Library] = {}
        self._serial = itertools.count()

    def emit_object(self, module: llvm.ModuleRef) -> bytes:
        """Machine code for ``module`` that `load` accepts (generated once, cacheable)."""
        with self._lock:
            return self._target_machine.emit_object(module)

    def acquire(self, native_name: str) -> int | None:
        """One more holder of already-loaded code: its address, or None if it is not loaded."""
        with self._lock:
            code = self._code.get(native_name)
            if code is None:
                return None
            code.holders += 1
            return code.addresses.get(native_name)

    def load(self, native_name: str, object_code: bytes, imports: Iterable[str] = ()) -> int:
        """Map ``object_code`` (defining ``native_name``) and return the address of ``native_name``.

        ``imports`` are the external symbols the code calls; each must exist in this process
        (the runtime's ``ncc_*``, Numba's helpers, host functions made available through FFI).
        Already-loaded code is shared and gains a holder.
        """
        return self.load_library(native_name, object_code, [native_name], imports)[native_name]

    def load_library(self, key: str, object_code: bytes, exports: Iterable[str], imports: Iterable[str] = ()) -> dict[str, int]:
        """Map ``object_code`` under ``key`` and return the addresses of ``exports`` (see `load`).
        A node's code is loaded under its native name with its entry adapters among ``exports``,
        so they share its holders and are released with it."""
        exports = list(exports)
        with self._lock:
            code = self._code.get(key)
            if code is None:
                code = self._link(key, object_code, exports, imports)
                self._code[key] = code
            else:
                missing = [name for name in exports if name not in code.addresses]
                if missing:
                    raise KeyError(f"{key} is loaded without the symbol(s) {', '.join(missing)}")
                code.holders += 1
            return {name: code.addresses[name] for name in exports}

    def symbol_address(self, key: str, symbol: str) -> int | None:
        """The address of ``symbol`` exported by the code loaded under ``key`` (an entry adapter
        of a node, say), or None (does not add a holder)."""
        with self._lock:
            code = self._code.get(key)
            return None if code is None else code.addresses.get(symbol)

    def _link(self, key: str, object_code: bytes, exports: list[str], imports: Iterable[str]) -> _Library:
        builder = llvm.JITLibraryBuilder().add_object_img(object_code)
        for name in exports:
            builder.export_symbol(name)
        for name in sorted(set(imports)):
            address = llvm.address_of_symbol(name)
            if not address:
                raise UnresolvedSymbolError(
                    f"{key} calls {name!r}, which is not defined in this process: load the library "
                    "that defines it (for a host function, FFIFunction.make_available)"
                )
            builder.import_symbol(name, address)
        builder.add_current_process()  # libc/libm calls the code generator itself introduces
        tracker = builder.link(self._lljit, f"{key}#{next(self._serial)}")
        addresses = {name: tracker[name] for name in exports}
        missing = [name for name, address in addresses.items() if not address]
        if missing:
            raise RuntimeError(f"the JIT produced no address for {', '.join(missing)}")
        return _Library(tracker, addresses, 1)

    def address(self, native_name: str) -> int | None:
        """The address of loaded code, or None (does not add a holder)."""
        with self._lock:
            code = self._code.get(native_name)
            return None if code is None else code.addresses.get(native_name)

    def release(self, native_name: str) -> bool:
        """Drop one holder of ``native_name`` (or of a library key); unmap its code when no holder
        is left.

        Returns True when the code was unmapped. Calling through the address afterwards is a
        use-after-free: release only what no host will call again.
        """
        with self._lock:
            code = self._code.get(native_name)
            if code is None:
                raise KeyError(f"{native_name} is not loaded in this process")
            code.holders -= 1
            if code.holders > 0:
                return False
            del self._code[native_name]
        code.tracker.close()
        return True

    def holders(self, native_name: str) -> int:
        with self._lock:
            code = self._code.get(native_name)
            return 0 if code is None else code.holders

    def loaded(self) -> list[str]:
        """Native names of the code mapped now."""
        with self._lock:
            return sorted(self._code)


@functools.lru_cache(maxsize=None)
def process_jit() -> ProcessJIT:
    """The process-wide JIT (created on first use, never destroyed)."""
    return ProcessJIT()


def emit_object(module: llvm.ModuleRef) -> bytes:
    """`ProcessJIT.emit_object` of the process JIT."""
    return process_jit().emit_object(module)
