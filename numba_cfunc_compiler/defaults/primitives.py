"""Primitive types: ``int`` (int64), ``float`` (float64), ``bool`` (int8 cell)."""

from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass
from typing import Any

from ..models import VariableType

__all__ = ["IntType", "FloatType", "BoolType", "PRIMITIVE_TYPES"]


def _is_number(value: Any) -> bool:
    return hasattr(value, "__index__") or hasattr(value, "__float__")


@dataclass(frozen=True)
class IntType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is int

    def coerce_constant(self, value: Any) -> int:
        if value is None:
            return 0
        try:
            result = operator.index(value)
        except TypeError:
            raise TypeError(f"expected an int, got {value!r}") from None
        if not -(2**63) <= result < 2**63:
            raise ValueError(f"{result} does not fit in 64 bits")
        return int(result)

    def constant_ast(self, value: Any) -> ast.expr:
        return ast.Constant(int(value))


@dataclass(frozen=True)
class FloatType(VariableType):
    def get_numba_type_name(self) -> str:
        return "float64"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is float

    def coerce_constant(self, value: Any) -> float:
        if value is None:
            return 0.0
        if isinstance(value, (str, bytes)) or not _is_number(value):
            raise TypeError(f"expected a float, got {value!r}")
        return float(value)

    def constant_ast(self, value: Any) -> ast.expr:
        value = float(value)
        if math.isfinite(value):
            return ast.Constant(value)
        # inf/nan have no literal; float('inf') is folded by Numba
        return ast.Call(func=ast.Name(id="float", ctx=ast.Load()), args=[ast.Constant(repr(value))], keywords=[])


@dataclass(frozen=True)
class BoolType(VariableType):
    def get_numba_type_name(self) -> str:
        return "int8"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is bool

    def coerce_constant(self, value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, bool) or (hasattr(value, "__index__") and operator.index(value) in (0, 1)):
            return bool(value)
        raise TypeError(f"expected a bool, got {value!r}")

    def constant_ast(self, value: Any) -> ast.expr:
        return ast.Constant(bool(value))

    def from_cell(self, cell: ast.expr) -> ast.expr:
        return ast.Compare(left=cell, ops=[ast.NotEq()], comparators=[ast.Constant(0)])

    def state_initial_value(self, value: Any) -> int:
        return int(bool(value))


PRIMITIVE_TYPES = (IntType, FloatType, BoolType)
