"""`TypeFactory`: maps Python types to registered `VariableType`s in the active context."""

from __future__ import annotations

from typing import Any, Iterator

from .compilation_context import CompilationContext
from .models import VariableType

__all__ = ["TypeFactory"]


class TypeFactory:
    """Registry facade over ``CompilationContext.current().types``; first match wins."""

    @staticmethod
    def register(type_cls: type[VariableType], priority: int = 0) -> type[VariableType]:
        """Register a `VariableType` subclass; lower priority is tried first."""
        if not (isinstance(type_cls, type) and issubclass(type_cls, VariableType)):
            raise TypeError(f"TypeFactory.register expects a VariableType subclass, got {type_cls!r}")
        if type_cls.get_numba_type_name is VariableType.get_numba_type_name:
            raise TypeError(f"{type_cls.__name__} must implement get_numba_type_name()")
        return CompilationContext.current().types.add(type_cls, priority)

    @staticmethod
    def unregister(type_cls: type[VariableType]) -> None:
        CompilationContext.current().types.remove(type_cls)

    @staticmethod
    def registered() -> Iterator[type[VariableType]]:
        return iter(CompilationContext.current().types)

    @staticmethod
    def get_type(var_type: Any, value: Any = None) -> VariableType | None:
        """The first registered type that accepts ``var_type``, instantiated; None if none does."""
        for type_cls in CompilationContext.current().types:
            result = type_cls.from_type(var_type, value)
            if result is not None:
                return result
        return None

    @staticmethod
    def hooks(name: str) -> Iterator[Any]:
        """Bound class hooks called ``name`` (e.g. ``try_parse_state``), in registry order."""
        for type_cls in CompilationContext.current().types:
            hook = getattr(type_cls, name, None)
            if hook is not None:
                yield hook
