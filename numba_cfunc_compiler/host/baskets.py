"""Baskets in the reference host: one parameter holding ``N`` signals of one type.

``prices: Basket[float, 16]`` is fed through the same arrays as ``Signal`` inputs: it takes ``N``
consecutive input slots (``inputs[base + k]``, ``input_ticked[base + k]``,
``input_valid[base + k]``), named ``prices[0]`` ... ``prices[N-1]`` in the node artifact, so a C
host feeds a basket exactly as it feeds ``N`` ordinary inputs. Parameters take slots in declaration
order. Node code uses a basket through its operations only, each lowered here by a public
``@ast_handler`` into plain index arithmetic on those arrays:

- ``len(prices)`` (the constant ``N``), ``prices[i]`` (``i`` constant or not, negative as in
  Python; a constant out of range is a `CompilationError`, a run-time one an INDEX fault);
- ``ticked(prices[i])``, ``valid(prices[i])``, ``ticked(prices)`` (any element ticked) and
  ``valid(prices)`` (every element valid);
- ``for v in prices``, and ``for ... in prices.tickeditems() / tickedvalues() / tickedkeys()``
  (and ``valid...``): a loop over the ``N`` flags that reads only the cells whose flag is set.

The reference host's `SignalCategory` lays out its inputs with `input_layout` and creates a
`BasketSource` per basket; `register_basket_handlers` installs the handlers (see docs/baskets.md).
"""

from __future__ import annotations

import ast
import inspect
import operator
from dataclasses import dataclass
from typing import Any


from ..ast_handlers import ast_handler
from ..defaults.container_ops import checked_index, jit as _jit
from ..function_analyzer import InputTypeHandler, NumbaFunctionInfo
from ..models import ParameterInfo, ValueSlot, VariableType
from ..type_factory import TypeFactory
from ..utils.intrinsics import c_string
from ..variable_factory import ReadOnlyVariableError, VariableFactory, VariableSource
from .annotations import BasketType, ticked, valid

__all__ = [
    "MAX_BASKET_SIZE",
    "BASKET_METHODS",
    "BasketInputHandler",
    "BasketSource",
    "InputEntry",
    "input_layout",
    "input_slots",
    "element_type",
    "make_source",
    "slot_name",
    "marker_call",
    "register_basket_handlers",
]

#: The largest basket: each element is an input slot of the artifact (and a line of an AOT manifest).
MAX_BASKET_SIZE = 1 << 16

#: ``prices.<method>()`` in a ``for`` loop: the flag array it filters on (None: every element) and
#: what each iteration yields.
BASKET_METHODS: dict[str, tuple[str | None, str]] = {
    "tickeditems": ("ticked", "items"),
    "tickedvalues": ("ticked", "values"),
    "tickedkeys": ("ticked", "keys"),
    "validitems": ("valid", "items"),
    "validvalues": ("valid", "values"),
    "validkeys": ("valid", "keys"),
}

_HANDLER_PRIORITY = -10  # before the host's own `ticked(x)` / `valid(x)` lowering

# -- run-time helpers (inlined into the node) ---------------------------------------------------


@_jit
def basket_index(i, n):
    """``i`` as an element index of a basket of ``n`` (negative counts from the end); out of range,
    an INDEX fault "basket index i out of range (length n)" (`container_ops.checked_index`)."""
    return checked_index(i, n, c_string("basket"))


@_jit
def any_flag(flags, base, n):
    """Is any of ``flags[base] .. flags[base + n - 1]`` set?"""
    for k in range(n):
        if flags[base + k] != 0:
            return True
    return False


@_jit
def all_flags(flags, base, n):
    """Are all of ``flags[base] .. flags[base + n - 1]`` set?"""
    for k in range(n):
        if flags[base + k] == 0:
            return False
    return True


