"""Linking many compiled nodes into one module: `link` -> `LinkedModule`.

Each node's final IR exports only its ``_gc_numba_<key>`` and its entry adapters
(``_gc_numba_<key>__<name>``; everything else is internal), so any number of them link into one
LLVM module without clashes. Optional FFI bitcode is linked in too, so
the optimiser, run once over the whole module, can inline host functions into the nodes. The result
runs in this process (`LinkedModule.address`, through the process JIT) or is emitted as an object
file a C host links with ``libnumba_rt`` (`LinkedModule.emit_object`).
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from typing import Any, Iterable

import llvmlite.binding as llvm

from ..artifact import NodeArtifact
from ..post_compilation import (
    external_symbols,
    forbidden_declarations,
    host_target_machine,
    internalize_except,
    link_ffi_bitcode,
    optimize,
    strip_target_attributes,
)
from .jit import process_jit

__all__ = ["LinkedModule", "link", "release", "artifact_of"]


def artifact_of(item: Any) -> NodeArtifact:
    """The `NodeArtifact` of a `CompilationResult` (``item.artifact``) or of an artifact."""
    if isinstance(item, NodeArtifact):
        return item
    artifact = getattr(item, "artifact", None)
    if isinstance(artifact, NodeArtifact):
        return artifact
    raise TypeError(f"expected a CompilationResult or a NodeArtifact, got {type(item).__name__}")


class LinkedModule:
    """Several nodes (and optional FFI bodies) in one optimised LLVM module.

    ``native_names`` are its nodes' entry points and ``exports`` every symbol it exports (the entry
    points, then the nodes' entry adapters); ``llvm_ir`` its text; `address` maps it into the
    process JIT on first use (it then stays mapped for the life of the process, or until `release`);
    `emit_object` writes a relocatable object for a C host.
    """

    def __init__(self, module: llvm.ModuleRef, native_names: list[str], exports: list[str] | None = None) -> None:
        self._module = module
        self.native_names = list(native_names)
        self.exports = list(exports) if exports is not None else list(self.native_names)
        self.llvm_ir = str(module)
        self.imports = tuple(external_symbols(module))
        self._key = "linked_" + hashlib.sha256(self.llvm_ir.encode()).hexdigest()[:16]
        self._addresses: dict[str, int] | None = None

    @cached_property
    def _object_for_jit(self) -> bytes:
        return process_jit().emit_object(self._module)

    def address(self, native_name: str) -> int:
        """The C function pointer of ``native_name`` (an entry point or an entry adapter's symbol)
        in this process."""
        if native_name not in self.exports:
            raise KeyError(f"{native_name} is not in this module (it has {', '.join(self.exports)})")
        if self._addresses is None:
            self._addresses = process_jit().load_library(self._key, self._object_for_jit, self.exports, self.imports)
        return self._addresses[native_name]

    def emit_object(self, path: str | os.PathLike[str], *, cpu: str = "host") -> str:
        """Write a position-independent object file for this CPU (``cpu="host"``), for the
        architecture's baseline (``cpu="generic"``, runs on any machine of the same architecture)
        or for an LLVM CPU name. Link it with ``-lnumba_rt`` (and ``-lm``)."""
        if cpu == "host":
            module, target_machine = self._module, host_target_machine()
        else:  # function attributes would pin code generation to the CPU that compiled the IR
            module = llvm.parse_assembly(strip_target_attributes(self.llvm_ir))
            target = llvm.Target.from_default_triple()
            target_machine = target.create_target_machine(cpu=cpu, features="", opt=3, reloc="pic", codemodel="default")
        data = target_machine.emit_object(module)
        with open(path, "wb") as f:
            f.write(data)
        return os.fspath(path)

    def release(self) -> bool:
        """Give back this module's JIT memory (see `ProcessJIT.release`); addresses become invalid."""
        if self._addresses is None:
            return False
        self._addresses = None
        return process_jit().release(self._key)

    def __repr__(self) -> str:
        return f"<LinkedModule {', '.join(self.native_names)}>"


def link(items: Iterable[Any], *, ffi_bitcode: bytes | None = None) -> LinkedModule:
    """Link compiled nodes (`CompilationResult`s or `NodeArtifact`s) and optional FFI bitcode into
    one module optimised once. The same node given twice is linked once."""
    artifacts: dict[str, NodeArtifact] = {}
    for item in items:
        artifact = artifact_of(item)
        artifacts.setdefault(artifact.native_name, artifact)
    if not artifacts:
        raise ValueError("link() needs at least one compiled node")
    target_machine = host_target_machine()
    modules = [llvm.parse_assembly(a.llvm_ir) for a in artifacts.values()]
    module = modules[0]
    for other in modules[1:]:
        module.link_in(other)
    if ffi_bitcode is not None:
        module = link_ffi_bitcode(module, ffi_bitcode)
    exports = [*artifacts, *(a["symbol"] for artifact in artifacts.values() for a in artifact.adapters)]
    internalize_except(module, exports)
    optimize(module, target_machine)
    module.verify()
    leftovers = forbidden_declarations(module)
    if leftovers:  # cannot come from our artifacts; FFI bitcode that calls into Python can
        raise ValueError(f"the linked module refers to the Python runtime ({', '.join(leftovers[:5])})")
    return LinkedModule(module, list(artifacts), exports)


def release(item: Any) -> bool:
    """Give back the machine code of a compiled node (a `CompilationResult`, `NodeArtifact` or
    native name): drops one holder — every `create_compiled_func` call that returned the node is
    one — and unmaps the code when none is left (returns True then). Never call the address again
    after its last holder is released."""
    native_name = item if isinstance(item, str) else artifact_of(item).native_name
    return process_jit().release(native_name)
