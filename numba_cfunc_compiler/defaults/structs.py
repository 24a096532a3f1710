"""Built-in struct support: a `StructType` is host memory (``state[i]`` or ``inputs[i]`` point at it)
whose fields are read and written through pointer arithmetic.

Subclass `StructType` and implement ``is_type_supported``, ``_get_struct_fields`` and
``_get_struct_size``; fields may be of any registered cell type (int, float, bool, datetime,
timedelta, enums) with the storage given by their `StructField`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ..ast_handlers import ast_handler
from ..helpers import helper_call, register_helper
from ..models import VariableType
from ..numba_type_inference import NumbaTypeInference
from ..type_factory import TypeFactory
from ..utils.intrinsics import byte_offset
from ..variable_factory import ExpressionSource, VariableSource

__all__ = ["StructField", "StructType", "register_struct_handlers"]


@dataclass(frozen=True)
class StructField:
    """A field at ``offset`` bytes holding a ``python_type`` value, stored as ``storage`` (a Numba
    type name such as ``"int32"``; by default the cell type of ``python_type``)."""

    offset: int
    python_type: Any
    storage: str | None = None


@dataclass(frozen=True)
class StructType(VariableType):
    """Base class of struct types: ``python_type`` is the host's struct description."""

    def get_numba_type_name(self) -> str:
        return "voidptr"

    def _get_struct_fields(self) -> dict[str, StructField]:
        raise NotImplementedError(f"{type(self).__name__} must implement _get_struct_fields()")

    def _get_struct_size(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement _get_struct_size()")

    @property
    def state_size(self) -> int:  # type: ignore[override]
        return self._get_struct_size()

    def coerce_constant(self, value: Any) -> None:
        if value is not None:
            raise TypeError("struct state lives in host memory and takes no initial value")
        return None

    def state_initial_value(self, value: Any) -> int:
        return 0

    def start_statements(self, source: Any, initial_value: Any) -> list[ast.stmt]:
        return []  # the host provides (zeroed) memory

    def field(self, name: str) -> tuple[StructField, VariableType] | None:
        spec = self._get_struct_fields().get(name)
        if spec is None:
            return None
        field_type = TypeFactory.get_type(spec.python_type)
        if field_type is None:
            raise TypeError(f"struct field {name!r} has unsupported type {spec.python_type!r}")
        return spec, field_type

    def field_cell(self, factory: Any, pointer: ast.expr, spec: StructField, field_type: VariableType, ctx: ast.expr_context) -> ast.Subscript:
        """The field as an assignable ``cast(pointer + offset, storage)[0]``."""
        address = helper_call(byte_offset, pointer, ast.Constant(spec.offset))
        typed = factory.cast_pointer(address, self.storage(spec, field_type))
        return ast.Subscript(value=typed, slice=ast.Constant(0), ctx=ctx)

    @staticmethod
    def storage(spec: StructField, field_type: VariableType) -> str:
        return spec.storage or field_type.get_numba_type_name()


def _struct(converter: Any, node: ast.AST) -> VariableSource | None:
    if isinstance(node, ast.Name):
        source = converter.variable(node.id)
        if source is not None and isinstance(source.type, StructType):
            return source
    return None


def read_field(inference: Any, base_var: VariableSource, attr_name: str, args: Any) -> ExpressionSource | None:
    if not isinstance(base_var.type, StructType):
        return None
    found = base_var.type.field(attr_name)
    if found is None:
        return None
    spec, field_type = found
    factory = inference.variable_factory
    cell = base_var.type.field_cell(factory, base_var.get(), spec, field_type, ast.Load())
    return ExpressionSource(field_type, field_type.from_cell(cell), factory)


def register_struct_handlers() -> None:
    register_helper("byte_offset", byte_offset)
    NumbaTypeInference.register_attr_accessor(read_field)

    def target_field(converter: Any, target: ast.expr) -> tuple[VariableSource, StructField, VariableType] | None:
        if not isinstance(target, ast.Attribute):
            return None
        source = _struct(converter, target.value)
        if source is None:
            return None
        found = source.type.field(target.attr)
        if found is None:
            raise converter.error(f"struct {source.name!r} has no field {target.attr!r}", target)
        if source.kind == "input":
            raise converter.error(f"input struct {source.name!r} is read-only", target, "copy the field into a local variable")
        return (source, *found)

    def store(converter: Any, source: VariableSource, spec: StructField, field_type: VariableType, value: ast.expr) -> ast.stmt:
        factory = converter.factory
        cell = source.type.field_cell(factory, source.get(), spec, field_type, ast.Store())
        storage = source.type.storage(spec, field_type)
        return ast.Assign(targets=[cell], value=factory.checked(field_type.to_cell(value), storage))

    @ast_handler("Assign", pre=True)
    def write_field(converter: Any, node: ast.Assign) -> ast.stmt | None:
        if len(node.targets) != 1:
            return None
        found = target_field(converter, node.targets[0])
        return store(converter, *found, converter.visit(node.value)) if found else None

    @ast_handler("AugAssign", pre=True)
    def update_field(converter: Any, node: ast.AugAssign) -> ast.stmt | None:
        found = target_field(converter, node.target)
        if found is None:
            return None
        current = converter.visit(ast.copy_location(ast.Attribute(value=node.target.value, attr=node.target.attr, ctx=ast.Load()), node))
        return store(converter, *found, ast.BinOp(left=current, op=node.op, right=converter.visit(node.value)))
