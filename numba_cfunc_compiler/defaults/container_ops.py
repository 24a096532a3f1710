"""Container operations that compiled code calls: the hot paths (length, get, set, append with
room, lookup, insert) read and write the structs of cpp/ncc_containers.h directly, so LLVM inlines
them into the node; the C runtime is called only to allocate, grow, clear, free and report faults.

Every operation takes ``sample``: a zero of the element's Python-level type (``0``, ``0.0`` or
``False``). It picks the storage type of the 8-byte slots and is the value returned on a fault.
A NULL container (before START or after STOP) is a fault, never a crash.

A fault records the error (first fault wins) and then raises, which unwinds the whole call like a
Python exception: nothing after the faulting operation runs. The entry point's wrapper sees the
failure status and its own generic record is ignored, since the precise one is already there.
"""

from __future__ import annotations

from typing import Any

from numba import njit, types
from numba_rt import abi

from ..utils.intrinsics import (
    c_string,
    cast_voidptr_to_ptr,
    decode,
    encode,
    entry_name,
    is_null,
    probe_start,
    storage_ptr,
)

# -- the C runtime (cpp/ncc_containers.h), declared from the ABI table of numba_rt.abi ----------
# The Numba spelling of each numba_rt.abi type word (pointers and C strings travel as voidptr).
_NUMBA_TYPES = {
    "void": types.void,
    "int8": types.int8,
    "int32": types.int32,
    "int64": types.int64,
    "double": types.float64,
    "ptr": types.voidptr,
    "str": types.voidptr,
    "int64*": types.CPointer(types.int64),
    "int8*": types.CPointer(types.int8),
    "void**": types.CPointer(types.voidptr),
}


def _external(name: str) -> types.ExternalFunction:
    """``types.ExternalFunction`` for the runtime function ``name`` of `numba_rt.abi.FUNCTIONS`."""
    fn = abi.function(name)
    signature = _NUMBA_TYPES[fn.restype](*(_NUMBA_TYPES[t] for t in fn.argtypes))
    return types.ExternalFunction(fn.name, signature)


ncc_list_new = _external("ncc_list_new")
ncc_list_free = _external("ncc_list_free")
ncc_list_grow = _external("ncc_list_grow")
ncc_dict_new = _external("ncc_dict_new")
ncc_dict_free = _external("ncc_dict_free")
ncc_dict_grow = _external("ncc_dict_grow")
ncc_dict_clear = _external("ncc_dict_clear")
ncc_fault_index_of = _external("ncc_fault_index_of")
ncc_fault_key = _external("ncc_fault_key")
ncc_fault_empty = _external("ncc_fault_empty")
ncc_fault_state = _external("ncc_fault_state")
ncc_fault_readonly = _external("ncc_fault_readonly")
ncc_error_set = _external(abi.ERROR_SET_SYMBOL)

NCC_ERR_STATE = int(abi.ErrorCode.STATE)
READONLY = abi.CONTAINER_READONLY
_FAULT = RuntimeError  # what the operations raise after recording a fault (never reaches Python)


def _word(layout: Any, field: str) -> int:
    """Index of an 8-byte field in its struct, as an int64 array."""
    return layout[field] // 8


def _word32(layout: Any, field: str) -> int:
    """Index of an int32 field in its struct, as an int32 array."""
    return layout[field] // 4


# Word offsets into the structs (8-byte words; flags are the int32 at byte 28 / 68).
_L, _D = abi.LIST_LAYOUT, abi.DICT_LAYOUT
LIST_LEN, LIST_CAP, LIST_DATA = _word(_L, "len"), _word(_L, "capacity"), _word(_L, "data")
LIST_FLAGS32 = _word32(_L, "flags")
DICT_LEN, DICT_USED, DICT_CAP, DICT_MASK = _word(_D, "len"), _word(_D, "used"), _word(_D, "capacity"), _word(_D, "mask")
DICT_INDEX, DICT_KEYS, DICT_VALUES, DICT_LIVE = _word(_D, "index"), _word(_D, "keys"), _word(_D, "values"), _word(_D, "live")
DICT_FLAGS32 = _word32(_D, "flags")
EMPTY, DELETED = abi.SLOT_EMPTY, abi.SLOT_DELETED

_OPTIONS = {"no_cpython_wrapper": True, "_nrt": False, "error_model": "numpy", "nogil": True}
jit = njit(**_OPTIONS)


