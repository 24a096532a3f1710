"""The `CompilationContext`: the one place where registrations live.

Every registry of the extension API (`TypeFactory`, `FunctionAnalyzer`, `SourceRegistry`,
`@ast_handler`, `NumbaTypeInference`, `NumbaFunctionInfo`) reads and writes the *active* context.
Contexts nest (``with CompilationContext():`` restores the previous one on exit) and are isolated
across threads and asyncio tasks because the active one is held in a `contextvars.ContextVar`.

When no context is active, `CompilationContext.current()` lazily creates a default one and fills it
with the default extensions: every entry point in the ``numba_cfunc_compiler.defaults`` group
(this package registers its own built-ins there). Discovering them as plugins keeps this module at
the bottom of the import graph: it never imports the layers that register into it.
"""

from __future__ import annotations

import bisect
import contextvars
import copy
import itertools
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

import numba_rt

__all__ = ["CompilationContext", "OrderedRegistry", "DEFAULTS_ENTRY_POINT_GROUP"]

DEFAULTS_ENTRY_POINT_GROUP = "numba_cfunc_compiler.defaults"

T = TypeVar("T")

_ACTIVE: contextvars.ContextVar[CompilationContext | None] = contextvars.ContextVar(
    "numba_cfunc_compiler_active_context", default=None
)


@dataclass(order=True, frozen=True)
class _Entry(Generic[T]):
    priority: int
    sequence: int
    item: T = field(compare=False)


class OrderedRegistry(Generic[T]):
    """Items kept in (priority, registration order): lower priority first, ties in order added.

    This is the single place where ordering is resolved for every registry.
    """

    def __init__(self) -> None:
        self._entries: list[_Entry[T]] = []
        self._counter = itertools.count()

    def add(self, item: T, priority: int = 0) -> T:
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise TypeError(f"priority must be an int, got {priority!r}")
        if any(e.item is item for e in self._entries):
            raise ValueError(f"{item!r} is already registered")
        bisect.insort(self._entries, _Entry(priority, next(self._counter), item))
        return item

    def remove(self, item: T) -> None:
        for i, entry in enumerate(self._entries):
            if entry.item is item:
                del self._entries[i]
                return
        raise ValueError(f"{item!r} is not registered")

    def __iter__(self) -> Iterator[T]:
        return iter([e.item for e in self._entries])

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: object) -> bool:
        return any(e.item is item for e in self._entries)

    def copy(self) -> OrderedRegistry[T]:
        new: OrderedRegistry[T] = OrderedRegistry()
        new._entries = list(self._entries)
        new._counter = itertools.count(next(self._counter))
        return new


class CompilationContext:
    """All registration state of one compilation environment.

    Attributes (each an `OrderedRegistry` unless noted):
      types             -- `VariableType` subclasses (`TypeFactory`)
      input_handlers    -- `InputTypeHandler`s (`FunctionAnalyzer`)
      output_handlers   -- `OutputTypeHandler`s (`FunctionAnalyzer`)
      source_categories -- dict id -> `SourceCategory` (`SourceRegistry`)
      ast_handlers      -- dict (node type, "pre"|"post") -> registry of handlers
      attr_accessors, call_handlers, attr_lowerers -- `NumbaTypeInference`
      signal_processors -- `NumbaFunctionInfo.register_signal_processor`
      helpers           -- dict reserved name (``_ncc_<name>``) -> object that generated code reaches
                           (`helpers.register_helper`); put in every generated module's globals
      entry_adapters    -- dict name -> registered `EntryAdapter` (`entry_adapters.register_entry_adapter`),
                           in registration order: extra exported functions around every entry point
      extensions        -- dict for extension-owned registries (for example FFI declarations)
      results           -- semantic key -> compiled code (IR and object code), so an identical
                           function compiles once per process even with the persistent cache off
    """

    def __init__(self) -> None:
        self.types: OrderedRegistry[type] = OrderedRegistry()
        self.input_handlers: OrderedRegistry[Any] = OrderedRegistry()
        self.output_handlers: OrderedRegistry[Any] = OrderedRegistry()
        self.source_categories: dict[str, Any] = {}
        self.ast_handlers: dict[tuple[str, str], OrderedRegistry[Callable]] = {}
        self.attr_accessors: OrderedRegistry[Callable] = OrderedRegistry()
        self.call_handlers: OrderedRegistry[Callable] = OrderedRegistry()
        self.attr_lowerers: OrderedRegistry[Callable] = OrderedRegistry()
        self.signal_processors: OrderedRegistry[Callable] = OrderedRegistry()
        self.helpers: dict[str, Any] = {}
        self.entry_adapters: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self._tokens: list[contextvars.Token] = []

    # -- activation -------------------------------------------------------------------------
    def __enter__(self) -> CompilationContext:
        self._tokens.append(_ACTIVE.set(self))
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._tokens.pop())

    @classmethod
    def current(cls) -> CompilationContext:
        """The active context; a lazily built default (with the built-ins) when none is active."""
        ctx = _ACTIVE.get()
        if ctx is None:
            ctx = cls.default()
            _ACTIVE.set(ctx)
        return ctx

    @classmethod
    def active(cls) -> CompilationContext | None:
        """The active context, or None (never creates one)."""
        return _ACTIVE.get()

    @classmethod
    def default(cls) -> CompilationContext:
        """A new context holding every registration of the default extensions."""
        ctx = cls()
        with ctx:
            for register in _default_extensions():
                register()
        return ctx

    def derive(self) -> CompilationContext:
        """A new context starting with a copy of every registration of this one.

        Registering into the derived context never changes this one. Compiled results are
        shared: a semantic key identifies generated code, whatever the registrations.
        """
        new = CompilationContext()
        for name in ("types", "input_handlers", "output_handlers", "attr_accessors", "call_handlers",
                     "attr_lowerers", "signal_processors"):
            setattr(new, name, getattr(self, name).copy())
        new.source_categories = dict(self.source_categories)
        new.helpers = dict(self.helpers)
        new.entry_adapters = dict(self.entry_adapters)
        new.ast_handlers = {key: registry.copy() for key, registry in self.ast_handlers.items()}
        new.extensions = {key: copy.copy(value) for key, value in self.extensions.items()}
        new.results = self.results
        return new

    # -- services ---------------------------------------------------------------------------
    def extension_registry(self, name: str, factory: Callable[[], T]) -> T:
        """Per-context storage for an extension's own registry (created on first use)."""
        if name not in self.extensions:
            self.extensions[name] = factory()
        return self.extensions[name]

    def ensure_nrt_loaded(self) -> Any:
        """Load the C runtime (idempotent) so compiled code can resolve its ``ncc_*`` symbols."""
        return numba_rt.load()


def _default_extensions() -> list[Callable[[], None]]:
    entry_points = metadata.entry_points(group=DEFAULTS_ENTRY_POINT_GROUP)
    ordered = sorted(entry_points, key=lambda ep: (ep.name != "builtins", ep.name))
    if not ordered:
        raise RuntimeError(
            "numba_cfunc_compiler is not installed, so its built-in types cannot be found "
            f"(entry-point group {DEFAULTS_ENTRY_POINT_GROUP!r}). Install it with `pip install -e .` "
            "or create an explicit `CompilationContext()` and call `defaults.register_all()`."
        )
    return [ep.load() for ep in ordered]
