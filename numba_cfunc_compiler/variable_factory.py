"""Variable sources: where each name the user's code mentions actually lives.

The converter only calls ``source.get()`` (an expression reading the value) and
``source.set(value)`` (statements writing it); it never needs to know the storage.
"""

from __future__ import annotations

import ast
import copy
import itertools
from typing import Any

from numba_rt import abi

from .compilation_context import CompilationContext
from .helpers import RESERVED_PREFIX
from .models import VariableType
from .utils.intrinsics import cast_voidptr_to_ptr, cell_pointer, checked_cell_value

__all__ = [
    "RESERVED_PREFIX",
    "VariableSource",
    "VoidPtrSource",
    "ConstantSource",
    "OutputSource",
    "LocalVariableSource",
    "ExpressionSource",
    "LocalConstantSource",
    "AliasSource",
    "VariableFactory",
    "ReadOnlyVariableError",
]

#: Python constants that a cell of each storage type takes without loss.
_CONSTANTS_FITTING = {"int64": (int,), "float64": (int, float), "int8": (bool,)}
#: The node's own cell arrays (``outputs``, ``state``): each entry points at a host-owned cell.
_CELL_ARRAYS = frozenset(p.name for p in abi.NODE_PARAMS if p.type == "void**")


def _is_cell_of(raw: ast.expr, arrays: frozenset[str]) -> bool:
    """Is ``raw`` the expression ``name[k]`` for a ``name`` in ``arrays`` and a constant ``k``?"""
    return (
        isinstance(raw, ast.Subscript)
        and isinstance(raw.value, ast.Name)
        and raw.value.id in arrays
        and isinstance(raw.slice, ast.Constant)
        and type(raw.slice.value) is int
    )


class ReadOnlyVariableError(Exception):
    """Raised by `VariableSource.set` on a variable that cannot be assigned."""


def _subscript0(name: str, ctx: ast.expr_context) -> ast.Subscript:
    return ast.Subscript(value=ast.Name(id=name, ctx=ast.Load()), slice=ast.Constant(0), ctx=ctx)


class VariableSource:
    """Base class. ``type`` is a `VariableType`; ``category`` is set when added to a factory."""

    kind = "variable"

    def __init__(self, type: VariableType | None, name: str) -> None:
        self.type = type
        self.name = name
        self.category: str | None = None
        self.factory: VariableFactory | None = None

    def get(self) -> ast.expr:
        raise NotImplementedError

    def set(self, value: ast.expr) -> list[ast.stmt]:
        raise ReadOnlyVariableError(f"{self.kind} {self.name!r} cannot be assigned")

    def prologue(self, factory: VariableFactory) -> list[ast.stmt]:
        """Statements that make the variable usable (run at the start of each phase it is used in)."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.type!r})"


class VoidPtrSource(VariableSource):
    """A value in a host-owned cell: ``storage_location[array_idx]`` (``state``, ``inputs``, ...)."""

    def __init__(self, array_idx: int, type: VariableType, name: str, storage_location: str, **extra: Any) -> None:
        super().__init__(type, name)
        self.array_idx = array_idx
        self.storage_location = storage_location
        self.kind = "input" if storage_location == "inputs" else storage_location
        self.extra = extra
        self.pointer_name: str | None = None

    def raw_pointer(self) -> ast.expr:
        """``storage_location[array_idx]``: the cell's address as a void pointer."""
        return ast.Subscript(
            value=ast.Name(id=self.storage_location, ctx=ast.Load()), slice=ast.Constant(self.array_idx), ctx=ast.Load()
        )

    def prologue(self, factory: VariableFactory) -> list[ast.stmt]:
        if self.pointer_name is None:
            self.pointer_name = factory.new_name(f"{self.storage_location}{self.array_idx}")
        if self.type.state_size is not None:  # host memory (a struct): the type's view of it
            value = self.type.memory_view(self.raw_pointer(), readonly=self.kind == "input")
        else:
            value = factory.typed_pointer(self.raw_pointer(), self.type)
        return [ast.Assign(targets=[ast.Name(id=self.pointer_name, ctx=ast.Store())], value=value)]

    def _pointer(self) -> str:
        if self.pointer_name is None:
            raise RuntimeError(f"{self!r} used before its prologue was generated")
        return self.pointer_name

    def get(self) -> ast.expr:
        if self.type.state_size is not None:  # structs: the view made in the prologue is the value
            return ast.Name(id=self._pointer(), ctx=ast.Load())
        return self.type.from_cell(_subscript0(self._pointer(), ast.Load()))

    def set(self, value: ast.expr) -> list[ast.stmt]:
        if self.kind == "input":
            raise ReadOnlyVariableError(f"input {self.name!r} is read-only")
        if self.type.state_size is not None:
            raise ReadOnlyVariableError(f"{self.name!r} is a struct; assign to its fields instead")
        if self.type.is_container:
            raise ReadOnlyVariableError(f"container {self.name!r} cannot be replaced; change it in place (clear(), append(), ...)")
        return self.store(self.factory.checked(self.type.to_cell(value), self.type))

    def store(self, value: ast.expr) -> list[ast.stmt]:
        """Write ``value`` into the cell as is (no conversion or checks): for types managing their
        own cells, such as containers allocating in START."""
        return [ast.Assign(targets=[_subscript0(self._pointer(), ast.Store())], value=value)]


