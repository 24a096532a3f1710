"""``@compiled_node``: a node compiled by numba-cfunc-compiler that runs in a csp graph.

Wiring is csp's own: the signature is parsed by csp's parser (``ts[T]`` inputs, constants,
``csp.Outputs``), and ``ema(x, alpha=0.1)`` in a ``@csp.graph`` returns csp edges. The node is
compiled when it is wired (the constants and the input edges' types are known then), and the
engine runs it through csp's ``PyNumbaNode``, calling the entry adapters of `adapters`.

Each wired node also wires a small Python node, its *guard*, that consumes the node's hidden fault
output and owns its lifecycle from Python:

- a runtime fault (the runtime's error record) in EXECUTE ticks the fault output, and the guard
  raises `CompiledNodeError` naming the node in the same engine cycle (a guard whose node only saw
  another node's fault pending raises nothing: that node's guard does); a fault in START is raised
  by the guard in the first cycle. Otherwise the guard never runs: it costs nothing per tick;
- at engine stop the guard runs STOP (csp 0.19.1's ``PyNumbaNode::stop()`` is empty), which frees
  the node's containers. csp stops every started node when the graph returns or raises, so STOP
  always runs. As a last resort, an engine destroyed without stopping the guard drops the node's
  state memory (`_Instance`, owned by csp's node through its data reference), which runs STOP.
  STOP runs once, and only after START.
"""

from __future__ import annotations

import ctypes
import inspect
import types
import weakref
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable

import csp
from csp import ts
from csp.impl.__cspimpl import _cspimpl
from csp.impl.mem_cache import csp_memoized_graph_object
from csp.impl.types import tstype
from csp.impl.wiring.base_parser import BaseParser, CspParseError
from csp.impl.wiring.edge import Edge
from csp.impl.wiring.node import NodeDef
from csp.impl.wiring.signature import Signature

import numba_rt

from ...errors import CompilationError, SourceLocation
from ...host import NodeRuntimeError
from .adapters import EXECUTE, EXECUTE_UNCHECKED, START, STATUS_START_FAULTED, STATUS_STARTED, STOP, may_fault
from .extension import compile_csp_node, resolved_signature

if TYPE_CHECKING:
    from ...numba_core import CompilationOptions, CompilationResult

__all__ = ["CompiledNode", "CompiledNodeError", "compiled_node"]

_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class CompiledNodeError(NodeRuntimeError):
    """A runtime fault of a compiled node in a csp graph (a missing key, an index out of range,
    division by zero, ...). ``node`` is the node's name, ``phase`` the lifecycle phase that faulted
    (``"START"``, ``"EXECUTE"``, ``"STOP"``); ``code``, ``message`` and ``entry`` are the runtime's
    error record."""

    def __init__(self, node: str, phase: str, code: int, message: str, entry: str) -> None:
        super().__init__(code, message, entry)
        self.node = node
        self.phase = phase
        self.args = (f"compiled csp node {node!r} faulted in {phase}: {message} (error code {code} in {entry})",)


def _raise_pending(node: str, native_name: str, phase: str) -> None:
    """Raise the fault ``native_name`` recorded on this thread, if any (and clear it)."""
    runtime = numba_rt.load()
    error = runtime.error()
    if error is not None and error[2] == native_name:
        runtime.clear_error()
        raise CompiledNodeError(node, phase, *error)


