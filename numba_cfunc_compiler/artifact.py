"""`NodeArtifact`: the plain-data description of one compiled node.

Everything a host needs to call, link, cache or ship a node, with no live Python object inside:
the exported name, the C parameters, the input/output/state slots the categories declare, the entry
adapters exported beside the entry point, the final LLVM IR, the external symbols that IR needs and
the toolchain that produced it. The JSON form is
the one SPEC section 7 fixes for AOT manifests, plus ``semantic_key`` and ``llvm_ir``.
"""

from __future__ import annotations

import functools
import json
import platform
from dataclasses import dataclass, field
from typing import Any

from .containers import array_layout
from .models import StateSlot, ValueSlot, plain_value

__all__ = ["NodeArtifact", "Param", "toolchain_fingerprint", "ARTIFACT_FORMAT"]

#: Version of the JSON shape; bump when a field changes meaning.
ARTIFACT_FORMAT = 1


@dataclass(frozen=True)
class Param:
    """One C parameter of the entry point: its name and Numba type spelling (``void**``, ``int8``)."""

    name: str
    type: str


@dataclass(frozen=True)
class NodeArtifact:
    """What was compiled and how to call it (see the module docstring). Compare with ``==``."""

    native_name: str
    semantic_key: str
    qualname: str
    params: tuple[Param, ...]
    inputs: tuple[ValueSlot, ...]
    outputs: tuple[ValueSlot, ...]
    state: tuple[StateSlot, ...]
    llvm_ir: str
    toolchain: dict[str, str]
    imports: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: Entry adapters exported beside the entry point (`numba_cfunc_compiler.entry_adapters`), each
    #: ``{"name", "symbol", "restype", "params": [{"name", "type"}]}``.
    adapters: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in ("params", "inputs", "outputs", "state", "imports"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "extra", plain_value(self.extra))
        object.__setattr__(self, "adapters", tuple(plain_value(dict(a)) for a in self.adapters))

    @property
    def signature(self) -> str:
        """The C signature as text: ``void(outputs: void**, ...)``."""
        return "void(" + ", ".join(f"{p.name}: {p.type}" for p in self.params) + ")"

    def abi(self) -> dict[str, Any]:
        """The node's ABI as plain data: the artifact without its IR (an AOT manifest entry)."""
        return {
            "native_name": self.native_name,
            "qualname": self.qualname,
            "semantic_key": self.semantic_key,
            "params": [{"name": p.name, "type": p.type} for p in self.params],
            "inputs": [_slot(s) for s in self.inputs],
            "outputs": [_slot(s) for s in self.outputs],
            "state": [_slot(s) for s in self.state],
            "imports": list(self.imports),
            "extra": dict(self.extra),
            "adapters": [dict(a) for a in self.adapters],
        }

    def to_dict(self) -> dict[str, Any]:
        return {"format": ARTIFACT_FORMAT, **self.abi(), "toolchain": dict(self.toolchain), "llvm_ir": self.llvm_ir}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeArtifact:
        if data.get("format") != ARTIFACT_FORMAT:
            raise ValueError(f"node artifact format {data.get('format')!r} is not {ARTIFACT_FORMAT}")
        return cls(
            native_name=data["native_name"],
            semantic_key=data["semantic_key"],
            qualname=data["qualname"],
            params=tuple(Param(**p) for p in data["params"]),
            inputs=tuple(ValueSlot(**s) for s in data["inputs"]),
            outputs=tuple(ValueSlot(**s) for s in data["outputs"]),
            state=tuple(_state_slot(s) for s in data["state"]),
            llvm_ir=data["llvm_ir"],
            toolchain=dict(data["toolchain"]),
            imports=tuple(data.get("imports", ())),
            extra=dict(data.get("extra", {})),
            adapters=tuple(data.get("adapters", ())),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> NodeArtifact:
        return cls.from_dict(json.loads(text))

    # -- views used by CompilationResult.metadata ---------------------------------------------
    def adapter(self, name: str) -> dict[str, Any]:
        """The entry ``name`` of `adapters` (KeyError naming the ones there are)."""
        for entry in self.adapters:
            if entry["name"] == name:
                return entry
        known = ", ".join(a["name"] for a in self.adapters) or "none"
        raise KeyError(f"{self.native_name} has no entry adapter {name!r} (it has: {known})")

    def metadata(self) -> dict[str, Any]:
        """The metadata entries derived from the slots (``state_values``, ``nrt_state_indices`` ...)."""
        state = self.state
        return {
            "state_values": [s.initial for s in state],
            "state_names": [s.name for s in state],
            "nrt_state_indices": [i for i, s in enumerate(state) if s.kind in ("container", "constant_container")],
            "struct_state_indices": [i for i, s in enumerate(state) if s.kind == "struct"],
            "struct_state_sizes": [s.size for s in state if s.kind == "struct"],
            "output_names": [s.name for s in self.outputs],
        }


def _slot(slot: ValueSlot | StateSlot) -> dict[str, Any]:
    data = dict(slot.__dict__)
    if isinstance(slot, ValueSlot) and slot.size is None:  # an 8-byte cell: only bytes cells say their size
        del data["size"]
    if isinstance(slot, StateSlot) and slot.kind == "array":  # for C hosts; derived from the type
        data.update(_array_keys(slot))
    return data


def _array_keys(slot: StateSlot) -> dict[str, Any]:
    """``element`` (the cell type of one element) and ``length`` of an array slot, from its type."""
    layout = array_layout(slot.type)
    if layout is None:
        raise ValueError(f"array state slot {slot.name!r} has type {slot.type!r}, not NumbaArray[T, N]")
    return {"element": layout[1], "length": layout[2]}


def _state_slot(data: dict[str, Any]) -> StateSlot:
    """A `StateSlot` from its JSON form; keys derived from the type (`_array_keys`) must agree with it."""
    derived = {k: data[k] for k in ("element", "length") if k in data}
    slot = StateSlot(**{k: v for k, v in data.items() if k not in derived})
    if derived and (slot.kind != "array" or derived != _array_keys(slot)):
        raise ValueError(f"state slot {slot.name!r}: {derived} does not match its type {slot.type!r}")
    return slot


@functools.lru_cache(maxsize=None)
def _fingerprint() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    import llvmlite
    import llvmlite.binding as llvm
    import numba

    try:
        package = metadata.version("numba-cfunc-compiler")
    except metadata.PackageNotFoundError:  # running from a source tree
        package = "unknown"
    return (
        ("package", package),
        ("numba", numba.__version__),
        ("llvmlite", llvmlite.__version__),
        ("llvm", ".".join(map(str, llvm.llvm_version_info))),
        ("python", platform.python_version()),
        ("machine", platform.machine()),
        ("triple", llvm.get_process_triple()),
        ("cpu", llvm.get_host_cpu_name()),
        ("features", llvm.get_host_cpu_features().flatten()),
    )


def toolchain_fingerprint() -> dict[str, str]:
    """What determines the machine code besides the source: package, Numba, llvmlite, LLVM and
    Python versions, the target triple, CPU name and features."""
    return dict(_fingerprint())
