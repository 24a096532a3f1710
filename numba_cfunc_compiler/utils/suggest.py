""""Did you mean ...?" for a misspelt name, from the names that were available."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name`` when one is close enough to be a likely typo."""
    pool = sorted({c for c in candidates if isinstance(c, str) and c != name and not c.startswith("__")})
    found = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'alpha'?"`` for the closest candidate, or ``""``."""
    match = closest(name, candidates)
    return f"; did you mean {match!r}?" if match else ""
