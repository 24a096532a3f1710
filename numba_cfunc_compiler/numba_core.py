"""The compile pipeline: analysis -> variables -> AST conversion -> semantic key -> ``@cfunc`` ->
IR passes -> `CompilationResult`. Each stage is a function below; `create_compiled_func` runs them
in order and never changes the active context except to remember a successful result."""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import enum
import hashlib
import linecache
import re
import types as pytypes
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
_KEY_VERSION = "ncc-semantic-key-v1"


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
    namespace = {**info.globals, **factory.helpers}
    key = semantic_key(source, sig_text, options, namespace)
    metadata = {"state_values": [], "nrt_state_indices": [], "struct_state_indices": [], "struct_state_sizes": []}
    for category in categories:
        metadata.update(category.get_result_metadata(info))
    cached = ctx.results.get(key)
    if cached is not None:
        return dataclasses.replace(cached, qualname=user.qualname, metadata=metadata)
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
    output_analysis = info.output_analysis
    result = CompilationResult(
        compiled_func=NativeEntryPoint(jit, cfunc, params, llvm_ir),
        native_name=native_name,
        semantic_key=key,
        llvm_ir=llvm_ir,
        output_types=list(output_analysis.output_types),
        named_outputs=list(output_analysis.named_outputs) if output_analysis.named_outputs is not None else None,
        metadata=metadata,
        cfunc_params=params,
        signature=sig_text,
        transformed_source=source,
        qualname=user.qualname,
        options=options,
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


def semantic_key(source: str, signature: str, options: CompilationOptions, namespace: dict[str, Any]) -> str:
    """First 16 hex digits of SHA-256 over the generated code, signature, options and a digest of
    every global the code refers to (``@njit`` helpers by their code). Process-independent."""
    referenced = sorted({n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)} & namespace.keys())
    parts = [_KEY_VERSION, source, signature, options.key_text()]
    parts += [f"{name}={_describe_global(namespace[name])}" for name in referenced]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _describe_global(value: Any) -> str:
    if isinstance(value, pytypes.ModuleType):
        return f"module:{value.__name__}"
    py_func = getattr(value, "py_func", None)
    if py_func is not None:  # a Numba dispatcher: its code decides what gets compiled
        options = sorted((k, repr(v)) for k, v in getattr(value, "targetoptions", {}).items())
        return f"njit:{py_func.__module__}.{py_func.__qualname__}:{_code_digest(py_func.__code__)}:{options}"
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"enum:{type(value).__qualname__}.{value.name}={value.value!r}"
    if isinstance(value, type) and issubclass(value, enum.Enum):
        return f"enumtype:{value.__qualname__}:{[(m.name, m.value) for m in value]!r}"
    if isinstance(value, pytypes.FunctionType):
        return f"function:{value.__module__}.{value.__qualname__}:{_code_digest(value.__code__)}"
    return f"object:{type(value).__module__}.{type(value).__qualname__}:{getattr(value, '__qualname__', '')}"


def _code_digest(code: pytypes.CodeType) -> str:
    h = hashlib.sha256(code.co_code)
    for const in code.co_consts:
        h.update(_code_digest(const).encode() if isinstance(const, pytypes.CodeType) else repr(const).encode())
    h.update(repr(code.co_names).encode())
    return h.hexdigest()[:16]


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


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def _map_numba_error(exc: Exception, info: NumbaFunctionInfo, factory: VariableFactory) -> CompilationError:
    text = _ANSI.sub("", str(exc))
    for source in factory.variables.values():  # speak of the user's names, not generated ones
        pointer = getattr(source, "pointer_name", None)
        if pointer:
            text = text.replace(pointer, source.name)
    lineno = None
    loc = getattr(exc, "loc", None)
    if loc is not None and getattr(loc, "filename", None) == info.filename:
        lineno = loc.line
    if lineno is None:
        short = info.filename.rsplit("/", 1)[-1]
        lineno = next((int(n) for f, n in _FILE_LINE.findall(text) if f in (info.filename, short)), None)
    noise = ("Failed in", "During", "File", "No type info", "- Resolution failure", "Rewrite")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(noise)]
    summary = lines[0] if lines else text.strip()
    if len(summary) > 300:
        summary = summary[:300] + "..."
    location = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno))
    return CompilationError(
        f"Numba could not compile this line: {summary}",
        location,
        stage="Numba typing",
        hint="check the types of the values used on this line",
    )


def _first_column(filename: str, lineno: int | None) -> int:
    line = linecache.getline(filename, lineno or 0)
    return len(line) - len(line.lstrip())
