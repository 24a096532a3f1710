"""User-facing and internal error types.

`CompilationError` is what a user's mistake produces: it names the file, line and column, quotes the
line, says which pipeline stage found it and what to do instead. `InternalCompilerError` is our bug.
"""

from __future__ import annotations

import ast
import contextlib
import linecache
import sys
import traceback
from types import TracebackType
from typing import Any, Iterator

__all__ = ["CompilationError", "InternalCompilerError", "SourceLocation", "internal_errors"]


class SourceLocation:
    """Where in the user's file something happened (1-based line, 0-based column)."""

    __slots__ = ("filename", "lineno", "col_offset")

    def __init__(self, filename: str, lineno: int | None, col_offset: int | None = 0) -> None:
        self.filename = filename
        self.lineno = lineno
        self.col_offset = col_offset or 0

    @classmethod
    def of(cls, node: ast.AST | None, filename: str, col_shift: int = 0) -> SourceLocation:
        lineno = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", 0) or 0
        return cls(filename, lineno, col + col_shift if lineno else 0)

    def source_line(self) -> str:
        if not self.lineno:
            return ""
        return linecache.getline(self.filename, self.lineno).rstrip("\n")

    def __repr__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col_offset + 1}"


class CompilationError(Exception):
    """A problem in the user's function, reported at the user's line.

    Attributes: ``message``, ``filename``, ``lineno``, ``col_offset`` (0-based), ``source_line``,
    ``stage`` (the pipeline stage that found it) and ``hint`` (what to do instead).
    """

    def __init__(
        self,
        message: str,
        location: SourceLocation | None = None,
        *,
        stage: str = "analysis",
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.location = location
        self.filename = location.filename if location else None
        self.lineno = location.lineno if location else None
        self.col_offset = location.col_offset if location else None
        self.source_line = location.source_line() if location else ""
        self.stage = stage
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.location!r}: " if self.location and self.lineno else ""
        text = f"{where}{self.message} [during: {self.stage}]"
        if self.source_line:
            stripped = self.source_line.lstrip()
            indent = len(self.source_line) - len(stripped)
            caret = max(0, (self.col_offset or 0) - indent)
            text += f"\n    {stripped}\n    {' ' * caret}^"
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class InternalCompilerError(RuntimeError):
    """A failure inside the compiler that is not the user's fault: a bug in numba_cfunc_compiler
    or in a registered extension (a handler, category or type hook that raised).

    Attributes: ``message``, ``stage`` (the pipeline stage), ``location`` / ``filename`` /
    ``lineno`` (the user's line being compiled, when known) and ``extension`` (the extension code
    that raised: class or function with its module, when the failure is inside one). Raised
    ``from`` the original exception (``__cause__``) by `internal_errors`.
    """

    def __init__(
        self,
        message: str,
        *,
        stage: str | None = None,
        location: SourceLocation | None = None,
        extension: str | None = None,
    ) -> None:
        self.message = message
        self.stage = stage
        self.location = location
        self.filename = location.filename if location else None
        self.lineno = location.lineno if location else None
        self.extension = extension
        super().__init__(self._format())

    def _format(self) -> str:
        text = f"internal compiler error{' during ' + self.stage if self.stage else ''}: {self.message}"
        if self.location is not None and self.lineno:
            text += f"\n  while compiling {self.location!r}"
            line = self.location.source_line().strip()
            if line:
                text += f": {line}"
        if self.extension:
            text += f"\n  raised in extension {self.extension}"
            culprit = f"numba-cfunc-compiler or in extension {self.extension.split(' ', 1)[0]}"
        else:
            culprit = "numba-cfunc-compiler"
        return text + f"\nThis is a bug in {culprit}, please report it (the original error is chained above)."

    def __reduce__(self) -> Any:  # keeps the fields across processes (compile_many's workers)
        return _rebuild, (type(self), self.message, self.stage, self.location, self.extension)

    @classmethod
    def wrap(cls, exc: BaseException, stage: str, user: Any = None) -> InternalCompilerError:
        """An `InternalCompilerError` for ``exc`` raised during ``stage``; ``user`` (a
        `function_analyzer.UserFunction`, if known) finds the user's line in the traceback."""
        return cls(
            f"{type(exc).__name__}: {exc}",
            stage=stage,
            location=_user_location(exc.__traceback__, user),
            extension=_extension_of(exc.__traceback__),
        )


