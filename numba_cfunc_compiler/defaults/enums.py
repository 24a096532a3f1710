"""Built-in enums: members of Python ``Enum``/``IntEnum`` classes with integer values are integer
constants in compiled code; enum-typed state, inputs and outputs hold the member's value.

A cell holds the value as a signed integer of the enum's *width*: 64 bits unless the host
registered another width (8, 16, 32) for the enum's family with `register_enum_width` (in the
active `CompilationContext`); then the cell's low bytes hold it, as a bool's low byte does. Members
must fit the width: a member that does not is a `CompilationError` where the code uses it.
"""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import Any

from numba.core import errors
from numba.extending import intrinsic

from ..ast_handlers import ast_handler
from ..compilation_context import CompilationContext
from ..function_analyzer import NumbaFunctionInfo
from ..helpers import helper_call, register_helper
from ..models import VariableType

__all__ = [
    "EnumType",
    "ENUM_WIDTHS",
    "register_enum_width",
    "unregister_enum_width",
    "enum_width",
    "register_enum_handlers",
]

#: The widths (bits) an enum's cell may have.
ENUM_WIDTHS = (8, 16, 32, 64)
_REGISTRY = "numba_cfunc_compiler.enum_widths"  # ctx.extensions key: {family class: bits}


def _width_hint(bits: int) -> str:
    if bits == 64:
        return "enum cells hold signed integers of at most 64 bits; renumber the members"
    return "renumber the members, or register a wider width with register_enum_width(family, bits)"


def is_int_enum(var_type: Any) -> bool:
    return (
        isinstance(var_type, type)
        and issubclass(var_type, enum.Enum)
        and len(var_type) > 0
        and all(isinstance(m.value, int) and not isinstance(m.value, bool) for m in var_type)
    )


def _fits(value: int, bits: int) -> bool:
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


def width_problem(enum_class: Any, bits: int) -> str | None:
    """Why the members of ``enum_class`` do not fit a signed ``bits``-bit cell, or None."""
    for member in enum_class:
        if not _fits(member.value, bits):
            return (
                f"{enum_class.__name__}.{member.name} = {member.value} does not fit in the int{bits} "
                f"cell of {enum_class.__name__} ({-(2 ** (bits - 1))} .. {2 ** (bits - 1) - 1})"
            )
    return None


def register_enum_width(family: type[enum.Enum], bits: int) -> None:
    """Give ``family`` and every enum class derived from it cells of ``bits`` bits (8, 16, 32
    or 64) in the active `CompilationContext`: inputs, outputs and state of those enums hold the
    value as a signed integer of that width in the low bytes of their 8-byte cell. The nearest
    registered base class of an enum decides (``family`` itself first).

    Checked now: ``family`` is an ``Enum`` class whose members (if it has any) have int values
    that fit; registering it again with the same width does nothing, with another width is a
    ValueError (`unregister_enum_width` first). Subclasses defined later are checked where a
    node uses them."""
    if not (isinstance(family, type) and issubclass(family, enum.Enum)):
        raise TypeError(f"register_enum_width: the family must be an Enum class, got {family!r}")
    if isinstance(bits, bool) or bits not in ENUM_WIDTHS:
        raise ValueError(f"register_enum_width({family.__name__}, {bits!r}): bits must be one of {ENUM_WIDTHS}")
    for member in family:
        if not isinstance(member.value, int) or isinstance(member.value, bool):
            raise TypeError(f"register_enum_width: {family.__name__}.{member.name} = {member.value!r} is not an int")
    problem = width_problem(family, bits)
    if problem is not None:
        raise ValueError(f"register_enum_width({family.__name__}, {bits}): {problem}")
    widths = CompilationContext.current().extension_registry(_REGISTRY, dict)
    current = widths.get(family)
    if current is not None and current != bits:
        raise ValueError(
            f"register_enum_width: {family.__name__} already has {current} bits in this context; "
            f"call unregister_enum_width({family.__name__}) first"
        )
    widths[family] = bits


def unregister_enum_width(family: type[enum.Enum]) -> None:
    """Undo `register_enum_width` for ``family`` in the active context (KeyError if not there)."""
    widths = CompilationContext.current().extensions.get(_REGISTRY) or {}
    if family not in widths:
        raise KeyError(f"unregister_enum_width: no width is registered for {getattr(family, '__name__', family)!r}")
    del widths[family]


def enum_width(enum_class: type[enum.Enum]) -> int:
    """The width (bits) of ``enum_class``'s cells in the active context: that of its nearest
    registered base class (itself included), else 64."""
    widths = CompilationContext.current().extensions.get(_REGISTRY) or {}
    for klass in enum_class.__mro__:
        if klass in widths:
            return widths[klass]
    return 64


