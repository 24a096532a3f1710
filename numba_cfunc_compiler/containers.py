"""Node-facing container annotations: ``NumbaList``, ``NumbaDict``, ``create_new_list``,
``create_new_dict``, and the fixed-size ``NumbaArray`` / ``create_new_array``. These are
compile-time descriptions; the compiled code keeps lists and dicts in the C runtime (see
docs/containers.md) and arrays in host-owned state memory (see docs/arrays.md)."""

from __future__ import annotations

import ctypes
import datetime as _dt
import operator
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from numba_rt import abi

__all__ = [
    "NumbaList",
    "NumbaDict",
    "ListSpec",
    "DictSpec",
    "create_new_list",
    "create_new_dict",
    "LIST_ELEMENT_TYPES",
    "DICT_KEY_TYPES",
    "DICT_VALUE_TYPES",
    "NumbaArray",
    "ArraySpec",
    "create_new_array",
    "ARRAY_ELEMENT_TYPES",
    "ARRAY_STORAGE",
    "array_layout",
    "check_array_spec",
]

LIST_ELEMENT_TYPES = (int, float, bool)
DICT_KEY_TYPES = (int,)
DICT_VALUE_TYPES = (int, float, bool)
ARRAY_ELEMENT_TYPES = (int, float, bool, _dt.datetime, _dt.timedelta)
#: How a `NumbaArray` stores its elements in state memory, by element type name: the cell type
#: (`numba_rt.abi.CELL_TYPES`) of one element, packed with no padding (an int8 is 1 byte).
ARRAY_STORAGE = MappingProxyType(
    {"int": "int64", "float": "float64", "bool": "int8", "datetime": "int64", "timedelta": "int64"}
)
_ARRAY_TYPE_NAME = re.compile(r"^NumbaArray\[(\w+), (\d+)\]$")


def _type_name(t: Any) -> str:
    return getattr(t, "__name__", repr(t))


@dataclass(frozen=True)
class ListSpec:
    """A list of ``element`` values (``NumbaList[float]``, ``create_new_list(float)``)."""

    element: Any = None

    def __repr__(self) -> str:
        return f"NumbaList[{_type_name(self.element)}]" if self.element else "NumbaList"


@dataclass(frozen=True)
class DictSpec:
    """A dict from ``key`` to ``value`` (``NumbaDict[int, float]``, ``create_new_dict(int, float)``)."""

    key: Any = None
    value: Any = None

    def __repr__(self) -> str:
        if self.key is None:
            return "NumbaDict"
        return f"NumbaDict[{_type_name(self.key)}, {_type_name(self.value)}]"


@dataclass(frozen=True)
class ArraySpec:
    """A fixed-size array of ``length`` ``element`` values (``NumbaArray[float, 8]``,
    ``create_new_array(float, 8)``); ``element`` None: not declared yet (bare ``NumbaArray``)."""

    element: Any = None
    length: Any = None

    def __repr__(self) -> str:
        if self.element is None and self.length is None:
            return "NumbaArray"
        return f"NumbaArray[{_type_name(self.element)}, {self.length!r}]"

    @property
    def storage(self) -> str:
        """The cell type of one element: ``int64``, ``float64`` or ``int8``."""
        return ARRAY_STORAGE[_type_name(self.element)]

    @property
    def nbytes(self) -> int:
        """The bytes of state memory the array takes."""
        return ctypes.sizeof(abi.cell_ctype(self.storage)) * self.length


def array_layout(type_name: str) -> tuple[str, str, int] | None:
    """``(element type name, element cell type, length)`` of an array slot's type name
    (``"NumbaArray[float, 8]"`` -> ``("float", "float64", 8)``); None for any other name."""
    match = _ARRAY_TYPE_NAME.match(type_name or "")
    if match is None or match.group(1) not in ARRAY_STORAGE:
        return None
    return match.group(1), ARRAY_STORAGE[match.group(1)], int(match.group(2))


class _ListMeta(type):
    def __getitem__(cls, element: Any) -> ListSpec:
        return ListSpec(element)


class _DictMeta(type):
    def __getitem__(cls, types: Any) -> DictSpec:
        if not (isinstance(types, tuple) and len(types) == 2):
            raise TypeError("write NumbaDict[KeyType, ValueType]")
        return DictSpec(*types)


class _ArrayMeta(type):
    def __getitem__(cls, types: Any) -> ArraySpec:
        if not (isinstance(types, tuple) and len(types) == 2):
            raise TypeError("write NumbaArray[ElementType, length], e.g. NumbaArray[float, 8]")
        return ArraySpec(*types)


class NumbaList(metaclass=_ListMeta):
    """Annotation: ``window: State[NumbaList] = create_new_list(float)`` or ``State[NumbaList[float]]``."""


class NumbaDict(metaclass=_DictMeta):
    """Annotation: ``totals: State[NumbaDict] = create_new_dict(int, float)`` or ``State[NumbaDict[int, float]]``."""


class NumbaArray(metaclass=_ArrayMeta):
    """Annotation: ``values: State[NumbaArray] = create_new_array(float, 8)``, ``State[NumbaArray[float, 8]]``,
    or a read-only constant parameter ``weights: NumbaArray[float, 3]`` bound to a list of 3 values."""


def create_new_list(element: Any) -> ListSpec:
    """An empty list of ``element`` (int, float or bool), created in START, freed in STOP."""
    if element not in LIST_ELEMENT_TYPES:
        raise TypeError(f"NumbaList elements must be int, float or bool, not {_type_name(element)}")
    return ListSpec(element)


def create_new_dict(key: Any, value: Any) -> DictSpec:
    """An empty dict from ``key`` (int) to ``value`` (int, float or bool)."""
    if key not in DICT_KEY_TYPES:
        raise TypeError(f"NumbaDict keys must be int, not {_type_name(key)}")
    if value not in DICT_VALUE_TYPES:
        raise TypeError(f"NumbaDict values must be int, float or bool, not {_type_name(value)}")
    return DictSpec(key, value)


def check_array_spec(element: Any, length: Any) -> ArraySpec:
    """``ArraySpec(element, length)`` if an array can hold it, else TypeError / ValueError saying why."""
    if element not in ARRAY_ELEMENT_TYPES:
        raise TypeError(f"NumbaArray elements must be int, float, bool, datetime or timedelta, not {_type_name(element)}")
    if isinstance(length, bool) or not hasattr(length, "__index__"):
        raise TypeError(f"the length of a NumbaArray must be an int known at compile time, got {length!r}")
    if operator.index(length) <= 0:
        raise ValueError(f"the length of a NumbaArray must be at least 1, got {length!r}")
    return ArraySpec(element, operator.index(length))


def create_new_array(element: Any, length: int) -> ArraySpec:
    """A fixed-size array of ``length`` ``element`` values (int, float, bool, datetime or timedelta),
    zero-initialised, in the node's state memory: no allocation, ever."""
    return check_array_spec(element, length)