def _rebuild(cls: type, message: str, stage: str | None, location: Any, extension: str | None) -> Any:
    return cls(message, stage=stage, location=location, extension=extension)


@contextlib.contextmanager
def internal_errors(stage: str, user: Any = None, passthrough: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Run one pipeline stage: a `CompilationError` (the user's mistake), an
    `InternalCompilerError` from an inner stage and the ``passthrough`` types go through; any other
    ``Exception`` becomes an `InternalCompilerError` naming ``stage``, chained to it.
    ``KeyboardInterrupt`` and other non-``Exception``s are never caught."""
    try:
        yield
    except (CompilationError, InternalCompilerError, MemoryError, *passthrough):
        raise
    except Exception as exc:
        raise InternalCompilerError.wrap(exc, stage, user) from exc


_PACKAGE = __name__.rpartition(".")[0]
#: Parts of the package written like third-party extensions (blamed as extensions when they raise).
_EXTENSION_PACKAGES = (f"{_PACKAGE}.defaults", f"{_PACKAGE}.host")
_LIBRARIES = frozenset(sys.stdlib_module_names) | {"numba", "llvmlite", "numpy", "numba_rt", "_pytest", "pytest", "pluggy"}


def _is_core(module: str) -> bool:
    inside = module == _PACKAGE or module.startswith(_PACKAGE + ".")
    return inside and not module.startswith(_EXTENSION_PACKAGES)


def _extension_of(tb: TracebackType | None) -> str | None:
    """The extension code that raised, as ``"module.Class (method, file:line)"``: the innermost
    frame of the traceback that is neither the compiler's core nor a library (stdlib, Numba,
    llvmlite ...), preferring third-party code over the built-in extensions (``defaults``,
    ``host``) that called it; None when the failure is in the core or a library."""
    frames = []
    for frame, lineno in traceback.walk_tb(tb):
        module = frame.f_globals.get("__name__") or "?"
        if not (_is_core(module) or module.partition(".")[0] in _LIBRARIES):
            frames.append((not module.startswith(_EXTENSION_PACKAGES), frame, lineno, module))
    if not frames:
        return None
    third_party = [f for f in frames if f[0]]
    _, frame, lineno, module = (third_party or frames)[-1]
    code = frame.f_code
    owner = frame.f_locals.get("self", frame.f_locals.get("cls"))
    if owner is not None and not isinstance(owner, type):
        owner = type(owner)
    if isinstance(owner, type) and getattr(owner, code.co_name, None) is not None:
        name = f"{owner.__module__}.{owner.__qualname__}"
    else:
        name = f"{module}.{getattr(code, 'co_qualname', code.co_name)}"
    return f"{name} ({code.co_name}, {code.co_filename}:{lineno})"


def _user_location(tb: TracebackType | None, user: Any) -> SourceLocation | None:
    """The user's line the failing stage was working on: the innermost AST node (a local of a
    frame, preferably ``node``) inside the user's function; else the ``def`` line."""
    funcdef = getattr(user, "funcdef", None)
    if funcdef is None:
        return None
    first, last = funcdef.lineno, getattr(funcdef, "end_lineno", None) or funcdef.lineno
    for frame, _ in reversed(list(traceback.walk_tb(tb))):
        local = frame.f_locals
        candidates = [local[k] for k in ("node", "stmt", "expr") if k in local]
        candidates += [v for k, v in local.items() if k not in ("node", "stmt", "expr")]
        for value in candidates:
            if (
                isinstance(value, (ast.stmt, ast.expr))
                and not isinstance(value, ast.FunctionDef)
                and first <= (getattr(value, "lineno", None) or 0) <= last
            ):
                return user.location(value)
    return user.location(None)
