"""`NumbaASTConverter`: rewrites the user's function into the fixed-signature cfunc body.

The converter is a dispatcher: each ``visit_*`` runs the registered handlers around a small default
(see `ast_handlers`), names resolve through the `VariableFactory`, attribute and method chains
through `NumbaTypeInference`. Anything outside the supported language is rejected here, before
Numba runs, with a `CompilationError` at the user's line.
"""

from __future__ import annotations

import ast
from typing import Any

from numba_rt import abi

from .ast_handlers import ASTHandlerRegistry, HandlerResult, with_handlers
from .compilation_context import CompilationContext
from .errors import CompilationError
from .function_analyzer import NumbaFunctionInfo
from .numba_type_inference import NumbaTypeInference
from .source_registry import SourceCategory, SourceInitFilter
from .type_factory import TypeFactory
from .variable_factory import RESERVED_PREFIX, ReadOnlyVariableError, VariableFactory, VariableSource

__all__ = ["NumbaASTConverter", "GENERATED_FUNCTION_NAME", "LIFECYCLE_PARAM", "Phase"]

STAGE = "AST conversion"
GENERATED_FUNCTION_NAME = RESERVED_PREFIX + "node"
LIFECYCLE_PARAM = "lifecycle_phase"
Phase = SourceInitFilter
_PHASE_CODE = {Phase.ON_EXECUTE: int(abi.Phase.EXECUTE), Phase.ON_START: int(abi.Phase.START), Phase.ON_STOP: int(abi.Phase.STOP)}
_PHASE_NAME = {Phase.ON_EXECUTE: "EXECUTE", Phase.ON_START: "START", Phase.ON_STOP: "STOP"}

#: Builtins that compiled code may call.
ALLOWED_BUILTINS = frozenset({"range", "len", "min", "max", "abs", "int", "float", "bool", "round", "pow", "divmod"})

