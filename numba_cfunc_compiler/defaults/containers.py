"""Built-in ``NumbaList`` / ``NumbaDict``: types, the constant-container category and the AST
handlers that lower every container operation to the functions of `container_ops`.

A container lives in a state cell as a pointer: START allocates it (and fills a constant one),
STOP frees it and nulls the cell. Constant parameters that are lists or dicts become hidden,
read-only state of the same kind.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any

from numba.core.dispatcher import Dispatcher
from numba_rt.abi import Kind

from ..ast_handlers import ast_handler
from ..containers import (
    DICT_KEY_TYPES,
    DICT_VALUE_TYPES,
    LIST_ELEMENT_TYPES,
    DictSpec,
    ListSpec,
    NumbaDict,
    NumbaList,
)
from ..errors import CompilationError
from ..function_analyzer import NumbaFunctionInfo
from ..models import ParameterInfo, StateVariableInfo, VariableType
from ..source_registry import SourceCategory, SourceInitFilter
from ..type_factory import TypeFactory
from ..utils.intrinsics import null_pointer
from ..variable_factory import VariableFactory, VariableSource
from . import container_ops as ops

__all__ = ["ListType", "DictType", "ContainerConstantsCategory", "CONTAINER_CONSTANTS", "register_container_handlers"]

CONTAINER_CONSTANTS = "container_constants"
_KIND = {int: int(Kind.INT), float: int(Kind.FLOAT), bool: int(Kind.BOOL)}  # enum ncc_kind
_CELL = {int: "int64", float: "float64", bool: "int8"}
_SAMPLE = {int: 0, float: 0.0, bool: False}
_INITIAL_CAPACITY = 8


def _name(t: Any) -> str:
    return getattr(t, "__name__", repr(t))


def _call(factory: VariableFactory, fn: Any, *args: ast.expr) -> ast.Call:
    helper = factory.helper(getattr(fn, "__name__", None) or fn.symbol, fn)
    return ast.Call(func=helper, args=list(args), keywords=[])


def _stmt(expr: ast.expr) -> ast.stmt:
    return ast.Expr(value=expr)


class _ContainerType(VariableType):
    """What lists and dicts share: a pointer cell, allocation in START, freeing in STOP."""

    is_container = True
    readonly: bool = False
    new_fn: Any = None
    free_fn: Any = None
    flags_word: int = 0

    def get_numba_type_name(self) -> str:
        return "voidptr"

    def state_initial_value(self, value: Any) -> int:
        return 0  # the cell holds NULL until START allocates

    @property
    def element(self) -> Any:
        raise NotImplementedError

    @classmethod
    def try_parse_input(cls, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        """List/dict parameters are constants, materialised as read-only hidden state."""
        if cls.is_type_supported(ann):
            return ParameterInfo(expected_type=ann, category=CONTAINER_CONSTANTS)
        return None

    def sample(self) -> ast.expr:
        return ast.Constant(_SAMPLE[self.element])

    def checked(self, factory: VariableFactory, value: ast.expr, python_type: Any) -> ast.expr:
        return factory.checked(value, TypeFactory.get_type(python_type))

    def start_statements(self, source: Any, initial_value: Any) -> list[ast.stmt]:
        factory = source.factory
        kind = ast.Constant(_KIND[self.element])
        stmts = [
            _stmt(_call(factory, self.free_fn, source.get())),  # START twice must not leak
            *source.store(_call(factory, self.new_fn, kind, ast.Constant(_INITIAL_CAPACITY))),
        ]
        if self.readonly:
            stmts += self.fill_statements(source, initial_value)
            stmts.append(_stmt(_call(factory, ops.set_readonly, source.get(), ast.Constant(self.flags_word))))
        return stmts

    def fill_statements(self, source: Any, values: tuple) -> list[ast.stmt]:
        raise NotImplementedError

    def stop_statements(self, source: Any) -> list[ast.stmt]:
        factory = source.factory
        return [
            _stmt(_call(factory, self.free_fn, source.get())),
            *source.store(_call(factory, null_pointer)),
        ]


@dataclass(frozen=True)
class ListType(_ContainerType):
    """``NumbaList[T]``: ``value`` is the element type."""

    readonly: bool = False
    new_fn = ops.ncc_list_new
    free_fn = ops.ncc_list_free
    flags_word = ops.LIST_FLAGS32

    @property
    def element(self) -> Any:
        return self.value

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is NumbaList or var_type is list or isinstance(var_type, ListSpec)

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> ListType | None:
        if not cls.is_type_supported(var_type):
            return None
        element = var_type.element if isinstance(var_type, ListSpec) else None
        if element is None and isinstance(value, ListSpec):
            element = value.element
        if element is None and isinstance(value, (list, tuple)):
            element = _infer_element(value)
        return cls(ListSpec(element), element)

    def coerce_constant(self, value: Any) -> Any:
        if self.element not in LIST_ELEMENT_TYPES:
            raise TypeError("NumbaList needs an element type of int, float or bool: NumbaList[float] or create_new_list(float)")
        if value is None or isinstance(value, ListSpec):
            if isinstance(value, ListSpec) and value.element is not self.element:
                raise TypeError(f"create_new_list({_name(value.element)}) does not match NumbaList[{_name(self.element)}]")
            return ListSpec(self.element)
        if isinstance(value, (list, tuple)):
            element_type = TypeFactory.get_type(self.element)
            return tuple(element_type.coerce_constant(v) for v in value)
        raise TypeError(f"expected a list of {_name(self.element)}, got {value!r}")

    def fill_statements(self, source: Any, values: tuple) -> list[ast.stmt]:
        if not values:
            return []
        factory = source.factory
        table = factory.helper(factory.new_name("constant_list"), values)
        item = factory.new_name("item")
        append = _call(factory, ops.list_append, source.get(), ast.Name(id=item, ctx=ast.Load()), self.sample())
        return [ast.For(target=ast.Name(id=item, ctx=ast.Store()), iter=table, body=[_stmt(append)], orelse=[])]


@dataclass(frozen=True)
class DictType(_ContainerType):
    """``NumbaDict[K, V]``: ``value`` is the ``(key type, value type)`` pair."""

    readonly: bool = False
    new_fn = ops.ncc_dict_new
    free_fn = ops.ncc_dict_free
    flags_word = ops.DICT_FLAGS32

    @property
    def element(self) -> Any:
        return self.value[1] if self.value else None

    @classmethod
    def is_type_supported(cls, var_type: Any) -> bool:
        return var_type is NumbaDict or var_type is dict or isinstance(var_type, DictSpec)

    @classmethod
    def from_type(cls, var_type: Any, value: Any = None) -> DictType | None:
        if not cls.is_type_supported(var_type):
            return None
        spec = var_type if isinstance(var_type, DictSpec) and var_type.key is not None else None
        if spec is None and isinstance(value, DictSpec):
            spec = value
        if spec is None and isinstance(value, dict):
            spec = DictSpec(_infer_element(list(value)), _infer_element(list(value.values())))
        key, val = (spec.key, spec.value) if spec else (None, None)
        return cls(DictSpec(key, val), (key, val))

    def coerce_constant(self, value: Any) -> Any:
        key, val = self.value
        if key not in DICT_KEY_TYPES or val not in DICT_VALUE_TYPES:
            raise TypeError("NumbaDict needs int keys and int, float or bool values: NumbaDict[int, float] or create_new_dict(int, float)")
        if value is None or isinstance(value, DictSpec):
            if isinstance(value, DictSpec) and (value.key, value.value) != (key, val):
                raise TypeError(f"{value!r} does not match NumbaDict[{_name(key)}, {_name(val)}]")
            return DictSpec(key, val)
        if isinstance(value, dict):
            key_type, value_type = TypeFactory.get_type(key), TypeFactory.get_type(val)
            return tuple((key_type.coerce_constant(k), value_type.coerce_constant(v)) for k, v in value.items())
        raise TypeError(f"expected a dict of {_name(key)} -> {_name(val)}, got {value!r}")

    def fill_statements(self, source: Any, items: tuple) -> list[ast.stmt]:
        if not items:
            return []
        factory = source.factory
        keys = factory.helper(factory.new_name("constant_keys"), tuple(k for k, _ in items))
        values = factory.helper(factory.new_name("constant_values"), tuple(v for _, v in items))
        i = factory.new_name("i")
        at = lambda table: ast.Subscript(value=table, slice=ast.Name(id=i, ctx=ast.Load()), ctx=ast.Load())  # noqa: E731
        put = _call(factory, ops.dict_set, source.get(), at(keys), at(values), self.sample())
        loop_range = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[ast.Constant(len(items))], keywords=[])
        return [ast.For(target=ast.Name(id=i, ctx=ast.Store()), iter=loop_range, body=[_stmt(put)], orelse=[])]


def _infer_element(values: list) -> Any:
    kinds = {type(v) for v in values}
    if not kinds:
        return None
    if kinds <= {bool}:
        return bool
    if kinds <= {int}:
        return int
    if kinds <= {int, float}:
        return float
    return None


class ContainerConstantsCategory(SourceCategory):
    """List/dict constant parameters become read-only state: filled in START, freed in STOP."""

    id = CONTAINER_CONSTANTS
    order = -35
    init_filter = SourceInitFilter.ALWAYS

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        analysis = info.input_analysis
        for name, value in analysis.get_by_category(self.id).items():
            declared = analysis.parameters[name].expected_type
            var_type = TypeFactory.get_type(declared, value)
            node = info.parameter_node(name)
            try:
                var_type = dataclasses.replace(var_type, readonly=True)
                initial = var_type.coerce_constant(value)
            except TypeError as exc:
                raise CompilationError(f"constant {name!r}: {exc}", info.location(node), stage="analysis") from None
            if not isinstance(initial, tuple):
                raise CompilationError(
                    f"constant {name!r} must be given a list or dict at compile time", info.location(node), stage="analysis"
                )
            info.state_variables.append(StateVariableInfo(name, declared, initial, var_type, node))


# -- handlers ---------------------------------------------------------------------------------
_LIST_METHODS = ("append", "pop", "clear")
_DICT_METHODS = ("get", "pop", "clear", "keys", "values", "items")
_MUTATING = {"append", "pop", "clear"}


def _container(converter: Any, node: ast.AST) -> VariableSource | None:
    if isinstance(node, ast.Name):
        source = converter.variable(node.id)
        if source is not None and isinstance(source.type, _ContainerType):
            return source
    return None


def _kind(source: VariableSource) -> str:
    return "list" if isinstance(source.type, ListType) else "dict"


def _require_writable(converter: Any, source: VariableSource, node: ast.AST) -> None:
    if source.type.readonly:
        raise converter.error(f"constant {_kind(source)} {source.name!r} cannot be modified", node, "copy it into a State[...] container in START")


def _int(converter: Any, node: ast.expr) -> ast.expr:
    return converter.factory.checked(converter.visit(node), TypeFactory.get_type(int))


def _value(converter: Any, source: VariableSource, node: ast.expr) -> ast.expr:
    return source.type.checked(converter.factory, converter.visit(node), source.type.element)


def _get(converter: Any, source: VariableSource, key: ast.expr) -> ast.expr:
    fn = ops.list_get if isinstance(source.type, ListType) else ops.dict_get
    return _call(converter.factory, fn, source.get(), key, source.type.sample())


def _set(converter: Any, source: VariableSource, key: ast.expr, value: ast.expr) -> ast.stmt:
    fn = ops.list_set if isinstance(source.type, ListType) else ops.dict_set
    return _stmt(_call(converter.factory, fn, source.get(), key, value, source.type.sample()))


def _method(converter: Any, source: VariableSource, node: ast.Call) -> ast.expr:
    method = node.func.attr
    kind = _kind(source)
    allowed = _LIST_METHODS if kind == "list" else _DICT_METHODS
    if method not in allowed:
        raise converter.error(f"{kind} {source.name!r} has no method {method!r} (supported: {', '.join(allowed)})", node)
    if node.keywords:
        raise converter.error(f"{kind}.{method}() takes no keyword arguments", node)
    if method in ("keys", "values", "items"):
        raise converter.error(f"{source.name}.{method}() can only be iterated", node, f"write `for ... in {source.name}.{method}():`")
    if method in _MUTATING:
        _require_writable(converter, source, node)
    factory, ptr, sample, args = converter.factory, source.get(), source.type.sample(), node.args
    arity = {("list", "append"): (1,), ("list", "pop"): (0, 1), ("list", "clear"): (0,),
             ("dict", "get"): (1, 2), ("dict", "pop"): (1, 2), ("dict", "clear"): (0,)}[(kind, method)]
    if len(args) not in arity:
        raise converter.error(f"{kind}.{method}() takes {' or '.join(map(str, arity))} argument(s), got {len(args)}", node)
    if kind == "list":
        if method == "append":
            return _call(factory, ops.list_append, ptr, _value(converter, source, args[0]), sample)
        if method == "pop":
            if args:
                return _call(factory, ops.list_pop_at, ptr, _int(converter, args[0]), sample)
            return _call(factory, ops.list_pop, ptr, sample)
        return _call(factory, ops.list_clear, ptr)
    if method == "clear":
        return _call(factory, ops.dict_clear, ptr)
    key = _int(converter, args[0])
    if method == "get":
        default = converter.visit(args[1]) if len(args) == 2 else ast.Constant(None)
        return _call(factory, ops.dict_get_or, ptr, key, default, sample)
    if len(args) == 2:
        return _call(factory, ops.dict_pop_or, ptr, key, converter.visit(args[1]), sample)
    return _call(factory, ops.dict_pop, ptr, key, sample)


def _helper_call(converter: Any, node: ast.Call) -> ast.expr | None:
    """A call of an ``@njit`` helper with containers among its arguments: each is passed as a
    read-only view (`container_views`, imported on first use: it registers Numba types)."""
    values = [*node.args, *(kw.value for kw in node.keywords)]
    if not any(_container(converter, v) is not None for v in values) or any(kw.arg is None for kw in node.keywords):
        return None
    from . import container_views as views

    def argument(arg: ast.expr) -> ast.expr:
        source = _container(converter, arg)
        if source is None:
            return converter.visit(arg)
        view = views.list_view if isinstance(source.type, ListType) else views.dict_view
        return _call(converter.factory, view, source.get(), source.type.sample())

    keywords = [ast.keyword(arg=kw.arg, value=argument(kw.value)) for kw in node.keywords]
    return ast.Call(func=converter.visit(node.func), args=[argument(a) for a in node.args], keywords=keywords)


def _loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
    """``for`` over a container or a dict view, as an index loop that sees the container change
    like Python's iterators do (a dict changing size is a fault)."""
    iterable, view = node.iter, None
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Attribute)
        and iterable.func.attr in ("keys", "values", "items")
        and not iterable.args
        and not iterable.keywords
    ):
        iterable, view = iterable.func.value, iterable.func.attr
    source = _container(converter, iterable)
    if source is None:
        return None
    if node.orelse:
        raise converter.error("for/else is not supported in compiled code", node, "use a flag variable")
    factory, ptr, sample = converter.factory, source.get(), source.type.sample()
    i = factory.new_name("i")
    name = lambda n, ctx=ast.Load(): ast.Name(id=n, ctx=ctx)  # noqa: E731
    stop = lambda test: ast.If(test=test, body=[ast.Break()], orelse=[])  # noqa: E731
    stmts: list[ast.stmt] = [ast.Assign(targets=[name(i, ast.Store())], value=ast.Constant(-1))]
    step: list[ast.stmt] = [ast.AugAssign(target=name(i, ast.Store()), op=ast.Add(), value=ast.Constant(1))]
    if isinstance(source.type, ListType):
        if view is not None:
            raise converter.error(f"a list has no {view}()", node.iter)
        step.append(stop(ast.Compare(left=name(i), ops=[ast.GtE()], comparators=[_call(factory, ops.list_len, ptr)])))
        item = _call(factory, ops.list_item, source.get(), name(i), sample)
    else:
        size = factory.new_name("size")
        stmts.append(ast.Assign(targets=[name(size, ast.Store())], value=_call(factory, ops.dict_len, ptr)))
        step += [  # like CPython: a size change is detected before the end of the iteration
            ast.If(
                test=ast.Compare(left=_call(factory, ops.dict_len, source.get()), ops=[ast.NotEq()], comparators=[name(size)]),
                body=[_stmt(_call(factory, ops.dict_changed_size))],
                orelse=[],
            ),
            stop(ast.Compare(left=name(i), ops=[ast.GtE()], comparators=[_call(factory, ops.dict_used, source.get())])),
            ast.If(
                test=ast.UnaryOp(op=ast.Not(), operand=_call(factory, ops.dict_live, source.get(), name(i))),
                body=[ast.Continue()],
                orelse=[],
            ),
        ]
        key = _call(factory, ops.dict_key_at, source.get(), name(i))
        value = _call(factory, ops.dict_value_at, source.get(), name(i), source.type.sample())
        item = {None: key, "keys": key, "values": value, "items": ast.Tuple(elts=[key, value], ctx=ast.Load())}[view]
    target, stores = converter.bind_target(node.target)
    body = [*step, ast.Assign(targets=[target], value=item), *stores, *converter.visit_block(node.body)]
    stmts.append(ast.While(test=ast.Constant(True), body=body, orelse=[]))
    return stmts


