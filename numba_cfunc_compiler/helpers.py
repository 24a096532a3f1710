"""One helper namespace for generated code, open to every extension.

Generated code can only call what is in its module's globals. An extension that lowers node code
to calls of its own ``@numba.extending.intrinsic`` or ``@njit`` functions registers them here with
`register_helper`; they live on the active `CompilationContext` (``ctx.helpers``) under a reserved
name ``_ncc_<name>`` that user code cannot use, and every compile in that context puts them in the
generated module's globals. A hook then emits a call with `helper_call`. The built-ins
(datetime, struct) reach their intrinsics exactly this way.
"""

from __future__ import annotations

import ast
import keyword
from typing import Any

from .compilation_context import CompilationContext

__all__ = ["RESERVED_PREFIX", "helper_name", "register_helper", "helper_call"]

#: Every name the compiler generates starts with this; user code may not use it.
RESERVED_PREFIX = "_ncc_"


def helper_name(name: str) -> str:
    """The reserved name generated code uses for the helper ``name`` (``"clamp"`` -> ``"_ncc_clamp"``)."""
    if not isinstance(name, str):
        raise TypeError(f"a helper name must be a str, got {name!r}")
    full = name if name.startswith(RESERVED_PREFIX) else RESERVED_PREFIX + name
    if not full.isidentifier() or keyword.iskeyword(full):
        raise ValueError(f"helper name {name!r} is not an identifier")
    return full


def register_helper(name: str, obj: Any) -> str:
    """Make ``obj`` visible to all code generated in the active context as ``_ncc_<name>``; return
    that reserved name.

    Registering the same object under the same name again does nothing; a name already bound to
    another object is a `ValueError`.
    """
    full = helper_name(name)
    if obj is None:
        raise TypeError(f"helper {full!r}: cannot register None")
    helpers = CompilationContext.current().helpers
    existing = helpers.get(full, obj)
    if existing is not obj:
        raise ValueError(f"helper name {full!r} is already bound to {existing!r}; register {obj!r} under another name")
    helpers[full] = obj
    return full


def helper_call(fn: Any, *args: ast.expr) -> ast.Call:
    """``fn(*args)`` in generated code, for a helper registered in the active context (``fn`` is the
    registered object or its name)."""
    helpers = CompilationContext.current().helpers
    if isinstance(fn, str):
        full: str | None = helper_name(fn)
        if full not in helpers:
            full = None
    else:
        full = next((name for name, obj in helpers.items() if obj is fn), None)
    if full is None:
        raise ValueError(
            f"{fn!r} is not a registered helper of the active CompilationContext; "
            "call register_helper(name, obj) in your extension's register()"
        )
    return ast.Call(func=ast.Name(id=full, ctx=ast.Load()), args=list(args), keywords=[])
