"""Built-in FFI support: a call to an `FFIFunction` in node code becomes a direct call to its C
symbol (see `utils.ffi` for declaring one)."""

from __future__ import annotations

import ast
from typing import Any

from ..ast_handlers import ast_handler
from ..utils.ffi import FFIFunction

__all__ = ["register_ffi_handlers"]


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