# -- parameters ---------------------------------------------------------------------------------
def _size(value: Any, param_name: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        size = operator.index(value)
    except TypeError:
        raise TypeError(f"basket {param_name!r}: the size must be a constant int, got {value!r}") from None
    if not 0 <= size <= MAX_BASKET_SIZE:
        raise ValueError(f"basket {param_name!r}: the size must be between 0 and {MAX_BASKET_SIZE}, got {size}")
    return int(size)


def _type_name(python_type: Any) -> str:
    return getattr(python_type, "__name__", repr(python_type))


class BasketInputHandler(InputTypeHandler):
    """``x: Basket[T, N]`` / ``x: Basket[T]`` parameters are inputs of ``category`` (the host's
    signal category); the bound argument is a ``Basket[T, N]`` giving the element type actually fed
    (int into float is widened) and the size if the annotation has none."""

    def __init__(self, category: str) -> None:
        self.category = category

    def try_parse(self, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        if isinstance(ann, BasketType):
            return ParameterInfo(expected_type=ann, category=self.category)
        return None

    def validate_value(self, param_name: str, value: Any, expected_type: Any) -> Any:
        declared: BasketType = expected_type
        if declared.size is not None:
            _size(declared.size, param_name)
        if not isinstance(value, BasketType):
            raise TypeError(
                f"basket {param_name!r} must be bound to a Basket[...], got {value!r}"
                f" (write {param_name}=Basket[{_type_name(declared.python_type)}, N])"
            )
        fed, wanted = value.python_type, declared.python_type
        if not (fed is wanted or (fed is int and wanted is float)):
            raise TypeError(
                f"basket {param_name!r} is declared {declared!r} but receives {value!r}"
                " (only int into float is widened)"
            )
        if value.size is not None and declared.size is not None and _size(value.size, param_name) != declared.size:
            raise TypeError(f"basket {param_name!r} is declared {declared!r} but receives {value!r}")
        size = value.size if value.size is not None else declared.size
        if size is None:
            raise TypeError(
                f"basket {param_name!r} has no size: give it when compiling, "
                f"compile_node(f, {param_name}=Basket[{_type_name(fed)}, N]), or annotate Basket[{_type_name(wanted)}, N]"
            )
        return BasketType(fed, _size(size, param_name))


# -- layout -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputEntry:
    """One input parameter of the signal category: its first slot and, for a basket, its size."""

    name: str
    argument: Any
    base: int
    size: int | None = None  # None: a plain Signal (one slot)

    @property
    def width(self) -> int:
        return 1 if self.size is None else self.size

    def slot_names(self) -> list[str]:
        return [self.name] if self.size is None else [slot_name(self.name, k) for k in range(self.size)]


def slot_name(basket: str, index: int) -> str:
    """The artifact's name of element ``index`` of ``basket``: ``prices[3]``."""
    return f"{basket}[{index}]"


def input_layout(info: NumbaFunctionInfo, category: str) -> list[InputEntry]:
    """The inputs of ``category`` in declaration order, each at its first slot: a signal takes one
    slot, a basket of ``N`` the next ``N``."""
    entries, base = [], 0
    for name, argument in info.input_analysis.get_by_category(category).items():
        size = argument.size if isinstance(argument, BasketType) else None
        entries.append(InputEntry(name, argument, base, size))
        base += entries[-1].width
    return entries


def element_type(info: NumbaFunctionInfo, entry: InputEntry) -> VariableType:
    """The `VariableType` of a basket's elements (a `CompilationError` at the parameter if unsupported)."""
    actual = info.extract_python_type_fn(entry.argument)
    var_type = TypeFactory.get_type(actual)
    node = info.parameter_node(entry.name)
    if var_type is None:
        raise info.error(f"basket {entry.name!r} has unsupported element type {_type_name(actual)!r}", node)
    if var_type.is_container or var_type.state_size is not None:
        what = "a container" if var_type.is_container else "a struct"
        raise info.error(
            f"basket {entry.name!r}: elements cannot be {what} ({var_type.describe()})",
            node,
            hint="a basket holds scalar values (int, float, bool, datetime, timedelta, enums)",
        )
    return var_type


def input_slots(info: NumbaFunctionInfo, entry: InputEntry) -> list[ValueSlot]:
    var_type = element_type(info, entry)
    return [var_type.value_slot(name) for name in entry.slot_names()]


class BasketSource(VariableSource):
    """A basket variable: elements ``storage_location[array_idx + k]`` for ``k < size``, their
    flags in ``ticked_location`` / ``valid_location``. ``type`` is the element type as fed;
    ``widened`` reads int cells as float. Used only through the basket operations: reading it as a
    value or assigning it is an error."""

    kind = "basket"

    def __init__(
        self,
        array_idx: int,
        size: int,
        type: VariableType,
        name: str,
        *,
        widened: bool = False,
        storage_location: str = "inputs",
        ticked_location: str = "input_ticked",
        valid_location: str = "input_valid",
    ) -> None:
        super().__init__(type, name)
        self.array_idx = array_idx
        self.size = size
        self.widened = widened
        self.storage_location = storage_location
        self.flag_locations = {"ticked": ticked_location, "valid": valid_location}

    def get(self) -> ast.expr:
        raise ReadOnlyVariableError(f"basket {self.name!r} can only be used through its operations")

    def set(self, value: ast.expr) -> list[ast.stmt]:
        raise ReadOnlyVariableError(f"basket {self.name!r} is an input: it is read-only")

    # -- expressions, given a slot position relative to the basket (an int expression) ----------
    def _slot(self, array: str, k: ast.expr) -> ast.Subscript:
        if isinstance(k, ast.Constant):
            index: ast.expr = ast.Constant(self.array_idx + k.value)
        elif self.array_idx == 0:
            index = k
        else:
            index = ast.BinOp(left=ast.Constant(self.array_idx), op=ast.Add(), right=k)
        return ast.Subscript(value=ast.Name(id=array, ctx=ast.Load()), slice=index, ctx=ast.Load())

    def item(self, factory: VariableFactory, k: ast.expr) -> ast.expr:
        """The value of element ``k`` (``0 <= k < size``)."""
        pointer = factory.typed_pointer(self._slot(self.storage_location, k), self.type)
        value = self.type.from_cell(ast.Subscript(value=pointer, slice=ast.Constant(0), ctx=ast.Load()))
        if self.widened:
            value = ast.Call(func=ast.Name(id="float", ctx=ast.Load()), args=[value], keywords=[])
        return value

    def flag(self, which: str, k: ast.expr, *, clear: bool = False) -> ast.expr:
        """Is the ``ticked`` / ``valid`` flag of element ``k`` set (``clear``: not set)?"""
        cell = self._slot(self.flag_locations[which], k)
        return ast.Compare(left=cell, ops=[ast.Eq() if clear else ast.NotEq()], comparators=[ast.Constant(0)])

    def every_flag(self, factory: VariableFactory, which: str) -> ast.expr:
        """``ticked(basket)`` (any element ticked) or ``valid(basket)`` (every element valid)."""
        fn = any_flag if which == "ticked" else all_flags
        args = [ast.Name(id=self.flag_locations[which], ctx=ast.Load()), ast.Constant(self.array_idx), ast.Constant(self.size)]
        return ast.Call(func=factory.helper(f"basket_{fn.__name__}", fn), args=args, keywords=[])


def make_source(info: NumbaFunctionInfo, entry: InputEntry, expected: Any) -> BasketSource:
    """The `BasketSource` of a basket entry of `input_layout` (``expected``: its annotation)."""
    var_type = element_type(info, entry)
    widened = info.extract_python_type_fn(entry.argument) is int and getattr(expected, "python_type", None) is float
    return BasketSource(entry.base, entry.size, var_type, entry.name, widened=widened)


# -- node code ----------------------------------------------------------------------------------
def marker_call(converter: Any, node: ast.AST, marker: Any) -> bool:
    """Is ``node`` a call of the host function ``marker`` (by whatever name the user imported it)?"""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id not in converter.locals
        and converter.globals.get(node.func.id) is marker
    )


def _basket(converter: Any, node: ast.AST) -> BasketSource | None:
    if isinstance(node, ast.Name):
        source = converter.variable(node.id)
        if isinstance(source, BasketSource):
            return source
    return None


def _usable(converter: Any, source: BasketSource, node: ast.AST) -> BasketSource:
    """``source``, after checking the code being converted runs in a phase that loads inputs."""
    category = converter.factory.categories.get(source.category)
    if category is not None and converter.phase not in category.init_filter:
        raise converter.error(
            f"basket {source.name!r} is not available here: inputs are read only in the main body",
            node,
            hint="read inputs only in the main body of the function",
        )
    return source


def _constant_index(node: ast.expr) -> int | None:
    """The value of an integer literal index (``3``, ``-1``), or None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1 if isinstance(node.op, ast.USub) else 1
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def _position(converter: Any, source: BasketSource, index: ast.expr) -> ast.expr:
    """Element index expression (``0 <= k < size``) for the user's ``source[index]``."""
    n = source.size
    literal = _constant_index(index)
    value = converter.visit(index) if literal is None else ast.Constant(literal)
    if isinstance(value, ast.Constant) and type(value.value) is int:  # literal, or a constant parameter
        k = value.value
        if not -n <= k < n:
            valid_range = f"0..{n - 1} or -{n}..-1" if n else "none: the basket is empty"
            raise converter.error(
                f"index {k} is out of range for basket {source.name!r} of {n} element(s)",
                index,
                hint=f"valid indices: {valid_range}",
            )
        return ast.Constant(k + n if k < 0 else k)
    checked = converter.require_integer(
        value, index, "a basket index must be an integer, got a {type}", f"use int({ast.unparse(index)})"
    )
    helper = converter.factory.helper("basket_index", basket_index)
    return ast.Call(func=helper, args=[checked, ast.Constant(n)], keywords=[])


def _flag_call(converter: Any, node: ast.Call, which: str) -> ast.expr | None:
    """``ticked(b)``, ``valid(b)``, ``ticked(b[i])``, ``valid(b[i])`` for a basket ``b``."""
    if len(node.args) != 1 or node.keywords:
        return None
    arg = node.args[0]
    source = _basket(converter, arg)
    if source is not None:
        return _usable(converter, source, arg).every_flag(converter.factory, which)
    if isinstance(arg, ast.Subscript):
        source = _basket(converter, arg.value)
        if source is not None:
            _usable(converter, source, arg)
            return source.flag(which, _position(converter, source, arg.slice))
    return None


def _method_error(converter: Any, source: BasketSource, node: ast.AST, method: str) -> Exception:
    if method in BASKET_METHODS:
        target = "i, v" if method.endswith("items") else "i" if method.endswith("keys") else "v"
        return converter.error(
            f"{source.name}.{method}() can only be iterated",
            node,
            hint=f"write `for {target} in {source.name}.{method}():`",
        )
    return converter.error(
        f"basket {source.name!r} has no attribute {method!r} (it has: {', '.join(BASKET_METHODS)})",
        node,
        hint=f"index it ({source.name}[i]), take len({source.name}), iterate it, or test ticked()/valid()",
    )


def _loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
    """``for v in b`` and ``for ... in b.tickeditems()`` (and the other methods): one pass over
    the element indices, skipping elements whose flag is clear, reading only the others."""
    iterable, method = node.iter, None
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute):
        if _basket(converter, iterable.func.value) is None:
            return None
        method = iterable.func.attr
        if method not in BASKET_METHODS:
            raise _method_error(converter, _basket(converter, iterable.func.value), iterable.func, method)
        if iterable.args or iterable.keywords:
            raise converter.error(f"{method}() takes no arguments", iterable)
        iterable = iterable.func.value
    source = _basket(converter, iterable)
    if source is None:
        return None
    _usable(converter, source, iterable)
    if node.orelse:
        raise converter.error("for/else is not supported in compiled code", node, "use a flag variable")
    which, yields = BASKET_METHODS[method] if method else (None, "values")
    factory = converter.factory
    k_name = factory.new_name("k")

    def k() -> ast.Name:
        return ast.Name(id=k_name, ctx=ast.Load())

    if yields == "keys":
        item: ast.expr = k()
    elif yields == "values":
        item = source.item(factory, k())
    else:
        item = ast.Tuple(elts=[k(), source.item(factory, k())], ctx=ast.Load())
    target, stores = converter.bind_target(node.target)
    body: list[ast.stmt] = []
    if which is not None:
        body.append(ast.If(test=source.flag(which, k(), clear=True), body=[ast.Continue()], orelse=[]))
    body += [ast.Assign(targets=[target], value=item), *stores, *converter.visit_block(node.body)]
    loop_range = ast.Call(func=ast.Name(id="range", ctx=ast.Load()), args=[ast.Constant(source.size)], keywords=[])
    return [ast.For(target=ast.Name(id=k_name, ctx=ast.Store()), iter=loop_range, body=body, orelse=[])]


