"""Numba intrinsics that generated code uses to reach host-owned memory.

Generated code sees an intrinsic only once an extension makes it visible: per compilation with
`VariableFactory.helper`, or for every compilation of a context with `helpers.register_helper`
(then `helpers.helper_call` emits the call).
"""

from __future__ import annotations

from llvmlite import ir

from numba_rt import abi
from numba import types
from numba.core import cgutils, errors
from numba.extending import intrinsic

# Typers reject with a TypingError instead of returning None: with an Optional argument, Numba
# retries a None-returning intrinsic typer with the argument types in a list, which it cannot hash.


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise errors.TypingError(message)


__all__ = [
    "cast_voidptr_to_ptr",
    "cell_pointer",
    "checked_cell_value",
    "is_null",
    "storage_ptr",
    "decode",
    "encode",
    "probe_start",
    "c_string",
    "entry_name",
    "entry_name_pointer",
    "ENTRY_NAME_SYMBOL",
    "null_pointer",
    "DATETIME",
    "TIMEDELTA",
    "as_datetime",
    "as_timedelta",
    "datetime_bits",
    "timedelta_bits",
    "total_seconds",
    "byte_offset",
]


@intrinsic(prefer_literal=True)
def cast_voidptr_to_ptr(typingctx, ptr, type_name):
    """``cast_voidptr_to_ptr(p, 'float64')``: the void pointer ``p`` as a ``float64*``."""
    _require(isinstance(ptr, (types.RawPointer, types.CPointer)), f"expected a pointer, got {ptr}")
    _require(isinstance(type_name, types.StringLiteral), "the type name must be a literal string")
    target = getattr(types, type_name.literal_value, None)
    _require(isinstance(target, types.Type), f"unknown type {type_name}")
    sig = types.CPointer(target)(ptr, type_name)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target).as_pointer())

    return sig, codegen


@intrinsic(prefer_literal=True)
def cell_pointer(typingctx, cells, index, type_name):
    """``cell_pointer(cells, i, 'float64')``: ``cells[i]`` (``cells`` a ``void**`` such as
    ``state`` or ``outputs``) as a ``float64*``, loaded with what the native ABI guarantees of it:
    it points at a host-owned 8-byte cell (non-null, 8-aligned, 8 dereferenceable bytes). LLVM may
    then keep the cell's value in a register across a loop that updates it, as a C compiler does."""
    _require(isinstance(cells, types.CPointer) and cells.dtype == types.voidptr, f"expected a void**, got {cells}")
    _require(isinstance(index, types.Integer), f"expected an integer index, got {index}")
    _require(isinstance(type_name, types.StringLiteral), "the type name must be a literal string")
    target = getattr(types, type_name.literal_value, None)
    _require(isinstance(target, types.Type), f"unknown type {type_name}")
    sig = types.CPointer(target)(cells, index, type_name)

    def codegen(context, builder, signature, args):
        slot = builder.gep(args[0], [context.cast(builder, args[1], signature.args[1], types.intp)])
        pointer = builder.load(slot)
        facts = builder.module.add_metadata([ir.Constant(ir.IntType(64), abi.CELL_TYPES["int64"].size)])
        pointer.set_metadata("dereferenceable", facts)
        pointer.set_metadata("align", facts)
        pointer.set_metadata("nonnull", builder.module.add_metadata([]))
        return builder.bitcast(pointer, context.get_value_type(target).as_pointer())

    return sig, codegen


def _accepted(target: types.Type) -> tuple[type, ...]:
    """Value types a cell of type ``target`` takes without losing information."""
    if isinstance(target, types.Float):
        return (types.Float, types.Integer, types.Boolean)
    if isinstance(target, types.Integer):
        return (types.Integer, types.Boolean)
    return (type(target),)


@intrinsic(prefer_literal=True)
def checked_cell_value(typingctx, value, type_name):
    """``checked_cell_value(v, 'int64')``: ``v`` converted to the cell type, or a typing error when
    the conversion would lose information (a float stored into an int cell)."""
    _require(isinstance(type_name, types.StringLiteral), "the type name must be a literal string")
    target = getattr(types, type_name.literal_value, None)
    _require(isinstance(target, types.Type), f"unknown type {type_name}")
    accepted = _accepted(target)
    inner = value.type if isinstance(value, types.Optional) else value  # unwrapped by the cast
    if not isinstance(inner, accepted):
        shown = {"int64": "int", "float64": "float", "int8": "bool"}.get(type_name.literal_value, type_name.literal_value)
        article = "an" if shown[:1] in "aeiou" else "a"
        raise errors.TypingError(f"a {value} value cannot be stored where {article} {shown} is expected")
    sig = target(value, type_name)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], target)

    return sig, codegen


@intrinsic
def is_null(typingctx, ptr):
    """``is_null(p)``: whether the pointer ``p`` is NULL."""
    _require(isinstance(ptr, (types.RawPointer, types.CPointer)), f"expected a pointer, got {ptr}")

    def codegen(context, builder, signature, args):
        return cgutils.is_null(builder, args[0])

    return types.boolean(ptr), codegen


def _storage_type(sample):
    return types.float64 if isinstance(sample, types.Float) else types.int64


@intrinsic
def storage_ptr(typingctx, ptr, sample):
    """``storage_ptr(p, sample)``: ``p`` as a pointer to 8-byte slots holding values like ``sample``
    (double for floats, int64 for ints and bools)."""
    _require(isinstance(ptr, (types.RawPointer, types.CPointer)), f"expected a pointer, got {ptr}")
    _require(isinstance(sample, (types.Number, types.Boolean)), f"expected a number, got {sample}")
    target = _storage_type(sample)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target).as_pointer())

    return types.CPointer(target)(ptr, sample), codegen


