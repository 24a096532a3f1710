"""Small helpers over Python function objects."""

from __future__ import annotations

from typing import Any

__all__ = ["cell_has_value"]


def cell_has_value(cell: Any) -> bool:
    """Whether a closure cell has been bound (an unbound one raises on access)."""
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True
