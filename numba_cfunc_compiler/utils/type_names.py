"""Numba types spelled as text, as the extension API writes them (``"int64"``, ``"void*"``)."""

from __future__ import annotations

from numba.core import types

__all__ = ["parse_numba_type"]


def parse_numba_type(spec: str) -> types.Type:
    """``"voidptr"``, ``"void*"``, ``"void**"``, ``"int8*"``, ``"float64"`` ... as a Numba type."""
    text = spec.replace(" ", "")
    depth = len(text) - len(text.rstrip("*"))
    base = text.rstrip("*")
    if base == "void" and depth:
        ty: types.Type = types.voidptr
        depth -= 1
    else:
        ty = getattr(types, base, None)
        if not isinstance(ty, types.Type):
            raise ValueError(f"unknown cfunc parameter type {spec!r}")
    for _ in range(depth):
        ty = types.CPointer(ty)
    return ty
