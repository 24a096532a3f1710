"""Built-in ``EnumSet[E]``: a set of members of an enum, one int64 bit mask in its cell.

`EnumSetType` stores a set in an 8-byte cell (bit ``i``: the ``i``-th member of ``E``) and gives
it to compiled code as a Numba value of `enum_set_ops.EnumSetValue`, so operators, ``in``,
``len``, truthiness and iteration are typed by Numba everywhere (locals, conditional expressions,
``@numba.njit`` helpers). The handlers here lower what Numba cannot see:

- ``EnumSet[E]()``, ``EnumSet[E]([E.A, x])``, ``EnumSet[E](E)`` (every member) and
  ``EnumSet[E](s)`` (a copy) in node code; a module-level ``EnumSet`` value is a constant;
- the statements ``s.add(x)``, ``s.discard(x)`` and ``s.clear()``: an assignment of the new set
  to ``s`` (a state variable, an output or a local);
- compile-time checks with the user's line: a member of another enum, a constant that is no
  member, sets of two different enums combined, operators and comparisons sets do not have.
"""

from __future__ import annotations

import ast
import builtins
import enum
import weakref
from dataclasses import dataclass
from typing import Any

from ..ast_handlers import ast_handler
from ..enum_set import EnumSet, enum_set_problem, is_enum_set_class
from ..helpers import helper_call, register_helper
from ..models import VariableType
from ..variable_factory import ReadOnlyVariableError
from . import enum_set_ops as ops
from .enums import EnumType

__all__ = ["EnumSetType", "register_enum_set_handlers"]

_METHODS = ("add", "discard", "clear")
_OPERATORS = {ast.BitOr: "|", ast.BitAnd: "&", ast.Sub: "-", ast.BitXor: "^"}
_SYMBOLS = {
    ast.Add: "+", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@",
}  # fmt: skip
_HELPERS = {
    "enum_set": ops.enum_set,
    "enum_set_bits": ops.enum_set_bits,
    "enum_set_member_bit": ops.enum_set_member_bit,
    "enum_set_with": ops.enum_set_with,
    "enum_set_without": ops.enum_set_without,
}
_PROBLEM_HINT = "use an Enum or IntEnum class with int values and at most 64 members"


@dataclass(frozen=True)
class EnumSetType(VariableType):
    """``EnumSet[E]`` (``python_type`` is that class): an int64 mask, bit ``i`` = ``list(E)[i]``."""

    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return is_enum_set_class(var_type)

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> EnumSetType | None:
        if is_enum_set_class(var_type):
            return cls(var_type)
        if var_type is EnumSet and is_enum_set_class(type(value)):  # State[EnumSet] = EnumSet[E](...)
            return cls(type(value))
        return None

    @property
    def spec(self) -> str:
        return ops.spec_of(self.python_type.enum)

    def coerce_constant(self, value: Any) -> EnumSet:
        cls = self.python_type
        if value is None:
            return cls()
        if isinstance(value, EnumSet) and type(value) is not cls:
            raise TypeError(f"expected an {cls.__name__}, got an {type(value).__name__}")
        if isinstance(value, (set, frozenset, list, tuple)) or (isinstance(value, type) and value is cls.enum):
            return cls(value)
        raise TypeError(f"expected an {cls.__name__} (or a set of {cls.enum.__name__} members), got {value!r}")

    def _make(self, mask: ast.expr) -> ast.expr:
        return helper_call(ops.enum_set, mask, ast.Constant(self.spec))

    def constant_ast(self, value: Any) -> ast.expr:
        return self._make(ast.Constant(self.coerce_constant(value).cell_value))

    def from_cell(self, cell: ast.expr) -> ast.expr:
        return self._make(cell)

    def to_cell(self, value: ast.expr) -> ast.expr:
        return helper_call(ops.enum_set_bits, value, ast.Constant(self.spec))

    def state_initial_value(self, value: Any) -> int:
        return self.coerce_constant(value).cell_value

    def host_encode(self, value: Any) -> int:
        return self.coerce_constant(value).cell_value

    def host_decode(self, raw: Any) -> EnumSet:
        return self.python_type.from_mask(raw)

    def describe(self) -> str:
        return self.python_type.__name__


