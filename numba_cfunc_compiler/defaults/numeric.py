"""Python's numeric semantics in node code (SPEC §5, the table in docs/getting-started.md).

- Integer literals and constant expressions of literals (``2**70``, ``-2**63``) are folded here
  with Python's arithmetic; an int result outside int64 is a `CompilationError` at its line.
- ``/ // % divmod ** int() round() math.floor/ceil/trunc`` become calls of the checked intrinsics
  of `utils.numeric` (division by zero, invalid float-to-int conversion, negative int exponent and
  float ``**`` overflow are runtime faults), and ``+ - *`` do too when an operand may be a
  datetime/timedelta (overflow of int64 nanoseconds is a fault). What needs no check is left to
  Numba: ``x // 4``, ``n ** 2`` for an int ``n``, ``int(n)``, ``a + b`` of numbers.
- ``CompilationOptions(error_model="numpy")`` keeps only the guard against the hardware trap of
  ``INT64_MIN // -1``: IEEE results, no conversion, power or datetime checks.

What an operand is comes from a small syntactic inference over the user's code (`_Kinds`):
constants, managed variables by type, container elements, ``math`` results, and locals by the
join of everything assigned to them.
"""

from __future__ import annotations

import ast
import builtins
import datetime as _dt
import enum
import math
import operator
import weakref
from typing import Any

from numba.core.dispatcher import Dispatcher

from ..ast_handlers import ast_handler
from ..helpers import helper_call, register_helper
from ..utils.numeric import CHECKED_HELPERS
from .containers import DictType, ListType
from .datetimes import DateTimeType, TimeDeltaType
from .enums import EnumType
from .primitives import BoolType, FloatType, IntType

__all__ = ["register_numeric_handlers", "INT64_MIN", "INT64_MAX"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Kinds of values (`_Kinds`); None is "maybe a datetime/timedelta".
INT, FLOAT, NUMBER, OTHER = "int", "float", "number", "other"

_FOLD_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow, ast.LShift: operator.lshift,
    ast.RShift: operator.rshift, ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.BitAnd: operator.and_,
}  # fmt: skip
_FOLD_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert}
_BIG_EXPONENT = 4096  # an int power or shift beyond this is out of int64 whatever follows

#: Binary operators -> (checked helper, helper under error_model="numpy" or None).
_OPERATORS = {
    ast.Div: ("num_truediv", None),
    ast.FloorDiv: ("num_floordiv", "num_floordiv_ieee"),
    ast.Mod: ("num_mod", "num_mod_ieee"),
    ast.Pow: ("num_pow", None),
    ast.Add: ("num_add", None),
    ast.Sub: ("num_sub", None),
    ast.Mult: ("num_mul", None),
}
_CONVERSIONS = {int: "num_int", round: "num_round", math.floor: "num_floor", math.ceil: "num_ceil", math.trunc: "num_trunc"}
_INT_MATH = {math.floor, math.ceil, math.trunc, math.gcd, math.factorial, math.comb, math.perm, math.isqrt,
             math.isnan, math.isinf, math.isfinite, math.isclose}  # fmt: skip


class _NotConstant(Exception):
    """The expression is not a foldable constant (or folding it would hide a runtime fault)."""


class _TooLarge(Exception):
    """The constant is certainly outside int64 (an enormous power or shift)."""


