"""Compiling and driving nodes of the reference host from Python.

Importing this module does not import Numba: `compile_node` loads the compiler when it is called,
and `NodeRunner.from_library` drives a node of an AOT library with the compiler never loaded.
"""

from __future__ import annotations

import ast
import ctypes
import functools
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numba_rt
from numba_rt.abi import Phase

from ..utils.suggest import did_you_mean
from .annotations import BasketType, SignalType, start, stop
from .library import Cells, NodeRuntimeError, array_values, codec_for, container_kind, open_library

if TYPE_CHECKING:
    from ..function_analyzer import UserFunction
    from ..numba_core import CompilationOptions, CompilationResult

__all__ = ["compile_node", "NodeRunner", "NodeRuntimeError", "DEFAULT_OPTIONS"]  # noqa: F822 - DEFAULT_OPTIONS is a lazy attribute (__getattr__)


@functools.lru_cache(maxsize=None)
def _default_options() -> CompilationOptions:
    from ..numba_core import CompilationOptions  # noqa: PLC0415 - the compiler loads on first use

    return CompilationOptions(force_inline=True)


def __getattr__(name: str) -> Any:
    # DEFAULT_OPTIONS: the host compiles for speed (Numba's function is merged into the exported
    # entry point). Built on first access, so that importing this module needs no Numba.
    if name == "DEFAULT_OPTIONS":
        return _default_options()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _python_type(argument: Any) -> Any:
    # a Signal[T] input, or a Basket[T, N] (its elements' type)
    return argument.python_type if isinstance(argument, (SignalType, BasketType)) else type(argument)


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

    def block_name(stmt: ast.stmt) -> str | None:
        for marker in (start, stop):
            if _is_lifecycle_block(stmt, user.func_globals, marker):
                return marker.__name__
        return None

    stripped, blocks = user.split_blocks(block_name, what="`with start():` / `with stop():`")
    return stripped, blocks.get("start", []), blocks.get("stop", [])


def compile_node(func: Callable, *, options: CompilationOptions | None = None, **constants: Any) -> CompilationResult:
    """Compile a host node. ``constants`` bind the non-``Signal`` parameters; a ``Signal``
    parameter may be given a ``Signal[T]`` to declare the type actually fed to it."""
    # The compiler is imported here, not at module level: driving a library needs none of it.
    from ..compilation_context import CompilationContext  # noqa: PLC0415
    from ..function_analyzer import UserFunction  # noqa: PLC0415
    from ..numba_core import create_compiled_func  # noqa: PLC0415
    from .extension import is_registered, register  # noqa: PLC0415

    base = CompilationContext.current()
    ctx = base if is_registered(base) else base.derive()
    with ctx:
        register()
        user = UserFunction.load(func)
        node, start_body, stop_body = split_lifecycle_blocks(user)
        bound = {
            name: p.annotation
            for name, p in user.signature.parameters.items()
            if isinstance(p.annotation, (SignalType, BasketType))
        }
        bound.update(constants)
        return create_compiled_func(
            node,
            extract_python_type_fn=_python_type,
            start_body=start_body,
            stop_body=stop_body,
            options=options or _default_options(),
            **bound,
        )


def _basket_items(qualname: str, name: str, size: int, value: Any) -> list[tuple[int, Any]]:
    """The (element, value) pairs that ``execute(name=value)`` ticks for a basket of ``size``:
    ``value`` maps element indices (negative from the end) to values, or is a list/tuple of
    ``size`` values in which ``None`` leaves that element unticked."""
    if isinstance(value, Mapping):
        items = []
        for k, item in value.items():
            if isinstance(k, bool) or not isinstance(k, int) or not -size <= k < size:
                raise TypeError(
                    f"input {name!r} of {qualname} is a basket of {size}: it has no element {k!r}"
                    f" (indices 0..{size - 1})"
                )
            items.append((k + size if k < 0 else k, item))
        return items
    if isinstance(value, (list, tuple)):
        if len(value) != size:
            raise TypeError(f"input {name!r} of {qualname} is a basket of {size}: got {len(value)} values")
        return [(k, item) for k, item in enumerate(value) if item is not None]
    raise TypeError(
        f"input {name!r} of {qualname} is a basket of {size}: give {{index: value, ...}} or a list of "
        f"{size} values, got {type(value).__name__} {value!r}"
    )


def _struct_copy(buffer: Any, codec: Any) -> Any:
    """A copy of struct memory: the ``ctypes.Structure`` the slot's type is, else ``bytes``."""
    memory = bytes(buffer)
    cls = getattr(codec, "python_type", None)
    if isinstance(cls, type) and issubclass(cls, ctypes.Structure):
        return cls.from_buffer_copy(memory)
    return memory


#: How NodeRunner feeds each parameter it knows (the reference host's, `numba_rt.abi.HOST_NODE_PARAMS`).
_FED_PARAMS = ("outputs", "output_ticked", "state", "lifecycle_phase", "inputs", "input_ticked", "input_valid")


