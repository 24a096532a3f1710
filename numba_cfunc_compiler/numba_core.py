"""The compile pipeline: analysis -> variables -> AST conversion -> semantic key -> ``@cfunc`` ->
IR passes -> `CompilationResult`. Each stage is a function below; `create_compiled_func` runs them
in order and never changes the active context except to remember a successful result."""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import linecache
import re
from functools import cached_property
from typing import Any, Callable

import numba
from numba.core import errors as numba_errors
from numba.core import types
from numba.core.typing.ctypes_utils import to_ctypes

from .compilation_context import CompilationContext
from .errors import CompilationError, SourceLocation
from .function_analyzer import FunctionAnalyzer, NumbaFunctionInfo, UserFunction
from .numba_ast_converter import GENERATED_FUNCTION_NAME, NumbaASTConverter
from .post_compilation import JITFunction, finalize_module, forbidden_declarations, host_target_machine
from .source_registry import CfuncParam, SourceRegistry
from .semantic_key import semantic_key
from .utils.intrinsics import HELPERS
from .variable_factory import VariableFactory

__all__ = [
    "CompilationOptions",
    "CompilationResult",
    "NativeEntryPoint",
    "NumbaFunctionInfo",
    "create_compiled_func",
    "semantic_key",
    "NATIVE_PREFIX",
]

NATIVE_PREFIX = "_gc_numba_"


@dataclasses.dataclass(frozen=True)
class CompilationOptions:
    """Compile flags (all opt-in). ``fastmath`` goes to ``@cfunc``; ``force_inline`` lets the
    optimiser merge Numba's function into the exported entry point."""

    fastmath: bool = False
    force_inline: bool = False

    def key_text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))


class NativeEntryPoint:
    """The compiled entry point in this process (what ``result.compiled_func`` is).

    ``address`` is the C function pointer of ``native_name``; ``ctypes`` a ctypes function over it;
    ``cfunc`` the Numba ``CFunc`` the code came from. Keeps the JIT engine alive.
    """

    def __init__(self, jit: JITFunction, cfunc: Any, params: list[CfuncParam], llvm_ir: str) -> None:
        self._jit = jit
        self.cfunc = cfunc
        self.native_name = jit.native_name
        self.address = jit.address
        self.params = params
        self._llvm_ir = llvm_ir

    @cached_property
    def ctypes(self) -> Any:
        return ctypes.CFUNCTYPE(None, *[to_ctypes(p.numba_type) for p in self.params])(self.address)

    def inspect_llvm(self) -> str:
        return self._llvm_ir

    def __call__(self, *args: Any) -> None:
        self.ctypes(*args)

    def __repr__(self) -> str:
        return f"<NativeEntryPoint {self.native_name} at {self.address:#x}>"


@dataclasses.dataclass(frozen=True)
class CompilationResult:
    """Everything a host needs to call, link or ship a compiled function. Keys of ``metadata``
    are also readable as attributes (``result.state_values``)."""

    compiled_func: NativeEntryPoint
    native_name: str
    semantic_key: str
    llvm_ir: str
    output_types: list[Any]
    named_outputs: list[str] | None
    metadata: dict[str, Any]
    cfunc_params: list[CfuncParam]
    signature: str
    transformed_source: str
    qualname: str
    options: CompilationOptions

    def __getattr__(self, name: str) -> Any:
        metadata = self.__dict__.get("metadata", {})
        if name in metadata:
            return metadata[name]
        raise AttributeError(f"CompilationResult has no attribute or metadata entry {name!r}")

    @property
    def address(self) -> int:
        return self.compiled_func.address


def create_compiled_func(
    func: Any,
    *args: Any,
    extract_python_type_fn: Callable[[Any], Any],
    decorator_name: str = "@numba_node",
    func_globals: dict[str, Any] | None = None,
    signature: Any = None,
    call_globals: dict[str, Any] | None = None,
    start_body: list[ast.stmt] | None = None,
    stop_body: list[ast.stmt] | None = None,
    options: CompilationOptions | None = None,
    **kwargs: Any,
) -> CompilationResult:
    """Compile ``func`` (a function, or an ``ast.FunctionDef`` with ``signature`` and
    ``func_globals``) with ``args``/``kwargs`` bound to its parameters into a native entry point."""
    options = options or CompilationOptions()
    ctx = CompilationContext.current()
    user = UserFunction.load(func, signature, func_globals)
    info = FunctionAnalyzer.analyze(user, args, kwargs, extract_python_type_fn, call_globals, decorator_name)
    categories = SourceRegistry.ordered()
    factory = create_variables(info, categories)
    module = NumbaASTConverter(info, factory, categories, start_body, stop_body).convert()
    params = [p for c in categories for p in c.cfunc_params]
    sig_text = "void(" + ", ".join(f"{p.name}: {p.type}" for p in params) + ")"
    source = ast.unparse(module)
    namespace = {**info.globals, **HELPERS, **factory.helpers}
    key = semantic_key(source, sig_text, options, namespace)
    metadata = {"state_values": [], "nrt_state_indices": [], "struct_state_indices": [], "struct_state_sizes": []}
    for category in categories:
        metadata.update(category.get_result_metadata(info))
    output_analysis = info.output_analysis
    own = {
        "output_types": list(output_analysis.output_types),
        "named_outputs": list(output_analysis.named_outputs) if output_analysis.named_outputs is not None else None,
        "metadata": metadata,
        "qualname": user.qualname,
    }
    cached = ctx.results.get(key)
    if cached is not None:  # same generated code: share the native code, keep this function's names
        return dataclasses.replace(cached, **own)
    ctx.ensure_nrt_loaded()
    cfunc = compile_cfunc(module, namespace, params, options, info, factory)
    native_name = NATIVE_PREFIX + key
    tm = host_target_machine()
    final = finalize_module(
        cfunc.inspect_llvm(),
        inner_name=cfunc.native_name[len("cfunc."):],
        native_name=native_name,
        force_inline_entry=options.force_inline,
        target_machine=tm,
        pure_functions=info.pure_functions,
    )
    leftovers = forbidden_declarations(final)
    if leftovers:
        raise CompilationError(
            f"compiled code still refers to the Python runtime ({', '.join(leftovers[:5])})",
            info.location(None),
            stage="IR passes",
            hint="something in the function needs Python objects; use numbers and registered types only",
        )
    llvm_ir = str(final)
    jit = JITFunction(llvm_ir, native_name)
    result = CompilationResult(
        compiled_func=NativeEntryPoint(jit, cfunc, params, llvm_ir),
        native_name=native_name,
        semantic_key=key,
        llvm_ir=llvm_ir,
        cfunc_params=params,
        signature=sig_text,
        transformed_source=source,
        options=options,
        **own,
    )
    ctx.results[key] = result
    return result


