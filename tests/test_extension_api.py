"""Every extension point of the seed README, each proven by a compiled node's native result."""

from __future__ import annotations

import ast
import copy
import ctypes
from dataclasses import dataclass

import llvmlite.ir
import numba
import numba.core.errors
import numba.extending
import pytest

from numba_cfunc_compiler import CompilationError, InternalCompilerError, State, host
from numba_cfunc_compiler.ast_handlers import HandlerResult, ast_handler
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.defaults import register_all
from numba_cfunc_compiler.function_analyzer import FunctionAnalyzer, InputTypeHandler, OutputTypeHandler
from numba_cfunc_compiler.helpers import helper_call, register_helper
from numba_cfunc_compiler.host import NodeRunner, Signal, compile_node
from numba_cfunc_compiler.models import OutputAnalysis, ParameterInfo, StateVariableInfo, VariableType
from numba_cfunc_compiler.numba_core import NumbaFunctionInfo, create_compiled_func
from numba_cfunc_compiler.numba_type_inference import NumbaTypeInference
from numba_cfunc_compiler.source_registry import CfuncParam, SourceCategory, SourceInitFilter, SourceRegistry
from numba_cfunc_compiler.type_factory import TypeFactory
from numba_cfunc_compiler.variable_factory import ExpressionSource, VariableSource, VoidPtrSource

from conftest import CellArray, DirectNode, compile_direct, registry_snapshot


def run_node(func, *inputs: dict, **constants) -> list:
    """Compile ``func`` with the reference host and EXECUTE it once per dict of inputs."""
    runner = NodeRunner(compile_node(func, **constants))
    runner.start()
    return [runner.execute(**values) for values in inputs]


# =============================================================================================
# TypeFactory.register
# =============================================================================================


class Celsius:
    """Annotation of a constant parameter that only registered test types understand."""


def scaled_type(factor: float, accepts: object = Celsius) -> type[VariableType]:
    """A float-backed type for ``accepts`` whose constants are baked in multiplied by ``factor``."""

    @dataclass(frozen=True)
    class Scaled(VariableType):
        def get_numba_type_name(self) -> str:
            return "float64"

        @classmethod
        def is_type_supported(cls, var_type) -> bool:
            return var_type is accepts

        def coerce_constant(self, value) -> float:
            return float(value)

        def constant_ast(self, value) -> ast.expr:
            return ast.Constant(float(value) * factor)

    return Scaled


def reads_celsius(t: Celsius) -> float:
    return t


def reads_float(v: float) -> float:
    return v


def test_registered_type_makes_its_annotation_compilable(fresh_context):
    TypeFactory.register(scaled_type(10.0))
    node = DirectNode(compile_direct(reads_celsius, 2.0))
    node.start()
    assert node.execute() == [20.0]


def test_lower_priority_type_is_tried_first(fresh_context):
    TypeFactory.register(scaled_type(10.0), priority=5)
    TypeFactory.register(scaled_type(100.0), priority=-5)
    node = DirectNode(compile_direct(reads_celsius, 2.0))
    node.start()
    assert node.execute() == [200.0]


def test_equal_priority_first_registered_wins(fresh_context):
    TypeFactory.register(scaled_type(10.0))
    TypeFactory.register(scaled_type(100.0))
    node = DirectNode(compile_direct(reads_celsius, 2.0))
    node.start()
    assert node.execute() == [20.0]


def test_declining_type_falls_through_to_the_next(fresh_context):
    TypeFactory.register(scaled_type(1000.0, accepts=object()), priority=-10)
    TypeFactory.register(scaled_type(10.0))
    node = DirectNode(compile_direct(reads_celsius, 2.0))
    node.start()
    assert node.execute() == [20.0]


def test_extension_type_is_tried_before_builtins(fresh_context):
    TypeFactory.register(scaled_type(10.0, accepts=float))
    node = DirectNode(compile_direct(reads_float, 2.0))
    node.start()
    assert node.execute() == [20.0]


def test_register_rejects_non_variable_type(fresh_context):
    before = registry_snapshot(fresh_context)
    with pytest.raises(TypeError):
        TypeFactory.register(int)
    assert registry_snapshot(fresh_context) == before


class Millis:
    """Annotation that only `MillisInput.try_parse_input` understands."""