class NodeRunner:
    """Drives a host node through START / EXECUTE / STOP, as a C host would: a node compiled in this
    process (``NodeRunner(result)``) or a node of an AOT library (`NodeRunner.from_library`). Both
    run the same code, from the node's ABI (`NodeArtifact.abi()`, the manifest's node entry)."""

    def __init__(self, result: CompilationResult) -> None:
        from ..numba_core import CompilationResult  # noqa: PLC0415 - a result means Numba is loaded

        if not isinstance(result, CompilationResult):
            got = f"function {result.__name__!r}" if callable(result) and hasattr(result, "__name__") else type(result).__name__
            raise TypeError(
                f"NodeRunner takes a CompilationResult (from compile_node(...)), got {got}; "
                "write NodeRunner(compile_node(f, ...)), or NodeRunner.from_library(path, name) for "
                "a node of an AOT library"
            )
        meta = result.metadata
        live = {  # the live VariableTypes: exact values for every type, extensions' included
            "inputs": meta.get("input_variable_types", []),
            "outputs": meta.get("output_variable_types", []),
            "state": meta.get("state_variable_types", []),
        }
        self._bind(result.artifact.abi(), result.address, (numba_rt.load(),), live, None)
        self.result: CompilationResult | None = result

    @classmethod
    def from_library(
        cls, path: str | Any, native_name: str, *, types: Mapping[str, Any] | None = None
    ) -> NodeRunner:
        """A runner for the node ``native_name`` (``_gc_numba_<key>``, or its qualname when exactly
        one node of the library has it) of the AOT library ``path`` (``lib<name>.so``, or its
        manifest ``<name>.json``), with no compiler: Numba is not imported.

        The manifest is validated first (`numba_cfunc_compiler.aot.load_manifest`): a library
        built for another architecture or by an incompatible toolchain is refused. Values are
        converted from the slots' type names: ``int``, ``float``, ``bool``, ``datetime``,
        ``timedelta``; an enum is its int value unless ``types`` maps its class name to the class
        (``types={"Side": Side}``), and an ``EnumSet[Side]`` is its bit mask unless the enum class
        is named the same way (then sets of members in, ``EnumSet[Side]`` values out); ``types``
        may also name a ``ctypes.Structure`` subclass (struct state reads as a copy of it) or give
        any object with ``host_encode``/``host_decode``."""
        library = open_library(path)
        node = library.node(native_name)
        runner = cls.__new__(cls)
        runner._bind(node, library.address(node["native_name"]), library.runtimes, {}, types)
        runner.result = None
        runner.library = library  # keeps the library loaded while the runner lives
        return runner

    def _bind(
        self,
        abi: dict[str, Any],
        address: int,
        runtimes: tuple[numba_rt.Runtime, ...],
        live: dict[str, list[Any]],
        types: Mapping[str, Any] | None,
    ) -> None:
        self.abi = abi
        self.native_name: str = abi["native_name"]
        self.qualname: str = abi["qualname"]
        self._runtimes = runtimes
        self._runtime = runtimes[0]
        slots = {kind: list(abi[kind]) for kind in ("inputs", "outputs", "state")}
        codecs = {
            kind: [live[kind][i] if i < len(live.get(kind, ())) else codec_for(slot, types) for i, slot in enumerate(slots[kind])]
            for kind in slots
        }
        self.input_names: list[str] = [s["name"] for s in slots["inputs"]]
        self.output_names: list[str] = [s["name"] for s in slots["outputs"]]
        self.state_names: list[str] = [s["name"] for s in slots["state"]]
        self._inputs_abi, self._outputs_abi, self._state_abi = slots["inputs"], slots["outputs"], slots["state"]
        self._input_types, self._output_types, self._state_types = codecs["inputs"], codecs["outputs"], codecs["state"]
        self._named = (abi.get("extra") or {}).get("named_outputs") is not None
        self._struct_inputs: dict[int, Any] = {}  # keeps ctypes structs given as inputs alive
        n_out, n_in = len(self.output_names), len(self.input_names)
        sizes = {i: s["size"] for i, s in enumerate(slots["state"]) if s["cell"] == "bytes"}  # structs, arrays
        output_sizes = {i: s["size"] for i, s in enumerate(slots["outputs"]) if s["cell"] == "bytes"}  # struct outputs
        self._outputs = Cells(n_out, output_sizes)
        self._output_ticked = (ctypes.c_int8 * max(n_out, 1))()
        self._state = Cells(len(self.state_names), sizes)
        self._inputs = Cells(n_in)
        self._input_ticked = (ctypes.c_int8 * max(n_in, 1))()
        self._input_valid = (ctypes.c_int8 * max(n_in, 1))()
        self._index = {name: i for i, name in enumerate(self.input_names)}
        # baskets (docs/baskets.md): name -> (first slot, size); their slots are named "name[k]"
        baskets = (abi.get("extra") or {}).get("baskets") or {}
        self._baskets = {name: (b["base"], b["size"]) for name, b in baskets.items()}
        in_basket = {f"{name}[{k}]": name for name, (_, size) in self._baskets.items() for k in range(size)}
        self._input_params = list(dict.fromkeys(in_basket.get(n, n) for n in self.input_names))
        feeds = {
            "outputs": self._outputs.pointers,
            "output_ticked": self._output_ticked,
            "state": self._state.pointers,
            "inputs": self._inputs.pointers,
            "input_ticked": self._input_ticked,
            "input_valid": self._input_valid,
        }
        names = [p["name"] for p in abi["params"]]
        unknown = [f"{p['name']}: {p['type']}" for p in abi["params"] if p["name"] not in _FED_PARAMS]
        if unknown or "lifecycle_phase" not in names:
            raise TypeError(
                f"NodeRunner cannot call {self.qualname}: it feeds the reference host's parameters "
                f"({', '.join(_FED_PARAMS)}), not {', '.join(unknown) or 'a node without lifecycle_phase'}"
            )
        phase_at = names.index("lifecycle_phase")
        self._before = [feeds[n] for n in names[:phase_at]]
        self._after = [feeds[n] for n in names[phase_at + 1 :]]
        argtypes = [ctypes.c_int8 if n == "lifecycle_phase" else ctypes.c_void_p for n in names]
        self._fn = ctypes.CFUNCTYPE(None, *argtypes)(address)

    def _call(self, phase: Phase) -> None:
        for runtime in self._runtimes:
            runtime.clear_error()
        self._fn(*self._before, phase, *self._after)
        for runtime in self._runtimes:
            error = runtime.error()
            if error is not None:
                runtime.clear_error()
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
            if name in self._baskets:
                for k, item in _basket_items(self.qualname, name, self._baskets[name][1], value):
                    self._feed(f"{name}[{k}]", item)
                continue
            if name not in self._index:
                raise TypeError(
                    f"{self.qualname} has no input {name!r}{did_you_mean(name, self._input_params)} "
                    f"(inputs: {', '.join(self._input_params) or 'none'})"
                )
            self._feed(name, value)
        self._call(Phase.EXECUTE)
        ticked = {
            name: self._read_output(i) for i, name in enumerate(self.output_names) if self._output_ticked[i]
        }
        if not self._named:
            return next(iter(ticked.values()), None)
        return ticked

    def _feed(self, name: str, value: Any) -> None:
        """Write ``value`` into the input slot ``name`` and tick it."""
        i = self._index[name]
        var_type = self._input_types[i]
        try:
            if value is None:
                raise TypeError("no value")
            if self._inputs_abi[i]["cell"] == "bytes":  # a struct: inputs[i] points at its memory
                cls = getattr(var_type, "python_type", None)
                if isinstance(cls, type) and issubclass(cls, ctypes.Structure) and not isinstance(value, cls):
                    raise TypeError("another struct")  # its memory has another layout
                self._inputs.pointers[i] = ctypes.addressof(value)
                self._struct_inputs[i] = value
            else:
                self._inputs.write(i, self._inputs_abi[i]["cell"], var_type.host_encode(value))
        except (TypeError, AttributeError):
            raise TypeError(
                f"input {name!r} of {self.qualname} takes {var_type.describe()}, "
                f"got {type(value).__name__} {value!r}"
            ) from None
        except (ValueError, OverflowError) as exc:  # the right type, a value it cannot hold
            raise type(exc)(f"input {name!r} of {self.qualname}: {exc}") from None
        self._input_ticked[i] = 1
        self._input_valid[i] = 1

    def _read_output(self, index: int) -> Any:
        if self._outputs_abi[index]["cell"] == "bytes":  # a struct output: a copy of its memory
            return _struct_copy(self._outputs.buffers[index], self._output_types[index])
        return self._output_types[index].host_decode(self._outputs.read(index, self._outputs_abi[index]["cell"]))

    def state(self, name: str) -> Any:
        """The current value of a state variable, for inspection and tests: scalars as Python
        values, a list or dict as a Python copy of its contents (None before START / after STOP),
        a struct as a copy of its memory (``bytes``, or the ``ctypes.Structure`` the type is), a
        `NumbaArray` as a list of its elements."""
        if name not in self.state_names:
            raise KeyError(
                f"{self.qualname} has no state variable {name!r}{did_you_mean(name, self.state_names)} "
                f"(state variables: {', '.join(self.state_names) or 'none'})"
            )
        i = self.state_names.index(name)
        slot, var_type = self._state_abi[i], self._state_types[i]
        if slot["kind"] == "struct":
            return _struct_copy(self._state.buffers[i], var_type)
        if slot["kind"] == "array":
            return array_values(self._state.buffers[i], slot)
        if slot["kind"] == "scalar":
            return var_type.host_decode(self._state.read(i, slot["cell"]))
        pointer = self._state.read(i, "ptr")
        if not pointer:
            return None
        kind = container_kind(slot, var_type)
        if kind == "list":
            return self._runtime.list_items(pointer)
        if kind == "dict":
            return dict(self._runtime.dict_items(pointer))
        return pointer  # a container type of an extension: its address
