"""Calling host C functions from compiled code.

A host declares a function once with `FFIFunction` (its C name, return and argument types as Numba
type names, and whether it is *pure*: it only reads memory and has no side effects) and puts the
object where node code can see it (module globals or ``call_globals``). A call ``fn(x)`` in a node
becomes a direct call to the C symbol (lowered by the built-in extension `defaults.ffi`);
declarations of pure functions carry ``readonly`` and ``nounwind`` in the final IR so LLVM can
common up and hoist repeated calls, and `post_compilation.link_ffi_bitcode` can later inline their
bodies.

This module is part of the bottom layer (`utils`): it imports nothing above it.

The symbol must exist in this process before compiling: `FFIFunction.make_available` registers an
address (for example of a ``ctypes`` function), or load the host's shared library with
``llvmlite.binding.load_library_permanently``.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm
from numba import types

from .type_names import parse_numba_type

__all__ = ["FFIFunction"]


@dataclass(frozen=True)
class FFIFunction:
    """A host C function callable from node code: ``FFIFunction("book_best_price", "float64",
    ("voidptr",), pure=True)``."""

    name: str
    restype: str
    argtypes: tuple[str, ...] = ()
    pure: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"{self.name!r} is not a C identifier")
        object.__setattr__(self, "argtypes", tuple(self.argtypes))
        _ = self.signature  # validate the type names now, not at first use

    @property
    def signature(self) -> Any:
        restype = types.void if self.restype == "void" else parse_numba_type(self.restype)
        return restype(*[parse_numba_type(a) for a in self.argtypes])

    @property
    def external(self) -> types.ExternalFunction:
        return types.ExternalFunction(self.name, self.signature)

    def is_available(self) -> bool:
        return bool(llvm.address_of_symbol(self.name))

    def make_available(self, target: Any) -> None:
        """Let JIT-compiled code call ``target``: an address, or a ctypes function object."""
        address = target if isinstance(target, int) else ctypes.cast(target, ctypes.c_void_p).value
        if not address:
            raise ValueError(f"no address for {self.name}")
        llvm.add_symbol(self.name, address)
