"""`NumbaASTConverter`: rewrites the user's function into the fixed-signature cfunc body.

The converter is a dispatcher: each ``visit_*`` runs the registered handlers around a small default
(see `ast_handlers`), names resolve through the `VariableFactory`, attribute and method chains
through `NumbaTypeInference`. Anything outside the supported language is rejected here, before
Numba runs, with a `CompilationError` at the user's line.
"""

from __future__ import annotations

import ast
import builtins
import copy
import types as pytypes
from typing import Any, Callable, TypeVar

from numba.core.compiler_lock import global_compiler_lock
from numba.core.registry import cpu_target

from numba_rt import abi

from .ast_handlers import ASTHandlerRegistry, HandlerResult, with_handlers
from .compilation_context import CompilationContext
from .errors import CompilationError
from .function_analyzer import NumbaFunctionInfo
from .numba_type_inference import NumbaTypeInference
from .source_registry import SourceCategory, SourceInitFilter
from .type_factory import TypeFactory
from .utils.checks import require_integer
from .utils.suggest import did_you_mean
from .variable_factory import RESERVED_PREFIX, AliasSource, ReadOnlyVariableError, VariableFactory, VariableSource

__all__ = ["NumbaASTConverter", "GENERATED_FUNCTION_NAME", "LIFECYCLE_PARAM", "Phase"]