class _Instance:
    """One running copy of a compiled node in one engine: its state memory (zeroed, as START
    expects), the ``void*`` array pointing at it, which csp passes to every callback, and STOP."""

    def __init__(self, result: CompilationResult, node: str) -> None:
        self.node = node
        self.native_name = result.native_name
        slots = result.artifact.state
        self._cells = [(ctypes.c_int64 * max(1, -(-slot.size // 8)))() for slot in slots]
        self._status = ctypes.c_int64()  # see adapters.STATUS_START_FAULTED
        addresses = [ctypes.addressof(c) for c in (*self._cells, self._status)]
        self._pointers = (ctypes.c_void_p * len(addresses))(*addresses)
        self._stop = _CALLBACK(result.adapter_address(STOP))
        self._stopped = False

    @property
    def state_address(self) -> int:
        return ctypes.addressof(self._pointers)

    @property
    def start_faulted(self) -> bool:
        return self._status.value == STATUS_START_FAULTED

    def stop(self) -> None:
        """STOP once, if START ran (containers freed); a fault in STOP raises `CompiledNodeError`."""
        if self._stopped or self._status.value not in (STATUS_STARTED, STATUS_START_FAULTED):
            return
        self._stopped = True
        self._stop(None, self.state_address)  # frees the containers, even if the stop block faults
        _raise_pending(self.node, self.native_name, "STOP")

    def __del__(self) -> None:  # the engine dropped the node without its guard stopping it
        try:
            self.stop()
        except Exception:  # noqa: BLE001, S110 - nothing can be raised from a finaliser
            pass


class _Owner:
    """What the guard knows of its node: its name and the instance running in the current engine
    (a weak reference: csp's node owns the instance, so it goes with the engine)."""

    def __init__(self, node: str, native_name: str) -> None:
        self.node = node
        self.native_name = native_name
        self._instance: Callable[[], _Instance | None] = lambda: None

    def attach(self, instance: _Instance) -> None:
        self._instance = weakref.ref(instance)

    def check(self) -> None:
        instance = self._instance()
        _raise_pending(self.node, self.native_name, "START" if instance is not None and instance.start_faulted else "EXECUTE")

    def stop(self) -> None:
        instance = self._instance()
        if instance is not None:
            instance.stop()

    def __repr__(self) -> str:
        return f"<compiled node {self.node} ({self.native_name})>"


@csp.node(name="compiled_node_guard")
def _guard(fault: ts[bool], owner: object):
    with csp.alarms():
        started = csp.alarm(bool)
    with csp.start():
        csp.schedule_alarm(started, timedelta(), True)
    with csp.stop():
        owner.stop()
    if csp.ticked(fault) or csp.ticked(started):
        owner.check()


class _CompiledNodeDef(NodeDef):
    """One wired instance of a compiled node (a csp graph object)."""

    compiled: CompilationResult
    owner: _Owner
    execute: str  # the execute callback: checked, unless the node cannot fault

    def _create(self, engine: Any, memo: Any) -> Any:
        instance = _Instance(self.compiled, self.owner.node)
        self.owner.attach(instance)
        # A fault left pending on this thread by earlier code would hold every compiled node.
        numba_rt.load().clear_error()
        inputs = self._normalize_inputs_to_cpp_types(self._inputs, self._signature._name)
        outputs = (*self._output_types, bool)  # the last one is the guard's fault signal
        node = _cspimpl.PyNumbaNode(
            engine,
            inputs,
            outputs,
            instance.state_address,
            self.compiled.adapter_address(START),
            self.compiled.adapter_address(self.execute),
            (instance,),
        )
        for index, python_type in enumerate(outputs):
            node.create_output(index, python_type)
        return node


class _SignatureParser(BaseParser):
    """csp's parsing of a node's signature, without its rewriting of the body."""

    def _is_ts_args_removed_from_signature(self) -> bool:
        return True

    def _parse_impl(self) -> None:
        inputs, defaults, outputs = self.parse_func_signature(self._funcdef)
        self._signature = Signature(self._name, inputs, outputs, defaults)
        self._impl = None


def _names_visible_to(func: Callable) -> Any:
    """What csp's parser evaluates annotations in: the function's globals and closure."""
    closure = inspect.getclosurevars(func).nonlocals
    return types.SimpleNamespace(f_globals=func.__globals__, f_locals=dict(closure))


def _fed_type(annotation: Any) -> Any:
    """The type a ``ts[T]`` parameter is fed by default: ``T`` (a basket annotation as it is: the
    compiler rejects it at its line)."""
    return annotation.typ if tstype.isTsType(annotation) else annotation


class CompiledNode:
    """A node type, as ``@csp.node`` makes one: call it in a graph with edges and constants."""

    def __init__(self, func: Callable, name: str, options: CompilationOptions | None, memoize: bool) -> None:
        parser = _SignatureParser(name, func, _names_visible_to(func))
        try:
            parser.parse()
        except CspParseError as err:
            raise CompilationError(str(err.msg), SourceLocation(err.filename, err.lineno), stage="analysis") from None
        self.__wrapped__ = func
        self.__name__ = name
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__
        self._signature: Signature = parser._signature
        self._options = options
        self._nodedef_type = type(name, (_CompiledNodeDef,), {"_signature": self._signature, "__module__": func.__module__})
        self._instantiate = self._instantiate_impl
        if memoize:
            self._instantiate = csp_memoized_graph_object(self._instantiate_impl, function_name=f"{func.__module__}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._instantiate(None, args=args, kwargs=kwargs)

    def using(self, **tvars: Any) -> Callable[..., Any]:
        """Force csp type variables, as ``csp.node``'s ``using``."""
        return lambda *args, **kwargs: self._instantiate(tvars, args=args, kwargs=kwargs)

    def compile(self, **arguments: Any) -> CompilationResult:
        """Compile without wiring: constants by name, and optionally the Python type fed to a
        ``ts[...]`` input (default: its annotation's type)."""
        inputs = {d.name: _fed_type(d.typ) for d in self._signature.ts_inputs}
        inputs.update({k: v for k, v in arguments.items() if k in inputs})
        constants = {k: v for k, v in arguments.items() if k not in inputs}
        return compile_csp_node(self.__wrapped__, inputs=inputs, constants=constants, options=self._options)

    def _instantiate_impl(self, forced_tvars: Any, args: tuple, kwargs: dict) -> Any:
        sig = self._signature
        inputs, scalars, tvars = sig.parse_inputs(forced_tvars, *args, **kwargs)
        edge_types = {d.name: edge.tstype.typ if isinstance(edge, Edge) else d.typ for d, edge in zip(sig.ts_inputs, inputs)}
        constants = {d.name: value for d, value in zip(sig.scalars, scalars)}
        output_defs = sig.resolve_output_definitions(None, tvars)
        signature = None
        if tvars:  # generic ts['T'] annotations: compile with the types csp resolved
            resolved = [(d.name, d.typ.typ) for d in output_defs]
            signature = resolved_signature(self.__wrapped__, edge_types, resolved)
        compiled = compile_csp_node(self.__wrapped__, inputs=edge_types, constants=constants, options=self._options, signature=signature)

        nodedef = self._nodedef_type(inputs, scalars, tvars, None, None)
        nodedef.__name__ = self.__name__
        nodedef.compiled = compiled
        nodedef.execute = EXECUTE if may_fault(compiled.llvm_ir) else EXECUTE_UNCHECKED
        nodedef.owner = _Owner(self.__name__, compiled.native_name)
        outputs, output_types = sig.create_outputs(nodedef, tvars)
        nodedef.outputs = output_types
        _guard(Edge(ts[bool], nodedef, len(output_types)), nodedef.owner)
        return outputs

    def __repr__(self) -> str:
        return f"<compiled csp node {self.__module__}.{self.__qualname__}>"


def compiled_node(
    func: Callable | None = None,
    *,
    name: str | None = None,
    options: CompilationOptions | None = None,
    memoize: bool = True,
) -> Any:
    """Decorator: a csp node type whose body is compiled by numba-cfunc-compiler.

    The function is written in the compiler's node language with csp's annotations: ``ts[T]``
    inputs (T int, float or bool), constants, ``State[...]`` state, ``NumbaList``/``NumbaDict``
    containers, ``-> ts[T]`` or ``-> csp.Outputs(a=ts[T], ...)``, ``csp.ticked``/``csp.valid``,
    ``csp.output``, ``with csp.start():``/``with csp.stop():``. ``options`` are the
    `CompilationOptions` (default: ``force_inline=True``); ``memoize`` as in ``csp.node``.
    """

    def wrap(f: Callable) -> CompiledNode:
        return CompiledNode(f, name or f.__name__, options, memoize)

    return wrap if func is None else wrap(func)

