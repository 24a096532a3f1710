"""Shared fixtures and helpers: fresh compilation contexts and a tiny ctypes host.

`DirectNode` drives any `CompilationResult` through its native entry point with hand-made
8-byte cells, exactly as a C host would (no `NodeRunner`), so tests of the core compiler do not
depend on the reference host.
"""

from __future__ import annotations

import atexit
import ctypes
import inspect
import linecache
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

# The suite never reads or writes a user's persistent compile cache: this run (and every process
# it starts, which may import this module again) uses a fresh one, removed at exit.
if "NCC_TEST_SESSION_CACHE" not in os.environ:
    os.environ["NCC_TEST_SESSION_CACHE"] = os.environ["NCC_CACHE_DIR"] = tempfile.mkdtemp(prefix="ncc-test-cache-")
    atexit.register(shutil.rmtree, os.environ["NCC_CACHE_DIR"], True)

from numba_cfunc_compiler import CompilationError, host  # noqa: E402
from numba_cfunc_compiler.artifact import NodeArtifact  # noqa: E402
from numba_cfunc_compiler.compilation_context import CompilationContext  # noqa: E402
from numba_cfunc_compiler.defaults import register_all  # noqa: E402
from numba_cfunc_compiler.host import NodeRunner, compile_node  # noqa: E402
from numba_cfunc_compiler.numba_core import CompilationOptions, CompilationResult, create_compiled_func  # noqa: E402

NCC_EXECUTE, NCC_START, NCC_STOP = 0, 1, 2

#: ctypes of the cfunc parameter type specs used in the tests.
PARAM_CTYPES = {
    "void**": ctypes.c_void_p,
    "int8*": ctypes.c_void_p,
    "voidptr": ctypes.c_void_p,
    "int8": ctypes.c_int8,
    "int64": ctypes.c_int64,
    "float64": ctypes.c_double,
}
#: ctypes of the value cells, by the cell type names the built-in categories report.
CELL_CTYPES = {
    "int64": ctypes.c_int64, "float64": ctypes.c_double, "int8": ctypes.c_int8,
    "int16": ctypes.c_int16, "int32": ctypes.c_int32,
}  # fmt: skip


@pytest.fixture(autouse=True)
def every_artifact_round_trips(monkeypatch) -> Iterator[None]:
    """Every node any test compiles: ``NodeArtifact.from_json(a.to_json()) == a`` (SPEC section 7).
    The pipeline asks each new artifact for its metadata views once; that call records it."""
    seen: list[NodeArtifact] = []
    metadata = NodeArtifact.metadata

    def recording(self: NodeArtifact) -> dict[str, Any]:
        seen.append(self)
        return metadata(self)

    monkeypatch.setattr(NodeArtifact, "metadata", recording)
    yield
    for artifact in seen:
        assert NodeArtifact.from_json(artifact.to_json()) == artifact, artifact.native_name


@pytest.fixture
def fresh_context() -> Iterator[CompilationContext]:
    """A new, active context holding only the built-in defaults."""
    with CompilationContext() as ctx:
        register_all()
        yield ctx


@pytest.fixture
def host_context() -> Iterator[CompilationContext]:
    """A new, active context holding the built-ins and the reference host."""
    with CompilationContext() as ctx:
        register_all()
        host.register()
        yield ctx


def compile_direct(func: Any, *args: Any, options: CompilationOptions | None = None, **kwargs: Any) -> CompilationResult:
    """`create_compiled_func` the Quick Start way: every argument is a constant typed by `type`."""
    return create_compiled_func(func, *args, extract_python_type_fn=type, options=options, **kwargs)


def registry_snapshot(ctx: CompilationContext) -> dict[str, Any]:
    """Counts of everything registered in ``ctx`` (to prove a failed compile changed nothing)."""
    return {
        "types": len(ctx.types),
        "input_handlers": len(ctx.input_handlers),
        "output_handlers": len(ctx.output_handlers),
        "source_categories": sorted(ctx.source_categories),
        "ast_handlers": {key: len(reg) for key, reg in ctx.ast_handlers.items()},
        "attr_accessors": len(ctx.attr_accessors),
        "call_handlers": len(ctx.call_handlers),
        "attr_lowerers": len(ctx.attr_lowerers),
        "signal_processors": len(ctx.signal_processors),
        "helpers": sorted(ctx.helpers),
        "entry_adapters": sorted(ctx.entry_adapters),
        "extensions": sorted(ctx.extensions),
        "results": sorted(ctx.results),
    }


