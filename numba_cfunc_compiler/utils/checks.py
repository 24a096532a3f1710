"""Typing-time checks of the user's code that only Numba's types can decide.

The converter wraps an expression as ``require_integer(expr, site)``: the value passes through
unchanged (no code at all), but typing fails when it is not an integer or bool. ``site`` is a
literal index into the checks the converter recorded (``info.typing_checks``: the user's node,
the message and the hint); the typing error carries ``CHECK_MARKER`` + site so the Numba-error
mapping can report the user's sub-expression with that message.
"""

from __future__ import annotations

import re

from numba import types
from numba.core import errors
from numba.extending import intrinsic

__all__ = ["require_integer", "CHECK_MARKER", "CHECK_PATTERN"]

CHECK_MARKER = "ncc-check #"
#: Finds ``(site, value type)`` in the typing error's text.
CHECK_PATTERN = re.compile(re.escape(CHECK_MARKER) + r"(\d+): got (\S+)")


@intrinsic(prefer_literal=True)
def require_integer(typingctx, value, site):
    """``require_integer(v, site)``: ``v`` itself when it is an integer (a bool as int64), else a
    typing error naming the check ``site``."""
    shown = getattr(site, "literal_value", "?")
    if not isinstance(value, (types.Integer, types.Boolean)):
        raise errors.TypingError(f"{CHECK_MARKER}{shown}: got {value}")
    result = types.int64 if isinstance(value, types.Boolean) else value
    sig = result(value, site)

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[0], value, result)

    return sig, codegen
