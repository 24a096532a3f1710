"""The compile pipeline: analysis -> variables -> AST conversion -> semantic key -> code
(memo, persistent cache, or Numba lowering + IR passes + one code generation) -> the process JIT ->
`CompilationResult`. Each stage is a function below; `create_compiled_func` runs them in order and
never changes the active context except to remember a successful result."""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import functools
import hashlib
import json
import linecache
import logging
import os
import re
import struct
from functools import cached_property
from typing import Any, Callable

import llvmlite.binding as llvm
from numba.core import cgutils, compiler, registry, typed_passes, untyped_passes
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler_machinery import PassManager
from numba.core import errors as numba_errors
from numba.core import types
from numba.core.compiler_lock import global_compiler_lock
from numba.core.typing.ctypes_utils import to_ctypes

from .artifact import NodeArtifact, Param, toolchain_fingerprint
from .compilation_context import CompilationContext
from .errors import CompilationError, SourceLocation
from .function_analyzer import FunctionAnalyzer, NumbaFunctionInfo, UserFunction
from .numba_ast_converter import GENERATED_FUNCTION_NAME, NumbaASTConverter
from .post_compilation import external_symbols, finalize_module, forbidden_declarations, host_target_machine
from .source_registry import CfuncParam, SourceRegistry
from .semantic_key import semantic_key
from .targets.cache import CompileCache
from .targets.jit import UnresolvedSymbolError, process_jit
from .variable_factory import VariableFactory

__all__ = [
    "CompilationOptions",
    "CompilationResult",
    "NativeEntryPoint",
    "NodeArtifact",
    "NumbaFunctionInfo",
    "create_compiled_func",
    "semantic_key",
    "NATIVE_PREFIX",
]

NATIVE_PREFIX = "_gc_numba_"

log = logging.getLogger("numba_cfunc_compiler.cache")


@dataclasses.dataclass(frozen=True)
class CompilationOptions:
    """Compile flags (all opt-in). ``fastmath`` goes to Numba; ``force_inline`` lets the
    optimiser merge Numba's function into the exported entry point."""

    fastmath: bool = False
    force_inline: bool = False

    def key_text(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))


class NativeEntryPoint:
    """The compiled entry point in this process (what ``result.compiled_func`` is).

    ``address`` is the C function pointer of ``native_name`` in the process JIT (valid for the life
    of the process, see `numba_cfunc_compiler.linker.release`); ``ctypes`` a ctypes function over it.
    """

    def __init__(self, native_name: str, address: int, params: list[CfuncParam], llvm_ir: str) -> None:
        self.native_name = native_name
        self.address = address
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
    """Everything a host needs to call, link or ship a compiled function. ``artifact`` is the plain
    data (`NodeArtifact`); keys of ``metadata`` are also readable as attributes
    (``result.state_values``)."""

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
    artifact: NodeArtifact

    def __getattr__(self, name: str) -> Any:
        metadata = self.__dict__.get("metadata", {})
        if name in metadata:
            return metadata[name]
        raise AttributeError(f"CompilationResult has no attribute or metadata entry {name!r}")

    @property
    def address(self) -> int:
        return self.compiled_func.address


@dataclasses.dataclass(frozen=True)
class _Code:
    """The compiled code of one semantic key: final IR, the symbols it imports, its object code."""

    llvm_ir: str
    imports: tuple[str, ...]
    object_code: bytes


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
    source = ast.unparse(module)
    namespace = {**info.globals, **ctx.helpers, **factory.helpers}
    sig_text = "void(" + ", ".join(f"{p.name}: {p.type}" for p in params) + ")"
    key = semantic_key(source, sig_text, options, namespace)
    native_name = NATIVE_PREFIX + key

    code = ctx.results.get(key)
    if code is None:
        ctx.ensure_nrt_loaded()  # Numba compiles @njit helpers against the runtime's symbols
        code, address = _cached_or_compiled(key, native_name, module, namespace, params, options, info, factory)
        ctx.results[key] = code
    else:
        address = process_jit().load(native_name, code.object_code, code.imports)

    artifact = NodeArtifact(
        native_name=native_name,
        semantic_key=key,
        qualname=user.qualname,
        params=tuple(Param(p.name, p.type) for p in params),
        inputs=tuple(s for c in categories for s in c.input_slots(info)),
        outputs=tuple(s for c in categories for s in c.output_slots(info)),
        state=tuple(s for c in categories for s in c.state_slots(info)),
        llvm_ir=code.llvm_ir,
        toolchain=toolchain_fingerprint(),
        imports=code.imports,
        extra={k: v for c in categories for k, v in c.artifact_entries(info).items()},
    )
    metadata = artifact.metadata()
    for category in categories:
        metadata.update(category.get_result_metadata(info))
    output_analysis = info.output_analysis
    return CompilationResult(
        compiled_func=NativeEntryPoint(native_name, address, params, code.llvm_ir),
        native_name=native_name,
        semantic_key=key,
        llvm_ir=code.llvm_ir,
        output_types=list(output_analysis.output_types),
        named_outputs=list(output_analysis.named_outputs) if output_analysis.named_outputs is not None else None,
        metadata=metadata,
        cfunc_params=params,
        signature=sig_text,
        transformed_source=source,
        qualname=user.qualname,
        options=options,
        artifact=artifact,
    )