class CellArray:
    """``count`` zeroed 8-byte host cells and the ``void*`` array pointing at them."""

    def __init__(self, count: int) -> None:
        self.cells = (ctypes.c_uint64 * max(count, 1))()
        base = ctypes.addressof(self.cells)
        self.pointers = (ctypes.c_void_p * max(count, 1))(*[base + 8 * i for i in range(max(count, 1))])

    def get(self, index: int, cell_type: str) -> Any:
        return CELL_CTYPES[cell_type].from_buffer(self.cells, 8 * index).value

    def set(self, index: int, cell_type: str, value: Any) -> None:
        CELL_CTYPES[cell_type].from_buffer(self.cells, 8 * index).value = value


def entry_point(result: CompilationResult) -> Any:
    """A ctypes function over ``result.address`` built from ``result.cfunc_params``."""
    argtypes = [PARAM_CTYPES[p.type] for p in result.cfunc_params]
    return ctypes.CFUNCTYPE(None, *argtypes)(result.address)


class DirectNode:
    """Calls a compiled node through its native entry point with hand-made cells."""

    def __init__(self, result: CompilationResult) -> None:
        self.result = result
        self.n_outputs = len(result.output_types)
        self.outputs = CellArray(self.n_outputs)
        self.ticked = (ctypes.c_int8 * max(self.n_outputs, 1))()
        self.state = CellArray(len(result.state_values))
        self.fn = entry_point(result)

    def call(self, phase: int, *extra: Any) -> None:
        self.fn(self.outputs.pointers, self.ticked, self.state.pointers, phase, *extra)

    def start(self, *extra: Any) -> None:
        self.call(NCC_START, *extra)

    def stop(self, *extra: Any) -> None:
        self.call(NCC_STOP, *extra)

    def execute(self, *extra: Any) -> list[Any]:
        """Run EXECUTE; the value of each output that ticked, None for the others."""
        ctypes.memset(self.ticked, 0, ctypes.sizeof(self.ticked))
        self.call(NCC_EXECUTE, *extra)
        cell_types = self.result.metadata["output_cell_types"]
        return [
            self.outputs.get(i, cell_types[i]) if self.ticked[i] else None for i in range(self.n_outputs)
        ]

    def state_value(self, name: str) -> Any:
        index = self.result.metadata["state_names"].index(name)
        return self.state.get(index, self.result.metadata["state_types"][index])


# -- helpers for compile-error tests: the offending line of a node carries MARKER ---------------
MARKER = "# <- error"


def marker_line(func) -> int:
    """The line of ``func`` marked with MARKER (exactly one)."""
    lines, start = inspect.getsourcelines(func)
    hits = [start + i for i, line in enumerate(lines) if MARKER in line]
    assert len(hits) == 1, f"{func.__name__} must mark exactly one line"
    return hits[0]


def rejected(func, *, at: str | None = None, **constants) -> CompilationError:
    """Compile ``func`` with the reference host: it must fail with a `CompilationError` at its
    marked line, quoting it, with the column at ``at`` when given."""
    with pytest.raises(CompilationError) as info:
        compile_node(func, **constants)
    err = info.value
    filename = inspect.getsourcefile(func)
    lineno = marker_line(func)
    line = linecache.getline(filename, lineno).rstrip("\n")
    assert err.filename == filename, str(err)
    assert err.lineno == lineno, str(err)
    assert err.source_line == line, str(err)
    if at is not None:
        assert line[err.col_offset:].startswith(at), (line, err.col_offset, str(err))
    return err


def started(result) -> NodeRunner:
    """A NodeRunner for ``result``, after START."""
    runner = NodeRunner(result)
    runner.start()
    return runner
