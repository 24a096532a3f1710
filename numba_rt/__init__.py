"""Locate and load libnumba_rt, the C runtime that compiled nodes call into.

The shared library and its public header (``include/ncc_runtime.h``) are built into this
directory by the package build (hatch-cpp and hatch_build.py). The ABI itself (phases, fault
codes, layouts, function signatures) is defined once in `numba_rt.abi`; this module re-exports it.
This module must not depend on ``numba_cfunc_compiler``.
"""

from __future__ import annotations

import ctypes
import functools
import operator
import struct
import sys
from pathlib import Path
from typing import Union

from . import abi
from .abi import (
    CONTAINER_READONLY,
    DICT_LAYOUT,
    DICT_SIZE,
    LIST_LAYOUT,
    LIST_SIZE,
    SLOT_DELETED,
    SLOT_EMPTY,
    ErrorCode,
    Kind,
    Phase,
    to_ctypes,
)

__all__ = [
    "CONTAINER_READONLY",
    "DICT_LAYOUT",
    "DICT_SIZE",
    "LIST_LAYOUT",
    "LIST_SIZE",
    "SLOT_DELETED",
    "SLOT_EMPTY",
    "ErrorCode",
    "Kind",
    "Phase",
    "Runtime",
    "abi",
    "decode",
    "encode",
    "include_dir",
    "library_path",
    "load",
]

_HERE = Path(__file__).resolve().parent

if sys.platform == "win32":
    _LIBRARY_NAME = "libnumba_rt.dll"
elif sys.platform == "darwin":
    _LIBRARY_NAME = "libnumba_rt.dylib"
else:
    _LIBRARY_NAME = "libnumba_rt.so"


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

Value = Union[int, float, bool]


def library_path() -> str:
    """Absolute path of the runtime shared library shipped next to this module."""
    path = _HERE / _LIBRARY_NAME
    if not path.is_file():
        raise RuntimeError(
            f"numba_rt runtime library not found: {path}. It is built when the package is "
            "installed; reinstall with `pip install .` (or `pip install -e .`)."
        )
    return str(path)


def include_dir() -> str:
    """Directory holding ncc_runtime.h, for compiling C code against the runtime."""
    return str(_HERE / "include")


# C signatures: name -> (argtypes, restype), derived from the ABI table. Pointers to ncc_list /
# ncc_dict travel as c_void_p (int).
_SIGNATURES = {
    fn.name: ([to_ctypes(t) for t in fn.argtypes], to_ctypes(fn.restype)) for fn in abi.FUNCTIONS
}


