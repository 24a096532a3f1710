"""Function analysis: parameters (constants or category-fed inputs), ``State[...]`` declarations
and outputs, through the input/output handlers registered in the active context."""

from __future__ import annotations

import ast
import copy
import inspect
import textwrap
from typing import Any, Callable

from .compilation_context import CompilationContext
from .errors import CompilationError, SourceLocation
from .models import (
    InputAnalysis,
    OutputAnalysis,
    ParameterInfo,
    StateAnnotation,
    StateVariableInfo,
)
from .type_factory import TypeFactory
from .utils.introspection import cell_has_value, check_arity, describe_origin

__all__ = [
    "FunctionAnalyzer",
    "InputTypeHandler",
    "OutputTypeHandler",
    "NumbaFunctionInfo",
    "UserFunction",
]

STAGE = "analysis"


class InputTypeHandler:
    """Parses parameter annotations that are not plain types (signals, baskets, ...).

    `FunctionAnalyzer.register_input_handler` checks at registration that ``try_parse`` is
    implemented and takes ``(param, ann)``, and that ``validate_value`` takes
    ``(param_name, value, expected_type)``.
    """

    def try_parse(self, param: inspect.Parameter, ann: Any) -> ParameterInfo | None:
        raise NotImplementedError

    def validate_value(self, param_name: str, value: Any, expected_type: Any) -> Any:
        """Check (and possibly convert) the argument bound to the parameter; raise to reject."""
        return value


class OutputTypeHandler:
    """Parses a return annotation into an `OutputAnalysis`.

    `FunctionAnalyzer.register_output_handler` checks at registration that ``try_parse`` is
    implemented and takes ``(return_annotation, ast_tree)``.
    """

    def try_parse(self, return_annotation: Any, ast_tree: ast.FunctionDef) -> OutputAnalysis | None:
        raise NotImplementedError


class UserFunction:
    """The user's function as the compiler sees it: its AST (a private copy, decorators stripped),
    where it lives, its signature and the names it can see."""

    def __init__(
        self,
        funcdef: ast.FunctionDef,
        signature: inspect.Signature,
        func_globals: dict[str, Any],
        filename: str,
        qualname: str,
        col_shift: int = 0,
    ) -> None:
        self.funcdef = funcdef
        self.signature = signature
        self.func_globals = func_globals
        self.filename = filename
        self.qualname = qualname
        self.col_shift = col_shift

    def split_blocks(
        self, block_name: Callable[[ast.stmt], str | None], *, what: str
    ) -> tuple[UserFunction, dict[str, list[ast.stmt]]]:
        """Move the top-level blocks that ``block_name`` names out of the body: a host's lifecycle
        blocks (``with start():`` / ``with stop():``) run in START and STOP, not in EXECUTE.

        ``block_name(stmt)`` returns a name for a statement that is such a block (it may raise a
        `CompilationError` for a block the host does not support), else None. Returns the function
        without those blocks and, per name, their statements in order. A named block nested in
        another statement is a `CompilationError`; ``what`` names the blocks in its message."""
        funcdef = copy.copy(self.funcdef)  # only the top-level body list changes: the tree is shared
        body: list[ast.stmt] = []
        blocks: dict[str, list[ast.stmt]] = {}
        for stmt in funcdef.body:
            name = block_name(stmt)
            if name is None:
                body.append(stmt)
            else:
                blocks.setdefault(name, []).extend(stmt.body)
        for stmt in body:
            for inner in ast.walk(stmt):
                if isinstance(inner, ast.stmt) and inner is not stmt and block_name(inner) is not None:
                    raise CompilationError(
                        f"{what} must be at the top level of the node",
                        self.location(inner),
                        stage="analysis",
                        hint="move the block out of the if/for/while",
                    )
        funcdef.body = body or [ast.copy_location(ast.Pass(), self.funcdef)]
        stripped = UserFunction(funcdef, self.signature, self.func_globals, self.filename, self.qualname, self.col_shift)
        return stripped, blocks

    @classmethod
    def load(
        cls,
        func: Any,
        signature: inspect.Signature | None = None,
        func_globals: dict[str, Any] | None = None,
    ) -> UserFunction:
        if isinstance(func, UserFunction):
            return func
        if isinstance(func, ast.FunctionDef):
            if signature is None:
                raise TypeError("an ast.FunctionDef needs `signature=` (an inspect.Signature)")
            globs = dict(func_globals or {})
            funcdef = copy.deepcopy(func)
            funcdef.decorator_list = []
            filename = globs.get("__file__") or "<ast>"
            return cls(funcdef, signature, globs, filename, func.name)
        if isinstance(func, ast.AST):
            raise TypeError(f"expected a function or ast.FunctionDef, got {type(func).__name__}")
        func = inspect.unwrap(getattr(func, "py_func", func))
        if not inspect.isfunction(func):
            raise TypeError(f"expected a Python function, got {func!r}")
        filename = inspect.getsourcefile(func) or func.__code__.co_filename
        where = SourceLocation(filename, func.__code__.co_firstlineno)
        if func.__name__ == "<lambda>":
            raise CompilationError("lambdas cannot be compiled", where, stage=STAGE, hint="use a def")
        try:
            lines, start = inspect.getsourcelines(func)
        except (OSError, TypeError) as exc:
            raise CompilationError(
                f"the source of {func.__qualname__} is not available ({exc})",
                where,
                stage=STAGE,
                hint="define the function in a file, or pass an ast.FunctionDef with signature=",
            ) from None
        text = "".join(lines)
        dedented = textwrap.dedent(text)
        col_shift = len(lines[0]) - len(lines[0].lstrip()) if dedented != text else 0
        module = ast.parse(dedented)
        ast.increment_lineno(module, start - 1)
        funcdef = module.body[0]
        if not isinstance(funcdef, ast.FunctionDef):
            raise CompilationError(
                f"{func.__qualname__} is not a plain `def` function", where, stage=STAGE
            )
        funcdef.decorator_list = []
        try:
            sig = signature or inspect.signature(func, eval_str=True)
        except Exception as exc:  # NameError etc. while evaluating string annotations
            raise CompilationError(
                f"cannot evaluate the annotations of {func.__qualname__}: {exc}", where, stage=STAGE
            ) from None
        globs = dict(func.__globals__) if func_globals is None else dict(func_globals)
        if func.__closure__:
            globs.update(
                (name, cell.cell_contents)
                for name, cell in zip(func.__code__.co_freevars, func.__closure__)
                if cell_has_value(cell)
            )
        return cls(funcdef, sig, globs, filename, func.__qualname__, col_shift)

    def location(self, node: ast.AST | None) -> SourceLocation:
        return SourceLocation.of(node if node is not None else self.funcdef, self.filename, self.col_shift)