# -- what the handlers know about the user's code ---------------------------------------------
class _Sets:
    """Which expressions of one compile are EnumSets, and of which enum: managed variables of
    `EnumSetType`, constructor calls, module-level EnumSet values, ``|`` ``&`` ``-`` ``^`` of sets,
    and locals that some assignment binds to a set (a fixed point over the user's code)."""

    def __init__(self, converter: Any) -> None:
        self.converter = weakref.proxy(converter)  # held by the converter: no reference cycle
        self.locals: dict[str, Any] = {}
        code = [*converter.info.body, *converter.start_body, *converter.stop_body]
        bindings = []
        for stmt in code:
            for node in ast.walk(stmt):
                if (
                    isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr, ast.AugAssign))
                    and node.value is not None
                ):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    value = (
                        node.value
                        if not isinstance(node, ast.AugAssign)
                        else ast.BinOp(left=node.target, op=node.op, right=node.value)
                    )
                    bindings += [
                        (t.id, value) for t in targets if isinstance(t, ast.Name) and t.id not in converter.factory
                    ]
        changed = True
        while changed:
            changed = False
            for name, value in bindings:
                found = self.enum_of(value)
                if found is not None and name not in self.locals:
                    self.locals[name], changed = found, True

    def enum_of(self, node: ast.AST) -> Any:
        """The enum class of the EnumSet ``node`` evaluates to, or None if it is not one (as far
        as a look at the code can tell)."""
        converter = self.converter
        if isinstance(node, ast.Name):
            source = converter.variable(node.id)
            if source is not None:
                return source.type.python_type.enum if isinstance(source.type, EnumSetType) else None
            if node.id in converter.locals:
                return self.locals.get(node.id)
        if isinstance(node, (ast.Name, ast.Attribute)):
            value = converter.resolve_global(node)
            return type(value).enum if isinstance(value, EnumSet) and type(value).enum is not None else None
        if isinstance(node, ast.Call):
            cls = _constructor(converter, node.func, check=False)
            return cls.enum if cls is not None else None
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return self.enum_of(node.left) or self.enum_of(node.right)
        if isinstance(node, ast.IfExp):
            return self.enum_of(node.body) or self.enum_of(node.orelse)
        if isinstance(node, ast.NamedExpr):
            return self.enum_of(node.value)
        return None


def _constructor(converter: Any, func: ast.expr, check: bool = True) -> Any:
    """The ``EnumSet[E]`` class a call of ``func`` constructs, or None if it is no EnumSet
    constructor. With ``check``, a bad ``EnumSet[X]`` is a `CompilationError` at ``func``."""
    if isinstance(func, ast.Subscript):
        if converter.resolve_global(func.value) is not EnumSet:
            return None
        enum_class = converter.resolve_global(func.slice)
        if enum_class is None and isinstance(func.slice, ast.Name) and func.slice.id not in converter.locals:
            enum_class = getattr(builtins, func.slice.id, None)  # EnumSet[int]: say why not
        if enum_class is None:
            if not check:
                return None
            raise converter.error(
                f"EnumSet[{ast.unparse(func.slice)}]: the enum class must be a module-level name",
                func.slice,
                "import the enum class or define it at module level (or pass it with call_globals)",
            )
        problem = enum_set_problem(enum_class)
        if problem is not None:
            if not check:
                return None
            raise converter.error(problem, func, _PROBLEM_HINT)
        return EnumSet[enum_class]
    target = converter.resolve_global(func) if isinstance(func, (ast.Name, ast.Attribute)) else None
    if is_enum_set_class(target):
        return target
    if target is EnumSet and check:
        raise converter.error("EnumSet needs its enum class", func, "write EnumSet[E](...) with an Enum class E")
    return None


def _check_member(converter: Any, cls: Any, node: ast.expr, what: str) -> None:
    """A compile-time look at an element ``node`` of ``EnumSet`` ``cls``: a member of another
    enum, a constant that is no member, or an enum variable of another enum is an error."""
    enum_class = cls.enum
    name = enum_class.__name__
    value = converter.resolve_global(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    if isinstance(value, enum.Enum):
        if not isinstance(value, enum_class):
            raise converter.error(
                f"{what}: {type(value).__name__}.{value.name} is a member of {type(value).__name__}, not of {name}",
                node,
                f"{cls.__name__} holds {name} members only",
            )
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int) or node.value not in cls._by_value:
            raise converter.error(
                f"{what}: {node.value!r} is not a member of {name}",
                node,
                f"use a member such as {name}.{cls.members()[0].name}",
            )
        return
    source = converter.variable(node.id) if isinstance(node, ast.Name) else None
    if source is not None and isinstance(source.type, EnumType) and source.type.python_type is not enum_class:
        raise converter.error(
            f"{what}: {source.kind} {node.id!r} holds {source.type.describe()} members, not {name} members",
            node,
            f"{cls.__name__} holds {name} members only",
        )
    if source is not None and isinstance(source.type, EnumSetType):
        raise converter.error(f"{what}: {node.id!r} is a set, not a member", node, "combine sets with | & - ^")