@intrinsic(prefer_literal=True)
def enum_width_error(typingctx, value, message):
    """Typing fails with ``message``: generated code reading or writing the cell of an enum whose
    members do not fit it (reported at the user's line that does)."""
    raise errors.TypingError(getattr(message, "literal_value", "an enum's members do not fit its cell"))


@dataclass(frozen=True)
class EnumType(VariableType):
    """An ``Enum``/``IntEnum`` class whose members have int values, stored as a signed integer of
    ``bits`` bits (`enum_width` in the context the type was made in)."""

    bits: int = 64

    def get_numba_type_name(self) -> str:
        return f"int{self.bits}"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return is_int_enum(var_type)

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> EnumType | None:
        if not is_int_enum(var_type):
            return None
        return cls(var_type, None, enum_width(var_type))

    def problem(self) -> str | None:
        """Why this enum's members do not fit its cells, or None."""
        return width_problem(self.python_type, self.bits)

    def coerce_constant(self, value: Any) -> int:
        members = self.python_type
        problem = self.problem()
        if problem is not None:
            raise ValueError(problem)
        if value is None:
            return int(next(iter(members)).value)
        if isinstance(value, members):
            return int(value.value)
        if isinstance(value, int) and not isinstance(value, bool) and value in {m.value for m in members}:
            return int(value)
        raise TypeError(f"expected a member of {members.__name__}, got {value!r}")

    def constant_ast(self, value: Any) -> ast.expr:
        return ast.Constant(self.coerce_constant(value))

    def _checked(self, expr: ast.expr) -> ast.expr:
        problem = self.problem()
        return expr if problem is None else helper_call(enum_width_error, expr, ast.Constant(problem))

    def from_cell(self, cell: ast.expr) -> ast.expr:
        return self._checked(cell)

    def to_cell(self, value: ast.expr) -> ast.expr:
        return self._checked(value)

    def host_decode(self, raw: Any) -> enum.Enum:
        return self.python_type(int(raw))


def _member_constant(converter: Any, member: enum.Enum, node: ast.AST) -> ast.Constant:
    """A member as the int constant compiled code uses; a value outside int64 is an error."""
    value = int(member.value)
    if not _fits(value, 64):
        raise converter.error(
            f"{type(member).__name__}.{member.name} = {value} does not fit in int64, the integers of compiled code",
            node,
            "enum values in node code are 64-bit signed integers (-2**63 .. 2**63 - 1); renumber the members",
        )
    return ast.Constant(value)


def _enum_member(converter: Any, node: ast.Attribute) -> enum.Enum | None:
    """The member ``Side.BUY`` (``Side`` a module-level or call_globals enum class, or
    ``module.Side``) names, or None."""
    base = node.value
    if isinstance(base, ast.Name):
        if converter.variable(base.id) is not None or base.id in converter.locals:
            return None
        owner = converter.globals.get(base.id)
    elif isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name):
        owner = getattr(converter.globals.get(base.value.id), base.attr, None)
    else:
        return None
    if is_int_enum(owner) and node.attr in owner.__members__:
        return owner[node.attr]
    return None


def _check_width(variable: Any, argument: Any, info: NumbaFunctionInfo) -> None:
    """A signal processor: an enum input whose members do not fit its cell is an error at the
    parameter."""
    var_type = getattr(variable, "type", None)
    problem = var_type.problem() if isinstance(var_type, EnumType) else None
    if problem is not None:
        raise info.error(
            f"input {variable.name!r}: {problem}", info.parameter_node(variable.name), hint=_width_hint(var_type.bits)
        )


def register_enum_handlers() -> None:
    register_helper("enum_width_error", enum_width_error)
    NumbaFunctionInfo.register_signal_processor(_check_width)

    @ast_handler("Attribute", pre=True, priority=100)  # after extensions' handlers, as lowerers ran
    def member(converter: Any, node: ast.Attribute) -> ast.expr | None:
        if isinstance(node.ctx, ast.Load):
            found = _enum_member(converter, node)
            if found is not None:
                return _member_constant(converter, found, node)
        return None

    @ast_handler("Name", pre=True)
    def module_member(converter: Any, node: ast.Name) -> ast.expr | None:
        if isinstance(node.ctx, ast.Load):
            value = converter.resolve_global(node)
            if isinstance(value, enum.Enum) and is_int_enum(type(value)):
                return _member_constant(converter, value, node)
        return None
