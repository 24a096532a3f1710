"""Calling host C functions from compiled code.

A host declares a function once with `FFIFunction` (its C name, return and argument types as Numba
type names, and whether it is *pure*: it only reads memory and has no side effects) and puts the
object where node code can see it (module globals or ``call_globals``). A call ``fn(x)`` in a node
becomes a direct call to the C symbol; declarations of pure functions carry ``readonly`` and
``nounwind`` in the final IR so LLVM can common up and hoist repeated calls, and
`post_compilation.link_ffi_bitcode` can later inline their bodies.

The symbol must exist in this process before compiling: `FFIFunction.make_available` registers an
address (for example of a ``ctypes`` function), or load the host's shared library with
``llvmlite.binding.load_library_permanently``.
"""

from __future__ import annotations

import ast
import ctypes
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm
from numba import types

from ..ast_handlers import ast_handler
from ..source_registry import parse_numba_type

__all__ = ["FFIFunction", "register_ffi_handlers"]


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


def register_ffi_handlers() -> None:
    @ast_handler("Call", pre=True)
    def call_host_function(converter: Any, node: ast.Call) -> ast.expr | None:
        fn = converter.resolve_global(node.func)
        if not isinstance(fn, FFIFunction):
            return None
        if node.keywords:
            raise converter.error(f"{fn.name}() takes positional arguments only", node)
        if len(node.args) != len(fn.argtypes):
            raise converter.error(f"{fn.name}() takes {len(fn.argtypes)} argument(s), got {len(node.args)}", node)
        if not fn.is_available():
            raise converter.error(
                f"host function {fn.name!r} is not available in this process",
                node,
                f"call make_available(...) on its FFIFunction or load the library that defines {fn.name}",
            )
        if fn.pure:
            converter.info.pure_functions.add(fn.name)
        # purity changes the final IR, so it shows in the generated source (and the semantic key)
        callee = converter.factory.helper(f"ffi_{'pure_' if fn.pure else ''}{fn.name}", fn.external)
        args = [converter.factory.checked(converter.visit(a), t) for a, t in zip(node.args, fn.argtypes)]
        return ast.Call(func=callee, args=args, keywords=[])
