"""Node-facing container annotations: ``NumbaList``, ``NumbaDict``, ``create_new_list``,
``create_new_dict``. These are compile-time descriptions; the compiled code keeps the containers
in the C runtime (see docs/containers.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
]

LIST_ELEMENT_TYPES = (int, float, bool)
DICT_KEY_TYPES = (int,)
DICT_VALUE_TYPES = (int, float, bool)


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


class _ListMeta(type):
    def __getitem__(cls, element: Any) -> ListSpec:
        return ListSpec(element)


class _DictMeta(type):
    def __getitem__(cls, types: Any) -> DictSpec:
        if not (isinstance(types, tuple) and len(types) == 2):
            raise TypeError("write NumbaDict[KeyType, ValueType]")
        return DictSpec(*types)


class NumbaList(metaclass=_ListMeta):
    """Annotation: ``window: State[NumbaList] = create_new_list(float)`` or ``State[NumbaList[float]]``."""


class NumbaDict(metaclass=_DictMeta):
    """Annotation: ``totals: State[NumbaDict] = create_new_dict(int, float)`` or ``State[NumbaDict[int, float]]``."""


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
