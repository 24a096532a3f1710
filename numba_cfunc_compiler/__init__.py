"""numba_cfunc_compiler: compile ordinary Python functions into native, C-callable entry points.

Node-facing names live here; the extension API lives in the submodules named in the docs.
"""

from __future__ import annotations

from .errors import CompilationError, InternalCompilerError
from .models import State

__all__ = ["State", "CompilationError", "InternalCompilerError", "__version__"]
__version__ = "0.1.0"