def _not_a_set(converter: Any, node: ast.expr) -> bool:
    """Whether ``node`` is certainly no EnumSet: a constant, a managed variable of another type, or
    a module-level value that is not one (a local or a call may be one: not known here)."""
    if isinstance(node, ast.Constant):
        return True
    source = converter.variable(node.id) if isinstance(node, ast.Name) else None
    if source is not None:
        return not isinstance(source.type, EnumSetType)
    if isinstance(node, ast.Name) and node.id in converter.locals:
        return False
    value = converter.resolve_global(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    return value is not None and not isinstance(value, EnumSet)


def _element(converter: Any, cls: Any, node: ast.expr, what: str) -> ast.expr:
    _check_member(converter, cls, node, what)
    return converter.visit(node)


def _construct(converter: Any, sets: _Sets, cls: Any, node: ast.Call) -> ast.expr:
    spec = ast.Constant(ops.spec_of(cls.enum))
    make = lambda mask: helper_call(ops.enum_set, mask, spec)  # noqa: E731
    if node.keywords or len(node.args) > 1:
        raise converter.error(
            f"{cls.__name__}(...) takes at most one argument, the members", node, f"write {cls.__name__}([...])"
        )
    if not node.args:
        return make(ast.Constant(0))
    arg = node.args[0]
    if isinstance(arg, (ast.List, ast.Tuple, ast.Set)):
        mask, parts = 0, []
        for element in arg.elts:
            if isinstance(element, ast.Starred):
                raise converter.error("*args in an EnumSet is not supported", element, "list the members one by one")
            converted = _element(converter, cls, element, cls.__name__)
            if isinstance(converted, ast.Constant):
                if type(converted.value) is not int or converted.value not in cls._by_value:
                    raise converter.error(
                        f"{cls.__name__}: {ast.unparse(element)} is not a member of {cls.enum.__name__}", element
                    )
                mask |= 1 << cls._bit[cls.member(converted.value)]
            else:
                parts.append(helper_call(ops.enum_set_member_bit, converted, spec))
        value: ast.expr = ast.Constant(mask - (1 << 64) if mask >> 63 else mask)
        for part in parts:
            value = ast.BinOp(left=value, op=ast.BitOr(), right=part)
        return make(value)
    if converter.resolve_global(arg) is cls.enum:  # EnumSet[E](E): every member
        return make(ast.Constant(-1))
    other = sets.enum_of(arg)
    if other is not None and other is not cls.enum:
        raise converter.error(
            f"an EnumSet[{other.__name__}] is not an {cls.__name__}", arg, "sets of different enums do not mix"
        )
    return make(helper_call(ops.enum_set_bits, converter.visit(arg), spec))


def _store(converter: Any, target: ast.Name, value: ast.expr) -> list[ast.stmt]:
    """``target = value`` (``value`` already converted) for a managed variable or a local."""
    source = converter.factory.get(target.id)
    if source is None:
        store = ast.copy_location(ast.Name(id=target.id, ctx=ast.Store()), target)
        return [ast.Assign(targets=[converter.visit(store)], value=value)]
    try:
        return source.set(value)
    except ReadOnlyVariableError as exc:
        raise converter.error(
            str(exc), target, f"copy it into a local first: `a = {target.id}`, then change a"
        ) from None


def _method_call(sets: _Sets, node: ast.AST) -> tuple[Any, ast.Call] | None:
    """``(EnumSet class, call)`` when ``node`` is a method call on a set-valued name."""
    if not (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
    ):
        return None
    enum_class = sets.enum_of(node.func.value)
    return (EnumSet[enum_class], node) if enum_class is not None else None


def _unsupported_method(converter: Any, cls: Any, call: ast.Call) -> None:
    method = call.func.attr
    if method not in _METHODS:
        raise converter.error(
            f"{cls.__name__} has no method {method!r} (supported: {', '.join(_METHODS)})",
            call,
            "use the operators | & - ^, `in`, len() and iteration for the rest",
        )


def register_enum_set_handlers() -> None:
    """The helpers and AST handlers of ``EnumSet`` (registered by ``defaults.register_all``)."""
    for name, fn in _HELPERS.items():
        register_helper(name, fn)

    def sets_of(converter: Any) -> _Sets:
        return converter.extension_state("enum_sets.sets", lambda: _Sets(converter))

    @ast_handler("Expr", pre=True)
    def method_statement(converter: Any, node: ast.Expr) -> list[ast.stmt] | None:
        found = _method_call(sets_of(converter), node.value)
        if found is None:
            return None
        cls, call = found
        _unsupported_method(converter, cls, call)
        method, target = call.func.attr, call.func.value
        arity = 0 if method == "clear" else 1
        if call.keywords or len(call.args) != arity:
            raise converter.error(f"{cls.__name__}.{method}() takes {arity} argument{'s' if arity != 1 else ''}", call)
        spec = ast.Constant(ops.spec_of(cls.enum))
        if method == "clear":
            value = helper_call(ops.enum_set, ast.Constant(0), spec)
        else:
            element = _element(converter, cls, call.args[0], f"{target.id}.{method}()")
            current = converter.visit(ast.copy_location(ast.Name(id=target.id, ctx=ast.Load()), target))
            value = helper_call(ops.enum_set_with if method == "add" else ops.enum_set_without, current, element)
        return _store(converter, target, value)

    @ast_handler("Call", pre=True)
    def construct_or_method(converter: Any, node: ast.Call) -> ast.expr | None:
        found = _method_call(sets_of(converter), node)
        if found is not None:
            cls, call = found
            _unsupported_method(converter, cls, call)
            raise converter.error(
                f"{call.func.value.id}.{call.func.attr}() changes the set and returns nothing",
                node,
                f"write `{ast.unparse(call)}` as a statement of its own",
            )
        cls = _constructor(converter, node.func)
        return _construct(converter, sets_of(converter), cls, node) if cls is not None else None

    @ast_handler("Name", pre=True)
    def module_set(converter: Any, node: ast.Name) -> ast.expr | None:
        if isinstance(node.ctx, ast.Load):
            value = converter.resolve_global(node)
            if isinstance(value, EnumSet) and type(value).enum is not None:
                return EnumSetType(type(value)).constant_ast(value)
        return None

    @ast_handler("Compare", pre=True)
    def compare(converter: Any, node: ast.Compare) -> None:
        sets = sets_of(converter)
        for op, left, right in zip(node.ops, [node.left, *node.comparators], node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                enum_class = sets.enum_of(right)
                if enum_class is not None:
                    _check_member(converter, EnumSet[enum_class], left, "`in`")
                continue
            known = sets.enum_of(left) or sets.enum_of(right)
            if known is None or isinstance(op, (ast.Is, ast.IsNot)):
                continue
            if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
                raise converter.error(
                    f"EnumSet[{known.__name__}] has no ordering or subset test",
                    node,
                    "a is a subset of b when `not (a - b)`; compare sizes with len(a) < len(b)",
                )
            if _not_a_set(converter, left) or _not_a_set(converter, right):
                raise converter.error(
                    f"an EnumSet[{known.__name__}] is compared only with another EnumSet[{known.__name__}]",
                    node,
                    "test a member with `x in s`, emptiness with `not s`",
                )
        return None

    @ast_handler("BinOp", pre=True)
    def combine(converter: Any, node: ast.BinOp) -> None:
        sets = sets_of(converter)
        if type(node.op) not in _OPERATORS:
            known = sets.enum_of(node.left) or sets.enum_of(node.right)
            if known is not None:
                raise converter.error(
                    f"EnumSet[{known.__name__}] has no operator {_SYMBOLS.get(type(node.op), type(node.op).__name__)}",
                    node,
                    "sets combine with | (union), & (intersection), - (difference) and ^ (symmetric difference)",
                )
            return None
        left, right = sets.enum_of(node.left), sets.enum_of(node.right)
        if left is not None and right is not None and left is not right:
            raise converter.error(
                f"cannot combine an EnumSet[{left.__name__}] and an EnumSet[{right.__name__}] with {_OPERATORS[type(node.op)]}",
                node,
                "sets of different enums do not mix",
            )
        known = left or right
        if known is not None and (left is None or right is None):
            other = node.right if left is not None else node.left
            member = converter.resolve_global(other) if isinstance(other, (ast.Name, ast.Attribute)) else None
            if isinstance(member, enum.Enum) or isinstance(other, ast.Constant):
                shown = ast.unparse(other)
                raise converter.error(
                    f"{_OPERATORS[type(node.op)]} combines two sets; {shown} is not a set",
                    other,
                    f"write EnumSet[{known.__name__}]([{shown}]), or use s.add({shown}) / s.discard({shown})",
                )
        return None
