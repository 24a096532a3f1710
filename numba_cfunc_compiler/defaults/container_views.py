"""Read-only views: how a container reaches an ``@numba.njit`` helper.

A helper cannot take the raw pointer a container cell holds (it could not tell a list from a dict
or know the element type), so generated code wraps it: ``list_view(ptr, sample)`` and
``dict_view(ptr, sample)`` are Numba values of the types `ListView` / `DictView`, the same pointer
with the element type in its Numba type. A helper may take ``len()``, index (``xs[i]``, ``d[k]``),
iterate (``for v in xs``, ``for k in d``, ``d.keys()``/``values()``/``items()``), test ``in`` and
call ``d.get(k[, default])``; each lowers to the same `container_ops` function node code uses (no
NRT, same faults). Mutating a view is a typing error that says to do it in the node.
"""

from __future__ import annotations

import operator

from numba import types
from numba.core import cgutils, errors
from numba.core.imputils import RefType, iternext_impl, lower_builtin
from numba.extending import intrinsic, models, overload, overload_method, register_model

from . import container_ops as ops

__all__ = ["ListView", "DictView", "list_view", "dict_view", "READ_ONLY_HINT"]

READ_ONLY_HINT = "a container passed to a helper is read-only; change it in the node (append, set, pop, ...)"
_MUTATORS = ("append", "pop", "clear", "extend", "insert", "remove", "sort", "reverse", "update", "setdefault", "popitem", "copy")


def _element(sample: types.Type) -> types.Type:
    if isinstance(sample, types.Boolean):
        return types.boolean
    return types.float64 if isinstance(sample, types.Float) else types.int64


class ListView(types.IterableType):
    """A read-only ``NumbaList`` of ``dtype`` (the pointer of its cell)."""

    def __init__(self, dtype: types.Type) -> None:
        self.dtype = dtype
        super().__init__(name=f"NumbaList[{dtype}] (read-only)")

    @property
    def iterator_type(self) -> types.Type:
        return ViewIterator(self, self.dtype)


class DictView(types.IterableType):
    """A read-only ``NumbaDict[int64, dtype]``; ``mode`` is ``dict``, ``keys``, ``values`` or
    ``items`` (what iterating yields; the views of ``d.keys()`` ... share the pointer)."""

    def __init__(self, dtype: types.Type, mode: str = "dict") -> None:
        self.dtype = dtype
        self.mode = mode
        shown = f"NumbaDict[int64, {dtype}]"
        super().__init__(name=f"{shown} (read-only)" if mode == "dict" else f"{shown}.{mode}() (read-only)")

    @property
    def iterator_type(self) -> types.Type:
        yields = {"values": self.dtype, "items": types.Tuple((types.int64, self.dtype))}.get(self.mode, types.int64)
        return ViewIterator(self, yields)


class ViewIterator(types.SimpleIteratorType):
    def __init__(self, view: types.Type, yield_type: types.Type) -> None:
        self.view = view
        super().__init__(f"iter({view})", yield_type)


register_model(ListView)(models.OpaqueModel)
register_model(DictView)(models.OpaqueModel)


@register_model(ViewIterator)
class _IteratorModel(models.StructModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, [("ptr", types.voidptr), ("pos", types.EphemeralPointer(types.int64))])


def _same_pointer(context, builder, signature, args):
    return args[0]


@intrinsic
def list_view(typingctx, ptr, sample):
    """The container pointer ``ptr`` as a read-only `ListView` of elements like ``sample``."""
    return ListView(_element(sample))(ptr, sample), _same_pointer


@intrinsic
def dict_view(typingctx, ptr, sample):
    """The container pointer ``ptr`` as a read-only `DictView` of values like ``sample``."""
    return DictView(_element(sample))(ptr, sample), _same_pointer


@intrinsic(prefer_literal=True)
def _with_mode(typingctx, view, mode):
    return DictView(view.dtype, mode.literal_value)(view, mode), _same_pointer


@intrinsic
def _pointer(typingctx, view):
    return types.voidptr(view), _same_pointer


def _sample(dtype: types.Type):
    return False if isinstance(dtype, types.Boolean) else 0.0 if isinstance(dtype, types.Float) else 0


def _is_dict(view, *modes: str) -> bool:
    return isinstance(view, DictView) and view.mode in (modes or ("dict", "keys", "values", "items"))


# -- reads ------------------------------------------------------------------------------------
@overload(len)
def _len(view):
    if isinstance(view, ListView):
        return lambda view: ops.list_len(_pointer(view))
    if _is_dict(view):
        return lambda view: ops.dict_len(_pointer(view))
    return None


