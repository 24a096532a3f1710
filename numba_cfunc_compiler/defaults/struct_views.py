"""Struct views: a struct in host memory as a Numba value.

A view is the struct's address (one pointer, as the cell held it) whose Numba type, `StructView`,
carries the struct's layout: each visible field's byte offset, storage type (``int32``,
``float32``, ...) and the kind of value code sees (``int``, ``float``, ``bool``, ``datetime``,
``timedelta``). So a struct behaves like a Python object: a local may alias it, a conditional
expression may pick one, an ``@numba.njit`` helper may take it, read and write its fields and
return it, and ``view.field`` lowers to the same load (``view.field = v`` the same store) as
pointer arithmetic written by hand. Input structs are views of the read-only flavour.

Generated code makes a view with ``struct_view(pointer, layout_literal, readonly)`` (the layout as
a JSON string literal, so the semantic key covers it), writes a field with ``set_field(view,
"name", value)`` (typing checks the value as a store into a cell does) and copies a struct into
an output with ``struct_copy(destination_view, value)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from numba import types
from numba.core import cgutils, errors
from numba.core.imputils import lower_cast, lower_getattr_generic, lower_setattr_generic
from numba.core.typeconv import Conversion
from numba.core.typing.templates import AttributeTemplate
from numba.extending import infer_getattr, intrinsic, models, register_model

from ..utils.intrinsics import DATETIME, TIMEDELTA
from ..utils.suggest import did_you_mean

__all__ = [
    "FieldLayout",
    "StructLayout",
    "StructView",
    "VALUE_TYPES",
    "struct_view",
    "set_field",
    "struct_copy",
    "READ_ONLY_HINT",
]

#: The Numba type of a field's value in code, by the field's kind.
VALUE_TYPES: dict[str, types.Type] = {
    "int": types.int64,
    "float": types.float64,
    "bool": types.boolean,
    "datetime": DATETIME,
    "timedelta": TIMEDELTA,
}
#: Value types a field of each kind takes (as a cell does: no silent loss of information).
_ACCEPTED: dict[str, tuple[type, ...]] = {
    "int": (types.Integer, types.Boolean),
    "float": (types.Float, types.Integer, types.Boolean),
    "bool": (types.Boolean, types.Integer),
}
READ_ONLY_HINT = "input structs are read-only (copy the field into a local, or pass a State[...] struct)"


@dataclass(frozen=True)
class FieldLayout:
    """A visible field: ``name`` at ``offset`` bytes, stored as the Numba type ``storage``, seen by
    code as a value of ``kind`` (a key of `VALUE_TYPES`)."""

    name: str
    offset: int
    storage: str
    kind: str

    def __post_init__(self) -> None:
        if self.kind not in VALUE_TYPES:
            raise ValueError(f"field {self.name!r}: kind must be one of {sorted(VALUE_TYPES)}, got {self.kind!r}")
        storage = getattr(types, self.storage, None)
        if isinstance(storage, types.Boolean):  # a C bool: one byte holding 0 or 1
            object.__setattr__(self, "storage", "uint8")
            storage = types.uint8
        if not isinstance(storage, (types.Integer, types.Float)):
            raise ValueError(f"field {self.name!r}: storage must name a Numba integer or float type, got {self.storage!r}")
        if isinstance(storage, types.Float) and self.kind != "float":
            raise ValueError(f"field {self.name!r}: a {self.kind} cannot be stored as {self.storage}")


@dataclass(frozen=True)
class StructLayout:
    """What code knows of a struct: its name, size in bytes and visible fields."""

    name: str
    size: int
    fields: tuple[FieldLayout, ...]

    def field(self, name: str) -> FieldLayout | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_literal(self) -> str:
        """The layout as the JSON text generated code passes to `struct_view`."""
        fields = [[f.name, f.offset, f.storage, f.kind] for f in self.fields]
        return json.dumps([self.name, self.size, fields], separators=(",", ":"))

    @classmethod
    def from_literal(cls, text: str) -> StructLayout:
        name, size, fields = json.loads(text)
        return cls(name, size, tuple(FieldLayout(*f) for f in fields))


class StructView(types.RawPointer):
    """A struct of ``layout`` in host memory (its address); ``readonly`` for input structs. A
    pointer still: where a ``voidptr`` is expected (a C function's argument), it is its address."""

    def __init__(self, layout: StructLayout, readonly: bool = False) -> None:
        self.layout = layout
        self.readonly = readonly
        # one word, so messages read "a Quote value cannot be stored where a float is expected"
        super().__init__(name=layout.name + ("(read-only)" if readonly else ""))

    @property
    def key(self) -> tuple[StructLayout, bool]:
        return self.layout, self.readonly

    def field(self, name: str) -> FieldLayout | None:
        return self.layout.field(name)

    def unify(self, typingctx, other):
        """A view of the same struct: read-only if either is (``a if c else b``, a helper's return)."""
        if isinstance(other, StructView) and other.layout == self.layout:
            return StructView(self.layout, self.readonly or other.readonly)
        return None

    def can_convert_to(self, typingctx, other):
        if isinstance(other, StructView):
            return Conversion.safe if other.layout == self.layout and other.readonly >= self.readonly else None
        return Conversion.safe if other == types.voidptr else None


register_model(StructView)(models.OpaqueModel)


@lower_cast(StructView, StructView)
@lower_cast(StructView, types.RawPointer)
def _same_address(context, builder, fromty, toty, value):
    return value


def _unknown_field(view: StructView, attr: str) -> str:
    names = [f.name for f in view.layout.fields]
    return f"struct {view.layout.name} has no field {attr!r}{did_you_mean(attr, names)} (fields: {', '.join(names) or 'none'})"


def _read_only(view: StructView, attr: str) -> str:
    return f"cannot write field {attr!r} of an input {view.layout.name}: {READ_ONLY_HINT}"


# -- typing ----------------------------------------------------------------------------------------
@infer_getattr
class _StructViewAttributes(AttributeTemplate):
    key = StructView

    def generic_resolve(self, view, attr):
        field = view.field(attr)
        if field is None:
            raise errors.TypingError(_unknown_field(view, attr))
        return VALUE_TYPES[field.kind]


# -- lowering: a field is storage at pointer + offset ----------------------------------------------
def _field_pointer(context, builder, pointer, field: FieldLayout):
    address = builder.gep(builder.bitcast(pointer, cgutils.voidptr_t), [context.get_constant(types.intp, field.offset)])
    return builder.bitcast(address, context.get_value_type(getattr(types, field.storage)).as_pointer())


def load_field(context, builder, pointer, field: FieldLayout):
    """The value of ``field`` of the struct at ``pointer``, as its `VALUE_TYPES` type."""
    storage = getattr(types, field.storage)
    raw = builder.load(_field_pointer(context, builder, pointer, field))
    if field.kind == "bool":
        return context.cast(builder, raw, storage, types.boolean)
    target = types.float64 if field.kind == "float" else types.int64  # datetimes: int64 nanoseconds
    return context.cast(builder, raw, storage, target)


def store_field(context, builder, pointer, field: FieldLayout, value, value_type: types.Type) -> None:
    """Store ``value`` (of ``value_type``, converted to the field's kind first) into ``field``."""
    storage = getattr(types, field.storage)
    kind_type = VALUE_TYPES[field.kind]
    value = context.cast(builder, value, value_type, kind_type)
    if field.kind in ("datetime", "timedelta"):
        kind_type = types.int64  # the same bits
    builder.store(context.cast(builder, value, kind_type, storage), _field_pointer(context, builder, pointer, field))


@lower_getattr_generic(StructView)
def _getattr(context, builder, typ, value, attr):
    return load_field(context, builder, value, typ.field(attr))


@lower_setattr_generic(StructView)
def _setattr(context, builder, sig, args, attr):
    view, value_type = sig.args
    if view.readonly:  # a helper writing a field of an input struct (node code is checked by set_field)
        raise errors.TypingError(_read_only(view, attr))
    store_field(context, builder, args[0], view.field(attr), args[1], value_type)


# -- what generated code calls ---------------------------------------------------------------------
def _require(condition: bool, message: str) -> None:
    if not condition:
        raise errors.TypingError(message)


def _same_pointer(context, builder, signature, args):
    return args[0]


@intrinsic(prefer_literal=True)
def struct_view(typingctx, pointer, layout, readonly):
    """``struct_view(p, layout_json, readonly)``: the struct at the void pointer ``p`` as a view."""
    _require(isinstance(pointer, (types.RawPointer, types.CPointer)), f"expected a pointer, got {pointer}")
    _require(isinstance(layout, types.StringLiteral), "the struct layout must be a literal string")
    _require(isinstance(readonly, types.BooleanLiteral), "readonly must be a literal bool")
    view = StructView(StructLayout.from_literal(layout.literal_value), readonly.literal_value)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], cgutils.voidptr_t)

    return view(pointer, layout, readonly), codegen


