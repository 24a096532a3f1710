"""Built-in ``datetime`` and ``timedelta``: int64 nanoseconds in cells (UTC for datetimes), Numba's
datetime64[ns] / timedelta64[ns] in code, so arithmetic and comparisons are typed by Numba:
datetime +/- timedelta, datetime - datetime, timedelta with ints and floats, ``total_seconds()``.

``datetime(...)`` / ``timedelta(...)`` calls with constant arguments, and module-level datetime or
timedelta values, are evaluated at compile time and baked in; a naive datetime is an error.
"""

from __future__ import annotations

import ast
import datetime as _dt
from dataclasses import dataclass
from typing import Any, ClassVar

from ..ast_handlers import ast_handler
from ..helpers import helper_call, register_helper
from ..models import VariableType
from ..utils.intrinsics import as_datetime, as_timedelta, datetime_bits, timedelta_bits, total_seconds

__all__ = ["DateTimeType", "TimeDeltaType", "to_nanoseconds", "register_datetime_handlers"]

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_NAIVE_HINT = "give it a time zone, e.g. datetime(2024, 1, 2, tzinfo=timezone.utc)"


def to_nanoseconds(value: _dt.datetime | _dt.timedelta) -> int:
    """Exact nanoseconds since the epoch (datetime, which must be tz-aware) or in a timedelta."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(f"naive datetime {value!r}: {_NAIVE_HINT}")
        value = value - EPOCH
    return _in_range((value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1_000)


def _in_range(nanoseconds: int) -> int:
    """Nanoseconds that fit a cell (years 1677 to 2262 for datetimes)."""
    if not -(2**63) < nanoseconds < 2**63:
        raise ValueError(f"{nanoseconds} ns is outside the int64 nanosecond range (years 1677 to 2262)")
    return nanoseconds




@dataclass(frozen=True)
class _NanosecondsType(VariableType):
    """What datetime and timedelta share: int64 nanoseconds in a cell, a Numba datetime64[ns] /
    timedelta64[ns] in code. Subclasses name the Python class, the two conversions and the origin
    that nanoseconds count from."""

    python_class: ClassVar[type]
    origin: ClassVar[Any]
    to_value: ClassVar[Any]
    to_bits: ClassVar[Any]

    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is cls.python_class

    def coerce_constant(self, value: Any) -> int:
        if value is None:
            return 0
        if isinstance(value, self.python_class):
            return to_nanoseconds(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return _in_range(value)
        raise TypeError(f"expected a {self.python_class.__name__}, got {value!r}")

    def constant_ast(self, value: Any) -> ast.expr:
        return helper_call(type(self).to_value, ast.Constant(self.coerce_constant(value)))

    def from_cell(self, cell: ast.expr) -> ast.expr:
        return helper_call(type(self).to_value, cell)

    def to_cell(self, value: ast.expr) -> ast.expr:
        return helper_call(type(self).to_bits, value)

    def host_decode(self, raw: Any) -> Any:
        return self.origin + _dt.timedelta(microseconds=int(raw) // 1_000)


@dataclass(frozen=True)
class DateTimeType(_NanosecondsType):
    """A tz-aware ``datetime.datetime`` as int64 nanoseconds since the Unix epoch (UTC)."""

    python_class = _dt.datetime
    origin = EPOCH
    to_value = as_datetime
    to_bits = datetime_bits


@dataclass(frozen=True)
class TimeDeltaType(_NanosecondsType):
    """A ``datetime.timedelta`` as int64 nanoseconds."""

    python_class = _dt.timedelta
    origin = _dt.timedelta(0)
    to_value = as_timedelta
    to_bits = timedelta_bits


def _constant(converter: Any, value: Any, node: ast.AST) -> ast.expr:
    kind = DateTimeType(_dt.datetime) if isinstance(value, _dt.datetime) else TimeDeltaType(_dt.timedelta)
    try:
        return kind.constant_ast(value)
    except ValueError as exc:
        naive = str(exc).startswith("naive")
        message = str(exc).split(":")[0] + " is not allowed in compiled code" if naive else str(exc)
        raise converter.error(message, node, _NAIVE_HINT if naive else None) from None


def register_datetime_handlers() -> None:
    for intrinsic in (as_datetime, as_timedelta, datetime_bits, timedelta_bits, total_seconds):
        register_helper(intrinsic.__name__, intrinsic)

    @ast_handler("Call", pre=True)
    def construct(converter: Any, node: ast.Call) -> ast.expr | None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "total_seconds" and not node.args and not node.keywords:
            return helper_call(total_seconds, converter.visit(func.value))
        cls = converter.resolve_global(func)
        if cls is not _dt.datetime and cls is not _dt.timedelta:
            return None
        for part in ast.walk(node):
            if isinstance(part, ast.Name) and converter.resolve_global(part) is None:
                raise converter.error(
                    f"{cls.__name__}(...) is evaluated at compile time; {part.id!r} is not a module-level constant",
                    part,
                    "use constants and module-level names as arguments",
                )
        try:
            value = eval(compile(ast.Expression(body=node), converter.info.filename, "eval"), dict(converter.globals))  # noqa: S307
        except Exception as exc:
            raise converter.error(f"cannot evaluate {ast.unparse(node)}: {exc}", node) from None
        return _constant(converter, value, node)

    @ast_handler("Name", pre=True)
    def module_constant(converter: Any, node: ast.Name) -> ast.expr | None:
        if not isinstance(node.ctx, ast.Load):
            return None
        value = converter.resolve_global(node)
        if isinstance(value, (_dt.datetime, _dt.timedelta)):
            return _constant(converter, value, node)
        return None