# -- the persistent cache ---------------------------------------------------------------------
_CACHE_FORMAT = "ncc-code-v1"


@functools.lru_cache(maxsize=None)
def _toolchain_text() -> str:
    return json.dumps(toolchain_fingerprint(), sort_keys=True)


@functools.lru_cache(maxsize=None)
def _cache_for(setting: str | None, max_bytes: str | None) -> CompileCache | None:
    return CompileCache.from_environment(toolchain=_toolchain_text())


def compile_cache() -> CompileCache | None:
    """The persistent cache `NCC_CACHE_DIR` selects (None when it is ``off``); one per setting."""
    return _cache_for(os.environ.get("NCC_CACHE_DIR"), os.environ.get("NCC_CACHE_MAX_BYTES"))


def cache_key(semantic_key_: str) -> str:
    """The persistent-cache key of a semantic key: it adds the toolchain fingerprint (the semantic
    key already covers the code of every ``@njit`` helper and FFI declaration the node uses)."""
    text = f"{_CACHE_FORMAT}\n{semantic_key_}\n{_toolchain_text()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pack(code: _Code) -> bytes:
    head = json.dumps({"llvm_ir": code.llvm_ir, "imports": list(code.imports)}).encode()
    return struct.pack("<Q", len(head)) + head + code.object_code


def _unpack(payload: bytes) -> _Code:
    (size,) = struct.unpack_from("<Q", payload)
    head = json.loads(payload[8 : 8 + size])
    return _Code(head["llvm_ir"], tuple(head["imports"]), payload[8 + size :])


def _cached_or_compiled(
    key: str,
    native_name: str,
    module: ast.Module,
    namespace: dict[str, Any],
    params: list[CfuncParam],
    options: CompilationOptions,
    info: NumbaFunctionInfo,
    factory: VariableFactory,
) -> tuple[_Code, int]:
    """The code of ``key`` from the persistent cache, or compiled (and cached), mapped into the
    process JIT: ``(code, address)``. A cache entry that does not decode or load is rebuilt."""
    cache = compile_cache()
    ckey = cache_key(key)
    payload = cache.get(ckey) if cache is not None else None
    if payload is not None:
        try:
            code = _unpack(payload)
            return code, process_jit().load(native_name, code.object_code, code.imports)
        except UnresolvedSymbolError:
            raise
        except Exception as exc:  # noqa: BLE001 - a valid checksum over unusable contents: rebuild
            log.debug("cache entry %s for %s is unusable (%s); recompiling", ckey, native_name, exc)
    code = compile_code(module, namespace, params, options, info, factory, native_name)
    address = process_jit().load(native_name, code.object_code, code.imports)
    if cache is not None:
        cache.put(ckey, _pack(code))
    return code, address


