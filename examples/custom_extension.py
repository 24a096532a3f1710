"""A minimal third-party extension, compiled with create_compiled_func and called through ctypes.

It adds three things to a CompilationContext, using only the public registration API:
  - a source category that appends one parameter, ``now_ns: int64``, to the C signature;
  - an AST handler that lowers ``now()`` in node code to that parameter;
  - a type: ``IntEnum`` subclasses as 8-byte integer cells (constants, state and outputs).

    python examples/custom_extension.py
"""

from __future__ import annotations

import ast
import ctypes
import enum
from dataclasses import dataclass

from numba_cfunc_compiler import State
from numba_cfunc_compiler.ast_handlers import ast_handler
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all
from numba_cfunc_compiler.models import VariableType
from numba_cfunc_compiler.numba_core import create_compiled_func
from numba_cfunc_compiler.source_registry import CfuncParam, SourceCategory, SourceInitFilter, SourceRegistry
from numba_cfunc_compiler.type_factory import TypeFactory


# ---- the extension ----------------------------------------------------------------------------
def now() -> int:
    """In node code: the host's clock, in nanoseconds. Lowered at compile time."""
    raise RuntimeError("now() only has a meaning inside a compiled node")


class ClockCategory(SourceCategory):
    """Appends ``now_ns: int64`` to the signature, after the built-in prefix."""

    id = "example.clock"
    order = 0  # built-ins use negative orders; orders must be unique
    init_filter = SourceInitFilter.ON_EXECUTE

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return [CfuncParam("now_ns", "int64")]


@dataclass(frozen=True)
class IntEnumType(VariableType):
    """Any IntEnum: stored as its integer value in an int64 cell."""

    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def is_type_supported(cls, var_type: object) -> bool:
        return isinstance(var_type, type) and issubclass(var_type, enum.IntEnum)

    def coerce_constant(self, value: object) -> int:
        return 0 if value is None else int(self.python_type(value))


def register() -> None:
    """Register the extension into the active CompilationContext."""
    TypeFactory.register(IntEnumType)
    SourceRegistry.register(ClockCategory())

    @ast_handler("Call", pre=True)
    def lower_now(converter, node: ast.Call):
        if isinstance(node.func, ast.Name) and converter.globals.get(node.func.id) is now:
            if node.args or node.keywords:
                raise converter.error("now() takes no arguments", node)
            return ast.Name(id="now_ns", ctx=ast.Load())
        return None  # not ours: let the next handler or the default logic run


# ---- a node written against it ----------------------------------------------------------------
class Level(enum.IntEnum):
    DEBUG = 10
    INFO = 20
    WARN = 30


def throttle(level: Level, min_gap_ns: int) -> Level:
    """Let a message of ``level`` through at most once per ``min_gap_ns``."""
    last: State[int] = -1
    t = now()
    if last < 0 or t - last >= min_gap_ns:
        last = t
        return level


def main() -> None:
    with CompilationContext():
        register_all()  # built-ins first: they provide the signature prefix
        register()
        result = create_compiled_func(throttle, Level.WARN, min_gap_ns=15, extract_python_type_fn=type)

    print(result.signature)
    print(f"{result.native_name}  state_values={result.state_values}")

    # Host-owned memory: one output cell + tick flag, one state cell (zeroed).
    out = ctypes.c_int64()
    outputs = (ctypes.c_void_p * 1)(ctypes.addressof(out))
    output_ticked = (ctypes.c_int8 * 1)()
    cell = ctypes.c_int64()
    state = (ctypes.c_void_p * 1)(ctypes.addressof(cell))
    fn = result.compiled_func.ctypes  # ctypes function over result.address

    fn(outputs, output_ticked, state, 1, 0)  # START (now_ns is unused there)
    for t in (0, 5, 20, 22, 40):
        output_ticked[0] = 0  # the host clears ticks before each EXECUTE
        fn(outputs, output_ticked, state, 0, t)
        print(f"now_ns={t:>2}: {Level(out.value).name if output_ticked[0] else '-'}")
    fn(outputs, output_ticked, state, 2, 0)  # STOP


if __name__ == "__main__":
    main()