class NumbaFunctionInfo:
    """Everything known about the function being compiled; categories, handlers and signal
    processors read it and may attach their own attributes (``info.custom_data = ...``)."""

    def __init__(
        self,
        user: UserFunction,
        input_analysis: InputAnalysis,
        state_variables: list[StateVariableInfo],
        output_analysis: OutputAnalysis,
        body: list[ast.stmt],
        extract_python_type_fn: Callable[[Any], Any],
        call_globals: dict[str, Any],
        decorator_name: str,
    ) -> None:
        self.user = user
        self.name = user.funcdef.name
        self.qualname = user.qualname
        self.filename = user.filename
        self.funcdef = user.funcdef
        self.signature = user.signature
        self.func_globals = user.func_globals
        self.input_analysis = input_analysis
        self.state_variables = state_variables
        self.output_analysis = output_analysis
        self.body = body
        self.extract_python_type_fn = extract_python_type_fn
        self.call_globals = call_globals
        self.decorator_name = decorator_name
        self.output_variable_types: list[Any] = []
        #: C functions the code calls that only read memory and have no side effects (FFI): the IR
        #: passes mark their declarations ``readonly nounwind``.
        self.pure_functions: set[str] = set()

    @property
    def globals(self) -> dict[str, Any]:
        """Names visible to the generated code: the function's globals plus ``call_globals``."""
        merged = dict(self.func_globals)
        merged.update(self.call_globals)
        return merged

    def location(self, node: ast.AST | None) -> SourceLocation:
        return self.user.location(node)

    def parameter_node(self, name: str) -> ast.AST:
        """The ``ast.arg`` of parameter ``name`` (the def itself if there is none)."""
        return FunctionAnalyzer._param_node(self.user, name)

    def error(self, message: str, node: ast.AST | None, *, stage: str = STAGE, hint: str | None = None) -> CompilationError:
        return CompilationError(message, self.location(node), stage=stage, hint=hint)

    @staticmethod
    def register_signal_processor(processor: Callable[[Any, Any, Any], None], priority: int = 0) -> Callable:
        """``processor(variable, bound_argument, function_info)`` runs once per non-constant input,
        after the source categories have created the variables."""
        check_arity(processor, 3, "signal processor", "(variable, bound_argument, function_info)")
        return CompilationContext.current().signal_processors.add(processor, priority)


