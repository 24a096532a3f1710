"""Built-in ``NumbaArray``: a fixed-size array of int, float, bool, datetime or timedelta values
that lives in memory the node never allocates.

- State (``values: State[NumbaArray] = create_new_array(float, 8)``): ``state[i]`` points at
  ``N * itemsize`` bytes of host memory (state kind ``"array"``), elements packed as the cell type
  of `containers.ARRAY_STORAGE` (int64, double, or one int8 byte per bool). START writes the initial
  values (zeros unless declared), so a second START resets the array; STOP has nothing to do.
- Constant parameters (``weights: NumbaArray[float, 3]`` bound to a list): the values are baked into
  the code as read-only data (`array_bytes`); modifying them is a `CompilationError`.

Node code: ``len(a)`` is a constant; ``a[i]`` takes negative indices as Python does, and an index
out of range is an INDEX fault (`array_index`), or a `CompilationError` when the index is a constant;
``a[i] = v`` and ``a[i] op= v`` store through `VariableFactory.checked` like every cell;
``for v in a`` / ``for i, v in enumerate(a)`` read the elements in order; ``b = a`` aliases the same
memory (an array is a reference, ``is_container``); an ``@numba.njit`` helper given ``a`` receives a
read-only Numba array over the same memory (`array_view`).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import inspect
import struct
from dataclasses import dataclass
from typing import Any

from llvmlite import ir
from numba import types
from numba.core import cgutils, errors
from numba.core.dispatcher import Dispatcher
from numba.extending import intrinsic

from ..ast_handlers import HandlerResult, ast_handler
from ..containers import ArraySpec, NumbaArray, check_array_spec
from ..errors import CompilationError
from ..function_analyzer import NumbaFunctionInfo
from ..helpers import helper_call, register_helper
from ..models import ParameterInfo, StateSlot, VariableType
from ..source_registry import SourceCategory, SourceInitFilter, SourceRegistry
from ..type_factory import TypeFactory
from ..utils.intrinsics import DATETIME, TIMEDELTA, c_string, cast_voidptr_to_ptr
from ..variable_factory import ConstantSource, VariableFactory, VariableSource
from .container_ops import checked_index, jit

__all__ = ["ArrayType", "ArrayConstantsCategory", "ARRAY_CONSTANTS", "register_arrays"]

ARRAY_CONSTANTS = "array_constants"
#: struct format of one element, by storage cell type (native byte order: the machine compiling is
#: the machine running, AOT libraries included).
_PACK = {"int64": "q", "float64": "d", "int8": "b"}
#: The element type an ``@numba.njit`` helper sees in its array view, by element type name.
_VIEW_DTYPES = {"int": types.int64, "float": types.float64, "bool": types.boolean, "datetime": DATETIME, "timedelta": TIMEDELTA}


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise errors.TypingError(message)


# -- what generated code calls ----------------------------------------------------------------
@intrinsic(prefer_literal=True)
def array_bytes(typingctx, data_hex):
    """``array_bytes("0a1b...")``: a pointer to read-only constant data holding those bytes (a
    constant array's elements), one module global per distinct content."""
    _require(isinstance(data_hex, types.StringLiteral), "array_bytes takes a literal hex string")
    data = bytes.fromhex(data_hex.literal_value)

    def codegen(context, builder, signature, args):
        module = builder.module
        name = "ncc.array." + hashlib.sha256(data).hexdigest()[:16]
        gv = module.globals.get(name)
        if gv is None:
            value = ir.Constant(ir.ArrayType(ir.IntType(8), len(data)), bytearray(data))
            gv = cgutils.global_constant(module, name, value)
            gv.align = 8
            gv.unnamed_addr = True
        return builder.bitcast(gv, cgutils.voidptr_t)

    return types.voidptr(data_hex), codegen


@intrinsic(prefer_literal=True)
def array_view(typingctx, data, length, element):
    """``array_view(p, N, "float")``: the ``N`` elements at ``p`` as a read-only 1-d Numba array
    (what an ``@numba.njit`` helper receives; no copy, no allocation, no reference counting)."""
    _require(isinstance(data, (types.RawPointer, types.CPointer)), f"expected a pointer, got {data}")
    _require(isinstance(length, types.IntegerLiteral), "the length must be a literal int")
    _require(isinstance(element, types.StringLiteral) and element.literal_value in _VIEW_DTYPES, f"bad element {element}")
    dtype = _VIEW_DTYPES[element.literal_value]
    n = length.literal_value
    array_type = types.Array(dtype, 1, "C", readonly=True)

    def codegen(context, builder, signature, args):
        from numba.np.arrayobj import populate_array  # noqa: PLC0415 - only when a helper gets an array

        view = context.make_array(array_type)(context, builder)
        data_type = context.get_data_type(dtype)
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(data_type))
        populate_array(
            view,
            data=builder.bitcast(args[0], data_type.as_pointer()),
            shape=[context.get_constant(types.intp, n)],
            strides=[itemsize],
            itemsize=itemsize,
            meminfo=None,
        )
        return view._getvalue()

    return array_type(data, length, element), codegen