@overload(operator.getitem)
def _getitem(view, key):
    if not isinstance(key, types.Integer):
        return None
    if isinstance(view, ListView):
        sample = _sample(view.dtype)
        return lambda view, key: ops.list_get(_pointer(view), key, sample)
    if _is_dict(view, "dict"):
        sample = _sample(view.dtype)
        return lambda view, key: ops.dict_get(_pointer(view), key, sample)
    return None


@overload(operator.contains)
def _contains(view, item):
    if isinstance(view, ListView) and isinstance(item, (types.Number, types.Boolean)):
        sample = _sample(view.dtype)
        return lambda view, item: ops.list_contains(_pointer(view), item, sample)
    if _is_dict(view, "dict", "keys") and isinstance(item, types.Integer):
        return lambda view, item: ops.dict_contains(_pointer(view), item)
    return None


@overload_method(DictView, "get")
def _get(view, key, default=None):
    if not _is_dict(view, "dict") or not isinstance(key, types.Integer):
        return None
    sample = _sample(view.dtype)
    if default is None or isinstance(default, (types.NoneType, types.Omitted)):
        return lambda view, key, default=None: ops.dict_get_or(_pointer(view), key, None, sample)
    return lambda view, key, default=None: ops.dict_get_or(_pointer(view), key, default, sample)


def _view_method(mode: str) -> None:
    @overload_method(DictView, mode)
    def method(view):
        if _is_dict(view, "dict"):
            return lambda view: _with_mode(view, mode)
        return None


for _mode in ("keys", "values", "items"):
    _view_method(_mode)


# -- iteration: positions 0..n-1 of a list, the live positions of a dict in insertion order ----
def _list_next(ptr, pos):
    return pos if pos < ops.list_len(ptr) else -1


def _dict_next(ptr, pos):
    used = ops.dict_used(ptr)
    while pos < used:
        if ops.dict_live(ptr, pos):
            return pos
        pos += 1
    return -1


def _list_item(ptr, pos, sample):
    return ops.list_item(ptr, pos, sample)


def _dict_key(ptr, pos, sample):
    return ops.dict_key_at(ptr, pos)


def _dict_value(ptr, pos, sample):
    return ops.dict_value_at(ptr, pos, sample)


def _dict_item(ptr, pos, sample):
    return ops.dict_key_at(ptr, pos), ops.dict_value_at(ptr, pos, sample)


@lower_builtin("getiter", ListView)
@lower_builtin("getiter", DictView)
def _getiter(context, builder, sig, args):
    it = cgutils.create_struct_proxy(sig.return_type)(context, builder)
    it.ptr = args[0]
    it.pos = cgutils.alloca_once_value(builder, context.get_constant(types.int64, 0))
    return it._getvalue()


@lower_builtin("iternext", ViewIterator)
@iternext_impl(RefType.UNTRACKED)
def _iternext(context, builder, sig, args, result):
    iterator = sig.args[0]
    view = iterator.view
    it = cgutils.create_struct_proxy(iterator)(context, builder, value=args[0])
    if isinstance(view, ListView):
        find, read = _list_next, _list_item
    else:
        find = _dict_next
        read = {"values": _dict_value, "items": _dict_item}.get(view.mode, _dict_key)
    pos = context.compile_internal(builder, find, types.int64(types.voidptr, types.int64), [it.ptr, builder.load(it.pos)])
    found = builder.icmp_signed(">=", pos, pos.type(0))
    result.set_valid(found)
    with builder.if_then(found):
        sample = context.get_constant(view.dtype, _sample(view.dtype))
        value = context.compile_internal(
            builder, read, iterator.yield_type(types.voidptr, types.int64, view.dtype), [it.ptr, pos, sample]
        )
        result.yield_(value)
        builder.store(builder.add(pos, pos.type(1)), it.pos)


# -- writes: a typing error that says where to do it ------------------------------------------
def _refuse(what: str):
    raise errors.TypingError(f"{what}: {READ_ONLY_HINT}")


@overload(operator.setitem)
def _setitem(view, key, value):
    if isinstance(view, (ListView, DictView)):
        _refuse(f"cannot set an item of {view}")
    return None


@overload(operator.delitem)
def _delitem(view, key):
    if isinstance(view, (ListView, DictView)):
        _refuse(f"cannot delete an item of {view}")
    return None


def _refusing_method(view_type: type, name: str) -> None:
    @overload_method(view_type, name)
    def method(view, *args):
        _refuse(f"cannot call {name}() on {view}")


for _type in (ListView, DictView):
    for _name in _MUTATORS:
        _refusing_method(_type, _name)
