"""`TypeFactory`: maps Python types to registered `VariableType`s in the active context."""

from __future__ import annotations

import inspect
from typing import Any, Iterator

from .compilation_context import CompilationContext
from .models import VariableType
from .utils.introspection import LazyOrigin, check_arity
from .utils.type_names import is_numba_type_name

__all__ = ["TypeFactory", "CLASS_HOOKS", "INSTANCE_HOOKS"]

#: Hooks called on the class (they must be classmethods or staticmethods): name -> argument shape.
CLASS_HOOKS: dict[str, str] = {
    "is_type_supported": "(var_type)",
    "from_type": "(var_type, value)",
    "try_parse_input": "(param, ann)",
    "try_parse_state": "(node, var_name, globalns)",
    "try_lower_assignment": "(node, rhs, call_globals)",
}
#: Hooks called on an instance: name -> argument shape (without ``self``).
INSTANCE_HOOKS: dict[str, str] = {
    "get_numba_type_name": "()",
    "coerce_constant": "(value)",
    "constant_ast": "(value)",
    "from_cell": "(cell)",
    "to_cell": "(value)",
    "memory_view": "(pointer, readonly)",
    "store_statements": "(factory, pointer, value)",
    "state_initial_value": "(value)",
    "start_statements": "(source, initial_value)",
    "stop_statements": "(source)",
    "host_encode": "(value)",
    "host_decode": "(raw)",
    "describe": "()",
    "cell_type": "()",
    "value_slot": "(name)",
    "state_slot": "(name, initial_value)",
}


def _arity(shape: str) -> int:
    inner = shape.strip("()")
    return len(inner.split(",")) if inner else 0


def _check_type_class(type_cls: type[VariableType]) -> None:
    """Registration-time checks of a `VariableType` subclass (errors name it and its file):

    - every hook in `CLASS_HOOKS` it has is a classmethod/staticmethod taking those arguments;
    - every hook in `INSTANCE_HOOKS` it defines as a method takes those arguments;
    - ``get_numba_type_name()`` is implemented and, when the class can be instantiated with no
      arguments and the method answers on that instance (its name does not depend on the value),
      it names a type of ``numba.core.types`` (what the generated code casts cells to). A name
      that depends on the instance is checked when the type is first used.
    """
    where = LazyOrigin(type_cls)  # formatted only when a check fails
    if type_cls.get_numba_type_name is VariableType.get_numba_type_name:
        raise TypeError(f"{where} must implement get_numba_type_name()")
    for name, shape in CLASS_HOOKS.items():
        static = inspect.getattr_static(type_cls, name, None)
        if static is None:
            continue
        if inspect.isfunction(static):
            raise TypeError(f"{where}: {name}{shape} is called on the class; decorate it with @classmethod")
        check_arity(getattr(type_cls, name), _arity(shape), "VariableType hook", shape)
    for name, shape in INSTANCE_HOOKS.items():
        static = inspect.getattr_static(type_cls, name, None)
        if inspect.isfunction(static):
            with_self = "(self" + (", " + shape[1:] if _arity(shape) else ")")
            check_arity(static, _arity(shape) + 1, "VariableType method", with_self)
        elif isinstance(static, (classmethod, staticmethod)):
            check_arity(getattr(type_cls, name), _arity(shape), "VariableType method", shape)
    try:
        probe = type_cls()
        numba_name = probe.get_numba_type_name()
    except Exception:  # noqa: BLE001 - the name depends on the instance: checked on first use
        return
    if not isinstance(numba_name, str):
        raise TypeError(f"{where}: get_numba_type_name() must return a str, got {numba_name!r}")
    if not is_numba_type_name(numba_name):
        raise ValueError(
            f"{where}: get_numba_type_name() returns {numba_name!r}, which is not a Numba type "
            "(a name in numba.core.types such as int64, float64, int8 or voidptr)"
        )


class TypeFactory:
    """Registry facade over ``CompilationContext.current().types``; first match wins."""

    @staticmethod
    def register(type_cls: type[VariableType], priority: int = 0) -> type[VariableType]:
        """Register a `VariableType` subclass; lower priority is tried first. Its hooks and the
        Numba type it names are checked now (`_check_type_class`), not at first compile."""
        if not (isinstance(type_cls, type) and issubclass(type_cls, VariableType)):
            raise TypeError(f"TypeFactory.register expects a VariableType subclass, got {type_cls!r}")
        _check_type_class(type_cls)
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
