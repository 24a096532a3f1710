"""Data shared by every layer: annotations (`State`), variable types and analysis results."""

from __future__ import annotations

import ast
import enum
import math
import operator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from numba_rt import abi

__all__ = [
    "CELL_TYPES",
    "STATE_KINDS",
    "ValueSlot",
    "StateSlot",
    "plain_value",
    "numba_literal",
    "State",
    "StateAnnotation",
    "VariableType",
    "ParameterInfo",
    "StateVariableInfo",
    "OutputAnalysis",
    "InputAnalysis",
]


#: What a slot's memory holds (SPEC section 7): 8-byte cells of these C types, or struct bytes.
CELL_TYPES = tuple(abi.CELL_TYPES)
#: What a state slot is: a value, a container the node owns, a read-only container built from a
#: constant parameter, struct memory of ``size`` bytes, or a fixed-size array's elements (``size``
#: bytes; the artifact's JSON adds the element cell type and the length, see docs/arrays.md).
STATE_KINDS = ("scalar", "container", "constant_container", "struct", "array")


def plain_value(value: Any) -> Any:
    """``value`` as plain JSON data (enum members as their values, tuples as lists)."""
    if isinstance(value, enum.Enum):
        return plain_value(value.value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    raise TypeError(f"{value!r} is not plain data (int, float, bool, str, None, list or dict)")


def numba_literal(numba_type_name: str, value: Any) -> Any:
    """``value`` as a plain Python literal of the Numba type ``numba_type_name``: an int for
    integer types (range-checked), a float for float types, a bool for ``boolean``; an enum member
    stands for its ``.value`` and None for zero. For other types (pointers, ...) ``value`` is
    returned unchanged. Raises TypeError or ValueError if the value cannot be represented."""
    from numba.core import types  # noqa: PLC0415 - only when lowering: keeps models light to import

    ty = getattr(types, numba_type_name, None) if isinstance(numba_type_name, str) else None
    if not isinstance(ty, (types.Integer, types.Float, types.Boolean)):
        return value
    raw = value.value if isinstance(value, enum.Enum) else value
    if isinstance(ty, types.Boolean):
        if raw is None:
            return False
        if isinstance(raw, bool) or (hasattr(raw, "__index__") and operator.index(raw) in (0, 1)):
            return bool(raw)
        raise TypeError(f"{value!r} cannot be represented as {numba_type_name} (expected a bool)")
    if isinstance(ty, types.Float):
        if raw is None:
            return 0.0
        if isinstance(raw, (str, bytes)) or not (hasattr(raw, "__float__") or hasattr(raw, "__index__")):
            raise TypeError(f"{value!r} cannot be represented as {numba_type_name} (expected a number)")
        return float(raw)
    if raw is None:
        return 0
    try:
        number = operator.index(raw)
    except TypeError:
        raise TypeError(f"{value!r} cannot be represented as {numba_type_name} (expected an integer)") from None
    low, high = (-(2 ** (ty.bitwidth - 1)), 2 ** (ty.bitwidth - 1)) if ty.signed else (0, 2**ty.bitwidth)
    if not low <= number < high:
        raise ValueError(f"{value!r} does not fit in {numba_type_name}")
    return int(number)


@dataclass(frozen=True)
class ValueSlot:
    """An input or output cell of a node: its name, the Python type it carries and the cell type;
    for a ``bytes`` cell (a struct: the slot points at host memory) the ``size`` of that memory in
    bytes, None for the 8-byte cells."""

    name: str
    type: str
    cell: str
    size: int | None = None

    def __post_init__(self) -> None:
        if self.cell not in CELL_TYPES:
            raise ValueError(f"slot {self.name!r}: cell must be one of {CELL_TYPES}, got {self.cell!r}")
        if self.cell == "bytes" and not (type(self.size) is int and self.size > 0):
            raise ValueError(f"slot {self.name!r}: a bytes cell needs its size in bytes, got {self.size!r}")
        if self.cell != "bytes" and self.size is not None:
            raise ValueError(f"slot {self.name!r}: only a bytes cell has a size (a {self.cell} cell is 8 bytes)")

    def __repr__(self) -> str:  # the size only where there is one
        size = "" if self.size is None else f", size={self.size}"
        return f"ValueSlot(name={self.name!r}, type={self.type!r}, cell={self.cell!r}{size})"


@dataclass(frozen=True)
class StateSlot:
    """A ``state[i]`` entry: name, kind (`STATE_KINDS`), cell type, size in bytes, the initial
    value START writes (plain data) and the name of the Python type it holds, as for a `ValueSlot`
    (``NumbaList[float]``, ``NumbaDict[int, bool]`` for containers; "" when not declared)."""

    name: str
    kind: str
    cell: str
    size: int
    initial: Any = None
    type: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STATE_KINDS:
            raise ValueError(f"state slot {self.name!r}: kind must be one of {STATE_KINDS}, got {self.kind!r}")
        if self.cell not in CELL_TYPES:
            raise ValueError(f"state slot {self.name!r}: cell must be one of {CELL_TYPES}, got {self.cell!r}")
        object.__setattr__(self, "initial", plain_value(self.initial))


@dataclass(frozen=True)
class StateAnnotation:
    """What ``State[T]`` evaluates to: a variable of type ``T`` kept across calls."""

    inner: Any

    def __repr__(self) -> str:
        return f"State[{getattr(self.inner, '__name__', self.inner)!r}]"


class _StateMeta(type):
    def __getitem__(cls, inner: Any) -> StateAnnotation:
        return StateAnnotation(inner)


class State(metaclass=_StateMeta):
    """Annotation for per-node state: ``total: State[float] = 0.0``."""

    def __init__(self) -> None:  # pragma: no cover - never instantiated
        raise TypeError("State is an annotation: write `x: State[float] = 0.0`")


@dataclass(frozen=True)
class VariableType:
    """A type the compiler knows how to store in an 8-byte cell and use in generated code.

    Subclasses say which Python types they support (`is_type_supported`, `from_type`) and may
    override how values move between a cell and an expression. ``python_type`` is the Python-level
    type, ``value`` an optional associated value (a constant, or a type parameter).

    Optional class-level hooks, tried in registration order by the analyzer and converter:
      ``try_parse_input(param, ann) -> ParameterInfo | None``
      ``try_parse_state(node, var_name, globalns) -> StateVariableInfo | None``
      ``try_lower_assignment(node, rhs, call_globals) -> ast.expr | None``
    """

    python_type: Any = None
    value: Any = None

    #: Containers own memory: START allocates them, STOP frees them (reported in nrt_state_indices).
    is_container: ClassVar[bool] = False
    #: Struct types live in host memory of this many bytes instead of an 8-byte cell (None: a cell).
    state_size: ClassVar[int | None] = None

    # -- identity -----------------------------------------------------------------------------
    def get_numba_type_name(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} must implement get_numba_type_name()")

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return False

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> VariableType | None:
        if cls.is_type_supported(var_type):
            return cls(var_type, value)
        return None

    # -- values -------------------------------------------------------------------------------
    def coerce_constant(self, value: Any) -> Any:
        """Check a compile-time value for this type; return the value to bake in, or raise
        TypeError/ValueError (reported at the user's line).

        By default: a number or enum member must be representable in the integer, float or bool
        type `get_numba_type_name` names (`numba_literal`: an enum member counts as its
        ``.value``); other values (a constant-only type read through its attributes, say) pass. The
        value itself is returned unchanged."""
        if value is None or isinstance(value, (enum.Enum, bool, int, float)):
            numba_literal(self.get_numba_type_name(), value)
        return value

    def constant_ast(self, value: Any) -> ast.expr:
        """The expression that bakes ``value`` into generated code.

        By default the constant lowers through the declared Numba type: a plain int, float or bool
        literal (`numba_literal`) for an integer, float or bool `get_numba_type_name`; for other
        types ``value`` must already be a plain literal (override this method otherwise)."""
        name = self.get_numba_type_name()
        literal = numba_literal(name, value)
        if isinstance(literal, float) and not math.isfinite(literal):  # no literal for inf/nan
            return ast.Call(func=ast.Name(id="float", ctx=ast.Load()), args=[ast.Constant(repr(literal))], keywords=[])
        if literal is not None and not isinstance(literal, (bool, int, float, complex, str, bytes)):
            raise TypeError(
                f"{type(self).__qualname__}: cannot bake {value!r} into generated code as {name!r}; "
                "override constant_ast() to lower it"
            )
        return ast.Constant(literal)

    def from_cell(self, cell: ast.expr) -> ast.expr:
        """Expression reading a value from ``cell`` (a pointer-subscript of the storage type)."""
        return cell

    def to_cell(self, value: ast.expr) -> ast.expr:
        """Expression converting ``value`` to what the cell stores."""
        return value

    def memory_view(self, pointer: ast.expr, readonly: bool) -> ast.expr:
        """For a type held in host memory (`state_size` set): the value code uses for the memory at
        ``pointer`` (a void-pointer expression; ``readonly`` for inputs). A struct gives a view of
        it (`defaults.structs`). By default the pointer itself."""
        return pointer

    def store_statements(self, factory: Any, pointer: ast.expr, value: ast.expr) -> list[ast.stmt]:
        """Statements writing ``value`` to the host memory at ``pointer`` (a void-pointer expression
        to this type's cell, or to its `state_size` bytes): how an output is written. By default
        ``value``, converted (`to_cell`) and checked, into the cell; a struct copies its bytes."""
        cell = ast.Subscript(value=factory.typed_pointer(pointer, self), slice=ast.Constant(0), ctx=ast.Store())
        return [ast.Assign(targets=[cell], value=factory.checked(self.to_cell(value), self))]

    def state_initial_value(self, value: Any) -> Any:
        """What `result.state_values` reports for this state variable."""
        return value

    def start_statements(self, source: Any, initial_value: Any) -> list[ast.stmt]:
        """Statements run in START for a state variable: by default, write the initial value."""
        return source.set(self.constant_ast(initial_value))

    def stop_statements(self, source: Any) -> list[ast.stmt]:
        """Statements run in STOP for a state variable (containers free themselves here)."""
        return []

    def host_encode(self, value: Any) -> Any:
        """A Python value as the number a host writes into the cell (NodeRunner uses this)."""
        return self.coerce_constant(value)

    def host_decode(self, raw: Any) -> Any:
        """The number read from a cell as the Python value a host sees."""
        return self.python_type(raw) if isinstance(self.python_type, type) else raw

    def describe(self) -> str:
        return getattr(self.python_type, "__name__", repr(self.python_type))

    # -- slots (what a node artifact says about this type's memory) ---------------------------
    def cell_type(self) -> str:
        """The C type of this type's cell, one of `CELL_TYPES`."""
        if self.state_size is not None:
            return "bytes"
        if self.is_container:
            return "ptr"
        name = self.get_numba_type_name()
        if name in ("voidptr",) or name.endswith("*"):
            return "ptr"
        if name.startswith("float"):
            return "float64"
        if name in ("int8", "uint8", "boolean", "bool_"):
            return "int8"
        if name in ("int16", "int32"):  # narrow cells (enums of a registered width)
            return name
        return "int64"

    def value_slot(self, name: str) -> ValueSlot:
        """How an input or output of this type appears in a node artifact."""
        cell = self.cell_type()
        return ValueSlot(name, self.describe(), cell, self.state_size if cell == "bytes" else None)

    def state_slot(self, name: str, initial_value: Any) -> StateSlot:
        """How a state variable of this type appears in a node artifact."""
        if self.state_size is not None:
            kind = "struct"
        elif self.is_container:
            kind = "constant_container" if getattr(self, "readonly", False) else "container"
        else:
            kind = "scalar"
        return StateSlot(
            name, kind, self.cell_type(), self.state_size or 8, self.state_initial_value(initial_value), self.describe()
        )


@dataclass
class ParameterInfo:
    """How one function parameter is fed: a constant (``category=None``) or by a source category."""

    expected_type: Any = None
    category: str | None = None
    handler: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_constant(self) -> bool:
        return self.category is None


@dataclass
class StateVariableInfo:
    """A ``name: State[T] = initial`` declaration."""

    name: str
    python_type: Any
    initial_value: Any = None
    variable_type: VariableType | None = None
    node: ast.AST | None = None


@dataclass
class OutputAnalysis:
    """What the function writes: one type per output cell, and their names when named."""

    output_types: list[Any] = field(default_factory=list)
    named_outputs: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def names(self) -> list[str]:
        if self.named_outputs is not None:
            return list(self.named_outputs)
        return [f"output{i}" for i in range(len(self.output_types))]


@dataclass
class InputAnalysis:
    """Every parameter with its `ParameterInfo` and bound argument, in declaration order."""

    parameters: dict[str, ParameterInfo] = field(default_factory=dict)
    bound: dict[str, Any] = field(default_factory=dict)

    def get_by_category(self, category: str) -> dict[str, Any]:
        """Parameter name -> bound argument, for the parameters fed by ``category``."""
        return {n: self.bound[n] for n, p in self.parameters.items() if p.category == category}

    @property
    def constants(self) -> dict[str, Any]:
        return {n: self.bound[n] for n, p in self.parameters.items() if p.is_constant}

    @property
    def non_constant(self) -> dict[str, Any]:
        return {n: self.bound[n] for n, p in self.parameters.items() if not p.is_constant}
