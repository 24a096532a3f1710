"""The compile side of the csp integration: what node code written for csp means, registered with
the public extension API only (input and output handlers, a source category, AST handlers, FFI
declarations and entry adapters).

- ``x: ts[T]`` (``T`` int, float or bool) is an input of the category ``csp.inputs``. The node
  takes one more parameter, ``csp_node: void*`` (csp's node object), and reading ``x`` calls csp's
  exported accessor ``__csp_get_node_<T>_value__(csp_node, index)``: no value is copied into a
  cell first. ``csp.ticked(x, ...)``, ``csp.valid(x, ...)``, ``csp.make_passive(x)`` and
  ``csp.make_active(x)`` call ``__csp_numba_node_ticked__`` and the others the same way.
- ``-> ts[T]`` is one output (``return value`` or ``csp.output(value)``); ``-> csp.Outputs(a=ts[T],
  ...)`` named outputs written by ``csp.output(a=..., b=...)`` or ``return csp.output(...)``. Outputs
  are the built-in output cells; the ``csp_execute`` entry adapter ticks them into csp with
  ``__csp_return_<T>_value__`` after the node returned without a fault.
- ``with csp.start():`` / ``with csp.stop():`` blocks run in START / STOP (`split_lifecycle_blocks`).

csp's accessors are declared in `accessors`; `register` makes them resolvable for the JIT.
"""

from __future__ import annotations

import ast
import copy
import inspect
from typing import TYPE_CHECKING, Any, Callable

import csp
from csp.impl.types import tstype

from ...ast_handlers import ast_handler
from ...compilation_context import CompilationContext
from ...errors import CompilationError
from ...function_analyzer import FunctionAnalyzer, InputTypeHandler, NumbaFunctionInfo, OutputTypeHandler, UserFunction
from ...models import OutputAnalysis, ParameterInfo, ValueSlot
from ...source_registry import CfuncParam, SourceCategory, SourceInitFilter, SourceRegistry
from ...type_factory import TypeFactory
from ...utils.ffi import FFIFunction
from ...variable_factory import VariableFactory, VariableSource
from .accessors import MAKE_ACTIVE, MAKE_PASSIVE, NODE_PARAM, TICKED, VALID, VALUE_TYPES, getter, publish_symbols
from .adapters import register_adapters

if TYPE_CHECKING:
    from ...numba_core import CompilationOptions, CompilationResult

__all__ = ["CATEGORY", "CspInputSource", "compile_csp_node", "is_registered", "register", "resolved_signature", "split_lifecycle_blocks"]

CATEGORY = "csp.inputs"
_MARKER = "numba_cfunc_compiler.contrib.csp"
_DECORATOR = "@compiled_node"


# -- annotations ----------------------------------------------------------------------------------


def _is_concrete(python_type: Any) -> bool:
    return isinstance(python_type, type)


