"""Node-facing ``EnumSet[E]``: a set of members of an ``Enum``/``IntEnum`` class ``E``.

In compiled code an ``EnumSet[E]`` is one 64-bit mask: bit ``i`` stands for the ``i``-th member
of ``E`` in definition order (``list(E)``, aliases excluded), so ``E`` may have at most 64 members.
In Python, ``EnumSet[E]`` is a subclass of ``frozenset`` holding members of ``E``: what a state's
initial value, a constant parameter and `NodeRunner` use (docs/enum-sets.md).

This module imports neither Numba nor anything of the compiler: hosts that only drive nodes use it.
"""

from __future__ import annotations

import copyreg
import enum
import functools
import threading
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Iterator, Mapping

__all__ = ["EnumSet", "MAX_MEMBERS", "enum_set_problem", "is_enum_set_class"]

#: An EnumSet lives in one 8-byte cell: one bit per member.
MAX_MEMBERS = 64
_MASK64 = (1 << 64) - 1
_INT64 = (-(2**63), 2**63)


def enum_set_problem(enum_class: Any) -> str | None:
    """Why ``EnumSet[enum_class]`` cannot exist, or None when it can: ``enum_class`` must be an
    ``Enum`` class whose members all have int values that fit in int64, with 1 to 64 members."""
    name = getattr(enum_class, "__name__", repr(enum_class))
    if not (isinstance(enum_class, type) and issubclass(enum_class, enum.Enum)):
        return f"EnumSet[{name}]: {name} is not an Enum class"
    members = list(enum_class)
    if not members:
        return f"EnumSet[{name}]: {name} has no members"
    for member in members:
        value = member.value
        if not isinstance(value, int) or isinstance(value, bool):
            return f"EnumSet[{name}]: {name}.{member.name} has the value {value!r}; every value must be an int"
        if not _INT64[0] <= value < _INT64[1]:
            return f"EnumSet[{name}]: {name}.{member.name} = {value} does not fit in int64"
    if len(members) > MAX_MEMBERS:
        return (
            f"EnumSet[{name}]: {name} has {len(members)} members; an EnumSet holds at most {MAX_MEMBERS} (one bit each)"
        )
    return None


def is_enum_set_class(value: Any) -> bool:
    """Whether ``value`` is a specialised ``EnumSet[E]`` class."""
    return isinstance(value, type) and issubclass(value, EnumSet) and value.enum is not None


class _EnumSetMeta(type):
    def __getitem__(cls, enum_class: Any) -> type[EnumSet]:
        if cls.enum is not None:
            raise TypeError(f"{cls.__name__} is already an EnumSet of {cls.enum.__name__}")
        return _specialise(enum_class)

    def __repr__(cls) -> str:
        return f"<class '{cls.__name__}'>" if cls.enum is not None else super().__repr__()


_LOCK = threading.Lock()  # one class per enum, even when threads ask at the same time


def _specialise(enum_class: Any) -> type[EnumSet]:
    with _LOCK:
        return _make_class(enum_class)


@functools.lru_cache(maxsize=None)
def _make_class(enum_class: Any) -> type[EnumSet]:
    """``EnumSet[enum_class]``, created once per enum class (``EnumSet[E] is EnumSet[E]``)."""
    problem = enum_set_problem(enum_class)
    if problem is not None:
        raise TypeError(problem)
    name = f"EnumSet[{enum_class.__name__}]"
    members = tuple(enum_class)
    namespace = {
        "__slots__": (),
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"A set of members of {enum_class.__qualname__} (bit i: the i-th member).",
        "enum": enum_class,
        "_members": members,
        "_bit": MappingProxyType({m: i for i, m in enumerate(members)}),
        "_by_value": MappingProxyType({m.value: m for m in members}),
    }
    return _EnumSetMeta(name, (EnumSet,), namespace)


