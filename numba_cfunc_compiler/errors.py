"""User-facing and internal error types.

`CompilationError` is what a user's mistake produces: it names the file, line and column, quotes the
line, says which pipeline stage found it and what to do instead. `InternalCompilerError` is our bug.
"""

from __future__ import annotations

import ast
import linecache

__all__ = ["CompilationError", "InternalCompilerError", "SourceLocation"]


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
    """A bug in numba_cfunc_compiler itself, not in the user's code."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}\nThis is an internal error in numba_cfunc_compiler; please report it.")