class ConstantSource(VariableSource):
    """A compile-time constant, baked into the generated code."""

    kind = "constant"

    def __init__(self, type: VariableType, name: str, value: Any) -> None:
        super().__init__(type, name)
        self.value = value

    def get(self) -> ast.expr:
        return self.type.constant_ast(self.value)


class OutputSource(VariableSource):
    """Output cell ``index``: writing stores the value and sets ``output_ticked[index] = 1``."""

    kind = "output"

    def __init__(
        self, index: int, type: VariableType, name: str, storage_location: str = "outputs", ticked_location: str = "output_ticked"
    ) -> None:
        super().__init__(type, name)
        self.index = index
        self.storage_location = storage_location
        self.ticked_location = ticked_location

    def _raw(self) -> ast.Subscript:
        return ast.Subscript(
            value=ast.Name(id=self.storage_location, ctx=ast.Load()), slice=ast.Constant(self.index), ctx=ast.Load()
        )

    def get(self) -> ast.expr:
        if self.type.state_size is not None:  # a struct output: a view of its memory
            return self.type.memory_view(self._raw(), readonly=False)
        cell = ast.Subscript(value=self.factory.typed_pointer(self._raw(), self.type), slice=ast.Constant(0), ctx=ast.Load())
        return self.type.from_cell(cell)

    def set(self, value: ast.expr) -> list[ast.stmt]:
        tick = ast.Subscript(
            value=ast.Name(id=self.ticked_location, ctx=ast.Load()), slice=ast.Constant(self.index), ctx=ast.Store()
        )
        return [*self.type.store_statements(self.factory, self._raw(), value), ast.Assign(targets=[tick], value=ast.Constant(1))]


class LocalVariableSource(VariableSource):
    """A local variable of the generated function."""

    kind = "local"

    def get(self) -> ast.expr:
        return ast.Name(id=self.name, ctx=ast.Load())

    def set(self, value: ast.expr) -> list[ast.stmt]:
        return [ast.Assign(targets=[ast.Name(id=self.name, ctx=ast.Store())], value=value)]


class ExpressionSource(VariableSource):
    """A typed expression (the result of an attribute access or method call)."""

    kind = "expression"

    def __init__(self, type: VariableType | None, expr: ast.expr, factory: VariableFactory | None = None) -> None:
        super().__init__(type, ast.unparse(expr))
        self.expr = expr
        self.factory = factory

    def get(self) -> ast.expr:
        return copy.deepcopy(self.expr)


class LocalConstantSource(VariableSource):
    """A local name bound to a constant during lowering."""

    kind = "constant"

    def __init__(self, name: str, type: VariableType, value: Any) -> None:
        super().__init__(type, name)
        self.value = value

    def get(self) -> ast.expr:
        return self.type.constant_ast(self.value) if self.type else ast.Constant(self.value)