def _python_value(node: ast.AST) -> Any:
    """The value Python gives a constant expression of int/float/bool literals."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _FOLD_UNARY:
        value = _python_value(node.operand)
        if isinstance(node.op, ast.Invert) and isinstance(value, float):
            raise _NotConstant
        return _FOLD_UNARY[type(node.op)](value)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLD_BINARY:
        left, right = _python_value(node.left), _python_value(node.right)
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and isinstance(node.op, ast.Pow) and right < 0:
            raise _NotConstant  # int ** negative int is a runtime fault, not Python's float
        if ints and right > _BIG_EXPONENT and (isinstance(node.op, ast.Pow) and abs(left) > 1 or isinstance(node.op, ast.LShift) and left):
            raise _TooLarge
        try:
            value = _FOLD_BINARY[type(node.op)](left, right)
        except (ArithmeticError, ValueError, TypeError):
            raise _NotConstant from None  # the runtime faults as Python raises
        if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
            raise _NotConstant
        return value
    raise _NotConstant


def _constant_value(node: ast.AST) -> Any:
    """The folded value of ``node``, or None when it is not a constant expression."""
    try:
        return _python_value(node)
    except (_NotConstant, _TooLarge):
        return None


def _folded(converter: Any, node: ast.expr) -> ast.Constant | None:
    """``node`` folded to a constant, or None; an int outside int64 is a compile error."""
    if isinstance(node, ast.Constant):
        return None
    try:
        value = _python_value(node)
    except _NotConstant:
        return None
    except _TooLarge:
        value = None
    if value is None or (type(value) is int and not INT64_MIN <= value <= INT64_MAX):
        shown = "" if value is None else f" = {value}"
        raise converter.error(
            f"integer constant {ast.unparse(node)}{shown} does not fit in int64",
            node,
            hint="int values are 64-bit (-2**63 .. 2**63 - 1); use a float (e.g. 2.0 ** 70) for larger magnitudes",
        )
    return ast.Constant(value)


# -- kinds ----------------------------------------------------------------------------------------
def _join(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    if a == b:
        return a
    return OTHER if OTHER in (a, b) else NUMBER


class _Kinds:
    """What an expression of the user's code certainly is: `INT`, `FLOAT`, `NUMBER`, `OTHER` (not
    a number, but certainly no datetime/timedelta either) or None (maybe a datetime/timedelta:
    a datetime variable or constant, a struct field of that type, an ``@njit`` helper's result, a
    local assigned any of these). Locals get the join of every value assigned to them (a fixed
    point over the whole function). Values produced by other extensions' handlers count as
    `OTHER`: an extension lowering to datetimes itself gets no overflow checks."""

    _UNSET = ""  # a local not yet seen assigned, during the fixed point

    def __init__(self, converter: Any) -> None:
        self.converter = weakref.proxy(converter)  # held by the converter: no reference cycle
        self.locals: dict[str, str | None] = {}
        assignments = self._assignments()
        self.locals = {name: self._UNSET for name in assignments}
        changed = True
        while changed:
            changed = False
            for name, values in assignments.items():
                kind: str | None = self._UNSET
                for value in values:
                    kind = self._merge(kind, value if value is None or isinstance(value, str) else self.of(value))
                if kind != self.locals[name]:
                    self.locals[name], changed = kind, True
        self.locals = {name: (None if kind == self._UNSET else kind) for name, kind in self.locals.items()}

    def _merge(self, a: str | None, b: str | None) -> str | None:
        if a == self._UNSET:
            return b
        if b == self._UNSET:
            return a
        return _join(a, b)

    def _assignments(self) -> dict[str, list[Any]]:
        """Local name -> the expressions (or kinds) assigned to it."""
        converter = self.converter
        code = [*converter.info.body, *converter.start_body, *converter.stop_body]
        found: dict[str, list[Any]] = {}

        def bind(target: ast.expr, value: Any) -> None:
            if isinstance(target, ast.Name):
                if target.id not in converter.factory:
                    found.setdefault(target.id, []).append(value)
            elif isinstance(target, (ast.Tuple, ast.List)):
                values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) else None
                for i, element in enumerate(target.elts):
                    bind(element, values[i] if values is not None else (value if isinstance(value, str) else None))
            elif isinstance(target, ast.Starred):
                bind(target.value, None)

        for stmt in code:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        bind(target, node.value)
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    bind(node.target, node.value)
                elif isinstance(node, ast.AugAssign):
                    bind(node.target, ast.BinOp(left=_load(node.target), op=node.op, right=node.value))
                elif isinstance(node, ast.NamedExpr):
                    bind(node.target, node.value)
                elif isinstance(node, ast.For):
                    bind(node.target, self._element_kind(node.iter))
        return found

    def _element_kind(self, iterable: ast.expr) -> str | None:
        if isinstance(iterable, ast.Call) and self.builtin(iterable.func) is range:
            return INT
        base = iterable
        if isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr in ("keys", "values", "items"):
            base = base.func.value
        return NUMBER if self._container(base) else None

    def _container(self, node: ast.expr) -> bool:
        """Whether ``node`` names a managed list/dict (elements are int, float or bool)."""
        source = self.converter.variable(node.id) if isinstance(node, ast.Name) else None
        return source is not None and isinstance(source.type, (ListType, DictType))

    def builtin(self, func: ast.expr) -> Any:
        """The builtin or module-level object ``func`` names, unless a local shadows it."""
        converter = self.converter
        if isinstance(func, ast.Name):
            if func.id in converter.locals or func.id in converter.factory:
                return None
            if func.id in converter.globals:
                return converter.globals[func.id]
            return getattr(builtins, func.id, None)
        return converter.resolve_global(func)

    def of(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant):
            return INT if type(node.value) in (int, bool) else FLOAT if type(node.value) is float else OTHER
        if isinstance(node, ast.Name):
            if node.id in self.converter.factory:
                return _type_kind(getattr(self.converter.variable(node.id), "type", None))
            if node.id in self.locals:
                return self.locals[node.id]
            return _value_kind(self.converter.resolve_global(node))
        if isinstance(node, ast.Attribute):
            value = self.converter.resolve_global(node)
            if value is not None:
                return _value_kind(value)
            source = self.converter.inference.infer(node)  # struct fields and other typed chains
            return _type_kind(getattr(source, "type", None)) if source is not None else OTHER
        if isinstance(node, ast.UnaryOp):
            return INT if isinstance(node.op, ast.Not) else self.of(node.operand)
        if isinstance(node, ast.BinOp):
            left, right = self.of(node.left), self.of(node.right)
            if left is None or right is None or OTHER in (left, right):
                return None if None in (left, right) else OTHER
            return FLOAT if isinstance(node.op, ast.Div) else self._merge(left, right)
        if isinstance(node, ast.Compare):
            return INT
        if isinstance(node, (ast.BoolOp, ast.IfExp)):
            values = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
            kind: str | None = self._UNSET
            for value in values:
                kind = self._merge(kind, self.of(value))
            return kind
        if isinstance(node, ast.NamedExpr):
            return self.of(node.value)
        if isinstance(node, ast.Subscript):
            if self._container(node.value):
                return NUMBER
            return None if isinstance(node.value, ast.Name) and node.value.id in self.converter.factory else OTHER
        if isinstance(node, ast.Call):
            return self._call_kind(node)
        return OTHER

    def _call_kind(self, node: ast.Call) -> str | None:
        func = node.func
        if isinstance(func, ast.Attribute) and self._container(func.value):
            return NUMBER  # get/pop/...: an element (or None, which Numba rejects when used)
        if isinstance(func, ast.Attribute) and func.attr == "total_seconds":
            return FLOAT
        target = self.builtin(func)
        if target in (int, len, round, bool) or target in _INT_MATH:
            return INT
        if target is float or getattr(target, "__module__", None) == "math":
            return FLOAT
        if target in (abs, min, max, pow) and node.args:
            kind: str | None = self._UNSET
            for arg in node.args:
                kind = self._merge(kind, self.of(arg))
            return kind
        if target in (_dt.datetime, _dt.timedelta) or isinstance(target, Dispatcher):
            return None
        return OTHER


def _type_kind(var_type: Any) -> str | None:
    """The kind of a managed variable (or typed chain) of `VariableType` ``var_type``."""
    if isinstance(var_type, (IntType, BoolType, EnumType)):
        return INT
    if isinstance(var_type, FloatType):
        return FLOAT
    return None if isinstance(var_type, (DateTimeType, TimeDeltaType)) or var_type is None else OTHER


def _value_kind(value: Any) -> str | None:
    """The kind of a module-level value (a global or ``module.attr``)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if type(value) in (int, bool):
        return INT
    if type(value) is float:
        return FLOAT
    return None if isinstance(value, (_dt.datetime, _dt.timedelta)) else OTHER


