"""The semantic key: what identifies a compiled function's generated code.

First 16 hex digits of SHA-256 over the generated source, the cfunc signature, the compile options,
a description of every global the code refers to and of every entry adapter built around it. Everything hashed is text built
deterministically, so the key is the same in every process, on every machine, whatever
``PYTHONHASHSEED``; it changes when any constant, option, registration or helper that alters the
generated code changes.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import hashlib
import types as pytypes
from typing import Any, Sequence

from numba.core import types as numba_types

from .entry_adapters import EntryAdapter
from .utils.introspection import cell_has_value

__all__ = ["semantic_key"]

_KEY_VERSION = "ncc-semantic-key-v1"


def semantic_key(
    source: str,
    signature: str,
    options: Any,
    namespace: dict[str, Any],
    tree: ast.AST | None = None,
    *,
    adapters: Sequence[Any] = (),
) -> str:
    """First 16 hex digits of SHA-256 over the generated code, signature, options and a digest of
    every global the code refers to (``@njit`` helpers by their code). Process-independent.
    ``tree`` is the module ``source`` was unparsed from, if the caller has it (saves a parse).
    ``adapters`` (`entry_adapters.RegisteredAdapter`s) add their signature, ``key()`` and the code
    of their class's methods; without adapters the key is what it always was."""
    names = {n.id for n in ast.walk(tree if tree is not None else ast.parse(source)) if isinstance(n, ast.Name)}
    referenced = sorted(names & namespace.keys())
    parts = [_KEY_VERSION, source, signature, options.key_text()]
    parts += [f"{name}={_describe_global(namespace[name])}" for name in referenced]
    parts += [f"{spec.key_text()}; code {_describe_methods(type(spec.adapter))}" for spec in adapters]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _describe_methods(cls: type) -> str:
    """The code of the functions an `EntryAdapter` subclass and its bases (not `EntryAdapter`
    itself) define: what its ``build`` runs."""
    own = [k for k in cls.__mro__ if k not in EntryAdapter.__mro__]
    items = []
    for klass in own:
        for name, value in sorted(vars(klass).items()):
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if isinstance(func, pytypes.FunctionType):
                items.append(f"{klass.__qualname__}.{name}={_describe_function(func, frozenset())}")
    return "[" + ", ".join(items) + "]"


def _describe_global(value: Any, seen: frozenset[int] = frozenset()) -> str:
    """A process-independent description of a global the generated code refers to. Functions and
    ``@njit`` helpers are described by their code and, recursively, the globals and closure values
    that code reads, so changing any of them changes the key."""
    if isinstance(value, pytypes.ModuleType):
        return f"module:{value.__name__}"
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return repr(value)
    if isinstance(value, (tuple, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, frozenset) else value
        return f"{type(value).__name__}({', '.join(_describe_global(v, seen) for v in items)})"
    if isinstance(value, enum.Enum):
        return f"enum:{type(value).__qualname__}.{value.name}={value.value!r}"
    if isinstance(value, type) and issubclass(value, enum.Enum):
        return f"enumtype:{value.__qualname__}:{[(m.name, m.value) for m in value]!r}"
    py_func = getattr(value, "py_func", None)
    if py_func is not None:  # a Numba dispatcher: its code decides what gets compiled
        options = sorted((k, repr(v)) for k, v in getattr(value, "targetoptions", {}).items())
        return f"njit:{_describe_function(py_func, seen)}:{options}"
    if isinstance(value, pytypes.FunctionType):
        return f"function:{_describe_function(value, seen)}"
    if isinstance(value, numba_types.Type):  # e.g. an FFI ExternalFunction: symbol and signature
        return f"numba:{type(value).__name__}:{value}:{getattr(value, 'sig', '')}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. an FFIFunction
        return f"data:{type(value).__module__}.{type(value).__qualname__}:{value!r}"
    return f"object:{type(value).__module__}.{type(value).__qualname__}:{getattr(value, '__qualname__', '')}"


def _describe_function(func: pytypes.FunctionType, seen: frozenset[int]) -> str:
    text = f"{func.__module__}.{func.__qualname__}:{_code_digest(func.__code__)}"
    if id(func) in seen:  # recursion between helpers
        return text
    seen = seen | {id(func)}
    names = sorted(_code_names(func.__code__) & func.__globals__.keys())
    text += "".join(f";{n}={_describe_global(func.__globals__[n], seen)}" for n in names)
    for name, cell in zip(func.__code__.co_freevars, func.__closure__ or ()):
        contents = cell.cell_contents if cell_has_value(cell) else "<empty>"
        text += f";closure {name}={_describe_global(contents, seen)}"
    return text


def _code_digest(code: pytypes.CodeType) -> str:
    h = hashlib.sha256(code.co_code)
    for const in code.co_consts:
        h.update(_code_digest(const).encode() if isinstance(const, pytypes.CodeType) else _describe_global(const).encode())
    h.update(repr(code.co_names).encode())
    return h.hexdigest()[:16]


def _code_names(code: pytypes.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            names |= _code_names(const)
    return names
