"""Numba types spelled as text, as the extension API writes them.

Three spellings name the same types:
- Numba type expressions, as in Numba signature strings: ``"int64"``, ``"intp"``, ``"voidptr"``,
  ``"CPointer(voidptr)"``, ``"CPointer(CPointer(int8))"`` (any attribute of ``numba.core.types``
  that is a type instance, and ``CPointer(...)``);
- C spellings: ``"void**"``, ``"int8*"``, ``"int64_t"``, ``"double"``, ``"char*"``, ``"float"``
  (float32), ``"int"`` (int32), ``"unsigned char"``, ``"size_t"``; ``const`` is ignored;
- a ``numba.types.Type`` instance.

Parsing is a tiny recursive descent over names, ``*`` and ``CPointer(...)``: nothing is evaluated.
`canonical_type_name` gives the one text stored in signatures, artifacts and semantic keys.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from numba.core import types

__all__ = ["parse_numba_type", "canonical_type_name", "is_c_abi_type", "is_numba_type_name", "TYPE_SPELLINGS"]

#: What the error messages show as accepted spellings.
TYPE_SPELLINGS = (
    "a Numba type (int64, float64, voidptr, CPointer(int8), CPointer(voidptr)), "
    "a C spelling (int64_t, double, void*, void**, int8*) or a numba.types.Type"
)

#: C type names that are not attributes of ``numba.core.types`` (those win: ``char``, ``double``,
#: ``short``, ``size_t``, ``ssize_t``, ``bool`` are Numba's own). Sizes are the LP64 ones of every
#: platform the runtime supports.
_C_NAMES: dict[str, types.Type] = {
    **{f"int{n}_t": getattr(types, f"int{n}") for n in (8, 16, 32, 64)},
    **{f"uint{n}_t": getattr(types, f"uint{n}") for n in (8, 16, 32, 64)},
    "intptr_t": types.intp,
    "uintptr_t": types.uintp,
    "ptrdiff_t": types.intp,
    "_Bool": types.boolean,
    "float": types.float32,
    "int": types.intc,
    "signed": types.intc,
    "unsigned": types.uintc,
    "long": types.long_,
    "signed char": types.int8,
    "unsigned char": types.uint8,
    "unsigned short": types.ushort,
    "unsigned int": types.uintc,
    "unsigned long": types.ulong,
    "long long": types.longlong,
    "unsigned long long": types.ulonglong,
}

_TOKEN = re.compile(r"\s*(?:([A-Za-z_]\w*)|(\*)|(\()|(\)))")


def _unknown(spec: Any, why: str = "") -> ValueError:
    return ValueError(f"unknown type {spec!r}{': ' + why if why else ''} (expected {TYPE_SPELLINGS})")


def _tokens(spec: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = spec.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _unknown(spec, f"unexpected {text[pos:].strip()[:1]!r}")
        out.append(match.group(match.lastindex or 0))
        pos = match.end()
    return out


class _Parser:
    """``type := ('CPointer' '(' type ')' | words) '*'*``; ``words`` is a C or Numba type name."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.tokens = _tokens(spec)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _unknown(self.spec, "incomplete")
        self.pos += 1
        return token

    def parse(self) -> types.Type:
        ty = self.type()
        if self.peek() is not None:
            raise _unknown(self.spec, f"unexpected {self.peek()!r}")
        return ty

    def type(self) -> types.Type:
        if self.peek() == "CPointer":
            self.take()
            if self.take() != "(":
                raise _unknown(self.spec, "CPointer needs (...)")
            ty: types.Type = types.CPointer(self.type())
            if self.take() != ")":
                raise _unknown(self.spec, "unbalanced parentheses")
            return self.stars(ty)
        words = []
        while self.peek() is not None and self.peek() not in "*()":
            word = self.take()
            if word != "const":
                words.append(word)
        if not words:
            raise _unknown(self.spec)
        name = " ".join(words)
        if name == "void" and self.peek() == "*":  # void* is Numba's voidptr
            self.take()
            return self.stars(types.voidptr)
        ty = getattr(types, name, None) if len(words) == 1 else None
        if not isinstance(ty, types.Type):
            ty = _C_NAMES.get(name)
        if ty is None:
            raise _unknown(self.spec, f"no type called {name!r}")
        return self.stars(ty)

    def stars(self, ty: types.Type) -> types.Type:
        while self.peek() == "*":
            self.take()
            ty = types.CPointer(ty)
        return ty


def parse_numba_type(spec: str | types.Type) -> types.Type:
    """The Numba type of ``spec`` (see the module docstring); ValueError if there is none."""
    if isinstance(spec, types.Type):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"a type must be a str or a numba.types.Type, got {spec!r}")
    return _parse_text(spec)


@functools.lru_cache(maxsize=512)
def _parse_text(spec: str) -> types.Type:
    """Memo of the parser (categories build their `CfuncParam`s on every access); errors are
    not cached."""
    return _Parser(spec).parse()


def is_numba_type_name(name: str) -> bool:
    """Whether ``name`` is a type in ``numba.core.types`` (``"int64"``, ``"voidptr"``; not an
    expression): what `VariableType.get_numba_type_name` must return, since generated code casts
    cells with ``getattr(numba.core.types, name)``."""
    return isinstance(name, str) and name.isidentifier() and isinstance(getattr(types, name, None), types.Type)


def is_c_abi_type(ty: types.Type) -> bool:
    """Whether ``ty`` can be a parameter of a C function: a number, a bool, ``void*`` or a pointer
    to one of those (or to a pointer)."""
    if isinstance(ty, types.CPointer):
        return is_c_abi_type(ty.dtype)
    return isinstance(ty, (types.Integer, types.Float, types.Boolean)) or ty == types.voidptr


def _text(ty: types.Type) -> str:
    if isinstance(ty, types.CPointer):
        inner = "void*" if ty.dtype == types.voidptr else _text(ty.dtype)
        return inner + "*"
    if ty == types.voidptr:
        return "voidptr"
    name = str(ty)
    if getattr(types, name, None) != ty:
        raise _unknown(ty, "it has no name in numba.core.types")
    return name


def _is_legacy(spec: str) -> bool:
    """Spellings accepted before Numba expressions and C names were (a ``numba.core.types``
    attribute or ``void`` followed by ``*``s): kept verbatim so their semantic keys stay the same."""
    text = spec.replace(" ", "")
    base = text.rstrip("*")
    if not base.isidentifier():
        return False
    if base == "void" and len(base) < len(text):
        return True
    return isinstance(getattr(types, base, None), types.Type)


def canonical_type_name(spec: str | types.Type) -> str:
    """The text that stands for ``spec`` in signatures, artifacts and semantic keys.

    Spellings that were already accepted (``"void**"``, ``"int8*"``, ``"voidptr"``, ``"int64"``,
    ``"intp"``) are kept as written; anything else becomes the C-style text of its type: ``voidptr``
    for ``void*``, ``void**`` for ``CPointer(voidptr)``, ``int8*`` for ``CPointer(int8)``, Numba's
    name (``int64``, ``float32``, ``bool``) for a scalar. Raises ValueError for an unknown type.
    """
    ty = parse_numba_type(spec)
    if isinstance(spec, str) and _is_legacy(spec):
        return spec
    return _text(ty)