class FunctionAnalyzer:
    """Registry facade for input/output handlers, and the analysis stage itself."""

    @staticmethod
    def register_input_handler(handler: InputTypeHandler, priority: int = 0) -> InputTypeHandler:
        """Add an input handler (an instance); its hooks' signatures are checked now."""
        _check_handler(handler, "input handler", InputTypeHandler, {
            "try_parse": (2, "(param, ann)", True),
            "validate_value": (3, "(param_name, value, expected_type)", False),
        })  # fmt: skip
        return CompilationContext.current().input_handlers.add(handler, priority)

    @staticmethod
    def register_output_handler(handler: OutputTypeHandler, priority: int = 0) -> OutputTypeHandler:
        """Add an output handler (an instance); its ``try_parse`` signature is checked now."""
        _check_handler(handler, "output handler", OutputTypeHandler, {
            "try_parse": (2, "(return_annotation, ast_tree)", True),
        })  # fmt: skip
        return CompilationContext.current().output_handlers.add(handler, priority)

    # -- the analysis stage -------------------------------------------------------------------
    @classmethod
    def analyze(
        cls,
        user: UserFunction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        extract_python_type_fn: Callable[[Any], Any],
        call_globals: dict[str, Any] | None = None,
        decorator_name: str = "@numba_node",
    ) -> NumbaFunctionInfo:
        ctx = CompilationContext.current()
        inputs = cls._analyze_inputs(ctx, user, args, kwargs)
        namespace = {**user.func_globals, **(call_globals or {}), **inputs.constants}
        states, body = cls._analyze_state(user, namespace)
        outputs = cls._analyze_outputs(ctx, user)
        return NumbaFunctionInfo(
            user, inputs, states, outputs, body, extract_python_type_fn, dict(call_globals or {}), decorator_name
        )

    @staticmethod
    def _param_node(user: UserFunction, name: str) -> ast.AST:
        a = user.funcdef.args
        for arg in [*a.posonlyargs, *a.args, a.vararg, *a.kwonlyargs, a.kwarg]:
            if arg is not None and arg.arg == name:
                return arg
        return user.funcdef

    @classmethod
    def _analyze_inputs(cls, ctx: CompilationContext, user: UserFunction, args: tuple, kwargs: dict) -> InputAnalysis:
        sig = user.signature
        for p in sig.parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise CompilationError(
                    f"parameter {'*' if p.kind == p.VAR_POSITIONAL else '**'}{p.name} is not supported",
                    user.location(cls._param_node(user, p.name)),
                    stage=STAGE,
                    hint="declare each input as its own named parameter",
                )
        try:
            bound = sig.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise CompilationError(f"arguments do not match the signature: {exc}", user.location(None), stage=STAGE) from None
        bound.apply_defaults()
        analysis = InputAnalysis()
        for name, param in sig.parameters.items():
            node = cls._param_node(user, name)
            if name not in bound.arguments:
                raise CompilationError(
                    f"no value given for parameter {name!r}",
                    user.location(node),
                    stage=STAGE,
                    hint=f"pass {name}=... when compiling, or give the parameter a default",
                )
            value = bound.arguments[name]
            info = cls._parse_parameter(ctx, param, value)
            if info is None:
                raise CompilationError(
                    f"parameter {name!r} has an unsupported annotation {_describe(param.annotation)}",
                    user.location(node),
                    stage=STAGE,
                    hint="use a registered type (int, float, bool, ...) or register a handler for it",
                )
            try:
                value = cls._validate(info, name, value)
            except (TypeError, ValueError) as exc:
                what = "constant parameter" if info.is_constant else "parameter"
                message = str(exc) if repr(name) in str(exc) else f"{what} {name!r}: {exc}"
                raise CompilationError(message, user.location(node), stage=STAGE) from None
            analysis.parameters[name] = info
            analysis.bound[name] = value
        return analysis

    @staticmethod
    def _parse_parameter(ctx: CompilationContext, param: inspect.Parameter, value: Any) -> ParameterInfo | None:
        ann = param.annotation
        if ann is inspect.Parameter.empty:  # unannotated: the bound value's type decides
            ann = type(value)
        for handler in ctx.input_handlers:
            info = handler.try_parse(param, ann)
            if info is not None:
                if info.handler is None:
                    info.handler = handler
                return info
        for hook in TypeFactory.hooks("try_parse_input"):
            info = hook(param, ann)
            if info is not None:
                return info
        if TypeFactory.get_type(ann) is not None:
            return ParameterInfo(expected_type=ann)
        return None

    @staticmethod
    def _validate(info: ParameterInfo, name: str, value: Any) -> Any:
        if not info.is_constant:
            validate = getattr(info.handler, "validate_value", None)
            return validate(name, value, info.expected_type) if validate else value
        var_type = TypeFactory.get_type(info.expected_type, value)
        if var_type is None:
            raise TypeError(f"constant parameter {name!r}: no registered type supports {_describe(info.expected_type)}")
        return var_type.coerce_constant(value)

    @staticmethod
    def _analyze_state(user: UserFunction, namespace: dict[str, Any]) -> tuple[list[StateVariableInfo], list[ast.stmt]]:
        states: list[StateVariableInfo] = []
        body: list[ast.stmt] = []
        for stmt in user.funcdef.body:
            info = _parse_state_declaration(user, stmt, namespace)
            if info is None:
                body.append(stmt)
                continue
            if any(s.name == info.name for s in states):
                raise CompilationError(f"state variable {info.name!r} is declared twice", user.location(stmt), stage=STAGE)
            if info.name in user.signature.parameters:
                raise CompilationError(
                    f"state variable {info.name!r} has the same name as a parameter of {user.qualname}",
                    user.location(stmt.target if isinstance(stmt, ast.AnnAssign) else stmt),
                    stage=STAGE,
                    hint=f"rename the state variable (or the parameter {info.name!r})",
                )
            states.append(info)
        for stmt in body:  # declarations anywhere else are mistakes
            for node in ast.walk(stmt):
                if isinstance(node, ast.AnnAssign) and _parse_state_declaration(user, node, namespace, nested=True):
                    raise CompilationError(
                        "State[...] declarations must be at the top level of the function body",
                        user.location(node),
                        stage=STAGE,
                        hint="move the declaration out of the if/for/while block",
                    )
        return states, body

    @staticmethod
    def _analyze_outputs(ctx: CompilationContext, user: UserFunction) -> OutputAnalysis:
        ann = user.signature.return_annotation
        for handler in ctx.output_handlers:
            result = handler.try_parse(ann, user.funcdef)
            if result is not None:
                return result
        if ann is inspect.Signature.empty or ann is None:
            return OutputAnalysis()
        raise CompilationError(
            f"unsupported return annotation {_describe(ann)}",
            user.location(user.funcdef.returns or user.funcdef),
            stage=STAGE,
            hint="annotate with a registered output type, or remove the annotation",
        )


