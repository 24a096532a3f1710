"""numba_cfunc_compiler: compile ordinary Python functions into native, C-callable entry points.

Node-facing names live here; the extension API lives in the submodules named in the docs.
"""

from __future__ import annotations

from .containers import NumbaArray, NumbaDict, NumbaList, create_new_array, create_new_dict, create_new_list
from .enum_set import EnumSet
from .errors import CompilationError, InternalCompilerError
from .models import State

__all__ = [
    "State",
    "NumbaList",
    "NumbaDict",
    "create_new_list",
    "create_new_dict",
    "NumbaArray",
    "create_new_array",
    "EnumSet",
    "CompilationError",
    "InternalCompilerError",
    "__version__",
]
__version__ = "0.1.0"
