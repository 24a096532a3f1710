"""``EnumSet[E]`` in compiled code: a Numba type whose data is one int64 bit mask.

The type (`EnumSetValue`) carries the members' values in bit order, so every operation is typed
and lowered by Numba wherever a set appears: node code, locals, conditional expressions and
``@numba.njit`` helpers. Generated code creates sets with `enum_set` (from a mask: a cell, a
constant) and stores them with `enum_set_bits`; both name the set type by a literal *spec*
(`spec_of`), so the type is part of the generated source and of the semantic key.

Operations: ``|``, ``&``, ``-``, ``^`` (and their in-place forms), ``==``, ``!=``, ``x in s``,
``len(s)`` (a popcount), ``bool(s)`` / truthiness, and iteration in member order yielding each
member's int value. `enum_set_with` / `enum_set_without` are ``s.add(x)`` / ``s.discard(x)``
(the node's handlers turn the statement into an assignment); adding a value that is not a member
is a runtime fault (``NCC_ERR_INVALID_CONVERSION``), discarding one does nothing.
"""

from __future__ import annotations

import operator
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils, errors
from numba.core.imputils import RefType, iternext_impl, lower_builtin
from numba.core.typing.templates import AbstractTemplate, infer_global, signature
from numba.extending import intrinsic, models, register_model
from numba_rt import abi

from ..utils.intrinsics import entry_name_pointer

__all__ = [
    "EnumSetValue",
    "spec_of",
    "enum_set",
    "enum_set_bits",
    "enum_set_with",
    "enum_set_without",
    "NOT_A_MEMBER",
]

_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
#: The fault of adding a value that is not a member of the set's enum.
NOT_A_MEMBER = abi.ErrorCode.INVALID_CONVERSION


class EnumSetValue(types.IterableType):
    """``EnumSet[E]`` in Numba: ``values`` are the members' int values in bit order."""

    def __init__(self, enum_name: str, values: tuple[int, ...]) -> None:
        self.enum_name = enum_name
        self.values = tuple(values)
        self.shown = enum_name.rpartition(".")[2]
        super().__init__(name=f"EnumSet[{self.shown}]")

    @property
    def key(self) -> Any:
        return self.enum_name, self.values

    @property
    def full(self) -> int:
        """The mask of every member, as a signed int64."""
        bits = (1 << len(self.values)) - 1
        return bits - (1 << 64) if bits >> 63 else bits

    @property
    def iterator_type(self) -> types.Type:
        return EnumSetIterator(self)


class EnumSetIterator(types.SimpleIteratorType):
    def __init__(self, set_type: EnumSetValue) -> None:
        self.set_type = set_type
        super().__init__(f"iter({set_type})", types.int64)

    @property
    def key(self) -> Any:
        return "iter", self.set_type.key


@register_model(EnumSetValue)
class _MaskModel(models.PrimitiveModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, _I64)


@register_model(EnumSetIterator)
class _IteratorModel(models.StructModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type, [("rest", types.EphemeralPointer(types.int64))])


def spec_of(enum_class: Any) -> str:
    """The literal that names ``EnumSet[enum_class]`` in generated code: ``"Qualname:v0,v1,..."``."""
    return f"{enum_class.__qualname__}:{','.join(str(int(m.value)) for m in enum_class)}"


def _type_of(spec: Any) -> EnumSetValue:
    if not isinstance(spec, types.StringLiteral):
        raise errors.TypingError("the EnumSet spec must be a literal string")
    name, _, values = spec.literal_value.rpartition(":")
    return EnumSetValue(name, tuple(int(v) for v in values.split(",")))


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise errors.TypingError(message)


def _is_member_value(t: Any) -> bool:
    return isinstance(t, (types.Integer, types.Boolean))


# -- code generation ----------------------------------------------------------------------------
def _as_i64(context: Any, builder: Any, value: Any, ty: Any) -> Any:
    return context.cast(builder, value, ty, types.int64)


#: Value -> bit by a table of bits indexed by ``value - min`` when the values span at most this.
_TABLE_SPAN = 1024


