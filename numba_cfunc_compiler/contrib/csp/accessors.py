"""csp 0.19.1's exported accessors, declared once: what node code and the entry adapters call.

``_cspimpl`` (csp's engine) exports C functions for its ``PyNumbaNode``: per input
``__csp_numba_node_ticked__``/``valid``, ``__csp_get_node_<T>_value__``, ``make_passive``/``active``,
and per output ``__csp_return_<T>_value__``; every one takes the node pointer and an input or
output index. Python loads ``_cspimpl`` privately (RTLD_LOCAL), so `publish_symbols` makes exactly
these symbols resolvable for compiled code, at the addresses csp's library has.
"""

from __future__ import annotations

import ctypes
import functools

import csp

from ...utils.ffi import FFIFunction

__all__ = ["NODE_PARAM", "VALUE_TYPES", "TICKED", "VALID", "MAKE_PASSIVE", "MAKE_ACTIVE", "accessors", "getter", "returner", "publish_symbols"]

#: The parameter the node takes after the built-in prefix: csp's node object (``PyNumbaNode*``).
NODE_PARAM = "csp_node"

#: The value types csp 0.19.1 exports accessors for: Python type -> the C type name in the
#: accessor's symbol, and the Numba type of the value (``bool`` travels as a C ``bool``: one byte).
VALUE_TYPES: dict[type, tuple[str, str]] = {int: ("int64", "int64"), float: ("double", "float64"), bool: ("bool", "int8")}

_INDEXED = ("voidptr", "int32")  # (node, input or output index), as every accessor takes them
TICKED = FFIFunction("__csp_numba_node_ticked__", "int8", _INDEXED, pure=True)
VALID = FFIFunction("__csp_numba_node_valid__", "int8", _INDEXED, pure=True)
MAKE_PASSIVE = FFIFunction("__csp_numba_node_make_passive__", "int8", _INDEXED)
MAKE_ACTIVE = FFIFunction("__csp_numba_node_make_active__", "int8", _INDEXED)


def getter(python_type: type) -> FFIFunction:
    """``__csp_get_node_<T>_value__(node, input_index) -> T``: reads an input's last value."""
    c_name, numba_type = VALUE_TYPES[python_type]
    return FFIFunction(f"__csp_get_node_{c_name}_value__", numba_type, _INDEXED, pure=True)


def returner(python_type: type) -> FFIFunction:
    """``__csp_return_<T>_value__(node, output_index, T value)``: ticks an output. A C ``bool``
    argument is passed as an ``int32`` 0 or 1, which every compiler's reading of it accepts."""
    c_name, numba_type = VALUE_TYPES[python_type]
    return FFIFunction(f"__csp_return_{c_name}_value__", "void", (*_INDEXED, "int32" if python_type is bool else numba_type))


def accessors() -> tuple[FFIFunction, ...]:
    """Every accessor, declared."""
    return (TICKED, VALID, MAKE_PASSIVE, MAKE_ACTIVE, *map(getter, VALUE_TYPES), *map(returner, VALUE_TYPES))


@functools.lru_cache(maxsize=None)
def publish_symbols() -> None:
    """Make csp's ``__csp_*`` accessors resolvable for compiled code in this process.

    ``_cspimpl`` is loaded by Python with RTLD_LOCAL, so its symbols are invisible to the JIT. Each
    accessor is registered (`FFIFunction.make_available`) at the address csp's own library has;
    nothing else of csp is exposed and the process's global symbol namespace is not changed. LLVM's
    symbol table is per process, so this runs once per process (the addresses never change)."""
    from csp.impl.__cspimpl import _cspimpl  # noqa: PLC0415 - the extension module itself

    library = ctypes.CDLL(_cspimpl.__file__)
    for fn in accessors():
        try:
            fn.make_available(library[fn.name])
        except AttributeError:
            raise ImportError(
                f"csp {csp.__version__} does not export {fn.name}; numba_cfunc_compiler.contrib.csp "
                "is written for csp 0.19.1"
            ) from None