STAGE = "AST conversion"
GENERATED_FUNCTION_NAME = RESERVED_PREFIX + "node"
LIFECYCLE_PARAM = "lifecycle_phase"
Phase = SourceInitFilter
T = TypeVar("T")
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
      aliases    -- locals bound to a container or struct (``a = xs``): `AliasSource`s of its type
      phase      -- which lifecycle phase the code being converted runs in
      globals    -- names visible to the generated code (function globals + call_globals)
      options    -- the `CompilationOptions` of this compile (handlers read ``error_model``)
      checks     -- typing-time checks the generated code makes (`utils.checks`): the user's node,
                    message and hint of each, by site index; shared with the Numba-error mapping
                    as ``info.typing_checks`` (and the user's statements as ``info.user_code``)
      _pending   -- side-effect statements to place before the statement being converted
    """

    def __init__(
        self,
        info: NumbaFunctionInfo,
        factory: VariableFactory,
        categories: list[SourceCategory],
        start_body: list[ast.stmt] | None = None,
        stop_body: list[ast.stmt] | None = None,
        options: Any = None,
    ) -> None:
        self.info = info
        self.options = options
        self.factory = factory
        self.categories = categories
        self.start_body = list(start_body or [])
        self._stop_release: list[ast.stmt] = []
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
        self.aliases: dict[str, AliasSource] = {}
        self.checks: list[tuple[ast.AST, str, str]] = []
        self._extension_state: dict[str, Any] = {}
        info.typing_checks = self.checks
        info.user_code = [*info.body, *self.start_body, *self.stop_body]

    # -- services for handlers -----------------------------------------------------------------
    def extension_state(self, name: str, factory: Callable[[], T]) -> T:
        """Per-conversion storage for an extension's handlers (created on first use, gone with
        this converter): an analysis of the user's code that several handlers share, say."""
        if name not in self._extension_state:
            self._extension_state[name] = factory()
        return self._extension_state[name]

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
        """The user's ``stop`` code, then the categories' releases (containers are freed here).
        The releases run even when the user's code faults: the fault is caught, the releases run,
        and the call then ends with the fault (already in the error record) as before."""
        release = [s for c in self.categories for s in c.stop_statements(self.info, self.factory)]
        self._stop_release = release  # a `return` in the user's code releases first (visit_Return)
        user = self.visit_block(self.stop_body)
        if not user or not release:
            return user + release
        failed = self.factory.new_name("stop_failed")
        flag = lambda value: ast.Assign(targets=[ast.Name(id=failed, ctx=ast.Store())], value=ast.Constant(value))  # noqa: E731
        guarded = ast.Try(
            body=user,
            handlers=[ast.ExceptHandler(type=self.factory.helper("Exception", Exception), name=None, body=[flag(True)])],
            orelse=[],
            finalbody=[],
        )
        reraise = ast.If(
            test=ast.Name(id=failed, ctx=ast.Load()),
            body=[ast.Raise(exc=ast.Call(func=self.factory.helper("RuntimeError", RuntimeError), args=[], keywords=[]), cause=None)],
            orelse=[],
        )
        return [flag(False), guarded, *release, reraise]

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
                if isinstance(node, ast.Compare) and _has_walrus(node.comparators[1:]):
                    raise self.error(
                        "the walrus operator in a chained comparison is not supported", node, "split it: a < b and b < c"
                    )
        for name in self.locals & param_names:
            self.renames[name] = self.factory.new_name(f"local_{name}")
        self._scan_aliases(code)

    def _scan_aliases(self, code: list[ast.stmt]) -> None:
        """Find the locals bound to a container or struct (``a = xs``, ``b = a``, ``q = quote``):
        each becomes an alias, the same pointer, so every operation works on it and changes the
        container or struct. A local has one type in compiled code, so an alias may be rebound only
        to an object of the same type; any other binding of it (a value, a loop, ``+=``,
        unpacking) is an error. A struct picked by ``a if c else b`` (two structs of one type) is
        an alias too; a struct any other expression gives (a helper's result) is a plain local
        holding a struct view."""
        values: dict[int, ast.expr | None] = {}  # id(target Name) -> the value bound to it directly
        for stmt in code:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Assign):
                    values.update((id(t), node.value) for t in node.targets if isinstance(t, ast.Name))
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name):
                    values[id(node.target)] = node.value  # None: `a: T` alone binds nothing
        bindings: dict[str, list[tuple[ast.Name, ast.expr | None]]] = {}
        for stmt in code:
            for node in ast.walk(stmt):
                if values.get(id(node), True) is None:
                    continue
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id in self.locals:
                    bindings.setdefault(node.id, []).append((node, values.get(id(node))))
        found: dict[str, tuple[ast.Name, VariableSource]] = {}  # alias -> (first binding, container)
        changed = True
        while changed:  # b = a; a = xs: aliases of aliases, in any order
            changed = False
            for name, binds in bindings.items():
                origin = next(((t, s) for t, v in binds if (s := self._container_value(v, found)) is not None), None)
                if name not in found and origin is not None:
                    found[name], changed = origin, True
        for name, (first, origin) in found.items():
            for target, value in bindings[name]:
                other = self._container_value(value, found)
                if other is not None and other.type == origin.type:
                    continue
                bound = _described(other) if other is not None else f"a value that is not a {_what(origin)}"
                raise self.error(
                    f"local {name!r} is an alias of {_described(origin)} (line {first.lineno}); "
                    f"it cannot also be bound to {bound}",
                    target,
                    hint="use another name: a local has one type in compiled code",
                )
        for name, (_, origin) in found.items():
            self.aliases[name] = AliasSource(origin.type, name, self.renames.get(name, name), origin)

    def _container_value(self, value: ast.expr | None, found: dict | None = None) -> VariableSource | None:
        """The container or struct (managed variable or alias: an object a local can alias) the
        expression ``value`` names, if any; for structs also ``a if c else b`` when both name
        structs of one type (the input one, if either is: it is read-only)."""
        if isinstance(value, ast.IfExp):
            body, orelse = self._container_value(value.body, found), self._container_value(value.orelse, found)
            if body is None or orelse is None or body.type != orelse.type or body.type.state_size is None:
                return None
            return orelse if _origin(orelse).kind == "input" else body
        if not isinstance(value, ast.Name):
            return None
        if found is not None and value.id in found:
            return found[value.id][1]
        source = self.variable(value.id)
        by_reference = source is not None and source.type is not None
        by_reference = by_reference and (source.type.is_container or source.type.state_size is not None)
        return source if by_reference else None

    # -- helpers for handlers -----------------------------------------------------------------
    def error(self, message: str, node: ast.AST | None, hint: str | None = None) -> CompilationError:
        return self.info.error(message, node, stage=STAGE, hint=hint)

    def variable(self, name: str) -> VariableSource | None:
        """The managed variable called ``name`` (state, input, constant ...) or the container
        alias of that name, if any."""
        return self.factory.get(name) or self.aliases.get(name)

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

    def known_names(self) -> set[str]:
        """Every name the user's code may read: locals, managed variables (parameters, state),
        visible globals and the builtins compiled code may call (for "did you mean")."""
        names = self.locals | set(self.factory.variables) | set(self.globals) | ALLOWED_BUILTINS
        return {n for n in names if not n.startswith(RESERVED_PREFIX)}

    def _unknown_name(self, node: ast.Name) -> CompilationError:
        name = node.id
        if name == "print":
            return self.error("compiled code cannot print", node, hint="return the value or write it to an output")
        if hasattr(builtins, name):
            allowed = ", ".join(sorted(ALLOWED_BUILTINS))
            return self.error(
                f"Python built-in {name!r} is not available in compiled code{did_you_mean(name, ALLOWED_BUILTINS)}",
                node,
                hint=f"compiled code may call {allowed}, math functions and @numba.njit functions",
            )
        return self.error(
            f"unknown name {name!r}{did_you_mean(name, self.known_names())}",
            node,
            hint="define it before use, or make it a parameter, a State[...] variable or a module-level name",
        )

    def _missing_attribute(self, node: ast.Attribute, called: bool) -> CompilationError | None:
        """The error for ``base.attr`` when ``base`` is a managed variable or a module-level object
        that has no such attribute; None when the attribute exists (or ``base`` is neither). A
        method call on a managed variable is left to the attribute's own conversion."""
        base = node.value
        source = self.variable(base.id) if isinstance(base, ast.Name) else None
        if source is not None and not called:
            struct_fields = getattr(source.type, "_get_struct_fields", None)  # `StructType`s
            try:
                candidates = set(struct_fields()) if struct_fields is not None else set()
            except Exception:  # noqa: BLE001 - only for a suggestion
                candidates = set()
            return self.error(
                f"{source.kind} {base.id!r} has no attribute {node.attr!r}{did_you_mean(node.attr, candidates)}",
                node,
            )
        owner = self.resolve_global(base) if source is None else None
        if owner is None or hasattr(owner, node.attr):
            return None
        what = "function" if called else "attribute"
        if isinstance(owner, pytypes.ModuleType):
            subject = f"module {owner.__name__!r}"
        elif isinstance(owner, type):
            subject = f"{owner.__name__}"
            what = "member" if hasattr(owner, "__members__") else what
        else:
            subject = repr(ast.unparse(base))
        return self.error(
            f"{subject} has no {what} {node.attr!r}{did_you_mean(node.attr, _public_names(owner))}",
            node,
        )

    def _plain_function_error(self, node: ast.Call) -> CompilationError | None:
        """Calling a Python function Numba cannot compile (not ``@njit``, not overloaded)."""
        target = self.resolve_global(node.func)
        if not isinstance(target, (pytypes.FunctionType, pytypes.MethodType)):
            return None
        with global_compiler_lock:  # new @overload / @register_jitable registrations count
            typing = cpu_target.typing_context
            typing.refresh()
            try:
                typing.resolve_value_type(target)
                return None
            except Exception:  # noqa: BLE001 - Numba cannot type it: a plain Python function
                pass
        name = ast.unparse(node.func)
        where = f"{getattr(target, '__module__', None) or '?'}.{getattr(target, '__qualname__', name)}"
        return self.error(
            f"cannot call plain Python function {name!r} from compiled code",
            node.func,
            hint=f"decorate it with @numba.njit where it is defined ({where})",
        )

    def require_integer(self, value: ast.expr, original: ast.expr, message: str, hint: str) -> ast.expr:
        """``value`` (converted from the user's ``original``) checked to be an integer when Numba
        types it: otherwise a `CompilationError` at ``original`` with ``message`` (``{type}`` is
        replaced by the value's type) and ``hint``. Free at run time."""
        if isinstance(value, ast.Constant) and type(value.value) in (int, bool):
            return value
        if isinstance(value, ast.Constant):
            shown = type(value.value).__name__
            raise self.error(message.format(type=shown), original, hint)
        site = len(self.checks)
        self.checks.append((original, message, hint))
        check = self.factory.helper("require_integer", require_integer)
        return _located(ast.Call(func=check, args=[value, ast.Constant(site)], keywords=[]), original)

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
        if type(node.value) is int and not -(2**63) <= node.value < 2**63:
            raise self.error(f"integer literal {node.value} does not fit in int64", node, _INT64_HINT)
        return node

    # -- operators: numeric semantics live in handlers (defaults/numeric.py) ------------------
    @with_handlers("BinOp")
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        return self.generic_visit(node)

    @with_handlers("UnaryOp")
    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        return self.generic_visit(node)

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
            raise self._unknown_name(node)
        if source is not None:
            # assignments, loops and unpacking store into managed variables themselves (`_assign`,
            # `bind_target`); a store reaching here comes from a construct that does not
            raise self.error(f"{source.kind} {node.id!r} cannot be assigned here", node, "assign it on its own line")
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
            if self.phase == Phase.ON_STOP:  # leaving STOP early still frees what the node owns
                return _located([*copy.deepcopy(self._stop_release), ast.Return(value=None)], node)
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
        container = self._container_value(node.value)
        if container is not None:
            value = self.visit(node.value) if isinstance(node.value, ast.IfExp) else container.get()
            return _located([s for t in node.targets for s in self._bind_container(t, container, value)], node)
        for target in node.targets:  # a container cell is never replaced: say so before the value
            source = self.factory.get(target.id) if isinstance(target, ast.Name) else None
            if source is not None and source.type is not None and source.type.is_container:
                self._assign(target, ast.Constant(None), node)
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

    def _bind_container(self, target: ast.expr, container: VariableSource, value: ast.expr) -> list[ast.stmt]:
        """``target = xs`` where ``xs`` names a container or struct (``value``, converted): only a
        local may take it (an alias)."""
        alias = self.aliases.get(target.id) if isinstance(target, ast.Name) else None
        if alias is not None:
            return [ast.Assign(targets=[ast.Name(id=alias.local_name, ctx=ast.Store())], value=value)]
        source = self.factory.get(target.id) if isinstance(target, ast.Name) else None
        if source is not None and source.type is not None and source.type.is_container:
            return self._assign(target, value, target)  # "cannot be replaced"
        raise self.error(
            f"{_described(container)} can only be bound to a local name",
            target,
            hint=f"bind it to a local (`a = {container.name}`) and use that",
        )

    def bind_target(self, target: ast.expr) -> tuple[ast.expr, list[ast.stmt]]:
        """A ``for``/unpacking target for generated code, and the converted statements that store
        what it receives into the user's ``target``: plain locals are bound directly, anything else
        (a State variable, ``xs[i]``, a struct field) through a fresh local, stored by a normal
        assignment (at the top of a loop body, so state keeps the last value, as in Python)."""
        stores: list[ast.stmt] = []

        def plain(t: ast.expr) -> ast.expr:
            if isinstance(t, (ast.Tuple, ast.List)):
                return ast.copy_location(ast.Tuple(elts=[plain(e) for e in t.elts], ctx=ast.Store()), t)
            if isinstance(t, ast.Name) and t.id not in self.factory:
                return self.visit(t)
            temp = self.factory.new_name("target")
            self.locals.add(temp)
            load = ast.copy_location(ast.Name(id=temp, ctx=ast.Load()), t)
            stores.append(ast.copy_location(ast.Assign(targets=[t], value=load), t))
            return ast.copy_location(ast.Name(id=temp, ctx=ast.Store()), t)

        new = plain(target)
        return new, self.visit_block(stores) if stores else []

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
        if isinstance(target, (ast.Tuple, ast.List)):
            plain, stores = self.bind_target(target)
            return [ast.Assign(targets=[plain], value=value), *stores]
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
            missing = self._missing_attribute(node.func, called=True)
            if missing is not None:
                raise missing
        plain = self._plain_function_error(node)
        if plain is not None:
            raise plain
        if self._is_builtin(node.func, "range"):
            return self._range_call(node)
        return self.generic_visit(node)

    def _is_builtin(self, func: ast.expr, name: str) -> bool:
        """Is ``func`` the builtin ``name`` (not shadowed by a local, a variable or a global)?"""
        return (
            isinstance(func, ast.Name)
            and func.id == name
            and func.id not in self.locals
            and func.id not in self.factory
            and func.id not in self.globals
        )

    def _range_call(self, node: ast.Call) -> ast.Call:
        """``range(...)`` with each argument checked to be an integer, as Python does (Numba would
        truncate a float)."""
        if node.keywords:
            raise self.error("range() takes no keyword arguments", node.keywords[0], "pass start, stop and step by position")
        args = []
        for arg in node.args:
            hint = f"use int({ast.unparse(arg)})"  # before conversion rewrites the argument
            args.append(self.require_integer(self.visit(arg), arg, "range() arguments must be integers, got a {type}", hint))
        return ast.copy_location(ast.Call(func=node.func, args=args, keywords=[]), node)

    @with_handlers("Attribute")
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.ctx, ast.Load):
            lowered = self.inference.lower_attribute(node, self.globals)
            if lowered is not None:
                return _located(lowered, node)
            source = self.inference.infer(node)
            if source is not None:
                return _located(source.get(), node)
            missing = self._missing_attribute(node, called=False)
            if missing is not None:
                raise missing
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
        iterable = self.visit(node.iter)
        target, stores = self.bind_target(node.target)
        return _located(ast.For(target=target, iter=iterable, body=stores + self.visit_block(node.body), orelse=[]), node)

    # -- the walrus operator: its binding runs as statements before the enclosing statement ------
    # (Numba cannot type `(y := v)` used as a value on Python 3.11+), so the constructs that do not
    # always evaluate a part (and/or, ternaries, a while test) run that part's statements there.
    def visit_NamedExpr(self, node: ast.NamedExpr) -> Any:
        """``(name := value)``: ``name`` is bound (a local, or a State variable stored as by ``=``)
        and the expression is ``value`` itself, as in Python."""
        target = node.target
        bound = self._container_value(node.value)
        if bound is not None:
            hint = f"write `{target.id} = {ast.unparse(node.value)}` on its own line"
            raise self.error(f"a {_what(bound)} cannot be bound with the walrus operator", node, hint)
        temp = self.factory.new_name("walrus")
        value = self.visit(node.value)
        self._pending.append(_located(ast.Assign(targets=[ast.Name(id=temp, ctx=ast.Store())], value=value), node))
        self._pending.extend(_located(self._assign(target, ast.Name(id=temp, ctx=ast.Load()), node), node))
        return _located(ast.Name(id=temp, ctx=ast.Load()), node)

    def _branch(self, expr: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        """``expr`` converted, with the statements it needs kept apart (for a branch that may not run)."""
        saved, self._pending = self._pending, []
        converted = self.visit(expr)
        pending, self._pending = self._pending, saved
        return pending, converted

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if not _has_walrus(node.values[1:]):
            return self.generic_visit(node)
        result = self.factory.new_name("boolop")
        load = lambda: ast.Name(id=result, ctx=ast.Load())  # noqa: E731
        store = lambda value: ast.Assign(targets=[ast.Name(id=result, ctx=ast.Store())], value=value)  # noqa: E731
        stmts: list[ast.stmt] = []
        for value in reversed(node.values[1:]):  # a and b and c: r = a; if r: (r = b; if r: r = c)
            pending, converted = self._branch(value)
            test = load() if isinstance(node.op, ast.And) else ast.UnaryOp(op=ast.Not(), operand=load())
            stmts = [ast.If(test=test, body=[*pending, store(converted), *stmts], orelse=[])]
        self._pending.extend(_located([store(self.visit(node.values[0])), *stmts], node))
        return _located(load(), node)

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        if not _has_walrus([node.body, node.orelse]):
            return self.generic_visit(node)
        result = self.factory.new_name("ifexp")
        test = self.visit(node.test)
        branches = []
        for branch in (node.body, node.orelse):
            pending, converted = self._branch(branch)
            branches.append([*pending, ast.Assign(targets=[ast.Name(id=result, ctx=ast.Store())], value=converted)])
        self._pending.append(_located(ast.If(test=test, body=branches[0], orelse=branches[1]), node))
        return _located(ast.Name(id=result, ctx=ast.Load()), node)

    def visit_While(self, node: ast.While) -> Any:
        if node.orelse:
            raise self.error("while/else is not supported in compiled code", node, "use a flag variable")
        pending, test = self._branch(node.test)
        body = self.visit_block(node.body)
        if pending:  # the test binds names (walrus): run its statements before each test
            body = [*pending, ast.If(test=ast.UnaryOp(op=ast.Not(), operand=test), body=[ast.Break()], orelse=[]), *body]
            test = ast.Constant(True)
        return _located(ast.While(test=test, body=body, orelse=[]), node)


_INT64_HINT = "int values are 64-bit (-2**63 .. 2**63 - 1); use a float (e.g. 1e19) for larger magnitudes"


def _has_walrus(nodes: list[ast.expr]) -> bool:
    return any(isinstance(n, ast.NamedExpr) for node in nodes for n in ast.walk(node))


def _origin(source: VariableSource) -> VariableSource:
    """The managed variable an alias (of an alias ...) was first bound to; ``source`` otherwise."""
    while getattr(source, "origin", None) is not None:
        source = source.origin
    return source


def _what(source: VariableSource) -> str:
    """``container`` or ``struct``: what kind of object an alias holds."""
    return "struct" if source.type.state_size is not None else "container"


def _described(source: VariableSource) -> str:
    """``NumbaList[float] 'xs'`` (``constant ...`` for a read-only container)."""
    readonly = "constant " if getattr(source.type, "readonly", False) else ""
    return f"{readonly}{source.type.describe()} {source.name!r}"


def _public_names(obj: Any) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")} if obj is not None else set()


def _if_phase(op: ast.cmpop, code: int, body: list[ast.stmt]) -> ast.If:
    test = ast.Compare(left=ast.Name(id=LIFECYCLE_PARAM, ctx=ast.Load()), ops=[op], comparators=[ast.Constant(code)])
    return ast.If(test=test, body=body, orelse=[])