def _index_of(builder: Any, x: Any, values: tuple[int, ...]) -> Any:
    """The bit of the member whose value is ``x`` (an i64), or -1 if there is none: a subtraction
    for contiguous values, a table of bits for values within `_TABLE_SPAN` (or for distinct powers
    of two, indexed by the position of the set bit), else a switch."""
    n, first, low = len(values), values[0], min(values)
    if values == tuple(range(first, first + n)):  # contiguous values: one subtraction
        offset = builder.sub(x, _I64(first))
        return builder.select(builder.icmp_unsigned("<", offset, _I64(n)), offset, _I64(-1))
    if max(values) - low < _TABLE_SPAN:
        table = [-1] * (max(values) - low + 1)
        for bit, value in enumerate(values):
            table[value - low] = bit
        return _lookup(builder, builder.sub(x, _I64(low)), table)
    if all(v > 0 and v & (v - 1) == 0 for v in values):  # flags: 1, 2, 4, ... 2**62
        table = [-1] * 64
        for bit, value in enumerate(values):
            table[value.bit_length() - 1] = bit
        single = builder.and_(
            builder.icmp_signed("!=", x, _I64(0)),
            builder.icmp_signed("==", builder.and_(x, builder.sub(x, _I64(1))), _I64(0)),
        )
        position = builder.cttz(x, ir.Constant(ir.IntType(1), 0))
        return _lookup(builder, builder.select(single, position, _I64(64)), table)
    start = builder.basic_block
    done = builder.append_basic_block("enum_set.index")
    switch = builder.switch(x, done)
    incoming = [(_I64(-1), start)]
    for bit, value in enumerate(values):
        block = builder.append_basic_block(f"enum_set.bit{bit}")
        switch.add_case(_I64(value), block)
        with builder.goto_block(block):
            builder.branch(done)
        incoming.append((_I64(bit), block))
    builder.position_at_end(done)
    phi = builder.phi(_I64)
    for value, block in incoming:
        phi.add_incoming(value, block)
    return phi


def _lookup(builder: Any, offset: Any, table: list[int]) -> Any:
    """``table[offset]`` (an int8 constant table, sign-extended), or -1 when ``offset`` (an i64)
    is outside it."""
    i8 = ir.IntType(8)
    inside = builder.icmp_unsigned("<", offset, _I64(len(table)))
    constant = ir.Constant(ir.ArrayType(i8, len(table)), [i8(b) for b in table])
    gv = cgutils.global_constant(builder.module, "_ncc_enum_set_bits", constant)
    at = builder.gep(gv, [_I64(0), builder.select(inside, offset, _I64(0))], inbounds=True)
    return builder.select(inside, builder.sext(builder.load(at), _I64), _I64(-1))


def _value_at(builder: Any, bit: Any, values: tuple[int, ...]) -> Any:
    """The value of the member at ``bit`` (an i64 below ``len(values)``): arithmetic for values in
    arithmetic progression (``first + step * bit``), else a table."""
    n, first = len(values), values[0]
    step = values[1] - first if n > 1 else 1
    if values == tuple(range(first, first + step * n, step)) and step:
        scaled = bit if step == 1 else builder.mul(bit, _I64(step))
        return builder.add(scaled, _I64(first))
    table = ir.Constant(ir.ArrayType(_I64, n), [_I64(v) for v in values])
    gv = cgutils.global_constant(builder.module, "_ncc_enum_set_values", table)
    return builder.load(builder.gep(gv, [_I64(0), bit], inbounds=True))


def _record_fault(context: Any, builder: Any, message: str) -> None:
    """Record ``NOT_A_MEMBER`` with ``message`` in the runtime's error record, then unwind."""
    module = builder.module
    fnty = ir.FunctionType(ir.VoidType(), [_I32, cgutils.voidptr_t, cgutils.voidptr_t])
    fn = cgutils.get_or_insert_function(module, fnty, abi.ERROR_SET_SYMBOL)
    text = context.insert_const_string(module, message)
    builder.call(fn, [_I32(int(NOT_A_MEMBER)), text, entry_name_pointer(builder)])
    context.call_conv.return_user_exc(builder, RuntimeError, ("runtime fault",))


