"""Compiling and driving nodes of the reference host from Python."""

from __future__ import annotations

import ast
import copy
import ctypes
from typing import Any, Callable

import numba_rt
from numba_rt.abi import CELL_TYPES, Phase

from ..compilation_context import CompilationContext
from ..containers import ListSpec
from ..errors import CompilationError
from ..function_analyzer import UserFunction
from ..numba_core import CompilationOptions, CompilationResult, create_compiled_func
from ..utils.suggest import did_you_mean
from .annotations import SignalType, start, stop
from .extension import is_registered, register

__all__ = ["compile_node", "NodeRunner", "NodeRuntimeError", "DEFAULT_OPTIONS"]

#: The host compiles for speed: Numba's function is merged into the exported entry point.
DEFAULT_OPTIONS = CompilationOptions(force_inline=True)

_CELL_CTYPES = {name: cell.ctype for name, cell in CELL_TYPES.items() if cell.ctype is not None}


class NodeRuntimeError(RuntimeError):
    """A fault recorded by compiled code in the runtime's error record."""

    def __init__(self, code: int, message: str, entry: str) -> None:
        self.code = code
        self.message = message
        self.entry = entry
        super().__init__(f"{message} (error code {code} in {entry or 'unknown entry point'})")


def _python_type(argument: Any) -> Any:
    return argument.python_type if isinstance(argument, SignalType) else type(argument)


def _is_lifecycle_block(stmt: ast.stmt, globs: dict[str, Any], marker: Any) -> bool:
    if not isinstance(stmt, ast.With) or len(stmt.items) != 1:
        return False
    expr = stmt.items[0].context_expr
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Name)
        and globs.get(expr.func.id) is marker
        and not expr.args
        and not expr.keywords
        and stmt.items[0].optional_vars is None
    )


def split_lifecycle_blocks(user: UserFunction) -> tuple[UserFunction, list[ast.stmt], list[ast.stmt]]:
    """Move top-level ``with start():`` / ``with stop():`` blocks out of the body."""
    funcdef = copy.copy(user.funcdef)  # only the top-level body list changes: no need to copy the tree
    body, start_body, stop_body = [], [], []
    for stmt in funcdef.body:
        if _is_lifecycle_block(stmt, user.func_globals, start):
            start_body += stmt.body
        elif _is_lifecycle_block(stmt, user.func_globals, stop):
            stop_body += stmt.body
        else:
            body.append(stmt)
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.stmt) and any(_is_lifecycle_block(node, user.func_globals, m) for m in (start, stop)):
                raise CompilationError(
                    "`with start():` / `with stop():` must be at the top level of the node",
                    user.location(node),
                    stage="analysis",
                    hint="move the block out of the if/for/while",
                )
    funcdef.body = body or [ast.copy_location(ast.Pass(), user.funcdef)]
    stripped = UserFunction(funcdef, user.signature, user.func_globals, user.filename, user.qualname, user.col_shift)
    return stripped, start_body, stop_body


def compile_node(func: Callable, *, options: CompilationOptions | None = None, **constants: Any) -> CompilationResult:
    """Compile a host node. ``constants`` bind the non-``Signal`` parameters; a ``Signal``
    parameter may be given a ``Signal[T]`` to declare the type actually fed to it."""
    base = CompilationContext.current()
    ctx = base if is_registered(base) else base.derive()
    with ctx:
        register()
        user = UserFunction.load(func)
        node, start_body, stop_body = split_lifecycle_blocks(user)
        bound = {
            name: p.annotation
            for name, p in user.signature.parameters.items()
            if isinstance(p.annotation, SignalType)
        }
        bound.update(constants)
        return create_compiled_func(
            node,
            extract_python_type_fn=_python_type,
            start_body=start_body,
            stop_body=stop_body,
            options=options or DEFAULT_OPTIONS,
            **bound,
        )


class _Cells:
    """``count`` 8-byte host cells (or ``sizes[i]`` bytes) and the ``void*`` array pointing at them."""

    def __init__(self, count: int, sizes: dict[int, int] | None = None) -> None:
        sizes = sizes or {}
        self.buffers = [(ctypes.c_char * sizes.get(i, 8))() for i in range(count)]
        self.pointers = (ctypes.c_void_p * max(count, 1))(*[ctypes.addressof(b) for b in self.buffers])

    def read(self, index: int, cell_type: str) -> Any:
        return _CELL_CTYPES[cell_type].from_buffer(self.buffers[index]).value

    def write(self, index: int, cell_type: str, value: Any) -> None:
        _CELL_CTYPES[cell_type].from_buffer(self.buffers[index]).value = value


