"""The built-in types and categories, installed exactly like a third-party extension.

``register_all()`` registers them into the active `CompilationContext`; calling it again in the
same context does nothing.
"""

from __future__ import annotations

from ..compilation_context import CompilationContext
from ..function_analyzer import FunctionAnalyzer
from ..source_registry import SourceRegistry
from ..type_factory import TypeFactory
from .arrays import register_arrays
from .categories import BUILTIN_CATEGORIES
from .containers import ContainerConstantsCategory, DictType, ListType, register_container_handlers
from .datetimes import DateTimeType, TimeDeltaType, register_datetime_handlers
from .enum_sets import EnumSetType, register_enum_set_handlers
from .enums import EnumType, register_enum_handlers, register_enum_width, unregister_enum_width
from .ffi import register_ffi_handlers
from .numeric import register_numeric_handlers
from .structs import register_struct_handlers
from .outputs import PlainOutputHandler
from .primitives import PRIMITIVE_TYPES

__all__ = ["register_all", "BUILTIN_PRIORITY", "register_enum_width", "unregister_enum_width"]

#: Built-in types are tried after extension types registered with the default priority 0.
BUILTIN_PRIORITY = 100
_MARKER = "numba_cfunc_compiler.defaults"


def register_all() -> None:
    """Register every built-in into the active context (idempotent per context)."""
    ctx = CompilationContext.current()
    if ctx.extensions.get(_MARKER):
        return
    for type_cls in (*PRIMITIVE_TYPES, DateTimeType, TimeDeltaType, EnumType, EnumSetType, ListType, DictType):
        TypeFactory.register(type_cls, priority=BUILTIN_PRIORITY)
    for category_cls in (*BUILTIN_CATEGORIES, ContainerConstantsCategory):
        SourceRegistry.register(category_cls())
    register_container_handlers()
    register_arrays(priority=BUILTIN_PRIORITY)
    register_datetime_handlers()
    register_enum_handlers()
    register_enum_set_handlers()
    register_struct_handlers()
    register_ffi_handlers()
    register_numeric_handlers()
    FunctionAnalyzer.register_output_handler(PlainOutputHandler(), priority=BUILTIN_PRIORITY)
    ctx.extensions[_MARKER] = True