def _bit_or_fault(context: Any, builder: Any, set_type: EnumSetValue, x: Any) -> Any:
    """``1 << bit`` of the member whose value is ``x``; a fault when ``x`` is not a member."""
    index = _index_of(builder, x, set_type.values)
    missing = builder.icmp_signed("<", index, _I64(0))
    with cgutils.if_unlikely(builder, missing):
        _record_fault(context, builder, f"{set_type}: the value added is not a member of {set_type.shown}")
    return builder.shl(_I64(1), index)


# -- what generated code calls ------------------------------------------------------------------
@intrinsic(prefer_literal=True)
def enum_set(typingctx, bits, spec):
    """``enum_set(mask, 'Color:1,2,4')``: the EnumSet with those bits (bits above the last
    member are dropped, so a host's stray bits never name a member)."""
    set_type = _type_of(spec)
    _require(isinstance(bits, types.Integer), f"{set_type} needs an int mask, got {bits}")

    def codegen(context, builder, signature, args):
        return builder.and_(_as_i64(context, builder, args[0], signature.args[0]), _I64(set_type.full))

    return set_type(bits, spec), codegen


@intrinsic(prefer_literal=True)
def enum_set_bits(typingctx, value, spec):
    """The mask of ``value``, which must be an EnumSet of the spec's type (for a cell)."""
    set_type = _type_of(spec)
    if value != set_type:
        raise errors.TypingError(f"a {value} value cannot be stored where an {set_type} is expected")

    def codegen(context, builder, signature, args):
        return args[0]

    return types.int64(value, spec), codegen


@intrinsic(prefer_literal=True)
def enum_set_member_bit(typingctx, x, spec):
    """``1 << bit`` of the member whose value is ``x`` (a fault if there is none)."""
    set_type = _type_of(spec)
    _require(_is_member_value(x), f"{set_type} holds enum members (int values), got {x}")

    def codegen(context, builder, signature, args):
        return _bit_or_fault(context, builder, set_type, _as_i64(context, builder, args[0], signature.args[0]))

    return types.int64(x, spec), codegen


@intrinsic
def enum_set_with(typingctx, s, x):
    """``s.add(x)``: ``s`` with the member whose value is ``x`` (a fault if there is none)."""
    _require(isinstance(s, EnumSetValue), f"add() is a method of EnumSet values, not of {s}")
    _require(_is_member_value(x), f"{s}.add() takes an enum member, got {x}")

    def codegen(context, builder, signature, args):
        bit = _bit_or_fault(context, builder, s, _as_i64(context, builder, args[1], signature.args[1]))
        return builder.or_(args[0], bit)

    return s(s, x), codegen


@intrinsic
def enum_set_without(typingctx, s, x):
    """``s.discard(x)``: ``s`` without the member whose value is ``x`` (unchanged if none)."""
    _require(isinstance(s, EnumSetValue), f"discard() is a method of EnumSet values, not of {s}")
    _require(_is_member_value(x), f"{s}.discard() takes an enum member, got {x}")

    def codegen(context, builder, signature, args):
        index = _index_of(builder, _as_i64(context, builder, args[1], signature.args[1]), s.values)
        bit = builder.select(builder.icmp_signed("<", index, _I64(0)), _I64(0), builder.shl(_I64(1), index))
        return builder.and_(args[0], builder.not_(bit))

    return s(s, x), codegen