class NodeRunner:
    """Drives a compiled host node through START / EXECUTE / STOP, as a C host would."""

    def __init__(self, result: CompilationResult) -> None:
        if not isinstance(result, CompilationResult):
            got = f"function {result.__name__!r}" if callable(result) and hasattr(result, "__name__") else type(result).__name__
            raise TypeError(
                f"NodeRunner takes a CompilationResult (from compile_node(...)), got {got}; "
                "write NodeRunner(compile_node(f, ...))"
            )
        self.result = result
        self._runtime = numba_rt.load()
        meta = result.metadata
        self.input_names: list[str] = list(meta.get("ordered_input_signals", []))
        self._input_types: list[Any] = list(meta.get("input_variable_types", []))
        self._input_cells: list[str] = list(meta.get("input_cell_types", []))
        self.output_names: list[str] = list(meta["output_names"])
        self._output_types: list[Any] = list(meta["output_variable_types"])
        self._output_cells: list[str] = list(meta["output_cell_types"])
        self._struct_inputs: dict[int, Any] = {}  # keeps ctypes structs given as inputs alive
        n_out, n_in = len(self.output_names), len(self.input_names)
        sizes = dict(zip(meta["struct_state_indices"], meta["struct_state_sizes"]))
        self._outputs = _Cells(n_out)
        self._output_ticked = (ctypes.c_int8 * max(n_out, 1))()
        self._state = _Cells(len(meta["state_values"]), sizes)
        self._inputs = _Cells(n_in)
        self._input_ticked = (ctypes.c_int8 * max(n_in, 1))()
        self._input_valid = (ctypes.c_int8 * max(n_in, 1))()
        self._index = {name: i for i, name in enumerate(self.input_names)}
        self._args = [self._outputs.pointers, self._output_ticked, self._state.pointers]
        if any(p.name == "inputs" for p in result.cfunc_params):
            self._extra = [self._inputs.pointers, self._input_ticked, self._input_valid]
        else:
            self._extra = []
        argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int8] + [ctypes.c_void_p] * len(self._extra)
        self._fn = ctypes.CFUNCTYPE(None, *argtypes)(result.address)

    def _call(self, phase: Phase) -> None:
        self._runtime.clear_error()
        self._fn(*self._args, phase, *self._extra)
        error = self._runtime.error()
        if error is not None:
            self._runtime.clear_error()
            raise NodeRuntimeError(*error)

    def start(self) -> None:
        self._call(Phase.START)

    def stop(self) -> None:
        self._call(Phase.STOP)

    def execute(self, **inputs: Any) -> Any:
        """Tick the given inputs and run EXECUTE. Returns the single output's value (or None), or a
        dict of the named outputs that ticked."""
        ctypes.memset(self._output_ticked, 0, ctypes.sizeof(self._output_ticked))
        ctypes.memset(self._input_ticked, 0, ctypes.sizeof(self._input_ticked))
        for name, value in inputs.items():
            if name not in self._index:
                raise TypeError(
                    f"{self.result.qualname} has no input {name!r}{did_you_mean(name, self.input_names)} "
                    f"(inputs: {', '.join(self.input_names) or 'none'})"
                )
            i = self._index[name]
            var_type = self._input_types[i]
            try:
                if value is None:
                    raise TypeError("no value")
                if var_type.state_size is not None:  # a struct: inputs[i] points at its memory
                    self._struct_inputs[i] = value
                    self._inputs.pointers[i] = ctypes.addressof(value)
                else:
                    self._inputs.write(i, self._input_cells[i], var_type.host_encode(value))
            except (TypeError, AttributeError):
                raise TypeError(
                    f"input {name!r} of {self.result.qualname} takes {var_type.describe()}, "
                    f"got {type(value).__name__} {value!r}"
                ) from None
            except (ValueError, OverflowError) as exc:  # the right type, a value it cannot hold
                raise type(exc)(f"input {name!r} of {self.result.qualname}: {exc}") from None
            self._input_ticked[i] = 1
            self._input_valid[i] = 1
        self._call(Phase.EXECUTE)
        ticked = {
            name: self._read_output(i) for i, name in enumerate(self.output_names) if self._output_ticked[i]
        }
        if self.result.named_outputs is None:
            return next(iter(ticked.values()), None)
        return ticked

    def _read_output(self, index: int) -> Any:
        return self._output_types[index].host_decode(self._outputs.read(index, self._output_cells[index]))

    def state(self, name: str) -> Any:
        """The current value of a state variable, for inspection and tests: scalars as Python
        values, a list or dict as a Python copy of its contents (None before START / after STOP).
        Struct state is host memory; read it through the struct type instead."""
        meta = self.result.metadata
        names = list(meta["state_names"])
        if name not in names:
            raise KeyError(
                f"{self.result.qualname} has no state variable {name!r}{did_you_mean(name, names)} "
                f"(state variables: {', '.join(names) or 'none'})"
            )
        i = names.index(name)
        var_type = meta["state_variable_types"][i]
        if var_type.state_size is not None:
            raise TypeError(f"state {name!r} is a struct; read its fields from the host memory")
        raw = self._state.read(i, "int64" if var_type.is_container else meta["state_types"][i])
        if not var_type.is_container:
            return var_type.host_decode(raw)
        if not raw:
            return None
        if isinstance(var_type.python_type, ListSpec):
            return self._runtime.list_items(raw)
        return dict(self._runtime.dict_items(raw))