@intrinsic
def decode(typingctx, raw, sample):
    """A value read from an 8-byte slot, as the type of ``sample`` (bools are stored as 0/1)."""
    _require(isinstance(sample, (types.Number, types.Boolean)), f"expected a number, got {sample}")
    result = types.boolean if isinstance(sample, types.Boolean) else _storage_type(sample)

    def codegen(context, builder, signature, args):
        if result is types.boolean:
            return builder.icmp_signed("!=", args[0], args[0].type(0))
        return context.cast(builder, args[0], signature.args[0], result)

    return result(raw, sample), codegen


@intrinsic
def encode(typingctx, value, sample):
    """``value`` as the 8-byte slot content for values like ``sample``."""
    _require(isinstance(sample, (types.Number, types.Boolean)), f"expected a number, got {sample}")
    _require(isinstance(value, (types.Number, types.Boolean)), f"a {value} value cannot be stored in a container of {sample}")
    target = _storage_type(sample)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], target)

    return target(value, sample), codegen


@intrinsic
def probe_start(typingctx, key, mask):
    """First index slot for ``key``: ``ncc_hash_int(key) & mask`` (see cpp/ncc_containers.h)."""
    _require(isinstance(key, types.Integer) and isinstance(mask, types.Integer), f"dict keys are int, got {key}")

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        k = context.cast(builder, args[0], signature.args[0], types.int64)
        m = context.cast(builder, args[1], signature.args[1], types.int64)
        folded = builder.xor(k, builder.lshr(k, i64(32)))
        h = builder.mul(folded, i64(abi.HASH_MULTIPLIER))
        h = builder.xor(h, builder.lshr(h, i64(32)))
        return builder.and_(h, m)

    return types.int64(key, mask), codegen


@intrinsic(prefer_literal=True)
def c_string(typingctx, text):
    """``c_string("...")``: a pointer to a NUL-terminated constant copy of a literal string."""
    _require(isinstance(text, types.StringLiteral), "expected a literal string")
    value = text.literal_value

    def codegen(context, builder, signature, args):
        return context.insert_const_string(builder.module, value)

    return types.voidptr(text), codegen


#: Compiled code names its entry point in runtime faults through this symbol. The runtime exports
#: it as "" (so Numba's own JIT resolves it); the final module defines it as the entry-point name.
ENTRY_NAME_SYMBOL = abi.ENTRY_UNKNOWN_SYMBOL


def entry_name_pointer(builder):
    """In codegen: an ``i8*`` to the entry-point name (see `entry_name`)."""
    gv = builder.module.globals.get(ENTRY_NAME_SYMBOL)
    if gv is None:
        gv = cgutils.add_global_variable(builder.module, ir.IntType(8), ENTRY_NAME_SYMBOL)
    return builder.bitcast(gv, ir.IntType(8).as_pointer())


@intrinsic
def entry_name(typingctx):
    """Pointer to the entry-point name of the function being compiled (for the error record)."""

    def codegen(context, builder, signature, args):
        return entry_name_pointer(builder)

    return types.voidptr(), codegen


@intrinsic
def null_pointer(typingctx):
    """A NULL ``void*``."""

    def codegen(context, builder, signature, args):
        return cgutils.voidptr_t(None)

    return types.voidptr(), codegen


# -- datetime / timedelta: int64 nanoseconds in cells, Numba's datetime64[ns]/timedelta64[ns] in code
DATETIME = types.NPDatetime("ns")
TIMEDELTA = types.NPTimedelta("ns")


def _same_bits(context, builder, signature, args):
    return args[0]


@intrinsic
def as_datetime(typingctx, nanoseconds):
    """int64 nanoseconds since the Unix epoch (UTC) as a datetime64[ns]."""
    _require(isinstance(nanoseconds, types.Integer), f"expected int64 nanoseconds, got {nanoseconds}")
    return DATETIME(nanoseconds), _same_bits


@intrinsic
def as_timedelta(typingctx, nanoseconds):
    """int64 nanoseconds as a timedelta64[ns]."""
    _require(isinstance(nanoseconds, types.Integer), f"expected int64 nanoseconds, got {nanoseconds}")
    return TIMEDELTA(nanoseconds), _same_bits


@intrinsic
def datetime_bits(typingctx, value):
    """A datetime as int64 nanoseconds (for a cell); anything else is a typing error."""
    _require(value == DATETIME, f"a {value} value cannot be stored in a variable of type datetime")
    return types.int64(value), _same_bits


@intrinsic
def timedelta_bits(typingctx, value):
    """A timedelta as int64 nanoseconds (for a cell); anything else is a typing error."""
    _require(value == TIMEDELTA, f"a {value} value cannot be stored in a variable of type timedelta")
    return types.int64(value), _same_bits


@intrinsic
def total_seconds(typingctx, value):
    """``timedelta.total_seconds()``: nanoseconds / 1e9 as a float."""
    _require(value == TIMEDELTA, f"total_seconds() needs a timedelta, got {value}")

    def codegen(context, builder, signature, args):
        return builder.fdiv(builder.sitofp(args[0], ir.DoubleType()), ir.DoubleType()(1e9))

    return types.float64(value), codegen


@intrinsic
def byte_offset(typingctx, ptr, offset):
    """``ptr + offset`` bytes, as a void pointer (struct field addresses)."""
    _require(isinstance(ptr, (types.RawPointer, types.CPointer)), f"expected a pointer, got {ptr}")
    _require(isinstance(offset, types.Integer), f"expected an integer offset, got {offset}")

    def codegen(context, builder, signature, args):
        raw = builder.bitcast(args[0], cgutils.voidptr_t)
        offset = context.cast(builder, args[1], signature.args[1], types.intp)
        return builder.gep(raw, [offset])

    return types.voidptr(ptr, offset), codegen