class AliasSource(VariableSource):
    """A local bound to the object a managed variable holds (``a = xs`` for a container, ``q =
    quote`` for a struct: the same pointer, so every change through ``a`` changes ``xs``).
    ``local_name`` is the generated local; ``origin`` the managed variable it was first bound to."""

    kind = "local"

    def __init__(
        self, type: VariableType, name: str, local_name: str | None = None, origin: VariableSource | None = None
    ) -> None:
        super().__init__(type, name)
        self.local_name = local_name or name
        self.origin = origin

    def get(self) -> ast.expr:
        return ast.Name(id=self.local_name, ctx=ast.Load())


class VariableFactory:
    """The variables of one compilation, by name, plus the helper objects generated code uses.

    ``variables``: user-visible name -> source; ``outputs``: output sources by index;
    ``helpers``: generated name -> Python object put in the generated function's globals.
    """

    def __init__(self, categories: dict[str, Any] | None = None) -> None:
        self.variables: dict[str, VariableSource] = {}
        self.outputs: list[OutputSource] = []
        self.helpers: dict[str, Any] = {}
        self.categories = dict(categories or {})
        self._counter = itertools.count()

    # -- variables ----------------------------------------------------------------------------
    def add_variable(self, source: VariableSource, category: str | None = None) -> VariableSource:
        if not isinstance(source, VariableSource):
            raise TypeError(f"expected a VariableSource, got {source!r}")
        source.category = category
        source.factory = self
        if isinstance(source, OutputSource):
            self.outputs.append(source)
            self.outputs.sort(key=lambda s: s.index)
            return source
        if source.name in self.variables:
            raise ValueError(f"variable {source.name!r} is defined twice")
        self.variables[source.name] = source
        return source

    def get(self, name: str) -> VariableSource | None:
        return self.variables.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def by_category(self, category: str) -> list[VariableSource]:
        return [s for s in self.variables.values() if s.category == category]

    def output(self, name: str) -> OutputSource | None:
        return next((o for o in self.outputs if o.name == name), None)

    # -- generated names ----------------------------------------------------------------------
    def new_name(self, hint: str = "tmp") -> str:
        clean = "".join(c if c.isalnum() else "_" for c in hint)
        return f"{RESERVED_PREFIX}{clean}_{next(self._counter)}"

    def helper(self, name: str, obj: Any) -> ast.Name:
        """Make ``obj`` visible to generated code under a reserved name; return a Name loading it."""
        full = name if name.startswith(RESERVED_PREFIX) else RESERVED_PREFIX + name
        ctx = CompilationContext.active()
        shared = ctx.helpers if ctx is not None else {}
        existing = self.helpers.get(full, shared.get(full, obj))  # one namespace with `ctx.helpers`
        if existing is not obj:
            raise ValueError(f"helper name {full!r} already bound to {existing!r}")
        self.helpers[full] = obj
        return ast.Name(id=full, ctx=ast.Load())

    def checked(self, value: ast.expr, cell: VariableType | str) -> ast.expr:
        """``value`` converted to the cell type ``cell`` (a `VariableType` or a Numba type name);
        a lossy store is a typing error."""
        name = cell if isinstance(cell, str) else cell.get_numba_type_name()
        if isinstance(value, ast.Constant) and isinstance(value.value, _CONSTANTS_FITTING.get(name, ())):
            return value
        check = self.helper("checked", checked_cell_value)
        return ast.Call(func=check, args=[value, ast.Constant(name)], keywords=[])

    def typed_pointer(self, raw: ast.expr, var_type: VariableType) -> ast.expr:
        """``raw`` (a void pointer expression) as a pointer to the cell type of ``var_type``."""
        if var_type.state_size is not None:
            return raw
        if _is_cell_of(raw, _CELL_ARRAYS):  # state[i] / outputs[i]: the ABI says what it points at
            cast = self.helper("cell", cell_pointer)
            return ast.Call(func=cast, args=[raw.value, raw.slice, ast.Constant(var_type.get_numba_type_name())], keywords=[])
        return self.cast_pointer(raw, var_type.get_numba_type_name())

    def cast_pointer(self, raw: ast.expr, numba_type_name: str) -> ast.expr:
        """``raw`` (a void pointer expression) as a pointer to ``numba_type_name`` values."""
        cast = self.helper("cast", cast_voidptr_to_ptr)
        return ast.Call(func=cast, args=[raw, ast.Constant(numba_type_name)], keywords=[])