@jit
def checked_index(i, n, what):
    """``i`` as an index into ``n`` elements, negative counting from the end as in Python; out of
    range, an INDEX fault "<what> index i out of range (length n)" (``what`` a C string such as
    ``c_string("array")``) that ends the call, as Python raises IndexError."""
    j = i + n if i < 0 else i
    if j < 0 or j >= n:
        ncc_fault_index_of(what, i, n, entry_name())
        raise _FAULT
    return j


@jit
def _words(c):
    return cast_voidptr_to_ptr(c, "int64")


@jit
def _ptrs(c):
    return cast_voidptr_to_ptr(c, "voidptr")


@jit
def _check_live(c):
    """Fault if ``c`` is NULL (used before START or after STOP)."""
    if is_null(c):
        ncc_fault_state(entry_name())
        raise _FAULT


@jit
def _check_writable(c, flags_word):
    """Fault if ``c`` is NULL or a constant container."""
    _check_live(c)
    if cast_voidptr_to_ptr(c, "int32")[flags_word] & READONLY:
        ncc_fault_readonly(entry_name())
        raise _FAULT


@jit
def set_readonly(c, flags_word):
    if not is_null(c):
        flags = cast_voidptr_to_ptr(c, "int32")
        flags[flags_word] = flags[flags_word] | READONLY


# -- lists ------------------------------------------------------------------------------------
@jit
def list_len(lst):
    _check_live(lst)
    return _words(lst)[LIST_LEN]


@jit
def list_get(lst, i, sample):
    _check_live(lst)
    n = _words(lst)[LIST_LEN]
    j = checked_index(i, n, c_string("list"))
    return decode(storage_ptr(_ptrs(lst)[LIST_DATA], sample)[j], sample)


@jit
def list_item(lst, i, sample):
    """Element ``i`` with ``0 <= i < len`` already established (iteration)."""
    return decode(storage_ptr(_ptrs(lst)[LIST_DATA], sample)[i], sample)


@jit
def list_set(lst, i, value, sample):
    _check_writable(lst, LIST_FLAGS32)
    n = _words(lst)[LIST_LEN]
    j = checked_index(i, n, c_string("list"))
    storage_ptr(_ptrs(lst)[LIST_DATA], sample)[j] = encode(value, sample)


@jit
def list_append(lst, value, sample):
    _check_writable(lst, LIST_FLAGS32)
    words = _words(lst)
    n = words[LIST_LEN]
    if n == words[LIST_CAP]:
        if ncc_list_grow(lst) != 0:
            raise _FAULT
    storage_ptr(_ptrs(lst)[LIST_DATA], sample)[n] = encode(value, sample)
    words[LIST_LEN] = n + 1


@jit
def list_pop(lst, sample):
    _check_writable(lst, LIST_FLAGS32)
    words = _words(lst)
    n = words[LIST_LEN]
    if n == 0:
        ncc_fault_empty(c_string("pop from empty list"), entry_name())
        raise _FAULT
    words[LIST_LEN] = n - 1
    return decode(storage_ptr(_ptrs(lst)[LIST_DATA], sample)[n - 1], sample)


@jit
def list_pop_at(lst, i, sample):
    _check_writable(lst, LIST_FLAGS32)
    words = _words(lst)
    n = words[LIST_LEN]
    if n == 0:
        ncc_fault_empty(c_string("pop from empty list"), entry_name())
        raise _FAULT
    j = checked_index(i, n, c_string("list"))
    data = storage_ptr(_ptrs(lst)[LIST_DATA], sample)
    value = data[j]
    for k in range(j, n - 1):
        data[k] = data[k + 1]
    words[LIST_LEN] = n - 1
    return decode(value, sample)


@jit
def list_del(lst, i):
    """``del lst[i]``: like pop(i) but an empty list is an index fault, as in Python."""
    _check_writable(lst, LIST_FLAGS32)
    words = _words(lst)
    n = words[LIST_LEN]
    j = checked_index(i, n, c_string("list"))
    data = cast_voidptr_to_ptr(_ptrs(lst)[LIST_DATA], "int64")
    for k in range(j, n - 1):
        data[k] = data[k + 1]
    words[LIST_LEN] = n - 1


@jit
def list_clear(lst):
    _check_writable(lst, LIST_FLAGS32)
    _words(lst)[LIST_LEN] = 0


@jit
def list_contains(lst, value, sample):
    n = list_len(lst)
    if n == 0:
        return False
    data = storage_ptr(_ptrs(lst)[LIST_DATA], sample)
    for k in range(n):
        if decode(data[k], sample) == value:
            return True
    return False


