"""Small helpers over Python function objects."""

from __future__ import annotations

import functools
import inspect
from typing import Any

__all__ = ["cell_has_value", "check_arity", "describe_origin"]


def cell_has_value(cell: Any) -> bool:
    """Whether a closure cell has been bound (an unbound one raises on access)."""
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


def describe_origin(obj: Any) -> str:
    """Where ``obj`` (a function, a class, or an instance of a class) is defined, for error
    messages: ``"Name (module mod, /path/file.py:12)"``; the line only for functions."""
    target = inspect.unwrap(obj) if callable(obj) and not isinstance(obj, type) else obj
    target = getattr(target, "__func__", target)  # bound methods
    if isinstance(target, functools.partial):
        target = target.func
    if not (isinstance(target, type) or inspect.isfunction(target)):
        target = type(target)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
    module = getattr(target, "__module__", None) or "?"
    code = getattr(target, "__code__", None)
    try:
        path = inspect.getsourcefile(target) or inspect.getfile(target)
    except (TypeError, OSError):
        path = code.co_filename if code is not None else None
    place = f"{path}:{code.co_firstlineno}" if path and code is not None else path
    return f"{name} (module {module}{', ' + place if place else ''})"


class LazyOrigin:
    """`describe_origin` of an object, computed only when formatted into a message (it reads the
    source file, which registration-time checks should not pay for when nothing is wrong)."""

    def __init__(self, obj: Any, template: str = "{}") -> None:
        self.obj = obj
        self.template = template

    def __str__(self) -> str:
        return self.template.format(describe_origin(self.obj))


def check_arity(fn: Any, nargs: int, what: str, shape: str | None = None) -> None:
    """Raise TypeError now, at registration, unless ``fn`` can be called with ``nargs`` positional
    arguments (``shape`` names them in the message, which also says where ``fn`` is defined).
    Builtins without a signature pass."""
    if not callable(fn):
        raise TypeError(f"{what} must be callable, got {fn!r}")
    func, bound = (fn.__func__, True) if inspect.ismethod(fn) else (fn, False)
    try:
        ok = _accepts(func, bound, nargs) if inspect.isfunction(func) else _binds(fn, nargs)
    except TypeError:  # unhashable callable: check it directly
        ok = _binds(fn, nargs)
    if not ok:
        expected = shape or f"{nargs} positional arguments"
        raise TypeError(f"{what} {describe_origin(fn)} must accept {expected}")


def _binds(fn: Any, nargs: int) -> bool:
    try:
        inspect.signature(fn).bind(*range(nargs))
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): accepted
        pass
    return True


def _accepts(func: Any, bound: bool, nargs: int) -> bool:
    """`_binds` for a plain function (``bound``: called as a method, its first parameter taken),
    read from its code object: no `inspect.signature`, which matters because hooks defined inside a
    ``register()`` function are new function objects each time a context registers them."""
    code = func.__code__
    n = nargs + 1 if bound else nargs
    kwonly = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    if any(name not in (func.__kwdefaults__ or {}) for name in kwonly):
        return False  # a keyword-only parameter without a default: no positional call binds
    required = code.co_argcount - len(func.__defaults__ or ())
    return required <= n and (n <= code.co_argcount or bool(code.co_flags & inspect.CO_VARARGS))
