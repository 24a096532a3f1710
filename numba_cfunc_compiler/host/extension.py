"""The reference host as an extension: every piece goes through the public registration API."""

from __future__ import annotations

import ast
import ctypes
import inspect
from dataclasses import dataclass
from typing import Any

from numba_rt import abi

from ..ast_handlers import ast_handler
from ..compilation_context import CompilationContext
from ..defaults.structs import StructField, StructType
from ..function_analyzer import FunctionAnalyzer, InputTypeHandler, NumbaFunctionInfo, OutputTypeHandler
from ..models import OutputAnalysis, ParameterInfo, ValueSlot
from ..source_registry import CfuncParam, SourceCategory, SourceInitFilter, SourceRegistry
from ..type_factory import TypeFactory
from ..variable_factory import VariableFactory, VoidPtrSource
from .annotations import Outputs, SignalType, output, ticked, valid
from .baskets import BasketInputHandler, element_type, input_layout, make_source, marker_call, register_basket_handlers
from .baskets import input_slots as basket_slots

__all__ = ["register", "is_registered", "SIGNAL_CATEGORY", "CtypesStructType"]

SIGNAL_CATEGORY = "signal"
_MARKER = "numba_cfunc_compiler.host"


class SignalInputHandler(InputTypeHandler):
    """``x: Signal[T]`` parameters are inputs of the signal category."""

    def try_parse(self, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        if isinstance(ann, SignalType):
            return ParameterInfo(expected_type=ann.python_type, category=SIGNAL_CATEGORY)
        return None

    def validate_value(self, param_name: str, value: Any, expected_type: Any) -> Any:
        if not isinstance(value, SignalType):
            raise TypeError(f"input {param_name!r} must be bound to a Signal[...], got {value!r}")
        if value.python_type is expected_type or (value.python_type is int and expected_type is float):
            return value
        raise TypeError(
            f"input {param_name!r} is declared {SignalType(expected_type)!r} but receives {value!r}"
            " (only int into float is widened)"
        )


class SignalOutputHandler(OutputTypeHandler):
    """``-> Signal[T]`` is one output; ``-> Outputs(a=Signal[T], ...)`` named outputs."""

    def try_parse(self, return_annotation: Any, ast_tree: ast.FunctionDef) -> OutputAnalysis | None:
        if isinstance(return_annotation, SignalType):
            return OutputAnalysis(output_types=[return_annotation.python_type])
        if isinstance(return_annotation, Outputs):
            return OutputAnalysis(
                output_types=[s.python_type for s in return_annotation.outputs.values()],
                named_outputs=list(return_annotation.outputs),
            )
        return None


class WidenedInputSource(VoidPtrSource):
    """An int input feeding a float parameter: read as ``float(cell)``."""

    def get(self) -> ast.expr:
        return ast.Call(func=ast.Name(id="float", ctx=ast.Load()), args=[super().get()], keywords=[])


class SignalCategory(SourceCategory):
    """Inputs: ``inputs[i]`` cells plus ``input_ticked[i]`` and ``input_valid[i]`` flags. Each
    parameter takes the next slots in declaration order: one for a ``Signal``, ``N`` for a
    ``Basket[T, N]`` (`baskets.input_layout`)."""

    id = SIGNAL_CATEGORY
    order = 0
    init_filter = SourceInitFilter.ON_EXECUTE

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return [CfuncParam(p.name, p.type) for p in abi.HOST_NODE_PARAMS[len(abi.NODE_PARAMS):]]

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        params = info.input_analysis.parameters
        for entry in input_layout(info, self.id):
            name, argument, index = entry.name, entry.argument, entry.base
            if entry.size is not None:
                factory.add_variable(make_source(info, entry, params[name].expected_type), category=self.id)
                continue
            actual = info.extract_python_type_fn(argument)
            var_type = TypeFactory.get_type(actual)
            if var_type is None:
                raise info.error(f"input {name!r} has unsupported type {actual!r}", info.parameter_node(name))
            if var_type.is_container:
                raise info.error(
                    f"input {name!r} cannot be a container",
                    info.parameter_node(name),
                    hint="pass a constant list/dict parameter, or keep the container in State[...]",
                )
            widened = actual is int and params[name].expected_type is float
            source_cls = WidenedInputSource if widened else VoidPtrSource
            factory.add_variable(source_cls(array_idx=index, type=var_type, name=name, storage_location="inputs"), category=self.id)

    def get_result_metadata(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        # one entry per input slot (a basket's elements are named like its slots: "prices[3]")
        layout = input_layout(info, self.id)
        names = [slot for entry in layout for slot in entry.slot_names()]
        types = [info.extract_python_type_fn(entry.argument) for entry in layout for _ in range(entry.width)]
        variable_types = [TypeFactory.get_type(t) for t in types]
        return {
            "ordered_input_signals": names,
            "input_types": types,
            "input_cell_types": [t.get_numba_type_name() for t in variable_types],
            "input_variable_types": variable_types,
        }

    def input_slots(self, info: NumbaFunctionInfo) -> list[ValueSlot]:
        slots: list[ValueSlot] = []
        for entry in input_layout(info, self.id):
            if entry.size is not None:  # a basket: slots "name[0]" .. "name[N-1]"
                slots += basket_slots(info, entry)
            else:
                slots.append(TypeFactory.get_type(info.extract_python_type_fn(entry.argument)).value_slot(entry.name))
        return slots

    def artifact_entries(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        baskets = {
            entry.name: {"base": entry.base, "size": entry.size, "type": element_type(info, entry).describe()}
            for entry in input_layout(info, self.id)
            if entry.size is not None
        }
        return {"baskets": baskets} if baskets else {}  # only nodes with baskets carry the key


_CTYPES_FIELDS: dict[Any, tuple[Any, str]] = {
    ctypes.c_double: (float, "float64"),
    ctypes.c_float: (float, "float32"),
    ctypes.c_int64: (int, "int64"),
    ctypes.c_int32: (int, "int32"),
    ctypes.c_int16: (int, "int16"),
    ctypes.c_int8: (int, "int8"),
    ctypes.c_uint8: (int, "uint8"),
    ctypes.c_bool: (bool, "int8"),
}


@dataclass(frozen=True)
class CtypesStructType(StructType):
    """A struct described by a ``ctypes.Structure`` subclass. Fields map to Python types by their
    ctypes type; a ``_ncc_field_types_`` dict on the class can give a field another registered
    type (a datetime or an enum stored as ``c_int64``)."""

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return isinstance(var_type, type) and issubclass(var_type, ctypes.Structure) and var_type is not ctypes.Structure

    def _get_struct_fields(self) -> dict[str, StructField]:
        overrides = getattr(self.python_type, "_ncc_field_types_", {})
        fields = {}
        for name, ctype, *_ in self.python_type._fields_:
            python_type, storage = _CTYPES_FIELDS.get(ctype, (None, None))
            if name in overrides:
                python_type = overrides[name]
            if python_type is None:
                continue  # fields of other types are not visible to node code
            fields[name] = StructField(getattr(self.python_type, name).offset, python_type, storage)
        return fields

    def _get_struct_size(self) -> int:
        return ctypes.sizeof(self.python_type)


def _signal_index(converter: Any, node: ast.Call, fn_name: str) -> int:
    if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Name):
        raise converter.error(f"{fn_name}() takes one input name", node, hint=f"write {fn_name}(x) for an input x")
    source = converter.variable(node.args[0].id)
    if not isinstance(source, VoidPtrSource) or source.category != SIGNAL_CATEGORY:
        raise converter.error(f"{fn_name}() needs a Signal input, {node.args[0].id!r} is not one", node.args[0])
    return source.array_idx


def _flag_test(array: str, index: int) -> ast.expr:
    cell = ast.Subscript(value=ast.Name(id=array, ctx=ast.Load()), slice=ast.Constant(index), ctx=ast.Load())
    return ast.Compare(left=cell, ops=[ast.NotEq()], comparators=[ast.Constant(0)])


def _register_handlers() -> None:
    @ast_handler("Call", pre=True)
    def lower_flags(converter: Any, node: ast.Call) -> ast.expr | None:
        for marker, array in ((ticked, "input_ticked"), (valid, "input_valid")):
            if marker_call(converter, node, marker):
                return _flag_test(array, _signal_index(converter, node, marker.__name__))
        if marker_call(converter, node, output):
            raise converter.error("output(...) is a statement", node, hint="write output(name=value) on its own line")
        return None

    @ast_handler("Expr", pre=True)
    def lower_output(converter: Any, node: ast.Expr) -> list[ast.stmt] | None:
        if not marker_call(converter, node.value, output):
            return None
        call = node.value
        outputs = converter.factory.outputs
        if call.args:
            if len(call.args) != 1 or call.keywords or len(outputs) != 1:
                raise converter.error("output(value) needs exactly one output; name them: output(a=...)", call)
            return outputs[0].set(converter.visit(call.args[0]))
        stmts: list[ast.stmt] = []
        for kw in call.keywords:
            target = converter.factory.output(kw.arg)
            if target is None:
                names = ", ".join(o.name for o in outputs) or "none"
                raise converter.error(f"unknown output {kw.arg!r} (outputs: {names})", kw)
            stmts += target.set(converter.visit(kw.value))
        return stmts


def is_registered(ctx: CompilationContext | None = None) -> bool:
    ctx = ctx or CompilationContext.current()
    return bool(ctx.extensions.get(_MARKER))


def register() -> None:
    """Register the reference host into the active context (idempotent per context)."""
    ctx = CompilationContext.current()
    if is_registered(ctx):
        return
    FunctionAnalyzer.register_input_handler(SignalInputHandler())
    FunctionAnalyzer.register_input_handler(BasketInputHandler(SIGNAL_CATEGORY))
    FunctionAnalyzer.register_output_handler(SignalOutputHandler())
    SourceRegistry.register(SignalCategory())
    TypeFactory.register(CtypesStructType)
    _register_handlers()
    register_basket_handlers()
    ctx.extensions[_MARKER] = True