class EnumSet(frozenset, metaclass=_EnumSetMeta):
    """``EnumSet[E]``: an immutable set of members of ``E``; ``EnumSet[E]()`` is empty and
    ``EnumSet[E]([E.A, E.B])`` holds two members (an int that is a member's value stands for that
    member). It iterates in member order, and ``|``, ``&``, ``-``, ``^`` give an ``EnumSet[E]``.
    `mask` is the bit mask compiled code stores; `from_mask` reads one."""

    __slots__ = ()
    #: The enum class (None for the unspecialised ``EnumSet``).
    enum: ClassVar[Any] = None
    _members: ClassVar[tuple] = ()
    _bit: ClassVar[Mapping[Any, int]] = MappingProxyType({})  # member -> bit
    _by_value: ClassVar[Mapping[int, Any]] = MappingProxyType({})  # value -> member

    def __new__(cls, members: Iterable[Any] = ()) -> EnumSet:
        if cls.enum is None:
            raise TypeError("EnumSet needs its enum class: write EnumSet[E](...)")
        if isinstance(members, (str, bytes)) or not hasattr(members, "__iter__"):
            raise TypeError(f"{cls.__name__} takes an iterable of {cls.enum.__name__} members, got {members!r}")
        return super().__new__(cls, [cls.member(m) for m in members])

    @classmethod
    def member(cls, value: Any) -> Any:
        """``value`` as a member of the enum: a member, or an int that is a member's value."""
        enum_class = cls.enum
        if isinstance(value, enum_class) and value in cls._bit:
            return value
        if isinstance(value, int) and not isinstance(value, (bool, enum.Enum)) and value in cls._by_value:
            return cls._by_value[value]
        raise TypeError(f"{cls.__name__} holds members of {enum_class.__name__}; {value!r} is not one")

    @classmethod
    def members(cls) -> tuple:
        """The members in bit order (bit ``i`` is ``members()[i]``)."""
        return cls._members

    @classmethod
    def from_mask(cls, mask: int) -> EnumSet:
        """The set whose bits are ``mask`` (signed int64 or unsigned); bits above the last member
        are ignored, as compiled code ignores them."""
        bits = int(mask) & _MASK64
        return cls(m for i, m in enumerate(cls._members) if bits >> i & 1)

    @property
    def mask(self) -> int:
        """The bit mask (unsigned): bit ``i`` is set when ``members()[i]`` is in the set."""
        bits = 0
        for member in frozenset.__iter__(self):
            bits |= 1 << self._bit[member]
        return bits

    @property
    def cell_value(self) -> int:
        """`mask` as the signed int64 an 8-byte cell holds (bit 63 set is negative)."""
        bits = self.mask
        return bits - (1 << 64) if bits >> 63 else bits

    def __iter__(self) -> Iterator[Any]:
        return (m for m in self._members if frozenset.__contains__(self, m))

    def __repr__(self) -> str:
        name = self.enum.__name__
        return (
            f"{type(self).__name__}({{{', '.join(f'{name}.{m.name}' for m in self)}}})"
            if self
            else f"{type(self).__name__}()"
        )

    def __reduce__(self) -> Any:
        return _rebuild, (self.enum, tuple(self))

    def _same(self, result: Any) -> Any:
        return result if result is NotImplemented else type(self)(result)

    def __or__(self, other: Any) -> Any:
        return self._same(frozenset.__or__(self, other))

    def __and__(self, other: Any) -> Any:
        return self._same(frozenset.__and__(self, other))

    def __sub__(self, other: Any) -> Any:
        return self._same(frozenset.__sub__(self, other))

    def __xor__(self, other: Any) -> Any:
        return self._same(frozenset.__xor__(self, other))

    __ror__ = __or__
    __rand__ = __and__
    __rxor__ = __xor__

    def __rsub__(self, other: Any) -> Any:
        return self._same(frozenset.__rsub__(self, other))


def _rebuild(enum_class: Any, members: tuple) -> EnumSet:
    return EnumSet[enum_class](members)


def _reduce_class(cls: _EnumSetMeta) -> Any:
    """Pickle ``EnumSet[E]`` as "EnumSet of E" (the class is made at run time), ``EnumSet`` by name."""
    return (_specialise, (cls.enum,)) if cls.enum is not None else cls.__qualname__


copyreg.pickle(_EnumSetMeta, _reduce_class)
