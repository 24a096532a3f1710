"""Built-in enums: members of Python ``Enum``/``IntEnum`` classes with integer values are integer
constants in compiled code; enum-typed state, inputs and outputs hold the member's value."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import Any

from ..ast_handlers import ast_handler
from ..models import VariableType
from ..numba_type_inference import NumbaTypeInference
from ..variable_factory import VariableFactory

__all__ = ["EnumType", "register_enum_handlers"]


def is_int_enum(var_type: Any) -> bool:
    return (
        isinstance(var_type, type)
        and issubclass(var_type, enum.Enum)
        and len(var_type) > 0
        and all(isinstance(m.value, int) and not isinstance(m.value, bool) for m in var_type)
    )


@dataclass(frozen=True)
class EnumType(VariableType):
    """An ``Enum``/``IntEnum`` class whose members have int values, stored as int64."""

    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return is_int_enum(var_type)

    def coerce_constant(self, value: Any) -> int:
        members = self.python_type
        if value is None:
            return int(next(iter(members)).value)
        if isinstance(value, members):
            return int(value.value)
        if isinstance(value, int) and not isinstance(value, bool) and value in {m.value for m in members}:
            return int(value)
        raise TypeError(f"expected a member of {members.__name__}, got {value!r}")

    def constant_ast(self, value: Any) -> ast.expr:
        return ast.Constant(self.coerce_constant(value))

    def host_decode(self, raw: Any) -> enum.Enum:
        return self.python_type(int(raw))


def lower_enum_member(node: ast.Attribute, globalns: dict[str, Any], variable_factory: VariableFactory) -> ast.expr | None:
    """``Side.BUY`` (``Side`` a module-level or call_globals enum class) -> its integer value."""
    base = node.value
    if isinstance(base, ast.Name):
        if base.id in variable_factory:
            return None
        owner = globalns.get(base.id)
    elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        owner = getattr(globalns.get(base.value.id), base.attr, None)
    else:
        return None
    if is_int_enum(owner) and node.attr in owner.__members__:
        return ast.Constant(int(owner[node.attr].value))
    return None


def register_enum_handlers() -> None:
    NumbaTypeInference.register_attr_lowerer(lower_enum_member)

    @ast_handler("Name", pre=True)
    def module_member(converter: Any, node: ast.Name) -> ast.expr | None:
        if isinstance(node.ctx, ast.Load):
            value = converter.resolve_global(node)
            if isinstance(value, enum.Enum) and is_int_enum(type(value)):
                return ast.Constant(int(value.value))
        return None