@jit
def array_index(i, n):
    """``i`` as an index into an array of ``n`` (negative counts from the end); out of range, an
    INDEX fault "array index i out of range (length n)" (`container_ops.checked_index`)."""
    return checked_index(i, n, c_string("array"))


@jit
def array_clear(data, nbytes):
    """Zero ``nbytes`` bytes at ``data`` (START of an array without declared values)."""
    bytes_ = cast_voidptr_to_ptr(data, "int8")
    for k in range(nbytes):
        bytes_[k] = 0


@jit
def array_fill(data, source, nbytes):
    """Copy ``nbytes`` bytes from ``source`` to ``data`` (START of an array with declared values)."""
    to, from_ = cast_voidptr_to_ptr(data, "int8"), cast_voidptr_to_ptr(source, "int8")
    for k in range(nbytes):
        to[k] = from_[k]


_HELPERS = {"array_bytes": array_bytes, "array_view": array_view, "array_index": array_index,
            "array_clear": array_clear, "array_fill": array_fill}  # fmt: skip


def _packed(storage: str, values: tuple) -> bytes:
    return struct.pack(f"={len(values)}{_PACK[storage]}", *(int(v) if storage == "int8" else v for v in values))


# -- the type ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArrayType(VariableType):
    """``NumbaArray[T, N]``: ``python_type`` is its `ArraySpec`; ``readonly`` for constant parameters.

    An array is a reference to memory (``is_container``): a local may alias it, nothing may replace
    it. Its "cell" is the memory itself (``state_size`` bytes), like a struct's."""

    readonly: bool = False
    is_container = True

    def get_numba_type_name(self) -> str:
        return "voidptr"

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is NumbaArray or isinstance(var_type, ArraySpec)

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> ArrayType | None:
        if not cls.is_type_supported(var_type):
            return None
        spec = var_type if isinstance(var_type, ArraySpec) and var_type != ArraySpec() else None
        if spec is None and isinstance(value, ArraySpec):
            spec = value
        return cls(spec or ArraySpec())

    @classmethod
    def try_parse_input(cls, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        """``NumbaArray[T, N]`` parameters are constants, baked in as read-only data."""
        if cls.is_type_supported(ann):
            return ParameterInfo(expected_type=ann, category=ARRAY_CONSTANTS)
        return None

    @property
    def spec(self) -> ArraySpec:
        """The checked `ArraySpec` (TypeError / ValueError when it is not a valid array)."""
        spec = self.python_type
        if not isinstance(spec, ArraySpec) or spec == ArraySpec():
            raise TypeError("NumbaArray needs an element type and a length: NumbaArray[float, 8] or create_new_array(float, 8)")
        return check_array_spec(spec.element, spec.length)

    @property
    def state_size(self) -> int | None:  # type: ignore[override]
        try:
            return self.spec.nbytes
        except (TypeError, ValueError):
            return None  # not a valid array: reported by coerce_constant

    @property
    def element_type(self) -> VariableType:
        return TypeFactory.get_type(self.spec.element)

    def describe(self) -> str:
        return repr(self.python_type if isinstance(self.python_type, ArraySpec) else ArraySpec())

    def coerce_constant(self, value: Any) -> tuple:
        """The ``N`` element values (storage values: datetimes as int nanoseconds): zeros for None or
        a matching ``create_new_array(...)``, else each value of a list or tuple of length ``N``."""
        spec, element = self.spec, self.element_type
        if value is None or isinstance(value, ArraySpec):
            if isinstance(value, ArraySpec) and value != spec:
                raise TypeError(f"{value!r} does not match {spec!r}")
            return tuple(element.coerce_constant(None) for _ in range(spec.length))
        if isinstance(value, (list, tuple)):
            if len(value) != spec.length:
                raise ValueError(f"{spec!r} takes {spec.length} values, got {len(value)}")
            return tuple(element.coerce_constant(v) for v in value)
        raise TypeError(f"expected create_new_array(...) or a list of {spec.length} values for {spec!r}, got {value!r}")

    def data(self, values: tuple) -> bytes:
        """``values`` (from `coerce_constant`) as the array's bytes in memory."""
        return _packed(self.spec.storage, values)

    def constant_ast(self, value: Any) -> ast.expr:
        """A pointer to ``value``'s elements baked into the code as read-only data."""
        return helper_call(array_bytes, ast.Constant(self.data(self.coerce_constant(value)).hex()))

    def state_initial_value(self, value: Any) -> list:
        return list(self.coerce_constant(value))

    def start_statements(self, source: Any, initial_value: Any) -> list[ast.stmt]:
        data = self.data(self.coerce_constant(initial_value))
        size = ast.Constant(len(data))
        if not any(data):
            return [ast.Expr(value=helper_call(array_clear, source.get(), size))]
        return [ast.Expr(value=helper_call(array_fill, source.get(), self.constant_ast(initial_value), size))]

    def state_slot(self, name: str, initial_value: Any) -> StateSlot:
        spec = self.spec
        return StateSlot(name, "array", "bytes", spec.nbytes, self.state_initial_value(initial_value), repr(spec))


class ArrayConstantsCategory(SourceCategory):
    """``NumbaArray[T, N]`` constant parameters: read-only arrays baked into the code."""

    id = ARRAY_CONSTANTS
    order = -34
    init_filter = SourceInitFilter.ALWAYS

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        analysis = info.input_analysis
        for name, value in analysis.get_by_category(self.id).items():
            declared = analysis.parameters[name].expected_type
            try:
                var_type = dataclasses.replace(TypeFactory.get_type(declared, value), readonly=True)
                if not isinstance(value, (list, tuple)):
                    raise TypeError(f"bind it to a list of values at compile time ({name}=[...]), not {value!r}")
                values = var_type.coerce_constant(value)
            except (TypeError, ValueError) as exc:
                location = info.location(info.parameter_node(name))
                raise CompilationError(f"constant array {name!r}: {exc}", location, stage="analysis") from None
            factory.add_variable(ConstantSource(var_type, name, values), category=self.id)


# -- handlers ----------------------------------------------------------------------------------
def _array(converter: Any, node: ast.AST) -> VariableSource | None:
    """The array (state, constant or alias) that ``node`` names, if any."""
    if isinstance(node, ast.Name):
        source = converter.variable(node.id)
        if source is not None and isinstance(source.type, ArrayType):
            return source
    return None


def _name(name: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(id=name, ctx=ctx or ast.Load())


def _what(source: VariableSource) -> str:
    return f"{'constant ' if source.type.readonly else ''}array {source.name!r}"


def _require_writable(converter: Any, source: VariableSource, node: ast.AST) -> None:
    if source.type.readonly:
        raise converter.error(
            f"constant array {source.name!r} cannot be modified",
            node,
            f"copy it into a State[{source.type.describe()}] array (in START) and modify that",
        )


def _elements(converter: Any, source: VariableSource) -> ast.expr:
    """The array's memory as a typed pointer to its elements."""
    return converter.factory.cast_pointer(source.get(), source.type.spec.storage)


def _index(converter: Any, source: VariableSource, node: ast.expr) -> ast.expr:
    """The user's index ``node`` as a non-negative index: a constant (checked now), or a call of
    `array_index` (checked at run time)."""
    n = source.type.spec.length
    hint = f"use int({ast.unparse(node)})"  # before conversion rewrites the node
    if isinstance(node, ast.Slice):
        raise converter.error(
            f"{_what(source)} cannot be sliced", node, "index one element at a time, or pass the array to an @numba.njit helper"
        )
    index = converter.visit(node)
    if isinstance(index, ast.Constant) and type(index.value) in (int, bool):
        if not -n <= index.value < n:
            raise converter.error(
                f"index {index.value} is out of range for {_what(source)} of length {n}",
                node,
                f"use an index from {-n} to {n - 1}",
            )
        return ast.Constant(int(index.value) % n)
    index = converter.require_integer(index, node, "array indices must be integers, got a {type}", hint)
    return helper_call(array_index, index, ast.Constant(n))


def _read(converter: Any, source: VariableSource, index: ast.expr) -> ast.expr:
    cell = ast.Subscript(value=_elements(converter, source), slice=index, ctx=ast.Load())
    return source.type.element_type.from_cell(cell)


def _store(converter: Any, source: VariableSource, index: ast.expr, value: ast.expr) -> ast.stmt:
    cell = ast.Subscript(value=_elements(converter, source), slice=index, ctx=ast.Store())
    stored = converter.factory.checked(source.type.element_type.to_cell(value), source.type.spec.storage)
    return ast.Assign(targets=[cell], value=stored)


def _view(source: VariableSource) -> ast.expr:
    spec = source.type.spec
    element = getattr(spec.element, "__name__", "")
    return helper_call(array_view, source.get(), ast.Constant(spec.length), ast.Constant(element))


def _is_builtin(converter: Any, func: ast.expr, name: str) -> bool:
    return (
        isinstance(func, ast.Name)
        and func.id == name
        and func.id not in converter.locals
        and func.id not in converter.factory
        and func.id not in converter.globals
    )


def _managed(converter: Any, target: ast.expr) -> VariableSource | None:
    """The array variable (not an alias) that the assignment target ``target`` names, if any."""
    source = converter.factory.get(target.id) if isinstance(target, ast.Name) else None
    return source if source is not None and isinstance(source.type, ArrayType) else None


def _replaced(converter: Any, source: VariableSource, node: ast.AST) -> CompilationError:
    _require_writable(converter, source, node)
    return converter.error(
        f"array {source.name!r} cannot be replaced", node, f"assign its items: {source.name}[i] = value"
    )


def _helper_call(converter: Any, node: ast.Call) -> HandlerResult | None:
    """``helper(a, ...)`` for an ``@numba.njit`` helper: each array argument becomes a local holding
    its read-only view, then the call is converted as usual (containers among the arguments too)."""
    if not isinstance(converter.resolve_global(node.func), Dispatcher) or any(kw.arg is None for kw in node.keywords):
        return None
    values = [*node.args, *(kw.value for kw in node.keywords)]
    if not any(_array(converter, v) is not None for v in values):
        return None
    views: list[ast.stmt] = []

    def argument(arg: ast.expr) -> ast.expr:
        source = _array(converter, arg)
        if source is None:
            return arg
        local = converter.factory.new_name(f"view_{arg.id}")
        converter.locals.add(local)
        views.append(ast.Assign(targets=[_name(local, ast.Store())], value=_view(source)))
        return ast.copy_location(_name(local), arg)

    call = ast.Call(
        func=node.func,
        args=[argument(a) for a in node.args],
        keywords=[ast.keyword(arg=kw.arg, value=argument(kw.value)) for kw in node.keywords],
    )
    return HandlerResult(converter.visit(ast.copy_location(call, node)), views)


def _loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
    """``for v in a`` and ``for i, v in enumerate(a)``: an index loop over the ``N`` elements, each
    read when its iteration starts (as Python's list iterator does)."""
    iterable, numbered = node.iter, False
    if (
        isinstance(iterable, ast.Call)
        and _is_builtin(converter, iterable.func, "enumerate")
        and len(iterable.args) == 1
        and not iterable.keywords
        and _array(converter, iterable.args[0]) is not None
    ):
        iterable, numbered = iterable.args[0], True
    source = _array(converter, iterable)
    if source is None:
        return None
    if node.orelse:
        raise converter.error("for/else is not supported in compiled code", node, "use a flag variable")
    k = converter.factory.new_name("k")
    item = _read(converter, source, _name(k))
    if numbered:
        item = ast.Tuple(elts=[_name(k), item], ctx=ast.Load())
    target, stores = converter.bind_target(node.target)
    loop_range = ast.Call(func=_name("range"), args=[ast.Constant(source.type.spec.length)], keywords=[])
    body = [ast.Assign(targets=[target], value=item), *stores, *converter.visit_block(node.body)]
    return [ast.For(target=_name(k, ast.Store()), iter=loop_range, body=body, orelse=[])]


def register_array_handlers() -> None:
    """The AST handlers lowering array operations (`register_arrays` installs them)."""

    @ast_handler("Subscript", pre=True)
    def read_item(converter: Any, node: ast.Subscript) -> ast.expr | None:
        source = _array(converter, node.value)
        if source is None or not isinstance(node.ctx, ast.Load):
            return None
        return _read(converter, source, _index(converter, source, node.slice))

    @ast_handler("Assign", pre=True)
    def write_item(converter: Any, node: ast.Assign) -> list[ast.stmt] | None:
        items = [t for t in node.targets if isinstance(t, ast.Subscript) and _array(converter, t.value) is not None]
        for target in node.targets:
            source = _managed(converter, target)
            if source is not None:
                raise _replaced(converter, source, target)
        if not items:
            return None
        if len(node.targets) > 1:  # x = a[i] = v: the value once, then each target in order
            temp = converter.factory.new_name("chain")
            converter.locals.add(temp)
            stmts = [ast.Assign(targets=[_name(temp, ast.Store())], value=converter.visit(node.value))]
            for target in node.targets:
                one = ast.copy_location(ast.Assign(targets=[target], value=_name(temp)), node)
                stmts += converter.visit_block([one])
            return stmts
        target = node.targets[0]
        source = _array(converter, target.value)
        _require_writable(converter, source, node)
        value = converter.visit(node.value)
        return [_store(converter, source, _index(converter, source, target.slice), value)]

    @ast_handler("AugAssign", pre=True)
    def update_item(converter: Any, node: ast.AugAssign) -> list[ast.stmt] | None:
        target = node.target
        source = _managed(converter, target)
        if source is not None:
            raise _replaced(converter, source, target)
        if not isinstance(target, ast.Subscript):
            return None
        source = _array(converter, target.value)
        if source is None:
            return None
        _require_writable(converter, source, node)
        stmts: list[ast.stmt] = []
        index = _index(converter, source, target.slice)
        if not isinstance(index, ast.Constant):  # evaluated (and checked) once
            k = converter.factory.new_name("index")
            stmts.append(ast.Assign(targets=[_name(k, ast.Store())], value=index))
            index = _name(k)
        combined = ast.BinOp(left=_read(converter, source, index), op=node.op, right=converter.visit(node.value))
        stmts.append(_store(converter, source, index, combined))
        return stmts

    @ast_handler("Delete", pre=True)
    def delete_item(converter: Any, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Subscript) and (source := _array(converter, target.value)) is not None:
                raise converter.error(
                    f"items cannot be deleted from {_what(source)}: its length is fixed",
                    target,
                    "assign a value instead (a[i] = 0)",
                )
        return None

    @ast_handler("Call", pre=True, priority=-1)  # before the containers' helper calls: mixed arguments
    def call(converter: Any, node: ast.Call) -> ast.expr | HandlerResult | None:
        if _is_builtin(converter, node.func, "len") and len(node.args) == 1 and not node.keywords:
            source = _array(converter, node.args[0])
            if source is not None:
                return ast.Constant(source.type.spec.length)
        return _helper_call(converter, node)

    @ast_handler("For", pre=True)
    def loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
        return _loop(converter, node)

    @ast_handler("Name", pre=True)
    def bare_use(converter: Any, node: ast.Name) -> None:
        source = _array(converter, node)
        if source is not None and isinstance(node.ctx, ast.Load):
            raise converter.error(
                f"{_what(source)} can only be used through its operations",
                node,
                "index it (a[i]), take len(a), iterate it (for v in a), bind it to a local (b = a) "
                "or pass it to an @numba.njit helper",
            )
        return None


def register_arrays(priority: int = 0) -> None:
    """Install ``NumbaArray`` into the active context: the type, the constant-array category, the
    helpers generated code calls and the AST handlers."""
    TypeFactory.register(ArrayType, priority=priority)
    SourceRegistry.register(ArrayConstantsCategory())
    for name, obj in _HELPERS.items():
        register_helper(name, obj)
    register_array_handlers()