def _is_len(converter: Any, node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Name)
        and func.id == "len"
        and func.id not in converter.locals
        and converter.variable("len") is None
        and "len" not in converter.globals
        and len(node.args) == 1
        and not node.keywords
    )


def register_basket_handlers() -> None:
    """The AST handlers lowering basket operations, into the active context (the host's
    ``register()`` calls this). They run before the host's other handlers and decline anything
    that is not a basket."""

    @ast_handler("Call", pre=True, priority=_HANDLER_PRIORITY)
    def basket_call(converter: Any, node: ast.Call) -> ast.expr | None:
        for marker, which in ((ticked, "ticked"), (valid, "valid")):
            if marker_call(converter, node, marker):
                return _flag_call(converter, node, which)
        if _is_len(converter, node):
            source = _basket(converter, node.args[0])
            return ast.Constant(source.size) if source is not None else None
        if isinstance(node.func, ast.Attribute):
            source = _basket(converter, node.func.value)
            if source is not None:
                raise _method_error(converter, source, node, node.func.attr)
        return None

    @ast_handler("Subscript", pre=True, priority=_HANDLER_PRIORITY)
    def basket_item(converter: Any, node: ast.Subscript) -> ast.expr | None:
        source = _basket(converter, node.value)
        if source is None:
            return None
        if not isinstance(node.ctx, ast.Load):
            raise converter.error(
                f"basket {source.name!r} is an input: its elements are read-only",
                node,
                hint="assign the value to a local or State[...] variable instead",
            )
        _usable(converter, source, node)
        return source.item(converter.factory, _position(converter, source, node.slice))

    @ast_handler("For", pre=True, priority=_HANDLER_PRIORITY)
    def basket_loop(converter: Any, node: ast.For) -> list[ast.stmt] | None:
        return _loop(converter, node)

    @ast_handler("Attribute", pre=True, priority=_HANDLER_PRIORITY)
    def basket_attribute(converter: Any, node: ast.Attribute) -> None:
        source = _basket(converter, node.value)
        if source is not None:
            raise _method_error(converter, source, node, node.attr)
        return None

    @ast_handler("Name", pre=True, priority=_HANDLER_PRIORITY)
    def basket_name(converter: Any, node: ast.Name) -> None:
        source = _basket(converter, node)
        if source is not None and isinstance(node.ctx, ast.Load):
            raise converter.error(
                f"basket {node.id!r} can only be used through its operations",
                node,
                hint=(
                    f"index it ({node.id}[i]), take len({node.id}), test ticked({node.id}) / valid({node.id}), "
                    f"or iterate it (for i, v in {node.id}.tickeditems():)"
                ),
            )
        return None
