"""Finding the system C compiler, as users expect: ``$CC``, else ``cc``, ``gcc``, ``clang``.

One definition for everything that runs a C compiler: the package build (hatch_build.py loads
this file by path, before the package is installed) and AOT export
(`numba_cfunc_compiler.targets.aot`). Standard library only.
"""

from __future__ import annotations

import os
import shlex
import shutil
from typing import Mapping

__all__ = ["CANDIDATES", "find_c_compiler"]

#: Tried in this order when ``$CC`` is not set.
CANDIDATES = ("cc", "gcc", "clang")


def find_c_compiler(environ: Mapping[str, str] | None = None) -> list[str]:
    """The C compiler command: ``$CC`` (it may carry arguments, e.g. ``ccache gcc``), else the first
    of `CANDIDATES` on ``$PATH`` (both read from ``environ``, default ``os.environ``). Raises
    `LookupError` saying what is missing; callers add what to do about it."""
    environ = os.environ if environ is None else environ
    path = environ.get("PATH", os.defpath)
    cc = environ.get("CC", "").strip()
    if cc:
        command = shlex.split(cc)
        if shutil.which(command[0], path=path) is None:
            raise LookupError(f"the C compiler CC={cc!r} is not on PATH")
        return command
    for candidate in CANDIDATES:
        if shutil.which(candidate, path=path):
            return [candidate]
    raise LookupError(f"none of {', '.join(CANDIDATES)} is on PATH")