# -- dicts ------------------------------------------------------------------------------------
@jit
def _find(d, key):
    """(index slot, entry position) of ``key``; position -1 when absent."""
    words = _words(d)
    index = cast_voidptr_to_ptr(_ptrs(d)[DICT_INDEX], "int64")
    keys = cast_voidptr_to_ptr(_ptrs(d)[DICT_KEYS], "int64")
    mask = words[DICT_MASK]
    slot = probe_start(key, mask)
    while True:
        pos = index[slot]
        if pos == EMPTY:
            return slot, -1
        if pos >= 0 and keys[pos] == key:
            return slot, pos
        slot = (slot + 1) & mask


@jit
def dict_len(d):
    _check_live(d)
    return _words(d)[DICT_LEN]


@jit
def dict_contains(d, key):
    _check_live(d)
    return _find(d, key)[1] >= 0


@jit
def dict_get(d, key, sample):
    _check_live(d)
    pos = _find(d, key)[1]
    if pos < 0:
        ncc_fault_key(key, entry_name())
        raise _FAULT
    return decode(storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos], sample)


@jit
def dict_get_or(d, key, default, sample):
    _check_live(d)
    pos = _find(d, key)[1]
    if pos < 0:
        return default
    return decode(storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos], sample)


@jit
def dict_set(d, key, value, sample):
    _check_writable(d, DICT_FLAGS32)
    pos = _find(d, key)[1]
    if pos >= 0:
        storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos] = encode(value, sample)
        return
    words = _words(d)
    if words[DICT_USED] == words[DICT_CAP]:
        if ncc_dict_grow(d) != 0:
            raise _FAULT
    ptrs = _ptrs(d)
    index = cast_voidptr_to_ptr(ptrs[DICT_INDEX], "int64")
    mask = words[DICT_MASK]
    slot = probe_start(key, mask)
    while index[slot] >= 0:
        slot = (slot + 1) & mask
    pos = words[DICT_USED]
    cast_voidptr_to_ptr(ptrs[DICT_KEYS], "int64")[pos] = key
    storage_ptr(ptrs[DICT_VALUES], sample)[pos] = encode(value, sample)
    cast_voidptr_to_ptr(ptrs[DICT_LIVE], "int64")[pos] = 1
    index[slot] = pos
    words[DICT_USED] = pos + 1
    words[DICT_LEN] = words[DICT_LEN] + 1


@jit
def _remove(d, slot, pos):
    ptrs = _ptrs(d)
    cast_voidptr_to_ptr(ptrs[DICT_INDEX], "int64")[slot] = DELETED
    cast_voidptr_to_ptr(ptrs[DICT_LIVE], "int64")[pos] = 0
    words = _words(d)
    words[DICT_LEN] = words[DICT_LEN] - 1


@jit
def dict_del(d, key):
    _check_writable(d, DICT_FLAGS32)
    slot, pos = _find(d, key)
    if pos < 0:
        ncc_fault_key(key, entry_name())
        raise _FAULT
    _remove(d, slot, pos)


@jit
def dict_pop(d, key, sample):
    _check_writable(d, DICT_FLAGS32)
    slot, pos = _find(d, key)
    if pos < 0:
        ncc_fault_key(key, entry_name())
        raise _FAULT
    value = storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos]
    _remove(d, slot, pos)
    return decode(value, sample)


@jit
def dict_pop_or(d, key, default, sample):
    _check_writable(d, DICT_FLAGS32)
    slot, pos = _find(d, key)
    if pos < 0:
        return default
    value = storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos]
    _remove(d, slot, pos)
    return decode(value, sample)


@jit
def dict_clear(d):
    _check_writable(d, DICT_FLAGS32)
    ncc_dict_clear(d)


# -- dict iteration: positions 0..used-1 that are live, in insertion order -------------------
@jit
def dict_used(d):
    _check_live(d)
    return _words(d)[DICT_USED]


@jit
def dict_live(d, pos):
    return cast_voidptr_to_ptr(_ptrs(d)[DICT_LIVE], "int64")[pos] != 0


@jit
def dict_key_at(d, pos):
    return cast_voidptr_to_ptr(_ptrs(d)[DICT_KEYS], "int64")[pos]


@jit
def dict_value_at(d, pos, sample):
    return decode(storage_ptr(_ptrs(d)[DICT_VALUES], sample)[pos], sample)


@jit
def dict_changed_size():
    ncc_error_set(NCC_ERR_STATE, c_string("dictionary changed size during iteration"), entry_name())
    raise _FAULT
