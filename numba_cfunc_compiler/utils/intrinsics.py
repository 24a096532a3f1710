"""Numba intrinsics that generated code uses to reach host-owned memory."""

from __future__ import annotations

from numba import types
from numba.core import errors
from numba.extending import intrinsic

__all__ = ["cast_voidptr_to_ptr", "checked_cell_value"]


@intrinsic
def cast_voidptr_to_ptr(typingctx, ptr, type_name):
    """``cast_voidptr_to_ptr(p, 'float64')``: the void pointer ``p`` as a ``float64*``."""
    if not isinstance(ptr, (types.RawPointer, types.CPointer)) or not isinstance(type_name, types.StringLiteral):
        return None
    target = getattr(types, type_name.literal_value, None)
    if not isinstance(target, types.Type):
        return None
    sig = types.CPointer(target)(ptr, type_name)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target).as_pointer())

    return sig, codegen


_ACCEPTS = {
    "int64": (types.Integer, types.Boolean),
    "float64": (types.Float, types.Integer, types.Boolean),
    "int8": (types.Boolean, types.Integer),
}


@intrinsic
def checked_cell_value(typingctx, value, type_name):
    """``checked_cell_value(v, 'int64')``: ``v`` converted to the cell type, or a typing error when
    the conversion would lose information (a float stored into an int cell)."""
    if not isinstance(type_name, types.StringLiteral):
        return None
    target = getattr(types, type_name.literal_value, None)
    accepted = _ACCEPTS.get(type_name.literal_value)
    if accepted is None:
        accepted = (type(target),)
    if not isinstance(value, accepted):
        shown = {"int64": "int", "float64": "float", "int8": "bool"}.get(type_name.literal_value, type_name.literal_value)
        raise errors.TypingError(f"a {value} value cannot be stored in a variable of type {shown}")
    sig = target(value, type_name)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], signature.args[0], target)

    return sig, codegen
