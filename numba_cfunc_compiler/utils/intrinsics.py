"""Numba intrinsics that generated code uses to reach host-owned memory."""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

__all__ = ["cast_voidptr_to_ptr"]


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
