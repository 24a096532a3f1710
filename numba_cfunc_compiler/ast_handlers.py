"""``@ast_handler``: extension hooks around the converter's ``visit_*`` methods.

Pre-handlers ``(converter, node)`` run before the default logic, lowest priority first; the first
one returning non-None wins and its node is used as is (a handler that wants its children converted
calls ``converter.visit(child)`` itself). Post-handlers ``(converter, original_node, result)`` run
after the default logic, each receiving the previous result. Either may return a `HandlerResult` to
insert statements before the statement being converted.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from .compilation_context import CompilationContext, OrderedRegistry
from .utils.introspection import check_arity

__all__ = ["ast_handler", "HandlerResult", "ASTHandlerRegistry", "SUPPORTED_NODE_TYPES", "with_handlers"]

SUPPORTED_NODE_TYPES = frozenset(
    {"Call", "Expr", "Return", "Assign", "AugAssign", "Subscript", "Attribute", "Compare", "For", "Name", "Delete",
     "BinOp", "UnaryOp"}
)


@dataclass
class HandlerResult:
    """A replacement node plus statements to run before the enclosing statement."""

    node: Any
    side_effects: list[ast.stmt] = field(default_factory=list)


class ASTHandlerRegistry:
    """Registry facade over ``CompilationContext.current().ast_handlers``."""

    @staticmethod
    def register(node_type: str, fn: Callable, *, post: bool = False, priority: int = 0) -> Callable:
        if node_type not in SUPPORTED_NODE_TYPES:
            raise ValueError(
                f"@ast_handler({node_type!r}): unsupported node type; supported: {', '.join(sorted(SUPPORTED_NODE_TYPES))}"
            )
        if post:
            check_arity(fn, 3, "post-handler", "(converter, original_node, result)")
        else:
            check_arity(fn, 2, "pre-handler", "(converter, node)")
        key = (node_type, "post" if post else "pre")
        registry = CompilationContext.current().ast_handlers.setdefault(key, OrderedRegistry())
        registry.add(fn, priority)
        return fn

    @staticmethod
    def unregister(node_type: str, fn: Callable, *, post: bool = False) -> None:
        CompilationContext.current().ast_handlers[(node_type, "post" if post else "pre")].remove(fn)

    @staticmethod
    def handlers(ctx: CompilationContext, node_type: str, phase: str) -> list[Callable]:
        registry = ctx.ast_handlers.get((node_type, phase))
        return list(registry) if registry else []


def ast_handler(node_type: str, pre: bool = False, post: bool = False, priority: int = 0) -> Callable[[Callable], Callable]:
    """Register the decorated function as a pre- (default) or post-handler in the active context."""
    if pre and post:
        raise ValueError("@ast_handler: choose pre=True or post=True, not both")

    def decorator(fn: Callable) -> Callable:
        return ASTHandlerRegistry.register(node_type, fn, post=post, priority=priority)

    return decorator


def with_handlers(node_type: str) -> Callable[[Callable], Callable]:
    """Wrap a converter ``visit_<node_type>`` method with the registered pre/post handlers.

    The converter supplies ``_handlers(node_type, phase)`` and ``_accept(result, original)``.
    """

    def decorator(method: Callable) -> Callable:
        @functools.wraps(method)
        def visit(self: Any, node: ast.AST) -> Any:
            for handler in self._handlers(node_type, "pre"):
                result = handler(self, node)
                if result is not None:
                    return self._accept(result, node)
            result = method(self, node)
            for handler in self._handlers(node_type, "post"):
                result = self._accept(handler(self, node, result), node)
            return result

        return visit

    return decorator