def _check_handler(handler: Any, what: str, base: type, hooks: dict[str, tuple[int, str, bool]]) -> None:
    """Registration-time check of a handler: an instance, each hook ``name -> (nargs, shape,
    required)`` callable with that many positional arguments; errors name the handler's class and
    source file."""
    if isinstance(handler, type):
        raise TypeError(f"{what} {describe_origin(handler)}: register an instance, {handler.__name__}(), not the class")
    for name, (nargs, shape, required) in hooks.items():
        hook = getattr(handler, name, None)
        inherited = getattr(hook, "__func__", None) is getattr(base, name, None)
        if required and (hook is None or inherited):
            raise TypeError(f"{what} {describe_origin(handler)} must implement {name}{shape}")
        if hook is not None:
            check_arity(hook, nargs, f"{what} method", shape)


def _describe(ann: Any) -> str:
    return getattr(ann, "__name__", None) or repr(ann)


def _parse_state_declaration(
    user: UserFunction, stmt: ast.stmt, namespace: dict[str, Any], nested: bool = False
) -> StateVariableInfo | None:
    """A ``name: State[T] = value`` statement as a `StateVariableInfo`, or None for anything else."""
    if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
        return None
    name = stmt.target.id
    for hook in TypeFactory.hooks("try_parse_state"):
        info = hook(stmt, name, namespace)
        if info is not None:
            info.node = stmt
            return info
    try:
        ann = _evaluate(stmt.annotation, user, namespace)
    except CompilationError:
        if nested:
            return None
        raise
    if not isinstance(ann, StateAnnotation):
        return None
    if nested:
        return StateVariableInfo(name, ann.inner, node=stmt)
    value = _evaluate(stmt.value, user, namespace) if stmt.value is not None else None
    var_type = TypeFactory.get_type(ann.inner, value)
    if var_type is None:
        raise CompilationError(
            f"State[{_describe(ann.inner)}] is not a supported state type",
            user.location(stmt.annotation),
            stage=STAGE,
            hint="use State[int], State[float], State[bool] or a registered type",
        )
    try:
        value = var_type.coerce_constant(value)
    except (TypeError, ValueError) as exc:
        raise CompilationError(f"initial value of state {name!r}: {exc}", user.location(stmt.value or stmt), stage=STAGE) from None
    return StateVariableInfo(name, ann.inner, value, var_type, stmt)


def _evaluate(node: ast.expr, user: UserFunction, namespace: dict[str, Any]) -> Any:
    """Evaluate a compile-time expression (an annotation or a state's initial value)."""
    try:
        code = compile(ast.Expression(body=node), user.filename, "eval")
        return eval(code, dict(namespace))  # noqa: S307 - the user's own compile-time expression
    except Exception as exc:
        raise CompilationError(
            f"cannot evaluate {ast.unparse(node)!r} at compile time: {exc}",
            user.location(node),
            stage=STAGE,
            hint="state annotations and initial values must be constants or names visible to the function",
        ) from None