def register_container_handlers() -> None:
    """The AST handlers lowering container operations (registered by ``defaults.register_all``)."""

    @ast_handler("Subscript", pre=True)
    def read_item(converter: Any, node: ast.Subscript) -> ast.expr | None:
        source = _container(converter, node.value)
        if source is None or not isinstance(node.ctx, ast.Load):
            return None
        return _get(converter, source, _int(converter, node.slice))

    @ast_handler("Assign", pre=True)
    def write_item(converter: Any, node: ast.Assign) -> ast.stmt | None:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Subscript):
            return None
        target = node.targets[0]
        source = _container(converter, target.value)
        if source is None:
            return None
        _require_writable(converter, source, node)
        return _set(converter, source, _int(converter, target.slice), _value(converter, source, node.value))

    @ast_handler("AugAssign", pre=True)
    def update_item(converter: Any, node: ast.AugAssign) -> list[ast.stmt] | None:
        if not isinstance(node.target, ast.Subscript):
            return None
        source = _container(converter, node.target.value)
        if source is None:
            return None
        _require_writable(converter, source, node)
        key = converter.factory.new_name("key")
        load_key = ast.Name(id=key, ctx=ast.Load())
        combined = ast.BinOp(left=_get(converter, source, load_key), op=node.op, right=converter.visit(node.value))
        value = source.type.checked(converter.factory, combined, source.type.element)
        return [
            ast.Assign(targets=[ast.Name(id=key, ctx=ast.Store())], value=_int(converter, node.target.slice)),
            _set(converter, source, ast.Name(id=key, ctx=ast.Load()), value),
        ]

    @ast_handler("Delete", pre=True)
    def delete_item(converter: Any, node: ast.Delete) -> list[ast.stmt] | None:
        targets = [(t, _container(converter, t.value)) for t in node.targets if isinstance(t, ast.Subscript)]
        if not targets or len(targets) != len(node.targets) or any(s is None for _, s in targets):
            return None
        stmts = []
        for target, source in targets:
            _require_writable(converter, source, node)
            key = _int(converter, target.slice)
            if isinstance(source.type, ListType):
                stmts.append(_stmt(_call(converter.factory, ops.list_del, source.get(), key)))
            else:
                stmts.append(_stmt(_call(converter.factory, ops.dict_del, source.get(), key)))
        return stmts

    @ast_handler("Call", pre=True)
    def call(converter: Any, node: ast.Call) -> ast.expr | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            source = _container(converter, func.value)
            if source is not None:
                return _method(converter, source, node)
        if isinstance(converter.resolve_global(func), Dispatcher):
            return _helper_call(converter, node)
        if (
            isinstance(func, ast.Name)
            and func.id == "len"
            and func.id not in converter.locals
            and "len" not in converter.globals
            and len(node.args) == 1
        ):
            source = _container(converter, node.args[0])
            if source is not None:
                fn = ops.list_len if isinstance(source.type, ListType) else ops.dict_len
                return _call(converter.factory, fn, source.get())
        return None

    @ast_handler("Compare", pre=True)
    def membership(converter: Any, node: ast.Compare) -> ast.expr | None:
        if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.In, ast.NotIn)):
            return None
        source = _container(converter, node.comparators[0])
        if source is None:
            return None
        if isinstance(source.type, ListType):
            test = _call(converter.factory, ops.list_contains, source.get(), converter.visit(node.left), source.type.sample())
        else:
            test = _call(converter.factory, ops.dict_contains, source.get(), _int(converter, node.left))
        return ast.UnaryOp(op=ast.Not(), operand=test) if isinstance(node.ops[0], ast.NotIn) else test

    @ast_handler("For", pre=True)
    def loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
        return _loop(converter, node)

    @ast_handler("Name", pre=True)
    def bare_use(converter: Any, node: ast.Name) -> None:
        source = _container(converter, node)
        if source is not None and isinstance(node.ctx, ast.Load):
            raise converter.error(
                f"{_kind(source)} {node.id!r} can only be used through its operations",
                node,
                "index it, call its methods, take len(), iterate it, bind it to a local (a = xs) or pass it to an @numba.njit helper",
            )
        return None
