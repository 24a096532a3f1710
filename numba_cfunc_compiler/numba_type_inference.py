"""Type inference for attribute and method chains (``a.method().field``) during conversion.

Extensions register three kinds of hooks in the active context:
  attribute accessors ``(inference, base_var, attr_name, args) -> VariableSource | None``
  call handlers       ``(inference, base_var, method_name, args) -> VariableSource | None``
  attribute lowerers  ``(node, globalns, variable_factory) -> ast.expr | None``
"""

from __future__ import annotations

import ast
from typing import Any, Callable

from .compilation_context import CompilationContext
from .utils.introspection import check_arity
from .variable_factory import VariableFactory, VariableSource

__all__ = ["NumbaTypeInference"]


class NumbaTypeInference:
    """Resolves expressions to typed `VariableSource`s through the registered hooks."""

    def __init__(self, variable_factory: VariableFactory, converter: Any = None) -> None:
        self.variable_factory = variable_factory
        self.converter = converter
        ctx = CompilationContext.current()
        self._accessors = list(ctx.attr_accessors)
        self._call_handlers = list(ctx.call_handlers)
        self._lowerers = list(ctx.attr_lowerers)

    # -- registration -------------------------------------------------------------------------
    @staticmethod
    def register_attr_accessor(fn: Callable, priority: int = 0) -> Callable:
        check_arity(fn, 4, "attribute accessor", "(inference, base_var, attr_name, args)")
        return CompilationContext.current().attr_accessors.add(fn, priority)

    @staticmethod
    def register_call_handler(fn: Callable, priority: int = 0) -> Callable:
        check_arity(fn, 4, "call handler", "(inference, base_var, method_name, args)")
        return CompilationContext.current().call_handlers.add(fn, priority)

    @staticmethod
    def register_attr_lowerer(fn: Callable, priority: int = 0) -> Callable:
        check_arity(fn, 3, "attribute lowerer", "(node, globalns, variable_factory)")
        return CompilationContext.current().attr_lowerers.add(fn, priority)

    # -- resolution ---------------------------------------------------------------------------
    def infer(self, node: ast.expr) -> VariableSource | None:
        """The typed source ``node`` denotes, or None when no hook knows it."""
        if isinstance(node, ast.Name):  # a managed variable, or an alias of one (``q = quote``)
            if self.converter is not None and hasattr(self.converter, "variable"):
                return self.converter.variable(node.id)
            return self.variable_factory.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.infer(node.value)
            return self.resolve_attribute(base, node.attr) if base is not None else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            base = self.infer(node.func.value)
            if base is None:
                return None
            args = [self._convert(a) for a in node.args]
            return self.resolve_call(base, node.func.attr, args)
        return None

    def resolve_attribute(self, base: VariableSource, attr: str, args: list[ast.expr] | None = None) -> VariableSource | None:
        for accessor in self._accessors:
            result = accessor(self, base, attr, args)
            if result is not None:
                return result
        return None

    def resolve_call(self, base: VariableSource, method: str, args: list[ast.expr]) -> VariableSource | None:
        for handler in self._call_handlers:
            result = handler(self, base, method, args)
            if result is not None:
                return result
        return None

    def lower_attribute(self, node: ast.Attribute, globalns: dict[str, Any]) -> ast.expr | None:
        for lowerer in self._lowerers:
            result = lowerer(node, globalns, self.variable_factory)
            if result is not None:
                return result
        return None

    def _convert(self, node: ast.expr) -> ast.expr:
        return self.converter.visit(node) if self.converter is not None else node