def _to_int64(value: int) -> int:
    value = operator.index(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError(f"{value} does not fit in int64")
    return value


def encode(kind: int, value: Value) -> int:
    """The 8-byte slot (as a signed int64) holding value in a container of kind."""
    if kind == Kind.INT:
        return _to_int64(value)
    if kind == Kind.FLOAT:
        return struct.unpack("<q", struct.pack("<d", float(value)))[0]
    if kind == Kind.BOOL:
        if value not in (0, 1):  # True/False, 0/1
            raise ValueError(f"{value!r} is not a bool")
        return 1 if value else 0
    raise ValueError(f"unknown container kind {kind}")


def decode(kind: int, bits: int) -> Value:
    """Inverse of encode()."""
    if kind == Kind.INT:
        return bits
    if kind == Kind.FLOAT:
        return struct.unpack("<d", struct.pack("<q", bits))[0]
    if kind == Kind.BOOL:
        return bits != 0
    raise ValueError(f"unknown container kind {kind}")


def _decode(raw: bytes | None) -> str:
    # Truncation in C can split a multi-byte UTF-8 character.
    return (raw or b"").decode("utf-8", errors="replace")


class Runtime:
    """ctypes view of the runtime. The error record is per thread: calls see the caller's."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lib = ctypes.CDLL(path)
        for name, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(self.lib, name)
            fn.argtypes = argtypes
            fn.restype = restype

    def error(self) -> tuple[int, str, str] | None:
        """The pending ``(code, message, entry)`` on this thread, or None."""
        code = self.lib.ncc_error_code()
        if code == ErrorCode.OK:
            return None
        return code, _decode(self.lib.ncc_error_message()), _decode(self.lib.ncc_error_entry())

    def clear_error(self) -> None:
        self.lib.ncc_error_clear()

    def set_error(self, code: int, message: str | None, entry: str | None) -> None:
        """Record an error; ignored if one is already pending (first fault wins)."""
        self.lib.ncc_error_set(
            int(code),
            None if message is None else message.encode("utf-8"),
            None if entry is None else entry.encode("utf-8"),
        )

    def version(self) -> str:
        return _decode(self.lib.ncc_runtime_version())

    # ---- containers (host side). ptr is the int address of an ncc_list / ncc_dict. ----

    @staticmethod
    def _field_i32(ptr: int, offset: int) -> int:
        return ctypes.c_int32.from_address(ptr + offset).value

    def _check_mutable(self, ptr: int | None, flags_offset: int, what: str) -> int:
        if not ptr:
            raise ValueError(f"NULL {what}")
        if self._field_i32(ptr, flags_offset) & CONTAINER_READONLY:
            raise ValueError(f"constant {what} cannot be modified")
        return ptr

    def _raise_failure(self, what: str) -> None:
        pending = self.error()  # left set, as for a C caller
        message = pending[1] if pending else f"{what} failed"
        if pending and pending[0] == ErrorCode.ALLOC:
            raise MemoryError(message)
        raise RuntimeError(message)

    def list_new(self, kind: int, capacity: int = 0) -> int:
        ptr = self.lib.ncc_list_new(int(Kind(kind)), capacity)
        if not ptr:
            self._raise_failure("ncc_list_new")
        return ptr

    def list_free(self, ptr: int | None) -> None:
        self.lib.ncc_list_free(ptr)

    def list_kind(self, ptr: int) -> Kind:
        return Kind(self._field_i32(ptr, LIST_LAYOUT["kind"]))

    def list_get(self, ptr: int | None, index: int) -> Value:
        bits = ctypes.c_int64()
        if self.lib.ncc_list_get(ptr, _to_int64(index), ctypes.byref(bits)) != 0:
            raise IndexError(f"list index {index} out of range")
        return decode(self.list_kind(ptr), bits.value)

    def list_items(self, ptr: int | None) -> list[Value]:
        """The elements, decoded by the list's kind (a NULL list reads as empty)."""
        if not ptr:
            return []
        kind, bits, get = self.list_kind(ptr), ctypes.c_int64(), self.lib.ncc_list_get
        out = []
        for i in range(self.lib.ncc_list_len(ptr)):
            get(ptr, i, ctypes.byref(bits))
            out.append(decode(kind, bits.value))
        return out

    def list_append(self, ptr: int, value: Value) -> None:
        self._check_mutable(ptr, LIST_LAYOUT["flags"], "list")
        if self.lib.ncc_list_append(ptr, encode(self.list_kind(ptr), value)) != 0:
            self._raise_failure("ncc_list_append")

    def list_clear(self, ptr: int) -> None:
        self.lib.ncc_list_clear(self._check_mutable(ptr, LIST_LAYOUT["flags"], "list"))

    def dict_new(self, value_kind: int, capacity: int = 0) -> int:
        ptr = self.lib.ncc_dict_new(int(Kind(value_kind)), capacity)
        if not ptr:
            self._raise_failure("ncc_dict_new")
        return ptr

    def dict_free(self, ptr: int | None) -> None:
        self.lib.ncc_dict_free(ptr)

    def dict_value_kind(self, ptr: int) -> Kind:
        return Kind(self._field_i32(ptr, DICT_LAYOUT["value_kind"]))

    def dict_get(self, ptr: int | None, key: int, default: Value | None = None) -> Value | None:
        bits = ctypes.c_int64()
        if self.lib.ncc_dict_get(ptr, _to_int64(key), ctypes.byref(bits)) != 0:
            return default
        return decode(self.dict_value_kind(ptr), bits.value)

    def dict_items(self, ptr: int | None) -> list[tuple[int, Value]]:
        """(key, value) pairs in insertion order (a NULL dict reads as empty)."""
        if not ptr:
            return []
        kind = self.dict_value_kind(ptr)
        pos, key, bits = ctypes.c_int64(0), ctypes.c_int64(), ctypes.c_int64()
        refs = (ctypes.byref(pos), ctypes.byref(key), ctypes.byref(bits))
        out = []
        while self.lib.ncc_dict_next(ptr, *refs):
            out.append((key.value, decode(kind, bits.value)))
        return out

    def dict_set(self, ptr: int, key: int, value: Value) -> None:
        self._check_mutable(ptr, DICT_LAYOUT["flags"], "dict")
        bits = encode(self.dict_value_kind(ptr), value)
        if self.lib.ncc_dict_set(ptr, _to_int64(key), bits) != 0:
            self._raise_failure("ncc_dict_set")

    def dict_del(self, ptr: int, key: int) -> bool:
        """Delete key; False if it was missing."""
        self._check_mutable(ptr, DICT_LAYOUT["flags"], "dict")
        return self.lib.ncc_dict_del(ptr, _to_int64(key)) == 0

    def dict_clear(self, ptr: int) -> None:
        self.lib.ncc_dict_clear(self._check_mutable(ptr, DICT_LAYOUT["flags"], "dict"))

    def live_containers(self) -> int:
        """Lists + dicts created and not yet freed in this process (leak accounting)."""
        return self.lib.ncc_live_containers()


@functools.lru_cache(maxsize=None)
def load() -> Runtime:
    """Load the runtime once per process and return its ctypes wrapper.

    The library is also loaded into LLVM's process-wide symbol table so JIT-compiled code
    resolves ``ncc_*`` symbols. Both loads use the same path, so the dynamic loader maps a
    single copy: JIT code and this wrapper share one thread-local error record.
    """
    from llvmlite import binding  # deferred: library_path()/include_dir() need no llvmlite

    path = library_path()
    binding.load_library_permanently(path)
    return Runtime(path)