_UNSUPPORTED: dict[type, tuple[str, str]] = {
    ast.Try: ("try/except", "compiled code cannot raise or catch; test the condition with `if` instead"),
    ast.With: ("`with` blocks", "only constructs a registered handler lowers (such as the host's `with start():`) are allowed"),
    ast.AsyncWith: ("`async with`", "compiled nodes are synchronous"),
    ast.Raise: ("raise", "runtime faults go to the runtime's error record; return early instead"),
    ast.Assert: ("assert", "test the condition with `if` and return early"),
    ast.Yield: ("yield", "a node is called once per event; keep state in State[...] variables"),
    ast.YieldFrom: ("yield from", "a node is called once per event; keep state in State[...] variables"),
    ast.Await: ("await", "compiled nodes are synchronous"),
    ast.AsyncFor: ("async for", "compiled nodes are synchronous"),
    ast.Lambda: ("lambda", "define a module-level function decorated with @numba.njit and call it"),
    ast.FunctionDef: ("nested functions", "define a module-level function decorated with @numba.njit and call it"),
    ast.AsyncFunctionDef: ("nested functions", "define a module-level function decorated with @numba.njit"),
    ast.ClassDef: ("nested classes", "define types at module level and register them"),
    ast.Import: ("import inside a node", "import at module level"),
    ast.ImportFrom: ("import inside a node", "import at module level"),
    ast.Global: ("global", "keep values across calls in State[...] variables"),
    ast.Nonlocal: ("nonlocal", "keep values across calls in State[...] variables"),
    ast.ListComp: ("list comprehensions", "use a for loop"),
    ast.SetComp: ("set comprehensions", "use a for loop"),
    ast.DictComp: ("dict comprehensions", "use a for loop"),
    ast.GeneratorExp: ("generator expressions", "use a for loop"),
    ast.List: ("list literals", "use a NumbaList state variable or a constant list parameter"),
    ast.Set: ("set literals", "use a NumbaDict state variable"),
    ast.Dict: ("dict literals", "use a NumbaDict state variable or a constant dict parameter"),
    ast.JoinedStr: ("f-strings", "compiled code has no strings"),
    ast.Starred: ("*args", "pass arguments one by one"),
    ast.Slice: ("slicing", "index one element at a time"),
    ast.NamedExpr: ("the walrus operator", "assign on its own line"),
    ast.Match: ("match statements", "use if/elif"),
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED[ast.TryStar] = _UNSUPPORTED[ast.Try]


def _located(new: Any, original: ast.AST) -> Any:
    """Give every generated node without a location the location of ``original``. A node that has
    a location was located when it was converted (or is the user's own); its subtree is not walked
    again (`ast.fix_missing_locations` gives anything left there its parent's location)."""
    stack = [n for n in (new if isinstance(new, list) else [new]) if isinstance(n, ast.AST)]
    while stack:
        node = stack.pop()
        if "lineno" in node._attributes:
            if getattr(node, "lineno", None) is not None:
                continue
            ast.copy_location(node, original)
        stack.extend(ast.iter_child_nodes(node))
    return new


class NumbaASTConverter(ast.NodeTransformer):
    """Builds the generated function from the analysed user function.

    State:
      info       -- the `NumbaFunctionInfo` being compiled
      factory    -- the `VariableFactory` with every managed variable
      inference  -- `NumbaTypeInference` for attribute/method chains
      categories -- the ordered `SourceCategory`s (their cfunc params form the signature)
      locals     -- names the user's code assigns (plain local variables)
      renames    -- user locals renamed because they clash with a cfunc parameter name
      phase      -- which lifecycle phase the code being converted runs in
      globals    -- names visible to the generated code (function globals + call_globals)
      _pending   -- side-effect statements to place before the statement being converted
    """

    def __init__(
        self,
        info: NumbaFunctionInfo,
        factory: VariableFactory,
        categories: list[SourceCategory],
        start_body: list[ast.stmt] | None = None,
        stop_body: list[ast.stmt] | None = None,
    ) -> None:
        self.info = info
        self.factory = factory
        self.categories = categories
        self.start_body = list(start_body or [])
        self.stop_body = list(stop_body or [])
        self.inference = NumbaTypeInference(factory, self)
        self.globals = info.globals
        self.phase = Phase.ON_EXECUTE
        self._pending: list[ast.stmt] = []
        self._ctx = CompilationContext.current()
        self._handler_cache: dict[tuple[str, str], list] = {}
        self.params = [p for c in categories for p in c.cfunc_params]
        self.locals: set[str] = set()
        self.renames: dict[str, str] = {}

    # -- entry point --------------------------------------------------------------------------
    def convert(self) -> ast.Module:
        """The generated module holding one function with the fixed cfunc signature."""
        info = self.info
        user_code = [*info.body, *self.start_body, *self.stop_body]
        self._scan_names(user_code)
        if LIFECYCLE_PARAM not in {p.name for p in self.params}:
            raise CompilationError(
                f"no source category provides the {LIFECYCLE_PARAM!r} parameter",
                info.location(None),
                stage=STAGE,
                hint="call numba_cfunc_compiler.defaults.register_all() in the active CompilationContext",
            )
        body: list[ast.stmt] = self._prologue(lambda f: f == Phase.ALWAYS)
        body += self._phase_block(Phase.ON_START, self._start_code)
        body += self._phase_block(Phase.ON_STOP, self._stop_code)
        body.append(_if_phase(ast.NotEq(), 0, [ast.Return(value=None)]))
        self.phase = Phase.ON_EXECUTE
        body += self._prologue(lambda f: f != Phase.ALWAYS and Phase.ON_EXECUTE in f)
        body += self.visit_block(info.body)
        func = ast.FunctionDef(
            name=GENERATED_FUNCTION_NAME,
            args=ast.arguments(
                posonlyargs=[],
                args=[ast.arg(arg=p.name) for p in self.params],
                kwonlyargs=[],
                kw_defaults=[],
                defaults=[],
            ),
            body=body,
            decorator_list=[],
            returns=None,
            type_params=[],
        )
        _located(func, info.funcdef)
        module = ast.Module(body=[func], type_ignores=[])
        return ast.fix_missing_locations(module)

    def _phase_block(self, phase: Phase, code: Any) -> list[ast.stmt]:
        self.phase = phase
        stmts = self._prologue(lambda f: f != Phase.ALWAYS and phase in f) + code()
        stmts.append(ast.Return(value=None))
        return [_if_phase(ast.Eq(), _PHASE_CODE[phase], stmts)]

    def _start_code(self) -> list[ast.stmt]:
        stmts = [s for c in self.categories for s in c.start_statements(self.info, self.factory)]
        return stmts + self.visit_block(self.start_body)

    def _stop_code(self) -> list[ast.stmt]:
        stmts = self.visit_block(self.stop_body)
        return stmts + [s for c in self.categories for s in c.stop_statements(self.info, self.factory)]

    def _prologue(self, wanted: Any) -> list[ast.stmt]:
        stmts: list[ast.stmt] = []
        for source in self.factory.variables.values():
            if wanted(self._filter(source)):
                stmts += source.prologue(self.factory)
        return stmts

    def _filter(self, source: VariableSource) -> SourceInitFilter:
        category = self.factory.categories.get(source.category)
        return category.init_filter if category is not None else Phase.ALWAYS

    def _scan_names(self, code: list[ast.stmt]) -> None:
        param_names = {p.name for p in self.params}
        for stmt in code:
            for node in ast.walk(stmt):
                name = node.id if isinstance(node, ast.Name) else node.arg if isinstance(node, ast.arg) else None
                if name and name.startswith(RESERVED_PREFIX):
                    raise self.error(
                        f"names starting with {RESERVED_PREFIX!r} are reserved for generated code",
                        node,
                        hint="rename the variable",
                    )
                if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)) and node.id not in self.factory:
                    self.locals.add(node.id)
        for name in self.locals & param_names:
            self.renames[name] = self.factory.new_name(f"local_{name}")

    # -- helpers for handlers -----------------------------------------------------------------
    def error(self, message: str, node: ast.AST | None, hint: str | None = None) -> CompilationError:
        return self.info.error(message, node, stage=STAGE, hint=hint)

    def variable(self, name: str) -> VariableSource | None:
        """The managed variable called ``name`` (state, input, constant ...), if any."""
        return self.factory.get(name)

    def resolve_global(self, node: ast.expr) -> Any:
        """The module-level object ``node`` names (``x`` or ``mod.x``); None when it names a
        local or managed variable, or nothing."""
        if isinstance(node, ast.Name):
            if node.id in self.locals or node.id in self.factory:
                return None
            return self.globals.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve_global(node.value)
            return getattr(base, node.attr, None) if base is not None else None
        return None

    def is_visible_global(self, name: str) -> bool:
        return name in self.globals or name in ALLOWED_BUILTINS

    def _handlers(self, node_type: str, phase: str) -> list:
        key = (node_type, phase)
        if key not in self._handler_cache:
            self._handler_cache[key] = ASTHandlerRegistry.handlers(self._ctx, node_type, phase)
        return self._handler_cache[key]

    def _accept(self, result: Any, original: ast.AST) -> Any:
        if isinstance(result, HandlerResult):
            self._pending.extend(_located(list(result.side_effects), original))
            result = result.node
        return _located(result, original)

    def visit_block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        """Convert a statement list (handlers use this for bodies they rebuild)."""
        out: list[ast.stmt] = []
        for stmt in stmts:
            saved, self._pending = self._pending, []
            result = self.visit(stmt)
            pending, self._pending = self._pending, saved
            out.extend(pending)
            if result is None:
                continue
            out.extend(result if isinstance(result, list) else [result])
        if stmts and not out:
            out.append(_located(ast.Pass(), stmts[0]))
        return out

    # -- generic ------------------------------------------------------------------------------
    def generic_visit(self, node: ast.AST) -> Any:
        unsupported = _UNSUPPORTED.get(type(node))
        if unsupported is not None:
            what, hint = unsupported
            raise self.error(f"{what} {'is' if not what.endswith('s') else 'are'} not supported in compiled code", node, hint)
        for field, old in ast.iter_fields(node):
            if isinstance(old, list):
                if old and isinstance(old[0], ast.stmt):
                    setattr(node, field, self.visit_block(old))
                    continue
                new_values = []
                for value in old:
                    if isinstance(value, ast.AST):
                        value = self.visit(value)
                        if value is None:
                            continue
                    new_values.append(value)
                setattr(node, field, new_values)
            elif isinstance(old, ast.AST):
                new = self.visit(old)
                if new is None:
                    delattr(node, field)
                else:
                    setattr(node, field, new)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, (str, bytes)):
            raise self.error("strings are not supported in compiled code", node, "use numbers, enums or registered types")
        if node.value is Ellipsis:
            raise self.error("`...` is not supported in compiled code", node, "use `pass`")
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> Any:
        if node.value is None:
            return None
        assign = ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        return self.visit(assign)

    @with_handlers("Delete")
    def visit_Delete(self, node: ast.Delete) -> Any:
        for target in node.targets:
            if not isinstance(target, ast.Subscript):
                raise self.error("`del` is only supported on items (del d[key])", node)
        return self.generic_visit(node)

    # -- the ten handler-aware node types -----------------------------------------------------
    @with_handlers("Name")
    def visit_Name(self, node: ast.Name) -> Any:
        source = self.factory.get(node.id)
        if isinstance(node.ctx, ast.Load):
            if source is not None:
                if self.phase not in self._filter(source):
                    raise self.error(
                        f"{source.kind} {node.id!r} is not available in {_PHASE_NAME[self.phase]}",
                        node,
                        hint="read inputs only in the main body of the function",
                    )
                return _located(source.get(), node)
            if node.id in self.locals:
                return ast.copy_location(ast.Name(id=self.renames.get(node.id, node.id), ctx=node.ctx), node)
            if self.is_visible_global(node.id):
                return node
            raise self.error(
                f"unknown name {node.id!r}",
                node,
                hint="define it before use, or make it a parameter, a State[...] variable or a module-level name",
            )
        if source is not None:
            raise self.error(f"{source.kind} {node.id!r} cannot be used as a loop or unpacking target", node, "use a local variable")
        return ast.copy_location(ast.Name(id=self.renames.get(node.id, node.id), ctx=node.ctx), node)

    @with_handlers("Expr")
    def visit_Expr(self, node: ast.Expr) -> Any:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # docstrings and bare string statements do nothing
        node = self.generic_visit(node)
        if not hasattr(node, "value") or isinstance(node.value, ast.Constant):
            return None  # the expression was lowered to side effects only
        return node

    @with_handlers("Return")
    def visit_Return(self, node: ast.Return) -> Any:
        if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
            return ast.copy_location(ast.Return(value=None), node)
        if self.phase != Phase.ON_EXECUTE:
            raise self.error(f"cannot return a value in {_PHASE_NAME[self.phase]}", node, "write outputs in the main body")
        outputs = self.factory.outputs
        if len(outputs) != 1 or self.info.output_analysis.named_outputs is not None:
            if not outputs:
                raise self.error("this function has no output, so it cannot return a value", node, "annotate the return type, or remove the value")
            raise self.error("this function has named outputs; `return value` needs exactly one unnamed output", node, "write each named output instead")
        value = self.visit(node.value)
        return _located(outputs[0].set(value) + [ast.Return(value=None)], node)

    @with_handlers("Assign")
    def visit_Assign(self, node: ast.Assign) -> Any:
        value = node.value
        for hook in TypeFactory.hooks("try_lower_assignment"):
            lowered = hook(node, value, self.globals)
            if lowered is not None:
                value = lowered
                break
        value = self.visit(value)
        if len(node.targets) == 1:
            return _located(self._assign(node.targets[0], value, node), node)
        temp = self.factory.new_name("chain")
        stmts: list[ast.stmt] = [ast.Assign(targets=[ast.Name(id=temp, ctx=ast.Store())], value=value)]
        for target in node.targets:
            stmts += self._assign(target, ast.Name(id=temp, ctx=ast.Load()), node)
        return _located(stmts, node)

    def _assign(self, target: ast.expr, value: ast.expr, node: ast.AST) -> list[ast.stmt]:
        if isinstance(target, ast.Name):
            source = self.factory.get(target.id)
            if source is None:
                return [ast.Assign(targets=[self.visit(target)], value=value)]
            if self.phase not in self._filter(source):
                raise self.error(f"{source.kind} {target.id!r} is not available in {_PHASE_NAME[self.phase]}", target)
            try:
                return source.set(value)
            except ReadOnlyVariableError as exc:
                raise self.error(str(exc), target, hint="assign to a new local variable instead") from None
        if isinstance(target, ast.Tuple):
            if not any(isinstance(e, ast.Name) and e.id in self.factory for e in target.elts):
                return [ast.Assign(targets=[self.visit(target)], value=value)]
            temps = [self.factory.new_name("unpack") for _ in target.elts]
            stmts: list[ast.stmt] = [
                ast.Assign(
                    targets=[ast.Tuple(elts=[ast.Name(id=t, ctx=ast.Store()) for t in temps], ctx=ast.Store())],
                    value=value,
                )
            ]
            for elt, temp in zip(target.elts, temps):
                stmts += self._assign(elt, ast.Name(id=temp, ctx=ast.Load()), node)
            return stmts
        return [ast.Assign(targets=[self.visit(target)], value=value)]

    @with_handlers("AugAssign")
    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if isinstance(node.target, ast.Name) and node.target.id in self.factory:
            current = self.visit(ast.copy_location(ast.Name(id=node.target.id, ctx=ast.Load()), node.target))
            combined = ast.BinOp(left=current, op=node.op, right=self.visit(node.value))
            return _located(self._assign(node.target, combined, node), node)
        return self.generic_visit(node)

    @with_handlers("Call")
    def visit_Call(self, node: ast.Call) -> Any:
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error("**kwargs in calls is not supported in compiled code", kw, "pass keyword arguments one by one")
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "round"
            and node.func.id not in self.locals
            and "round" not in self.globals
            and len(node.args) + len(node.keywords) > 1
        ):
            raise self.error("round(x, ndigits) is not supported: Numba rounds differently from Python", node, "use round(x) or math.floor")
        if isinstance(node.func, ast.Attribute):
            source = self.inference.infer(node)
            if source is not None:
                return _located(source.get(), node)
        return self.generic_visit(node)

    @with_handlers("Attribute")
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.ctx, ast.Load):
            lowered = self.inference.lower_attribute(node, self.globals)
            if lowered is not None:
                return _located(lowered, node)
            source = self.inference.infer(node)
            if source is not None:
                return _located(source.get(), node)
            base = node.value
            if isinstance(base, ast.Name) and base.id in self.factory:
                kind = self.factory.get(base.id)
                raise self.error(f"{kind.kind} {base.id!r} has no attribute {node.attr!r}", node)
        return self.generic_visit(node)

    @with_handlers("Subscript")
    def visit_Subscript(self, node: ast.Subscript) -> Any:
        return self.generic_visit(node)

    @with_handlers("Compare")
    def visit_Compare(self, node: ast.Compare) -> Any:
        return self.generic_visit(node)

    @with_handlers("For")
    def visit_For(self, node: ast.For) -> Any:
        if node.orelse:
            raise self.error("for/else is not supported in compiled code", node, "use a flag variable")
        return self.generic_visit(node)

    def visit_While(self, node: ast.While) -> Any:
        if node.orelse:
            raise self.error("while/else is not supported in compiled code", node, "use a flag variable")
        return self.generic_visit(node)


def _if_phase(op: ast.cmpop, code: int, body: list[ast.stmt]) -> ast.If:
    test = ast.Compare(left=ast.Name(id=LIFECYCLE_PARAM, ctx=ast.Load()), ops=[op], comparators=[ast.Constant(code)])
    return ast.If(test=test, body=body, orelse=[])