def _load(target: ast.expr) -> ast.expr:
    """A load of the assignment target ``target`` (same node kind, Load context)."""
    if isinstance(target, ast.Name):
        return ast.copy_location(ast.Name(id=target.id, ctx=ast.Load()), target)
    if isinstance(target, ast.Subscript):
        return ast.copy_location(ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load()), target)
    if isinstance(target, ast.Attribute):
        return ast.copy_location(ast.Attribute(value=target.value, attr=target.attr, ctx=ast.Load()), target)
    return target


def _is_simple(node: ast.expr) -> bool:
    return isinstance(node, (ast.Name, ast.Constant))


# -- the handlers ---------------------------------------------------------------------------------
def register_numeric_handlers() -> None:
    """Register the helpers and handlers (by ``defaults.register_all``)."""
    for name, obj in CHECKED_HELPERS.items():
        register_helper(name, obj)

    def kinds(converter: Any) -> _Kinds:
        return converter.extension_state("numeric.kinds", lambda: _Kinds(converter))

    def ieee(converter: Any) -> bool:
        return getattr(getattr(converter, "options", None), "error_model", "python") == "numpy"

    def operator_helper(converter: Any, node: ast.BinOp) -> str | None:
        """The helper ``node`` (user AST) needs, or None when Numba's operator is exact."""
        op = type(node.op)
        if op not in _OPERATORS:
            return None
        checked, unchecked = _OPERATORS[op]
        helper = unchecked if ieee(converter) else checked
        if helper is None:
            return None
        left = kinds(converter).of(node.left)
        right = kinds(converter).of(node.right)
        if op in (ast.Add, ast.Sub, ast.Mult):  # only datetime/timedelta overflow is checked
            return None if left is not None and right is not None else helper
        divisor = _constant_value(node.right)
        if op in (ast.Div, ast.FloorDiv, ast.Mod):
            if divisor is None or divisor == 0 or (type(divisor) in (int, bool) and divisor == -1 and op is not ast.Div):
                return helper
            # a nonzero constant divisor: no check, unless a timedelta could overflow (td / 0.5)
            return None if left is not None or abs(divisor) >= 1 else helper
        # **: an int to a non-negative int constant needs no check (Numba multiplies, wrapping)
        return None if left == INT and type(divisor) in (int, bool) and divisor >= 0 else helper

    @ast_handler("BinOp", pre=True, priority=100)
    def binary(converter: Any, node: ast.BinOp) -> ast.expr | None:
        folded = _folded(converter, node)
        if folded is not None:
            return folded
        helper = operator_helper(converter, node)
        if helper is None:
            return None
        return helper_call(helper, converter.visit(node.left), converter.visit(node.right))

    @ast_handler("UnaryOp", pre=True, priority=100)
    def unary(converter: Any, node: ast.UnaryOp) -> ast.expr | None:
        return _folded(converter, node)

    @ast_handler("AugAssign", pre=True, priority=-100)
    def augmented(converter: Any, node: ast.AugAssign) -> list[ast.stmt] | None:
        """``t op= v`` -> ``t = t op v`` when ``op`` needs a helper (before the container and
        struct handlers, which would combine without one). A subscript key that is not a name or
        constant is evaluated once, into a temporary."""
        target = node.target
        if operator_helper(converter, ast.BinOp(left=_load(target), op=node.op, right=node.value)) is None:
            return None
        stmts: list[ast.stmt] = []
        if isinstance(target, ast.Subscript):
            if not isinstance(target.value, ast.Name):
                return None
            if not _is_simple(target.slice):
                key = converter.factory.new_name("key")
                converter.locals.add(key)
                stmts.append(ast.Assign(targets=[ast.Name(id=key, ctx=ast.Store())], value=target.slice))
                target = ast.Subscript(value=target.value, slice=ast.Name(id=key, ctx=ast.Load()), ctx=ast.Store())
        elif isinstance(target, ast.Attribute) and not isinstance(target.value, ast.Name):
            return None
        combined = ast.BinOp(left=_load(target), op=node.op, right=node.value)
        stmts.append(ast.Assign(targets=[target], value=combined))
        for stmt in stmts:
            ast.copy_location(stmt, node)
            ast.fix_missing_locations(stmt)
        return converter.visit_block(stmts)

    @ast_handler("Call", pre=True, priority=100)
    def call(converter: Any, node: ast.Call) -> ast.expr | None:
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return None
        target = kinds(converter).builtin(node.func)
        args = node.args
        if target is pow and len(args) == 2:
            return converter.visit(ast.copy_location(ast.BinOp(left=args[0], op=ast.Pow(), right=args[1]), node))
        if target is divmod and len(args) == 2:
            pair = ast.BinOp(left=args[0], op=ast.FloorDiv(), right=args[1])
            if operator_helper(converter, pair) is None:
                return None
            helper = "num_divmod_ieee" if ieee(converter) else "num_divmod"
            return helper_call(helper, converter.visit(args[0]), converter.visit(args[1]))
        helper = next((h for fn, h in _CONVERSIONS.items() if fn is target), None)
        if helper is None or len(args) != 1 or ieee(converter) or kinds(converter).of(args[0]) == INT:
            return None
        return helper_call(helper, converter.visit(args[0]))
