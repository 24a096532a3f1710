"""Built-in output handler: a plain registered type as the return annotation is one output."""

from __future__ import annotations

import ast
from typing import Any

from ..function_analyzer import OutputTypeHandler
from ..models import OutputAnalysis
from ..type_factory import TypeFactory

__all__ = ["PlainOutputHandler"]


class PlainOutputHandler(OutputTypeHandler):
    """``def f(...) -> float`` writes ``return value`` to output 0."""

    def try_parse(self, return_annotation: Any, ast_tree: ast.FunctionDef) -> OutputAnalysis | None:
        if isinstance(return_annotation, type) and TypeFactory.get_type(return_annotation) is not None:
            return OutputAnalysis(output_types=[return_annotation])
        return None
