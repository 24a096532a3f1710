"""The native ABI of compiled nodes and of libnumba_rt, defined once on the Python side.

Everything a consumer needs to agree with ``cpp/ncc_runtime.h`` / ``cpp/ncc_containers.h`` is
plain data here: lifecycle phases, fault codes, cell types, container layouts, buffer sizes and
the runtime's C function signatures. The ctypes bindings (``numba_rt``), the code generator
(Numba declarations, LLVM IR declarations) and the host driver derive from this module instead of
keeping copies; ``tests/test_abi.py`` compiles the header and proves it agrees with this module.

Standard library only: ``numba_rt`` does not depend on Numba, llvmlite or
``numba_cfunc_compiler``.
"""

from __future__ import annotations

import ctypes
import enum
import types
from typing import Any, NamedTuple

__all__ = [
    "C_CONSTANTS",
    "CELL_TYPES",
    "CONTAINER_READONLY",
    "DICT_FIELD_TYPES",
    "DICT_LAYOUT",
    "DICT_SIZE",
    "ENTRY_UNKNOWN_SYMBOL",
    "ERROR_SET_SYMBOL",
    "FUNCTIONS",
    "HASH_MULTIPLIER",
    "HOST_NODE_PARAMS",
    "LIST_FIELD_TYPES",
    "LIST_LAYOUT",
    "LIST_SIZE",
    "NCC_ERROR_ENTRY_MAX",
    "NCC_ERROR_MESSAGE_MAX",
    "NODE_PARAMS",
    "SLOT_DELETED",
    "SLOT_EMPTY",
    "STRUCTS",
    "TYPES",
    "CFunction",
    "CType",
    "CellType",
    "ErrorCode",
    "Kind",
    "Param",
    "Phase",
    "cell_ctype",
    "function",
    "hash_int",
    "llvm_declaration",
    "to_ctypes",
]


# -- type vocabulary ---------------------------------------------------------------------------


class CType(NamedTuple):
    """One word of the type vocabulary used by the tables below."""

    name: str  # the vocabulary word: "int64", "ptr", ...
    c: str  # C spelling (canonical; "ptr" stands for any object pointer such as ncc_list*)
    llvm: str  # LLVM IR type (opaque pointers)
    size: int  # bytes (0 for void)


#: The vocabulary. "str" is a NUL-terminated UTF-8 ``const char*``; "ptr" any other object pointer
#: (``void*``, ``ncc_list*``, ``ncc_dict*``). ``void**`` and ``int8*`` appear in node signatures.
TYPES: types.MappingProxyType[str, CType] = types.MappingProxyType({
    t.name: t
    for t in (
        CType("void", "void", "void", 0),
        CType("int8", "int8_t", "i8", 1),
        CType("int32", "int32_t", "i32", 4),
        CType("int64", "int64_t", "i64", 8),
        CType("double", "double", "double", 8),
        CType("ptr", "void*", "ptr", 8),
        CType("str", "const char*", "ptr", 8),
        CType("int64*", "int64_t*", "ptr", 8),
        CType("int8*", "int8_t*", "ptr", 8),
        CType("void**", "void**", "ptr", 8),
    )
})  # fmt: skip

_CTYPES: dict[str, Any] = {
    "void": None,
    "int8": ctypes.c_int8,
    "int32": ctypes.c_int32,
    "int64": ctypes.c_int64,
    "double": ctypes.c_double,
    "ptr": ctypes.c_void_p,  # travels as an int address
    "str": ctypes.c_char_p,
    "int64*": ctypes.POINTER(ctypes.c_int64),
    "int8*": ctypes.POINTER(ctypes.c_int8),
    "void**": ctypes.POINTER(ctypes.c_void_p),
}


def to_ctypes(type_name: str) -> Any:
    """The ctypes type of a vocabulary word (None for "void", as ctypes' ``restype`` wants)."""
    try:
        return _CTYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown ABI type {type_name!r} (known: {', '.join(TYPES)})") from None


# -- lifecycle and node signature --------------------------------------------------------------


class Phase(enum.IntEnum):
    """``lifecycle_phase`` values: ``enum { NCC_EXECUTE, NCC_START, NCC_STOP }`` in ncc_runtime.h."""

    EXECUTE = 0
    START = 1
    STOP = 2


class Param(NamedTuple):
    name: str
    type: str  # a TYPES word


#: The parameters every compiled node starts with (``ncc_node_fn``). Source categories append theirs.
NODE_PARAMS: tuple[Param, ...] = (
    Param("outputs", "void**"),
    Param("output_ticked", "int8*"),
    Param("state", "void**"),
    Param("lifecycle_phase", "int8"),
)
#: A node of the reference host (``ncc_host_node_fn``): the prefix plus its input parameters.
HOST_NODE_PARAMS: tuple[Param, ...] = NODE_PARAMS + (
    Param("inputs", "void**"),
    Param("input_ticked", "int8*"),
    Param("input_valid", "int8*"),
)