def create_variables(info: NumbaFunctionInfo, categories: list[Any]) -> VariableFactory:
    """Let every category create its variables, then run the signal processors."""
    factory = VariableFactory({c.id: c for c in categories})
    for category in categories:
        category.create_variables(info, factory)
    processors = list(CompilationContext.current().signal_processors)
    for name, argument in info.input_analysis.non_constant.items():
        variable = factory.get(name)
        for processor in processors:
            processor(variable, argument, info)
    return factory


def compile_cfunc(
    module: ast.Module,
    namespace: dict[str, Any],
    params: list[CfuncParam],
    options: CompilationOptions,
    info: NumbaFunctionInfo,
    factory: VariableFactory,
) -> Any:
    """Run Numba on the generated module; Numba's errors come back at the user's line."""
    code = compile(module, info.filename, "exec")
    scope = dict(namespace)
    exec(code, scope)  # noqa: S102 - our generated code
    pyfunc = scope[GENERATED_FUNCTION_NAME]
    sig = types.void(*[p.numba_type for p in params])
    try:
        return numba.cfunc(sig, nopython=True, nogil=True, _nrt=False, error_model="numpy", fastmath=options.fastmath)(pyfunc)
    except numba_errors.NumbaError as exc:
        raise _map_numba_error(exc, info, factory) from None
    except (ValueError, TypeError, KeyError, AssertionError) as exc:  # Numba failing inside itself
        raise CompilationError(
            f"Numba failed on this function ({type(exc).__name__}: {exc})",
            info.location(None),
            stage="Numba lowering",
            hint="an operation Numba cannot lower for these types; rewrite it (e.g. int(a / b) for timedelta // timedelta)",
        ) from exc


_SPECIFIC = re.compile(r"raised a specific error:\s*\n\s*(?:\w+Error: )?(.+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)|at (\S+) \((\d+)\)')


def _map_numba_error(exc: Exception, info: NumbaFunctionInfo, factory: VariableFactory) -> CompilationError:
    text = _ANSI.sub("", str(exc))
    for source in factory.variables.values():  # speak of the user's names, not generated ones
        pointer = getattr(source, "pointer_name", None)
        if pointer:
            text = text.replace(pointer, source.name)
    places = [(a or c, int(b or d)) for a, b, c, d in _FILE_LINE.findall(text)]
    loc = getattr(exc, "loc", None)
    if loc is not None and getattr(loc, "filename", None) and getattr(loc, "line", None):
        places.append((loc.filename, loc.line))
    short = info.filename.rsplit("/", 1)[-1]
    mine = [n for f, n in places if f in (info.filename, short)]
    first, last = info.funcdef.lineno, getattr(info.funcdef, "end_lineno", None) or info.funcdef.lineno
    inside = [n for n in mine if first <= n <= last]  # the node's own line beats a helper's
    lineno = inside[-1] if inside else (mine[-1] if mine else None)
    if loc is not None and getattr(loc, "line", None) and (loc.filename, loc.line) != (info.filename, lineno):
        text += f"\n(in {loc.filename}:{loc.line})"
    specific = _SPECIFIC.search(text)  # an intrinsic/overload explaining itself beats the summary
    if specific:
        text = specific.group(1)
    noise = ("Failed in", "During", "File", "No type info", "- Resolution failure", "Rewrite")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(noise)]
    summary = lines[0] if lines else text.strip()
    if len(summary) > 300:
        summary = summary[:300] + "..."
    location = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno))
    stage = "Numba lowering" if isinstance(exc, numba_errors.LoweringError) else "Numba typing"
    return CompilationError(
        f"Numba could not compile this line: {summary}",
        location,
        stage=stage,
        hint="check the types of the values used on this line",
    )


def _first_column(filename: str, lineno: int | None) -> int:
    line = linecache.getline(filename, lineno or 0)
    return len(line) - len(line.lstrip())