# -- operators, len, in, truth: one table, typed and lowered as Numba builtins ----------------
# Registered with Numba's low-level API (a typing template and a ``lower_builtin`` per function),
# not ``@overload``: code that looks an operator's implementation up by function and signature
# (``context.get_function(operator.sub, sig)``, as the checked arithmetic of `utils.numeric` does for
# operands it cannot type in advance) finds these.
def _contains(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    index = _index_of(builder, _as_i64(context, builder, args[1], sig.args[1]), sig.args[0].values)
    present = builder.trunc(builder.lshr(args[0], builder.select(builder.icmp_signed("<", index, _I64(0)), _I64(0), index)), ir.IntType(1))
    return builder.and_(present, builder.icmp_signed(">=", index, _I64(0)))


def _two_sets(args: tuple) -> bool:
    return len(args) == 2 and isinstance(args[0], EnumSetValue) and args[0] == args[1]


def _set_and_member(args: tuple) -> bool:
    return len(args) == 2 and isinstance(args[0], EnumSetValue) and _is_member_value(args[1])


def _one_set(args: tuple) -> bool:
    return len(args) == 1 and isinstance(args[0], EnumSetValue)


_SAME = lambda args: args[0]  # noqa: E731 - the result is a set of the operands' type
_BOOL = lambda args: types.boolean  # noqa: E731
_COMBINE = {
    "or": lambda context, builder, sig, args: builder.or_(*args),
    "and": lambda context, builder, sig, args: builder.and_(*args),
    "sub": lambda context, builder, sig, args: builder.and_(args[0], builder.not_(args[1])),
    "xor": lambda context, builder, sig, args: builder.xor(*args),
}
#: function -> (which arguments it takes, its result type, its code). ``x in s`` is contains(s, x).
_OPERATIONS = {
    operator.or_: (_two_sets, _SAME, _COMBINE["or"]),
    operator.ior: (_two_sets, _SAME, _COMBINE["or"]),
    operator.and_: (_two_sets, _SAME, _COMBINE["and"]),
    operator.iand: (_two_sets, _SAME, _COMBINE["and"]),
    operator.sub: (_two_sets, _SAME, _COMBINE["sub"]),
    operator.isub: (_two_sets, _SAME, _COMBINE["sub"]),
    operator.xor: (_two_sets, _SAME, _COMBINE["xor"]),
    operator.ixor: (_two_sets, _SAME, _COMBINE["xor"]),
    operator.eq: (_two_sets, _BOOL, lambda context, builder, sig, args: builder.icmp_signed("==", *args)),
    operator.ne: (_two_sets, _BOOL, lambda context, builder, sig, args: builder.icmp_signed("!=", *args)),
    operator.contains: (_set_and_member, _BOOL, _contains),
    len: (_one_set, lambda args: types.int64, lambda context, builder, sig, args: builder.ctpop(args[0])),
    operator.truth: (_one_set, _BOOL, lambda context, builder, sig, args: builder.icmp_signed("!=", args[0], _I64(0))),
    operator.not_: (_one_set, _BOOL, lambda context, builder, sig, args: builder.icmp_signed("==", args[0], _I64(0))),
    bool: (_one_set, _BOOL, lambda context, builder, sig, args: builder.icmp_signed("!=", args[0], _I64(0))),
}


def _register(fn: Any, accepts: Any, result: Any, codegen: Any) -> None:
    if fn is not bool:  # Numba types bool(x) itself (through operator.truth); only its lowering is ours

        class Typer(AbstractTemplate):
            key = fn

            def generic(self, args: tuple, kws: dict) -> Any:
                return signature(result(args), *args) if not kws and accepts(args) else None

        infer_global(fn)(Typer)
    arity = 1 if accepts is _one_set else 2
    if accepts is _set_and_member:
        lower_builtin(fn, EnumSetValue, types.Integer)(codegen)
        lower_builtin(fn, EnumSetValue, types.Boolean)(codegen)
    else:
        lower_builtin(fn, *[EnumSetValue] * arity)(codegen)


for _fn, _row in _OPERATIONS.items():
    _register(_fn, *_row)


# -- iteration: the set bits from the lowest, each member's value -------------------------------
@lower_builtin("getiter", EnumSetValue)
def _getiter(context, builder, sig, args):
    it = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    it.rest = cgutils.alloca_once_value(builder, args[0])
    return it._getvalue()


@lower_builtin("iternext", EnumSetIterator)
@iternext_impl(RefType.UNTRACKED)
def _iternext(context, builder, sig, args, result):
    iterator = sig.args[0]
    it = cgutils.create_struct_proxy(iterator)(context, builder, value=args[0])
    rest = builder.load(it.rest)
    found = builder.icmp_signed("!=", rest, _I64(0))
    result.set_valid(found)
    with builder.if_then(found):
        bit = builder.cttz(rest, ir.Constant(ir.IntType(1), 1))
        builder.store(builder.and_(rest, builder.sub(rest, _I64(1))), it.rest)
        result.yield_(_value_at(builder, bit, iterator.set_type.values))