@dataclass(frozen=True)
class MillisInput(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def try_parse_input(cls, param, ann):
        if ann is Millis:
            return ParameterInfo(expected_type=int)
        return None


def after_delay(delay: Millis) -> int:
    return delay + 1


def test_try_parse_input_hook_parses_constant_parameter(fresh_context):
    TypeFactory.register(MillisInput)
    node = DirectNode(compile_direct(after_delay, 41))
    node.start()
    assert node.execute() == [42]


def test_without_try_parse_input_hook_the_annotation_is_rejected(fresh_context):
    with pytest.raises(CompilationError):
        compile_direct(after_delay, 41)


class Persistent:
    """``n: Persistent = 10`` declares an int kept across calls (understood by a hook)."""


@dataclass(frozen=True)
class PersistentInt(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def try_parse_state(cls, node, var_name, globalns):
        ann = node.annotation
        if isinstance(ann, ast.Name) and globalns.get(ann.id) is Persistent:
            return StateVariableInfo(var_name, int, ast.literal_eval(node.value), TypeFactory.get_type(int))
        return None


def counts_up(step: int) -> int:
    n: Persistent = 10
    n += step
    return n


def test_try_parse_state_hook_declares_state(fresh_context):
    TypeFactory.register(PersistentInt)
    result = compile_direct(counts_up, 5)
    assert result.state_values == [10]
    node = DirectNode(result)
    node.start()
    assert [node.execute(), node.execute(), node.execute()] == [[15], [20], [25]]


class Palette:
    GREEN = (0, 255, 0)
    ORANGE = (255, 165, 0)


@dataclass(frozen=True)
class PaletteColour(VariableType):
    def get_numba_type_name(self) -> str:
        return "int64"

    @classmethod
    def try_lower_assignment(cls, node, rhs, call_globals):
        if isinstance(rhs, ast.Attribute) and isinstance(rhs.value, ast.Name) and call_globals.get(rhs.value.id) is Palette:
            r, g, b = getattr(Palette, rhs.attr)
            return ast.Constant((r << 16) | (g << 8) | b)
        return None


def packed_orange() -> int:
    colour = Palette.ORANGE
    return colour


def test_try_lower_assignment_hook_lowers_right_hand_side(fresh_context):
    TypeFactory.register(PaletteColour)
    result = create_compiled_func(packed_orange, extract_python_type_fn=type, call_globals={"Palette": Palette})
    node = DirectNode(result)
    node.start()
    assert node.execute() == [0xFFA500]


# =============================================================================================
# Input and output handlers, source categories
# =============================================================================================


@dataclass(frozen=True)
class FeedOf:
    python_type: type


class Feed:
    """``x: Feed[float]``: an input read from the ``feeds`` array of `FeedCategory`."""

    def __class_getitem__(cls, python_type: type) -> FeedOf:
        return FeedOf(python_type)


def feed_type(argument):
    return argument.python_type if isinstance(argument, FeedOf) else type(argument)


class FeedInputHandler(InputTypeHandler):
    def try_parse(self, param, ann):
        if isinstance(ann, FeedOf):
            return ParameterInfo(expected_type=ann.python_type, category=FeedCategory.id)
        return None

    def validate_value(self, param_name, value, expected_type):
        if not isinstance(value, FeedOf):
            raise TypeError(f"input {param_name!r} must be bound to a Feed[...], got {value!r}")
        return value


class FeedCategory(SourceCategory):
    id = "test.feed"
    order = 0
    init_filter = SourceInitFilter.ON_EXECUTE

    def __init__(self, order: int = 0) -> None:
        self.order = order

    @property
    def cfunc_params(self):
        return [CfuncParam("feeds", "void**")]

    def create_variables(self, info, factory):
        for index, (name, argument) in enumerate(info.input_analysis.get_by_category(self.id).items()):
            var_type = TypeFactory.get_type(info.extract_python_type_fn(argument))
            source = VoidPtrSource(array_idx=index, type=var_type, name=name, storage_location="feeds")
            factory.add_variable(source, category=self.id)

    def get_result_metadata(self, info):
        return {"feed_names": list(info.input_analysis.get_by_category(self.id))}


class ScaleSource(VariableSource):
    """The value of the ``scale`` cfunc parameter, visible to node code as ``SCALE``."""

    kind = "runtime parameter"

    def get(self) -> ast.expr:
        return ast.Name(id="scale", ctx=ast.Load())


class ScaleCategory(SourceCategory):
    id = "test.scale"
    order = 1
    init_filter = SourceInitFilter.ON_EXECUTE

    def __init__(self, order: int = 1) -> None:
        self.order = order

    @property
    def cfunc_params(self):
        return [CfuncParam("scale", "int64")]

    def create_variables(self, info, factory):
        factory.add_variable(ScaleSource(TypeFactory.get_type(int), "SCALE"), category=self.id)


def register_feed_extension(feed_order: int = 0, scale_order: int = 1) -> None:
    FunctionAnalyzer.register_input_handler(FeedInputHandler())
    SourceRegistry.register(FeedCategory(feed_order))
    SourceRegistry.register(ScaleCategory(scale_order))


def weighted(a: Feed[float], b: Feed[int], bias: float) -> float:
    return (a + b) * SCALE + bias  # noqa: F821 - provided by ScaleCategory


def compile_weighted():
    return create_compiled_func(weighted, a=Feed[float], b=Feed[int], bias=0.5, extract_python_type_fn=feed_type)


def test_input_handler_and_category_feed_the_node(fresh_context):
    register_feed_extension()
    result = compile_weighted()
    feeds = CellArray(2)
    feeds.set(0, "float64", 1.5)
    feeds.set(1, "int64", 2)
    node = DirectNode(result)
    node.start(feeds.pointers, 10)
    assert node.execute(feeds.pointers, 10) == [35.5]
    feeds.set(1, "int64", -4)
    assert node.execute(feeds.pointers, 3) == [-7.0]


def test_category_params_follow_the_builtin_prefix(fresh_context):
    register_feed_extension()
    result = compile_weighted()
    assert [(p.name, p.type) for p in result.cfunc_params] == [
        ("outputs", "void**"),
        ("output_ticked", "int8*"),
        ("state", "void**"),
        ("lifecycle_phase", "int8"),
        ("feeds", "void**"),
        ("scale", "int64"),
    ]
    names = ["outputs", "output_ticked", "state", "lifecycle_phase", "feeds", "scale"]
    positions = [result.signature.index(name) for name in names]
    assert positions == sorted(positions)


def test_category_order_decides_parameter_order(fresh_context):
    register_feed_extension(feed_order=7, scale_order=3)
    result = compile_weighted()
    assert [p.name for p in result.cfunc_params][4:] == ["scale", "feeds"]
    feeds = CellArray(2)
    feeds.set(0, "float64", 1.0)
    feeds.set(1, "int64", 1)
    node = DirectNode(result)
    node.start(2, feeds.pointers)
    assert node.execute(2, feeds.pointers) == [4.5]


def test_category_metadata_in_result_metadata_and_attributes(fresh_context):
    register_feed_extension()
    result = compile_weighted()
    assert result.metadata["feed_names"] == ["a", "b"]
    assert result.feed_names == ["a", "b"]


def test_input_handler_validate_value_rejects_argument(fresh_context):
    register_feed_extension()
    with pytest.raises(CompilationError, match="Feed"):
        create_compiled_func(weighted, a=1.0, b=Feed[int], bias=0.5, extract_python_type_fn=feed_type)


class MyCategory(SourceCategory):
    """The README's example category: a ``void* my_runtime_ctx`` parameter, here pointing at a
    double that node code reads as ``CTX_GAIN``."""

    id = "my.category"
    order = 0
    init_filter = SourceInitFilter.ON_EXECUTE

    @property
    def cfunc_params(self):
        return [CfuncParam("my_runtime_ctx", "voidptr")]

    def create_variables(self, info, factory):
        factory.add_variable(RuntimeCtxValue(TypeFactory.get_type(float), "CTX_GAIN", factory), category=self.id)


class RuntimeCtxValue(VariableSource):
    """The double ``my_runtime_ctx`` points at."""

    kind = "runtime context value"

    def __init__(self, type, name, factory) -> None:
        super().__init__(type, name)
        self.factory = factory

    def get(self) -> ast.expr:
        pointer = self.factory.typed_pointer(ast.Name(id="my_runtime_ctx", ctx=ast.Load()), self.type)
        return ast.Subscript(value=pointer, slice=ast.Constant(0), ctx=ast.Load())


def gained(x: float) -> float:
    return x * CTX_GAIN  # noqa: F821 - provided by MyCategory


def test_readme_category_with_a_voidptr_runtime_context(fresh_context):
    SourceRegistry.register(MyCategory())
    result = compile_direct(gained, 4.0)
    assert [p.name for p in result.cfunc_params] == ["outputs", "output_ticked", "state", "lifecycle_phase", "my_runtime_ctx"]
    gain = ctypes.c_double(2.5)
    node = DirectNode(result)
    node.start(ctypes.addressof(gain))
    assert node.execute(ctypes.addressof(gain)) == [10.0]
    gain.value = -1.0
    assert node.execute(ctypes.addressof(gain)) == [-4.0]


class Gauge:
    """Return annotation understood by `GaugeOutputHandler`: one float output."""


class GaugeOutputHandler(OutputTypeHandler):
    def try_parse(self, return_annotation, ast_tree):
        if return_annotation is Gauge:
            return OutputAnalysis(output_types=[float])
        return None


def gauge(v: int) -> Gauge:
    return v / 4


def test_output_handler_defines_outputs(fresh_context):
    FunctionAnalyzer.register_output_handler(GaugeOutputHandler())
    result = compile_direct(gauge, 3)
    assert result.output_types == [float]
    node = DirectNode(result)
    node.start()
    assert node.execute() == [0.75]


def test_without_output_handler_the_annotation_is_rejected(fresh_context):
    with pytest.raises(CompilationError):
        compile_direct(gauge, 3)


class NamedCategory(SourceCategory):
    def __init__(self, id: str, order: int, params=()) -> None:
        self.id = id
        self.order = order
        self._params = list(params)

    @property
    def cfunc_params(self):
        return self._params


def test_duplicate_category_order_is_rejected(fresh_context):
    SourceRegistry.register(NamedCategory("test.first", 5))
    before = registry_snapshot(fresh_context)
    with pytest.raises(ValueError):
        SourceRegistry.register(NamedCategory("test.second", 5))
    assert registry_snapshot(fresh_context) == before


def test_category_order_of_a_builtin_is_rejected(fresh_context):
    used = {c.order for c in fresh_context.source_categories.values()}
    with pytest.raises(ValueError):
        SourceRegistry.register(NamedCategory("test.clash", min(used)))


def test_duplicate_category_id_is_rejected(fresh_context):
    SourceRegistry.register(NamedCategory("test.same", 5))
    before = registry_snapshot(fresh_context)
    with pytest.raises(ValueError):
        SourceRegistry.register(NamedCategory("test.same", 6))
    assert registry_snapshot(fresh_context) == before


def test_duplicate_cfunc_parameter_name_is_rejected(fresh_context):
    with pytest.raises(ValueError):
        SourceRegistry.register(NamedCategory("test.params", 5, [CfuncParam("state", "voidptr")]))


# =============================================================================================
# @ast_handler: one compiled node per supported node type
# =============================================================================================


def triple(v):
    raise AssertionError("lowered at compile time")


def emit(v):
    raise AssertionError("lowered at compile time")


def countdown(n):
    raise AssertionError("lowered at compile time")


class _Squares:
    """``SQUARES[v]`` is lowered to ``v * v``."""


SQUARES = _Squares()


def _binop(left, op, right):
    return ast.BinOp(left=left, op=op, right=right)


def uses_triple(x: Signal[int]) -> Signal[int]:
    return triple(x) + 1


def test_call_handler_lowers_a_call(host_context):
    @ast_handler("Call", pre=True, priority=5)
    def lower_triple(converter, node):
        if isinstance(node.func, ast.Name) and converter.globals.get(node.func.id) is triple:
            return _binop(converter.visit(node.args[0]), ast.Mult(), ast.Constant(3))
        return None

    assert run_node(uses_triple, {"x": 4}, {"x": -2}) == [13, -5]


def uses_triple_twice(x: Signal[int]) -> Signal[int]:
    return triple(x) + triple(x + 1)


def test_handlers_share_per_conversion_state(host_context):
    made = []

    @ast_handler("Call", pre=True, priority=5)
    def lower_triple(converter, node):
        if isinstance(node.func, ast.Name) and converter.globals.get(node.func.id) is triple:
            calls = converter.extension_state("test.calls", lambda: made.append(converter) or [])
            calls.append(node)
            return _binop(converter.visit(node.args[0]), ast.Mult(), ast.Constant(3 * len(calls)))
        return None

    assert run_node(uses_triple_twice, {"x": 4}) == [4 * 3 + 5 * 6]
    assert len(made) == 1  # one state for the whole conversion, made on first use
    compile_node(uses_triple)
    assert len(made) == 2 and made[0] is not made[1]  # a new conversion gets its own


def uses_emit(x: Signal[int]) -> Signal[int]:
    if x > 0:
        emit(x * 10)


def test_expr_handler_lowers_a_statement(host_context):
    @ast_handler("Expr", pre=True)
    def lower_emit(converter, node):
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and converter.globals.get(call.func.id) is emit:
            return converter.factory.outputs[0].set(converter.visit(call.args[0]))
        return None

    assert run_node(uses_emit, {"x": 2}, {"x": -1}) == [20, None]


def uses_return(x: Signal[int]) -> Signal[int]:
    return x


def test_return_handler_rewrites_the_returned_value(host_context):
    @ast_handler("Return", pre=True)
    def clamp_at_zero(converter, node):
        if node.value is None:
            return None
        value = ast.Call(func=ast.Name(id="max", ctx=ast.Load()), args=[converter.visit(node.value), ast.Constant(0)], keywords=[])
        return converter.factory.outputs[0].set(value) + [ast.Return(value=None)]

    assert run_node(uses_return, {"x": -5}, {"x": 7}) == [0, 7]


def uses_assign(x: Signal[int]) -> Signal[int]:
    y = x + 1
    return y


def test_assign_post_handler_appends_to_the_result(host_context):
    @ast_handler("Assign", post=True)
    def double_y(converter, original_node, result):
        target = original_node.targets[0]
        if isinstance(target, ast.Name) and target.id == "y":
            statements = result if isinstance(result, list) else [result]
            doubled = _binop(ast.Name(id="y", ctx=ast.Load()), ast.Mult(), ast.Constant(2))
            return [*statements, ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=doubled)]
        return result

    assert run_node(uses_assign, {"x": 4}) == [10]


def uses_augassign(x: Signal[int]) -> Signal[int]:
    total: State[int] = 0
    total -= x
    return total


def test_augassign_handler_changes_the_operator(host_context):
    @ast_handler("AugAssign", pre=True)
    def subtraction_adds(converter, node):
        if isinstance(node.op, ast.Sub):
            added = ast.copy_location(ast.AugAssign(target=node.target, op=ast.Add(), value=node.value), node)
            return converter.visit(added)
        return None

    assert run_node(uses_augassign, {"x": 3}, {"x": 4}) == [3, 7]


def uses_subscript(x: Signal[int]) -> Signal[int]:
    return SQUARES[x]


def test_subscript_handler_lowers_an_index(host_context):
    @ast_handler("Subscript", pre=True)
    def lower_squares(converter, node):
        if isinstance(node.value, ast.Name) and converter.globals.get(node.value.id) is SQUARES:
            index = converter.visit(node.slice)
            return _binop(index, ast.Mult(), copy.deepcopy(index))
        return None

    assert run_node(uses_subscript, {"x": 7}, {"x": -3}) == [49, 9]


def uses_attribute(x: Signal[float]) -> Signal[float]:
    return x.doubled


def test_attribute_handler_lowers_an_attribute(host_context):
    @ast_handler("Attribute", pre=True)
    def lower_doubled(converter, node):
        if node.attr == "doubled" and isinstance(node.value, ast.Name) and converter.variable(node.value.id) is not None:
            return _binop(converter.visit(node.value), ast.Mult(), ast.Constant(2.0))
        return None

    assert run_node(uses_attribute, {"x": 1.25}) == [2.5]


def uses_compare(a: Signal[float], b: Signal[float]) -> Signal[bool]:
    return a == b


def test_compare_handler_makes_equality_approximate(host_context):
    @ast_handler("Compare", pre=True)
    def approximately_equal(converter, node):
        if len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            diff = _binop(converter.visit(node.left), ast.Sub(), converter.visit(node.comparators[0]))
            magnitude = ast.Call(func=ast.Name(id="abs", ctx=ast.Load()), args=[diff], keywords=[])
            return ast.Compare(left=magnitude, ops=[ast.Lt()], comparators=[ast.Constant(1e-9)])
        return None

    assert run_node(uses_compare, {"a": 0.1 + 0.2, "b": 0.3}, {"a": 1.0, "b": 2.0}) == [True, False]


def uses_for(x: Signal[int]) -> Signal[int]:
    total = 0
    for i in countdown(x):
        total = total * 10 + i
    return total


def test_for_handler_with_side_effects(host_context):
    @ast_handler("For", pre=True)
    def lower_countdown(converter, node):
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and converter.globals.get(it.func.id) is countdown:
            rng = ast.Call(
                func=ast.Name(id="range", ctx=ast.Load()),
                args=[it.args[0], ast.Constant(0), ast.Constant(-1)],
                keywords=[],
            )
            loop = ast.For(target=node.target, iter=rng, body=node.body, orelse=[])
            setup = ast.Assign(targets=[ast.Name(id="total", ctx=ast.Store())], value=ast.Constant(1000))
            return HandlerResult(node=converter.generic_visit(loop), side_effects=[setup])
        return None

    assert run_node(uses_for, {"x": 3}) == [1000321]


def uses_name(x: Signal[int]) -> Signal[int]:
    return x + ANSWER  # noqa: F821 - lowered by a Name handler


def _answer_handler(value, calls=None):
    def handler(converter, node):
        if calls is not None:
            calls.append(value)
        if node.id == "ANSWER" and isinstance(node.ctx, ast.Load):
            return None if value is None else ast.Constant(value)
        return None

    return handler


def test_name_handler_lowers_a_name(host_context):
    ast_handler("Name", pre=True)(_answer_handler(42))
    assert run_node(uses_name, {"x": 1}) == [43]


def test_lower_priority_handler_runs_first(host_context):
    ast_handler("Name", pre=True, priority=5)(_answer_handler(1))
    ast_handler("Name", pre=True, priority=-5)(_answer_handler(2))
    assert run_node(uses_name, {"x": 10}) == [12]


def test_first_non_none_pre_handler_wins(host_context):
    calls: list = []
    ast_handler("Name", pre=True, priority=-10)(_answer_handler(None, calls))
    ast_handler("Name", pre=True, priority=0)(_answer_handler(7, calls))
    ast_handler("Name", pre=True, priority=10)(_answer_handler(9, calls))
    assert run_node(uses_name, {"x": 10}) == [17]
    assert None in calls and 7 in calls


def test_post_handlers_chain_in_priority_order(host_context):
    def wrap(op, constant):
        def post(converter, original_node, result):
            if original_node.id == "x" and isinstance(original_node.ctx, ast.Load):
                return _binop(result, op, ast.Constant(constant))
            return result

        return post

    ast_handler("Name", post=True, priority=1)(wrap(ast.Mult(), 10))
    ast_handler("Name", post=True, priority=0)(wrap(ast.Add(), 1))
    assert run_node(uses_return, {"x": 2}) == [30]


def test_unsupported_node_type_fails_at_registration(host_context):
    before = registry_snapshot(host_context)
    with pytest.raises(ValueError):

        @ast_handler("While", pre=True)
        def handler(converter, node):
            return None

    assert registry_snapshot(host_context) == before


def test_wrong_arity_pre_handler_fails_at_registration(host_context):
    before = registry_snapshot(host_context)
    with pytest.raises(TypeError):

        @ast_handler("Call", pre=True)
        def handler(converter):
            return None

    assert registry_snapshot(host_context) == before


def test_wrong_arity_post_handler_fails_at_registration(host_context):
    before = registry_snapshot(host_context)
    with pytest.raises(TypeError):

        @ast_handler("Call", post=True)
        def handler(converter, node):
            return None

    assert registry_snapshot(host_context) == before


# =============================================================================================
# NumbaTypeInference
# =============================================================================================


def squared_accessor(inference, base_var, attr_name, args):
    if attr_name == "squared" and base_var.type is not None:
        product = _binop(base_var.get(), ast.Mult(), base_var.get())
        return ExpressionSource(base_var.type, product, inference.variable_factory)
    return None


def transform_handler(inference, base_var, method_name, args):
    if method_name == "transform" and base_var.type is not None and len(args) == 1:
        value = _binop(_binop(base_var.get(), ast.Mult(), args[0]), ast.Add(), ast.Constant(1))
        return ExpressionSource(base_var.type, value, inference.variable_factory)
    return None


class MyConsts:
    X = 7
    Y = 2.5


def lower_my_consts(node, globalns, variable_factory):
    if isinstance(node.value, ast.Name) and globalns.get(node.value.id) is MyConsts:
        return ast.Constant(getattr(MyConsts, node.attr))
    return None


def uses_squared(x: Signal[float]) -> Signal[float]:
    return x.squared + 1.0


def uses_transform(x: Signal[int], k: int) -> Signal[int]:
    return x.transform(k)


def uses_chain(x: Signal[int]) -> Signal[int]:
    return x.transform(2).squared


def uses_consts(x: Signal[int]) -> Signal[float]:
    return x * MyConsts.X + MyConsts.Y


def test_attr_accessor_resolves_an_attribute(host_context):
    NumbaTypeInference.register_attr_accessor(squared_accessor)
    assert run_node(uses_squared, {"x": 3.0}) == [10.0]


def test_call_handler_resolves_a_method_call(host_context):
    NumbaTypeInference.register_call_handler(transform_handler)
    assert run_node(uses_transform, {"x": 5}, k=3) == [16]


def test_method_call_chain_resolves_through_both_hooks(host_context):
    NumbaTypeInference.register_call_handler(transform_handler)
    NumbaTypeInference.register_attr_accessor(squared_accessor)
    assert run_node(uses_chain, {"x": 3}) == [49]


def test_attr_lowerer_turns_class_attribute_into_constant(host_context):
    NumbaTypeInference.register_attr_lowerer(lower_my_consts)
    assert run_node(uses_consts, {"x": 2}) == [16.5]


def test_type_inference_hooks_check_arity_at_registration(host_context):
    before = registry_snapshot(host_context)
    with pytest.raises(TypeError):
        NumbaTypeInference.register_attr_accessor(lambda inference, base_var: None)
    with pytest.raises(TypeError):
        NumbaTypeInference.register_call_handler(lambda inference: None)
    with pytest.raises(TypeError):
        NumbaTypeInference.register_attr_lowerer(lambda node, globalns: None)
    assert registry_snapshot(host_context) == before


# =============================================================================================
# register_helper / helper_call: one helper namespace, open to every extension
# =============================================================================================


@numba.extending.intrinsic
def percent_to_fraction(typingctx, value):
    """A third-party intrinsic: a percentage as a fraction (``value / 100``)."""
    if not isinstance(value, numba.types.Float):
        raise numba.core.errors.TypingError(f"expected a float, got {value}")

    def codegen(context, builder, signature, args):
        return builder.fdiv(args[0], llvmlite.ir.DoubleType()(100.0))

    return numba.types.float64(value), codegen


class Percent(float):
    """A percentage: ``Percent(25)`` is stored as 25.0, node code sees 0.25."""


@dataclass(frozen=True)
class PercentType(VariableType):
    def get_numba_type_name(self) -> str:
        return "float64"

    @classmethod
    def is_type_supported(cls, var_type) -> bool:
        return var_type is Percent

    def coerce_constant(self, value) -> float:
        return float(value)

    def constant_ast(self, value) -> ast.expr:
        return helper_call(percent_to_fraction, ast.Constant(float(value)))

    def from_cell(self, cell: ast.expr) -> ast.expr:
        return helper_call(percent_to_fraction, cell)

    def to_cell(self, value: ast.expr) -> ast.expr:
        return ast.BinOp(left=value, op=ast.Mult(), right=ast.Constant(100.0))


def register_percent() -> None:
    """The extension's register(): its helper and its type, both into the active context."""
    register_helper("percent_to_fraction", percent_to_fraction)
    TypeFactory.register(PercentType)


def with_floor(floor: Percent) -> float:
    level: State[Percent] = Percent(25)  # START writes constant_ast(25) through to_cell
    return level + floor  # level is read with from_cell, floor baked in with constant_ast


def test_extension_helper_reached_from_type_hooks_through_the_entry_point(fresh_context):
    register_percent()
    result = compile_direct(with_floor, Percent(50))
    assert "_ncc_percent_to_fraction(50.0)" in result.transformed_source
    node = DirectNode(result)
    node.start()
    assert node.state.get(0, "float64") == 25.0
    assert node.execute() == [0.75]
    node.state.set(0, "float64", 10.0)
    assert node.execute() == [0.6]


def test_register_helper_uses_a_reserved_name_and_rejects_a_rebinding(fresh_context):
    assert register_helper("percent_to_fraction", percent_to_fraction) == "_ncc_percent_to_fraction"
    assert register_helper("percent_to_fraction", percent_to_fraction) == "_ncc_percent_to_fraction"
    assert fresh_context.helpers["_ncc_percent_to_fraction"] is percent_to_fraction
    with pytest.raises(ValueError, match="already bound"):
        register_helper("percent_to_fraction", abs)
    with pytest.raises(ValueError, match="already bound"):
        register_helper("as_datetime", percent_to_fraction)  # a built-in's name is taken like any other
    with pytest.raises(ValueError):
        register_helper("not a name", abs)
    call = helper_call("percent_to_fraction", ast.Constant(1.0))
    assert ast.unparse(call) == "_ncc_percent_to_fraction(1.0)"


def test_helper_call_needs_a_registered_helper(fresh_context):
    with pytest.raises(ValueError, match="register_helper"):
        helper_call(percent_to_fraction, ast.Constant(1.0))
    with fresh_context.derive() as child:
        register_helper("percent_to_fraction", percent_to_fraction)
        assert ast.unparse(helper_call(percent_to_fraction)) == "_ncc_percent_to_fraction()"
        with child.derive():  # derive() copies the helpers
            assert ast.unparse(helper_call(percent_to_fraction)) == "_ncc_percent_to_fraction()"
    assert "_ncc_percent_to_fraction" not in fresh_context.helpers


def test_without_its_helper_the_type_hook_fails_at_conversion(fresh_context):
    TypeFactory.register(PercentType)
    with pytest.raises(InternalCompilerError, match="register_helper") as info:
        compile_direct(with_floor, Percent(50))
    assert info.value.stage == "AST conversion"
    assert "PercentType" in info.value.extension  # the extension's bug, named
    assert isinstance(info.value.__cause__, ValueError)


# =============================================================================================
# Signal processors and result metadata
# =============================================================================================


class CustomDataCategory(SourceCategory):
    """Reports what signal processors left on the function info."""

    id = "test.custom_data"
    order = 50

    def get_result_metadata(self, info):
        return {"custom_data": getattr(info, "custom_data", None)}


def two_inputs(a: Signal[float], b: Signal[int], k: int) -> Signal[float]:
    return a + b * k


def test_signal_processor_runs_once_per_non_constant_input(host_context):
    calls = []
    NumbaFunctionInfo.register_signal_processor(lambda variable, argument, info: calls.append((variable, argument, info)))
    assert run_node(two_inputs, {"a": 0.5, "b": 2}, k=3) == [6.5]
    assert [variable.name for variable, _, _ in calls] == ["a", "b"]
    assert [argument for _, argument, _ in calls] == [Signal[float], Signal[int]]
    assert all(isinstance(info, NumbaFunctionInfo) and info.name == "two_inputs" for _, _, info in calls)


def test_signal_processor_sees_the_created_variables(host_context):
    seen = []

    def processor(variable, signal_obj, function_info):
        seen.append((type(variable), variable.category, variable.array_idx))

    NumbaFunctionInfo.register_signal_processor(processor)
    compile_node(two_inputs, k=3)
    assert seen == [(VoidPtrSource, "signal", 0), (VoidPtrSource, "signal", 1)]


def test_signal_processor_data_reaches_result_metadata(host_context):
    SourceRegistry.register(CustomDataCategory())

    def my_processor(variable, signal_obj, function_info):
        names = getattr(function_info, "custom_data", ())
        function_info.custom_data = (*names, f"{variable.name}:{signal_obj.python_type.__name__}")

    NumbaFunctionInfo.register_signal_processor(my_processor)
    result = compile_node(two_inputs, k=3)
    assert result.metadata["custom_data"] == ("a:float", "b:int")
    assert result.custom_data == ("a:float", "b:int")


def test_signal_processor_checks_arity_at_registration(host_context):
    with pytest.raises(TypeError):
        NumbaFunctionInfo.register_signal_processor(lambda variable, argument: None)


# =============================================================================================
# Scoping of registrations
# =============================================================================================


def test_registrations_are_gone_after_the_context_exits(host_context):
    before = registry_snapshot(host_context)
    with CompilationContext():
        register_all()
        host.register()
        ast_handler("Name", pre=True)(_answer_handler(42))
        NumbaTypeInference.register_attr_lowerer(lower_my_consts)
        TypeFactory.register(MillisInput)
        assert run_node(uses_name, {"x": 1}) == [43]
    assert registry_snapshot(host_context) == before
    with pytest.raises(CompilationError, match="ANSWER"):
        compile_node(uses_name)
