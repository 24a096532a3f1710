"""Small helpers over Python function objects."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["cell_has_value", "check_arity"]


def cell_has_value(cell: Any) -> bool:
    """Whether a closure cell has been bound (an unbound one raises on access)."""
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def check_arity(fn: Any, nargs: int, what: str, shape: str | None = None) -> None:
    """Raise TypeError now, at registration, unless ``fn`` can be called with ``nargs`` positional
    arguments (``shape`` names them in the message). Builtins without a signature pass."""
    if not callable(fn):
        raise TypeError(f"{what} must be callable, got {fn!r}")
    try:
        inspect.signature(fn).bind(*range(nargs))
    except TypeError:
        expected = shape or f"{nargs} positional arguments"
        raise TypeError(f"{what} {getattr(fn, '__qualname__', fn)!r} must accept {expected}") from None
    except ValueError:
        pass
