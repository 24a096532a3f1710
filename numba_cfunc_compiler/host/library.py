"""What `NodeRunner` needs without Numba: cells, values in cells, and nodes of an AOT library.

A node is driven from its ABI description, the node entry of an AOT manifest (the same dict as
`NodeArtifact.abi()`): the parameters, and the input, output and state slots with their names,
types and cells. Values move between Python and cells through a *codec* per slot, an object with
``host_encode``, ``host_decode`` and ``describe`` — the live `VariableType` for a node compiled in
this process, or a `SlotCodec` built from the slot's type name for a node loaded from a library.

This module imports neither Numba nor llvmlite (nor anything of the package that does): it is what
``NodeRunner.from_library`` runs on in a process that never compiles.
"""

from __future__ import annotations

import ctypes
import datetime as _dt
import enum
import operator
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numba_rt
from numba_rt.abi import CELL_TYPES

from ..enum_set import EnumSet, is_enum_set_class
from ..containers import array_layout
from ..utils.suggest import did_you_mean

__all__ = [
    "NodeRuntimeError",
    "Cells",
    "SlotCodec",
    "codec_for",
    "container_kind",
    "array_values",
    "AotLibrary",
    "open_library",
]

CELL_CTYPES = {name: cell.ctype for name, cell in CELL_TYPES.items() if cell.ctype is not None}

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_INT_RANGES = {f"int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1)) for bits in (8, 16, 32, 64)}


class NodeRuntimeError(RuntimeError):
    """A fault recorded by compiled code in the runtime's error record."""

    def __init__(self, code: int, message: str, entry: str) -> None:
        self.code = code
        self.message = message
        self.entry = entry
        super().__init__(f"{message} (error code {code} in {entry or 'unknown entry point'})")


class Cells:
    """``count`` 8-byte host cells (or ``sizes[i]`` bytes) and the ``void*`` array pointing at them."""

    def __init__(self, count: int, sizes: dict[int, int] | None = None) -> None:
        sizes = sizes or {}
        self.buffers = [(ctypes.c_char * sizes.get(i, 8))() for i in range(count)]
        self.pointers = (ctypes.c_void_p * max(count, 1))(*[ctypes.addressof(b) for b in self.buffers])

    def read(self, index: int, cell_type: str) -> Any:
        return CELL_CTYPES[cell_type].from_buffer(self.buffers[index]).value

    def write(self, index: int, cell_type: str, value: Any) -> None:
        CELL_CTYPES[cell_type].from_buffer(self.buffers[index]).value = value


# -- values, from a slot's type name -------------------------------------------------------------


def _nanoseconds(value: Any, cls: type) -> int:
    if isinstance(value, cls):
        if isinstance(value, _dt.datetime):
            if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
                raise ValueError(f"naive datetime {value!r}: give it a time zone, e.g. tzinfo=timezone.utc")
            value = value - _EPOCH
        ns = (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1_000
    elif isinstance(value, int) and not isinstance(value, bool):
        ns = value
    else:
        raise TypeError(f"expected a {cls.__name__}, got {value!r}")
    if not -(2**63) < ns < 2**63:
        raise ValueError(f"{ns} ns is outside the int64 nanosecond range (years 1677 to 2262)")
    return ns


def _integer(value: Any, cell: str, members: bool) -> int:
    try:
        number = operator.index(value.value if members and isinstance(value, enum.Enum) else value)
    except TypeError:
        raise TypeError(f"expected an int, got {value!r}") from None
    low, high = _INT_RANGES.get(cell, _INT_RANGES["int64"])
    if not low <= number < high:
        raise ValueError(f"{number} does not fit in {cell}")
    return int(number)


@dataclass(frozen=True)
class SlotCodec:
    """Values of a slot known only by its type name and cell — what the built-in `VariableType`\\ s'
    ``host_encode``/``host_decode`` do, without them: ``int``, ``float``, ``bool`` and
    ``datetime`` (tz-aware, UTC) / ``timedelta`` (int64 nanoseconds, read to the microsecond).
    ``python_type`` is a class the caller named for ``type``: an enum class (members in, members
    out), an ``EnumSet[E]`` class (any iterable of members in, an ``EnumSet[E]`` out; its cell is
    the bit mask) or a ``ctypes.Structure`` subclass (struct state read as a copy of it). Any other
    type name is the raw cell value: an enum without its class is its int value, an EnumSet its
    mask."""

    type: str
    cell: str
    python_type: Any = None

    def describe(self) -> str:
        return self.type or self.cell

    def host_encode(self, value: Any) -> Any:
        if is_enum_set_class(self.python_type):
            return self.python_type(value).cell_value
        enum_class = self.python_type if _is_enum_class(self.python_type) else None
        if enum_class is not None:
            if isinstance(value, enum_class):
                return int(value.value)
            if isinstance(value, int) and not isinstance(value, bool) and value in {m.value for m in enum_class}:
                return int(value)
            raise TypeError(f"expected a member of {enum_class.__name__}, got {value!r}")
        if self.type in ("datetime", "timedelta"):
            return _nanoseconds(value, _dt.datetime if self.type == "datetime" else _dt.timedelta)
        if self.type == "bool" or (self.cell == "int8" and isinstance(value, bool)):
            if isinstance(value, bool) or (hasattr(value, "__index__") and operator.index(value) in (0, 1)):
                return bool(value)
            raise TypeError(f"expected a bool, got {value!r}")
        if self.cell == "float64":
            if isinstance(value, (str, bytes)) or not (hasattr(value, "__float__") or hasattr(value, "__index__")):
                raise TypeError(f"expected a float, got {value!r}")
            return float(value)
        if self.cell == "ptr":
            return value if value is None else operator.index(value)
        return _integer(value, self.cell, members=self.type != "int")

    def host_decode(self, raw: Any) -> Any:
        if is_enum_set_class(self.python_type):
            return self.python_type.from_mask(raw)
        if _is_enum_class(self.python_type):
            return self.python_type(int(raw))
        if self.type == "datetime":
            return _EPOCH + _dt.timedelta(microseconds=int(raw) // 1_000)
        if self.type == "timedelta":
            return _dt.timedelta(microseconds=int(raw) // 1_000)
        if self.type == "bool":
            return bool(raw)
        if self.type == "int":
            return int(raw)
        if self.type == "float":
            return float(raw)
        return raw


def _is_enum_class(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, enum.Enum)


def codec_for(slot: Mapping[str, Any], types: Mapping[str, Any] | None = None) -> Any:
    """The codec of a slot (a manifest dict): ``types[slot type]`` when it is a codec itself (has
    ``host_encode`` and ``host_decode``, e.g. a `VariableType`), else a `SlotCodec`, given the class
    ``types`` names for the slot's type (an enum class or a ``ctypes.Structure`` subclass). An
    ``EnumSet[E]`` slot takes the enum class named for ``"EnumSet[E]"`` or for ``"E"``."""
    name = slot.get("type", "")
    named = (types or {}).get(name)
    if name.startswith("EnumSet[") and name.endswith("]"):
        if named is None:
            named = (types or {}).get(name[len("EnumSet[") : -1])
        if _is_enum_class(named):
            named = EnumSet[named]
    if named is not None and not isinstance(named, type) and hasattr(named, "host_encode") and hasattr(named, "host_decode"):
        return named
    if named is not None and not (
        _is_enum_class(named) or is_enum_set_class(named) or (isinstance(named, type) and issubclass(named, ctypes.Structure))
    ):
        raise TypeError(
            f"types[{slot['type']!r}] must be an enum class, a ctypes.Structure subclass or an object "
            f"with host_encode/host_decode, got {named!r}"
        )
    return SlotCodec(slot.get("type", ""), slot["cell"], named)


def array_values(memory: Any, slot: Mapping[str, Any]) -> list[Any]:
    """The elements of a ``NumbaArray`` state slot (a manifest dict) held in ``memory`` (a ctypes
    buffer of the slot's size), decoded as their element type (``int``, ``float``, ``bool``,
    ``datetime``, ``timedelta``) from the slot's ``element`` cell type, ``length`` and type name."""
    layout = array_layout(slot.get("type", ""))
    if layout is None or (layout[1], layout[2]) != (slot["element"], slot["length"]):
        raise ValueError(f"state slot {slot['name']!r} is not an array slot: {dict(slot)}")
    codec = SlotCodec(layout[0], slot["element"])
    raw = (CELL_CTYPES[slot["element"]] * slot["length"]).from_buffer(memory)
    return [codec.host_decode(value) for value in raw]


def container_kind(slot: Mapping[str, Any], codec: Any) -> str | None:
    """``"list"`` or ``"dict"`` for a container state slot (from its type name, or the live type's
    ``python_type`` for a node compiled in this process); None if unknown."""
    name = slot.get("type", "")
    for prefix, kind in (("NumbaList", "list"), ("NumbaDict", "dict")):
        if name == prefix or name.startswith(prefix + "["):
            return kind
    spec = type(getattr(codec, "python_type", None)).__name__
    return {"ListSpec": "list", "DictSpec": "dict"}.get(spec)


# -- AOT libraries -------------------------------------------------------------------------------


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def _function_address(lib: ctypes.CDLL, name: str) -> int | None:
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _global_runtime(exclude: int | None) -> numba_rt.Runtime | None:
    """The copy of the runtime in the process's global symbol scope (``numba_rt.load()`` puts the
    package's copy there), if any and other than the one at ``exclude``. A library's undefined
    ``ncc_*`` symbols bind to the global scope first."""
    process = ctypes.CDLL(None)
    address = _function_address(process, "ncc_error_code")
    if address is None or address == exclude:
        return None
    info = _DlInfo()
    dladdr = getattr(process, "dladdr", None)
    if dladdr is None or not dladdr(ctypes.c_void_p(address), ctypes.byref(info)) or not info.dli_fname:
        return None
    return numba_rt.Runtime(os.fsdecode(info.dli_fname))


def _manifest_path(path: Path) -> Path:
    if path.suffix == ".json":
        return path
    stem = path.name.split(".")[0]
    stem = stem[3:] if stem.startswith("lib") else stem
    return path.with_name(stem + ".json")


@dataclass
class AotLibrary:
    """A loaded library and its manifest. ``runtimes``: the copies of libnumba_rt whose error
    record the library's faults can land in (see `open_library`); the first reads containers."""

    manifest_path: Path
    library_path: Path
    manifest: dict[str, Any]
    lib: ctypes.CDLL
    runtimes: tuple[numba_rt.Runtime, ...]

    def node(self, name: str) -> dict[str, Any]:
        """The manifest entry of the node whose ``native_name`` is ``name``, or whose qualname is
        ``name`` if exactly one node has it. KeyError lists the nodes otherwise."""
        nodes = self.manifest["nodes"]
        for node in nodes:
            if node["native_name"] == name:
                return node
        by_qualname = [n for n in nodes if n.get("qualname") == name]
        if len(by_qualname) == 1:
            return by_qualname[0]
        listing = ", ".join(f"{n['native_name']} ({n.get('qualname')})" for n in nodes) or "none"
        if by_qualname:
            raise KeyError(
                f"{len(by_qualname)} nodes of {self.library_path.name} are named {name!r}; "
                f"pass the native_name of one: {', '.join(n['native_name'] for n in by_qualname)}"
            )
        hint = did_you_mean(name, [n["native_name"] for n in nodes] + [n.get("qualname", "") for n in nodes])
        raise KeyError(f"{self.library_path.name} has no node {name!r}{hint} (nodes: {listing})")

    def address(self, native_name: str) -> int:
        address = _function_address(self.lib, native_name)
        if not address:
            raise KeyError(f"{self.library_path} does not export {native_name!r} although its manifest lists it")
        return address


def open_library(path: str | os.PathLike[str]) -> AotLibrary:
    """Validate the manifest next to ``path`` (``lib<name>.so`` or ``<name>.json``) and load the
    library.

    The runtime the manifest names (``libnumba_rt.so`` beside the library) is loaded first, by its
    absolute path, so the library's dependency on it resolves to that very copy. If the process
    already has a runtime in its global symbol scope (a process that compiled nodes has the
    package's copy there), the library's ``ncc_*`` calls bind to that copy instead: both copies'
    error records are then read after each call. The library is loaded with ``RTLD_NOW`` so that
    binding is fixed at load time."""
    from ..aot import load_manifest  # stdlib only: validates the format and the toolchain

    given = Path(path).resolve()
    manifest_path = _manifest_path(given)
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"no manifest {manifest_path.name} next to {given}: NodeRunner.from_library needs the "
            "<name>.json that build_library writes beside lib<name>.so"
        )
    manifest = load_manifest(manifest_path)
    library_path = given if given.suffix != ".json" else manifest_path.with_name(manifest["library"])
    runtime_name = manifest.get("runtime")
    runtimes: list[numba_rt.Runtime] = []
    if runtime_name:
        runtime_path = manifest_path.with_name(runtime_name)
        if not runtime_path.is_file():
            raise FileNotFoundError(f"{library_path.name} needs {runtime_name}, not found next to it in {runtime_path.parent}")
        runtimes.append(numba_rt.Runtime(str(runtime_path)))
    try:
        lib = ctypes.CDLL(str(library_path), mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as exc:
        raise OSError(f"cannot load the node library {library_path}: {exc}") from None
    if not runtimes:  # the runtime is linked into the library itself
        runtimes.append(numba_rt.Runtime(str(library_path)))
    global_copy = _global_runtime(_function_address(runtimes[0].lib, "ncc_error_code"))
    if global_copy is not None:
        runtimes.insert(0, global_copy)
    return AotLibrary(manifest_path, library_path, manifest, lib, tuple(runtimes))