@intrinsic(prefer_literal=True)
def set_field(typingctx, target, attr, value):
    """``set_field(view, "name", v)``: ``view.name = v``, checked as a store into a cell is (an int
    field takes no float); on anything but a struct view, Numba's own ``setattr``."""
    _require(isinstance(attr, types.StringLiteral), "the field name must be a literal string")
    name = attr.literal_value
    if not isinstance(target, StructView):
        inner = typingctx.resolve_setattr(target, name, value)
        _require(inner is not None, f"cannot set attribute {name!r} of a {target} value")

        def generic(context, builder, signature, args):
            converted = context.cast(builder, args[2], value, inner.args[1])
            context.get_setattr(name, inner)(builder, (args[0], converted))
            return context.get_dummy_value()

        return types.none(target, attr, value), generic
    field = target.field(name)
    if field is None:
        raise errors.TypingError(_unknown_field(target, name))
    _require(not target.readonly, _read_only(target, name))
    accepted = _ACCEPTED.get(field.kind)
    ok = isinstance(value, accepted) if accepted is not None else value == VALUE_TYPES[field.kind]
    if not ok:
        article = "an" if field.kind[:1] in "aeiou" else "a"
        raise errors.TypingError(f"a {value} value cannot be stored where {article} {field.kind} is expected")

    def codegen(context, builder, signature, args):
        store_field(context, builder, args[0], field, args[2], value)
        return context.get_dummy_value()

    return types.none(target, attr, value), codegen


@intrinsic
def struct_copy(typingctx, destination, value):
    """``struct_copy(dest_view, v)``: copy the bytes of the struct ``v`` to ``dest_view`` (same struct)."""
    _require(isinstance(destination, StructView), f"expected a struct view, got {destination}")
    layout = destination.layout
    if not (isinstance(value, StructView) and value.layout == layout):
        article = "an" if layout.name[:1].lower() in "aeiou" else "a"
        raise errors.TypingError(f"a {value} value cannot be stored where {article} {layout.name} is expected")

    def codegen(context, builder, signature, args):
        size = context.get_constant(types.intp, layout.size)
        cgutils.raw_memcpy(builder, args[0], args[1], size, 1)
        return context.get_dummy_value()

    return types.none(destination, value), codegen