# -- cells -------------------------------------------------------------------------------------


class CellType(NamedTuple):
    name: str  # as written in node artifacts
    size: int | None  # bytes; None for "bytes" (the slot's own size, e.g. struct state)
    ctype: Any  # ctypes type of the cell's value; None for "bytes"


#: Cell types of node artifacts. Value cells are 8 bytes; a bool is an int8 in the low byte, and
#: int16 / int32 cells (enums of a registered width) use the low 2 / 4 bytes.
CELL_TYPES: types.MappingProxyType[str, CellType] = types.MappingProxyType({
    c.name: c
    for c in (
        CellType("int64", 8, ctypes.c_int64),
        CellType("float64", 8, ctypes.c_double),
        CellType("int8", 8, ctypes.c_int8),
        CellType("int16", 8, ctypes.c_int16),
        CellType("int32", 8, ctypes.c_int32),
        CellType("ptr", 8, ctypes.c_void_p),
        CellType("bytes", None, None),
    )
})  # fmt: skip


def cell_ctype(name: str) -> Any:
    """The ctypes type to read or write a cell of type ``name`` (ValueError for "bytes")."""
    cell = CELL_TYPES.get(name)
    if cell is None:
        raise ValueError(f"unknown cell type {name!r} (known: {', '.join(CELL_TYPES)})")
    if cell.ctype is None:
        raise ValueError(f"a {name!r} cell has no fixed ctypes type; it is raw memory of its slot's size")
    return cell.ctype


# -- error record ------------------------------------------------------------------------------


class ErrorCode(enum.IntEnum):
    """``enum ncc_error_code`` in ncc_runtime.h (``NCC_OK``, ``NCC_ERR_<name>``)."""

    OK = 0
    KEY = 1  # missing dict key
    INDEX = 2  # index out of range
    EMPTY = 3  # pop/peek on an empty container
    EXCEPTION = 4  # an exception raised by user code
    STATE = 5  # lifecycle misuse
    ALLOC = 6  # allocation failure
    DIVISION_BY_ZERO = 7  # /, // or % (or divmod) by zero, 0.0 ** negative
    INVALID_CONVERSION = 8  # float -> int of NaN, +-inf or a value outside int64
    NEGATIVE_POWER = 9  # int ** negative int
    OVERFLOW = 10  # datetime/timedelta result outside int64 ns; float ** that overflows


NCC_ERROR_MESSAGE_MAX = 256  # message buffer, including the NUL
NCC_ERROR_ENTRY_MAX = 128  # entry-point name buffer, including the NUL

#: The function compiled code calls to record a fault.
ERROR_SET_SYMBOL = "ncc_error_set"
#: Exported ``const char[]`` ("") that compiled code names as its entry point in faults.
ENTRY_UNKNOWN_SYMBOL = "ncc_entry_unknown"


# -- containers --------------------------------------------------------------------------------


class Kind(enum.IntEnum):
    """``enum ncc_kind`` in ncc_containers.h: the kind of a container's elements."""

    INT = 1  # int64
    FLOAT = 2  # double, stored as its 8 bytes
    BOOL = 3  # int64 0 / 1


# Layouts of the runtime's containers: field -> byte offset. Fixed ABI that compiled code reads and
# writes directly; the C side checks it with _Static_assert.
LIST_LAYOUT = types.MappingProxyType(
    {"len": 0, "capacity": 8, "data": 16, "kind": 24, "flags": 28}
)
LIST_FIELD_TYPES = types.MappingProxyType(
    {"len": "int64", "capacity": "int64", "data": "int64*", "kind": "int32", "flags": "int32"}
)
LIST_SIZE = 32
DICT_LAYOUT = types.MappingProxyType(
    {
        "len": 0,
        "used": 8,
        "capacity": 16,
        "mask": 24,
        "index": 32,
        "keys": 40,
        "values": 48,
        "live": 56,
        "value_kind": 64,
        "flags": 68,
    }
)
DICT_FIELD_TYPES = types.MappingProxyType(
    {
        "len": "int64",
        "used": "int64",
        "capacity": "int64",
        "mask": "int64",
        "index": "int64*",
        "keys": "int64*",
        "values": "int64*",
        "live": "int64*",
        "value_kind": "int32",
        "flags": "int32",
    }
)
DICT_SIZE = 72
#: C struct name -> (field offsets, field types, sizeof).
STRUCTS = types.MappingProxyType({
    "ncc_list": (LIST_LAYOUT, LIST_FIELD_TYPES, LIST_SIZE),
    "ncc_dict": (DICT_LAYOUT, DICT_FIELD_TYPES, DICT_SIZE),
})  # fmt: skip
CONTAINER_READONLY = 1  # NCC_CONTAINER_READONLY, a bit of the flags field
SLOT_EMPTY = -1  # NCC_SLOT_EMPTY
SLOT_DELETED = -2  # NCC_SLOT_DELETED