class TsInputHandler(InputTypeHandler):
    """``x: ts[T]`` parameters are inputs of the ``csp.inputs`` category. They are bound to
    ``ts[U]``, the type of the edge csp wires to them: ``U`` is ``T``, or int for a float input
    (csp allows it; the value is widened), or anything for a generic ``ts['T']``."""

    def try_parse(self, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        if tstype.isTsType(ann):
            return ParameterInfo(expected_type=ann.typ, category=CATEGORY)
        if isinstance(ann, (list, dict)) or tstype.isTsBasket(ann):  # `[ts[T]]`, `{K: ts[T]}`: rejected at the line by the category
            return ParameterInfo(expected_type=ann, category=CATEGORY, extra={"basket": True})
        return None

    def validate_value(self, param_name: str, value: Any, expected_type: Any) -> Any:
        if not tstype.isTsType(value):
            raise TypeError(f"input {param_name!r} must be bound to a ts[...] type, got {value!r}")
        actual = value.typ
        if not _is_concrete(expected_type) or actual is expected_type or (actual is int and expected_type is float):
            return value
        raise TypeError(f"input {param_name!r} is declared ts[{_type_name(expected_type)}] but receives ts[{_type_name(actual)}]")


def _type_name(python_type: Any) -> str:
    return getattr(python_type, "__name__", str(python_type))


def _output_annotations(ann: Any) -> dict[Any, Any] | None:
    """The ``name -> ts[T]`` items of a ``csp.Outputs`` return annotation (``None`` as the name of
    a single unnamed output), or None if ``ann`` is not one."""
    if isinstance(ann, type) and issubclass(ann, csp.Outputs) and ann is not csp.Outputs:
        return {k: v for k, v in ann.__annotations__.items() if k != "__annotations__"}
    return None


class TsOutputHandler(OutputTypeHandler):
    """``-> ts[T]`` is one output; ``-> csp.Outputs(a=ts[T], ...)`` named outputs."""

    def try_parse(self, return_annotation: Any, ast_tree: ast.FunctionDef) -> OutputAnalysis | None:
        if tstype.isTsType(return_annotation):
            return OutputAnalysis(output_types=[return_annotation.typ])
        items = _output_annotations(return_annotation)
        if not items or not all(tstype.isTsType(t) for t in items.values()):
            return None
        types = [t.typ for t in items.values()]
        if list(items) == [None]:
            return OutputAnalysis(output_types=types)
        return OutputAnalysis(output_types=types, named_outputs=[str(name) for name in items])


# -- inputs ---------------------------------------------------------------------------------------


def _node() -> ast.Name:
    return ast.Name(id=NODE_PARAM, ctx=ast.Load())


class CspInputSource(VariableSource):
    """A ``ts[T]`` input: each read calls csp's accessor (declared pure, so LLVM reads it once per
    EXECUTE however often the code names it). ``array_idx`` is csp's input index."""

    kind = "input"

    def __init__(self, array_idx: int, type: Any, name: str, accessor: ast.Name, widened: bool) -> None:
        super().__init__(type, name)
        self.array_idx = array_idx
        self.accessor = accessor
        self.widened = widened

    def get(self) -> ast.expr:
        call = ast.Call(func=copy.copy(self.accessor), args=[_node(), ast.Constant(self.array_idx)], keywords=[])
        if self.widened:  # an int edge into a float input
            return ast.Call(func=ast.Name(id="float", ctx=ast.Load()), args=[call], keywords=[])
        return self.type.from_cell(call)


def _accessor(factory: VariableFactory, info: NumbaFunctionInfo, fn: FFIFunction) -> ast.Name:
    """``fn`` callable from generated code; a pure one's declaration gets ``readonly nounwind``."""
    if fn.pure:
        info.pure_functions.add(fn.name)
    return factory.helper(fn.name.strip("_"), fn.external)


class CspInputCategory(SourceCategory):
    """The ``csp_node: void*`` parameter and one `CspInputSource` per ``ts[T]`` input."""

    id = CATEGORY
    order = 40
    init_filter = SourceInitFilter.ON_EXECUTE

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return [CfuncParam(NODE_PARAM, "void*")]

    def create_variables(self, info: NumbaFunctionInfo, factory: VariableFactory) -> None:
        for name, python_type in zip(info.output_analysis.names(), info.output_analysis.output_types):
            if python_type not in VALUE_TYPES:
                raise info.error(
                    f"output {name!r} is ts[{_type_name(python_type)}]: csp {csp.__version__} exports "
                    "output accessors for int, float and bool only",
                    info.funcdef.returns,
                    hint="output an int, float or bool",
                )
        params = info.input_analysis.parameters
        for index, (name, argument) in enumerate(info.input_analysis.get_by_category(self.id).items()):
            if params[name].extra.get("basket"):
                raise info.error(
                    f"input {name!r} is a basket: compiled csp nodes take single ts[...] inputs",
                    info.parameter_node(name),
                    hint="give each time series its own parameter",
                )
            actual = info.extract_python_type_fn(argument)
            if actual not in VALUE_TYPES:
                raise info.error(
                    f"input {name!r} is ts[{_type_name(actual)}]: csp {csp.__version__} exports input "
                    "accessors for int, float and bool only",
                    info.parameter_node(name),
                    hint="convert the time series to int, float or bool before this node",
                )
            widened = actual is int and params[name].expected_type is float
            var_type = TypeFactory.get_type(float if widened else actual)
            accessor = _accessor(factory, info, getter(actual))
            factory.add_variable(CspInputSource(index, var_type, name, accessor, widened), category=self.id)

    def input_slots(self, info: NumbaFunctionInfo) -> list[ValueSlot]:
        inputs = info.input_analysis.get_by_category(self.id)
        return [TypeFactory.get_type(info.extract_python_type_fn(arg)).value_slot(name) for name, arg in inputs.items()]

    def get_result_metadata(self, info: NumbaFunctionInfo) -> dict[str, Any]:
        inputs = info.input_analysis.get_by_category(self.id)
        return {"csp_input_types": [info.extract_python_type_fn(arg) for arg in inputs.values()]}


# -- node code: csp.ticked / valid / make_passive / make_active / output ------------------------

#: csp builtins a compiled node lowers: the accessor each calls, and how several inputs combine.
_FLAG_CALLS = {"ticked": (TICKED, ast.Or), "valid": (VALID, ast.And), "make_passive": (MAKE_PASSIVE, None), "make_active": (MAKE_ACTIVE, None)}
_NOT_AVAILABLE = {
    "now": "csp 0.19.1 exports no accessor for the engine time",
    "output": "csp.output(...) is a statement",
}


def _csp_builtin(converter: Any, func: ast.expr) -> str | None:
    """The name of the csp builtin function ``func`` names (``csp.ticked``, or ``ticked`` imported
    from csp), or None."""
    target = converter.resolve_global(func)
    module = getattr(target, "__module__", None) or ""
    if callable(target) and module.startswith("csp.") and getattr(csp, getattr(target, "__name__", ""), None) is target:
        return target.__name__
    return None


def _input_index(converter: Any, arg: ast.expr, fn_name: str) -> int:
    source = converter.variable(arg.id) if isinstance(arg, ast.Name) else None
    if not isinstance(source, CspInputSource):
        raise converter.error(f"csp.{fn_name}() takes ts[...] inputs of this node", arg, hint=f"write csp.{fn_name}(x) for an input x")
    return source.array_idx


def _lower_flags(converter: Any, node: ast.Call, name: str) -> ast.expr:
    fn, combine = _FLAG_CALLS[name]
    # STOP is called from Python, without csp's node; START has it, but no input has ticked yet
    allowed = SourceInitFilter.ON_EXECUTE | (SourceInitFilter.ON_START if combine is None else SourceInitFilter.ON_EXECUTE)
    if not converter.phase & allowed:
        where = "the main body or a start block" if combine is None else "the main body"
        raise converter.error(f"csp.{name}() can only be used in {where}", node, hint="move it to the main body")
    if node.keywords or not node.args or (combine is None and len(node.args) != 1):
        what = "one input" if combine is None else "one or more inputs"
        raise converter.error(f"csp.{name}() takes {what}", node, hint=f"write csp.{name}(x)")
    accessor = _accessor(converter.factory, converter.info, fn)
    tests = [
        ast.Compare(
            left=ast.Call(func=copy.copy(accessor), args=[_node(), ast.Constant(_input_index(converter, a, name))], keywords=[]),
            ops=[ast.NotEq()],
            comparators=[ast.Constant(0)],
        )
        for a in node.args
    ]
    return tests[0] if len(tests) == 1 else ast.BoolOp(op=combine(), values=tests)


def _lower_output(converter: Any, call: ast.Call) -> list[ast.stmt]:
    """``csp.output(value)`` or ``csp.output(a=..., b=...)``: write the output cells."""
    if converter.phase != SourceInitFilter.ON_EXECUTE:
        raise converter.error("csp.output(...) cannot run in a start or stop block", call, hint="output in the main body")
    outputs = converter.factory.outputs
    if call.args:
        if len(call.args) != 1 or call.keywords or len(outputs) != 1 or converter.info.output_analysis.named_outputs:
            raise converter.error("csp.output(value) needs exactly one unnamed output", call, hint="name the output: csp.output(a=...)")
        return outputs[0].set(converter.visit(call.args[0]))
    if not call.keywords:
        raise converter.error("csp.output() needs a value", call, hint="write csp.output(name=value)")
    stmts: list[ast.stmt] = []
    for kw in call.keywords:
        target = converter.factory.output(kw.arg) if kw.arg else None
        if target is None:
            names = ", ".join(o.name for o in outputs) or "none"
            raise converter.error(f"unknown output {kw.arg!r} (outputs: {names})", kw)
        stmts += target.set(converter.visit(kw.value))
    return stmts


def _register_handlers() -> None:
    @ast_handler("Call", pre=True)
    def lower_csp_call(converter: Any, node: ast.Call) -> ast.expr | None:
        name = _csp_builtin(converter, node.func)
        if name is None:
            return None
        if name in _FLAG_CALLS:
            return _lower_flags(converter, node, name)
        reason = _NOT_AVAILABLE.get(name, "it is not supported in compiled nodes")
        hint = "write csp.output(name=value) on its own line" if name == "output" else "use a Python @csp.node for this"
        raise converter.error(f"csp.{name}() cannot be compiled: {reason}", node, hint=hint)

    @ast_handler("Expr", pre=True)
    def lower_output_statement(converter: Any, node: ast.Expr) -> list[ast.stmt] | None:
        if isinstance(node.value, ast.Call) and _csp_builtin(converter, node.value.func) == "output":
            return _lower_output(converter, node.value)
        return None

    @ast_handler("Return", pre=True)
    def lower_return_output(converter: Any, node: ast.Return) -> list[ast.stmt] | None:
        if isinstance(node.value, ast.Call) and _csp_builtin(converter, node.value.func) == "output":
            return [*_lower_output(converter, node.value), ast.Return(value=None)]
        return None


# -- with csp.start() / csp.stop() ----------------------------------------------------------------

_BLOCK_HINTS = {
    "state": "declare state as `name: State[T] = initial` in the body",
    "alarms": "alarms are not supported in compiled nodes; use a Python @csp.node",
}


def _block_name(stmt: ast.stmt, user: UserFunction) -> str | None:
    """``"start"``, ``"stop"``, ... for a ``with csp.<name>():`` statement, else None."""
    if not isinstance(stmt, ast.With) or len(stmt.items) != 1:
        return None
    expr = stmt.items[0].context_expr
    if not isinstance(expr, ast.Call) or expr.args or expr.keywords or stmt.items[0].optional_vars is not None:
        return None
    target: Any = None
    chain: list[str] = []
    func: ast.expr = expr.func
    while isinstance(func, ast.Attribute):
        chain.insert(0, func.attr)
        func = func.value
    if isinstance(func, ast.Name) and func.id in user.func_globals:
        target = user.func_globals[func.id]
        for attr in chain:
            target = getattr(target, attr, None)
    for name in ("start", "stop", *_BLOCK_HINTS):
        if target is not None and target is getattr(csp, name):
            return name
    return None


def split_lifecycle_blocks(user: UserFunction) -> tuple[UserFunction, list[ast.stmt], list[ast.stmt]]:
    """Move the top-level ``with csp.start():`` / ``with csp.stop():`` blocks out of the body;
    other csp blocks (``csp.alarms()``, ...) are not supported."""

    def block_name(stmt: ast.stmt) -> str | None:
        name = _block_name(stmt, user)
        if name is not None and name not in ("start", "stop"):
            raise CompilationError(
                f"`with csp.{name}():` is not supported in compiled nodes", user.location(stmt), stage="analysis", hint=_BLOCK_HINTS[name]
            )
        return name

    stripped, blocks = user.split_blocks(block_name, what="`with csp.start():` / `with csp.stop():`")
    return stripped, blocks.get("start", []), blocks.get("stop", [])


# -- registration and compiling -------------------------------------------------------------------


def is_registered(ctx: CompilationContext | None = None) -> bool:
    ctx = ctx or CompilationContext.current()
    return bool(ctx.extensions.get(_MARKER))


def register() -> None:
    """Register the csp extension into the active context (idempotent per context)."""
    ctx = CompilationContext.current()
    if is_registered(ctx):
        return
    publish_symbols()
    FunctionAnalyzer.register_input_handler(TsInputHandler())
    FunctionAnalyzer.register_output_handler(TsOutputHandler())
    SourceRegistry.register(CspInputCategory())
    _register_handlers()
    register_adapters()
    ctx.extensions[_MARKER] = True


def _python_type(argument: Any) -> Any:
    return argument.typ if tstype.isTsType(argument) else type(argument)


def compile_csp_node(
    func: Callable | UserFunction,
    *,
    inputs: dict[str, type],
    constants: dict[str, Any],
    options: CompilationOptions | None = None,
    signature: inspect.Signature | None = None,
) -> CompilationResult:
    """Compile ``func`` as a csp node: ``inputs`` maps each ``ts[...]`` parameter to the type of
    the edge wired to it, ``constants`` binds the other parameters. ``signature`` replaces the
    function's own (csp's generic types resolved). Compiles in a context derived from the active
    one when that lacks this extension."""
    from ...numba_core import CompilationOptions, create_compiled_func  # noqa: PLC0415 - loads Numba

    base = CompilationContext.current()
    ctx = base if is_registered(base) else base.derive()
    with ctx:
        register()
        user = UserFunction.load(func, signature=signature)
        node, start_body, stop_body = split_lifecycle_blocks(user)
        bound: dict[str, Any] = {name: tstype.ts[python_type] for name, python_type in inputs.items()}
        bound.update(constants)
        return create_compiled_func(
            node,
            extract_python_type_fn=_python_type,
            decorator_name=_DECORATOR,
            start_body=start_body,
            stop_body=stop_body,
            options=options or CompilationOptions(force_inline=True),
            **bound,
        )


def resolved_signature(func: Callable, inputs: dict[str, type], outputs: list[tuple[str | None, type]]) -> inspect.Signature:
    """``func``'s signature with generic ``ts['T']`` annotations replaced by the types csp resolved
    when the node was wired: the edge type of each such input, and ``outputs`` (name, type)."""
    sig = inspect.signature(func, eval_str=True)
    params = []
    for param in sig.parameters.values():
        ann = param.annotation
        if tstype.isTsType(ann) and not _is_concrete(ann.typ) and param.name in inputs:
            param = param.replace(annotation=tstype.ts[inputs[param.name]])
        params.append(param)
    if len(outputs) == 1 and outputs[0][0] is None:
        returns: Any = tstype.ts[outputs[0][1]]
    elif outputs:
        returns = csp.Outputs(**{name: tstype.ts[t] for name, t in outputs})
    else:
        returns = sig.return_annotation
    return sig.replace(parameters=params, return_annotation=returns)

