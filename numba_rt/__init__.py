"""Locate and load libnumba_rt, the C runtime that compiled nodes call into.

The shared library and its public header (``include/ncc_runtime.h``) are built into this
directory by the package build (hatch-cpp and hatch_build.py). This module must not depend on
``numba_cfunc_compiler``.
"""

from __future__ import annotations

import ctypes
import enum
import functools
import sys
from pathlib import Path

__all__ = ["ErrorCode", "Runtime", "include_dir", "library_path", "load"]

_HERE = Path(__file__).resolve().parent

if sys.platform == "win32":
    _LIBRARY_NAME = "libnumba_rt.dll"
elif sys.platform == "darwin":
    _LIBRARY_NAME = "libnumba_rt.dylib"
else:
    _LIBRARY_NAME = "libnumba_rt.so"


class ErrorCode(enum.IntEnum):
    """Mirror of ``enum ncc_error_code`` in ncc_runtime.h."""

    OK = 0
    KEY = 1
    INDEX = 2
    EMPTY = 3
    EXCEPTION = 4
    STATE = 5
    ALLOC = 6


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


# C signatures: name -> (argtypes, restype). Must match ncc_runtime.h.
_SIGNATURES = {
    "ncc_error_set": ([ctypes.c_int32, ctypes.c_char_p, ctypes.c_char_p], None),
    "ncc_error_code": ([], ctypes.c_int32),
    "ncc_error_message": ([], ctypes.c_char_p),
    "ncc_error_entry": ([], ctypes.c_char_p),
    "ncc_error_clear": ([], None),
    "ncc_runtime_version": ([], ctypes.c_char_p),
}


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