def compile_code(
    module: ast.Module,
    namespace: dict[str, Any],
    params: list[CfuncParam],
    options: CompilationOptions,
    info: NumbaFunctionInfo,
    factory: VariableFactory,
    native_name: str,
) -> _Code:
    """Numba lowering (no code generation) -> IR passes -> the one code generation."""
    ir, inner_name = lower_with_numba(module, namespace, params, options, info, factory)
    final = finalize_module(
        ir,
        inner_name=inner_name,
        native_name=native_name,
        force_inline_entry=options.force_inline,
        target_machine=host_target_machine(),
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
    return _Code(str(final), tuple(external_symbols(final)), process_jit().emit_object(final))


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


#: Passes of Numba's nopython pipeline that generated node code never needs: the converter rejects
#: ``with``, closures, lambdas, comprehensions and ``raise`` before Numba runs, and there are no
#: parfors. (``flags.no_rewrites`` drops the rewrite passes: array expressions, constant folding of
#: getitems and raises, dead-branch pruning; LLVM does the same work on the IR.) ``@njit`` helpers
#: compile with Numba's full pipeline.
_SKIPPED_PASSES = (
    untyped_passes.WithLifting,
    untyped_passes.InlineClosureLikes,
    untyped_passes.MakeFunctionToJitFunction,
    typed_passes.NopythonRewrites,
    typed_passes.DumpParforDiagnostics,
)


class _NodePipeline(compiler.CompilerBase):
    """Numba's nopython pipeline without `_SKIPPED_PASSES`: typing and lowering of one node."""

    def define_pipelines(self) -> list[PassManager]:
        full = compiler.DefaultPassBuilder.define_nopython_pipeline(self.state)
        pm = PassManager("ncc_node")
        for pass_class, description in full.passes:
            if pass_class not in _SKIPPED_PASSES:
                pm.add_pass(pass_class, description)
        pm.finalize()
        return [pm]


class _LoweredIR(JITCodeLibrary):
    """A Numba code library that only collects the lowered IR text. Numba would parse, verify and
    optimise each module here, then again when finalising; the IR passes and the one code generation
    after them do that work once (`compile_code`)."""

    def __init__(self, codegen: Any, name: str) -> None:
        super().__init__(codegen, name)
        self.ir_texts: list[str] = []

    def add_ir_module(self, ir_module: Any) -> None:
        self._raise_if_finalized()
        self.ir_texts.append(cgutils.normalize_ir_text(str(ir_module)))

    def module_text(self) -> str:
        """The collected IR with every ``@njit`` helper it calls linked in, as text."""
        dependencies = list(dict.fromkeys(self._linking_libraries))
        if len(self.ir_texts) == 1 and not dependencies:
            return self.ir_texts[0]
        module = llvm.parse_assembly(self.ir_texts[0])
        for text in self.ir_texts[1:]:
            module.link_in(llvm.parse_assembly(text))
        for dependency in dependencies:
            module.link_in(dependency._get_module_for_linking(), preserve=True)
        return str(module)


def lower_with_numba(
    module: ast.Module,
    namespace: dict[str, Any],
    params: list[CfuncParam],
    options: CompilationOptions,
    info: NumbaFunctionInfo,
    factory: VariableFactory,
) -> tuple[str, str]:
    """Run Numba's type inference and lowering on the generated module, without generating machine
    code or any Python-facing wrapper: returns the LLVM IR (with the ``@njit`` helpers it calls
    linked in) and the name of the lowered function. Numba's errors come back at the user's line."""
    code = compile(module, info.filename, "exec")
    scope = dict(namespace)
    exec(code, scope)  # noqa: S102 - our generated code
    pyfunc = scope[GENERATED_FUNCTION_NAME]
    target = registry.cpu_target
    flags = compiler.Flags()
    target.options.parse_as_flags(
        flags, {"nopython": True, "nogil": True, "_nrt": False, "error_model": "numpy", "fastmath": options.fastmath}
    )
    flags.no_cpython_wrapper = True  # we add our own C entry point (post_compilation.add_entry_point)
    flags.no_cfunc_wrapper = True
    flags.no_compile = True  # the IR passes come first; machine code is generated once, after them
    flags.enable_pyobject = False
    args = tuple(p.numba_type for p in params)
    try:
        with global_compiler_lock:
            library = _LoweredIR(target.target_context.codegen(), GENERATED_FUNCTION_NAME)
            cres = compiler.compile_extra(
                target.typing_context,
                target.target_context,
                pyfunc,
                args=args,
                return_type=types.void,
                flags=flags,
                locals={},
                library=library,
                pipeline_class=_NodePipeline,
            )
            if cres.typing_error is not None:
                raise cres.typing_error
            return library.module_text(), cres.fndesc.llvm_func_name
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