#: ncc_hash_int: h = (k ^ (k >> 32)) * HASH_MULTIPLIER; h ^ (h >> 32)  (uint64 arithmetic).
HASH_MULTIPLIER = 0x9E3779B97F4A7C15
_U64 = (1 << 64) - 1


def hash_int(key: int) -> int:
    """Reference of ``ncc_hash_int`` (uint64); a dict probe starts at ``hash_int(key) & mask``."""
    x = key & _U64
    h = ((x ^ (x >> 32)) * HASH_MULTIPLIER) & _U64
    return h ^ (h >> 32)


#: Every integer constant of the headers, by its C name.
C_CONSTANTS: types.MappingProxyType[str, int] = types.MappingProxyType({
    **{f"NCC_{p.name}": int(p) for p in Phase},
    **{("NCC_OK" if e is ErrorCode.OK else f"NCC_ERR_{e.name}"): int(e) for e in ErrorCode},
    **{f"NCC_KIND_{k.name}": int(k) for k in Kind},
    "NCC_ERROR_MESSAGE_MAX": NCC_ERROR_MESSAGE_MAX,
    "NCC_ERROR_ENTRY_MAX": NCC_ERROR_ENTRY_MAX,
    "NCC_CONTAINER_READONLY": CONTAINER_READONLY,
    "NCC_SLOT_EMPTY": SLOT_EMPTY,
    "NCC_SLOT_DELETED": SLOT_DELETED,
})  # fmt: skip


# -- the runtime's C functions -----------------------------------------------------------------


class CFunction(NamedTuple):
    """One exported function of libnumba_rt (an ``NCC_API`` prototype), in TYPES words."""

    name: str
    restype: str
    argtypes: tuple[str, ...]


def _f(name: str, restype: str, *argtypes: str) -> CFunction:
    return CFunction(name, restype, argtypes)


FUNCTIONS: tuple[CFunction, ...] = (
    # error record (ncc_runtime.h)
    _f("ncc_error_set", "void", "int32", "str", "str"),
    _f("ncc_error_code", "int32"),
    _f("ncc_error_message", "str"),
    _f("ncc_error_entry", "str"),
    _f("ncc_error_clear", "void"),
    _f("ncc_runtime_version", "str"),
    # list (ncc_containers.h)
    _f("ncc_list_new", "ptr", "int32", "int64"),
    _f("ncc_list_free", "void", "ptr"),
    _f("ncc_list_reserve", "int32", "ptr", "int64"),
    _f("ncc_list_grow", "int32", "ptr"),
    _f("ncc_list_len", "int64", "ptr"),
    _f("ncc_list_get", "int32", "ptr", "int64", "int64*"),
    _f("ncc_list_append", "int32", "ptr", "int64"),
    _f("ncc_list_clear", "void", "ptr"),
    # dict
    _f("ncc_dict_new", "ptr", "int32", "int64"),
    _f("ncc_dict_free", "void", "ptr"),
    _f("ncc_dict_grow", "int32", "ptr"),
    _f("ncc_dict_len", "int64", "ptr"),
    _f("ncc_dict_get", "int32", "ptr", "int64", "int64*"),
    _f("ncc_dict_set", "int32", "ptr", "int64", "int64"),
    _f("ncc_dict_del", "int32", "ptr", "int64"),
    _f("ncc_dict_clear", "void", "ptr"),
    _f("ncc_dict_next", "int32", "ptr", "int64*", "int64*", "int64*"),
    # faults (cold paths of compiled code)
    _f("ncc_fault_index", "void", "int64", "int64", "str"),
    _f("ncc_fault_index_of", "void", "str", "int64", "int64", "str"),
    _f("ncc_fault_key", "void", "int64", "str"),
    _f("ncc_fault_empty", "void", "str", "str"),
    _f("ncc_fault_state", "void", "str"),
    _f("ncc_fault_readonly", "void", "str"),
    _f("ncc_live_containers", "int64"),
)

_BY_NAME = {f.name: f for f in FUNCTIONS}


def function(name: str) -> CFunction:
    """The table entry of the runtime function ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a function of libnumba_rt") from None


def llvm_declaration(name: str) -> str:
    """LLVM IR declaration of the runtime function ``name``, e.g.
    ``declare void @ncc_error_set(i32, ptr, ptr)``."""
    fn = function(name)
    args = ", ".join(TYPES[t].llvm for t in fn.argtypes)
    return f"declare {TYPES[fn.restype].llvm} @{fn.name}({args})"
