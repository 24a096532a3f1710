"""The compile pipeline: analysis -> variables -> AST conversion -> semantic key -> code (`codegen`:
memo, persistent cache, or Numba lowering + IR passes + one code generation, in the process JIT) ->
`NodeArtifact` and `CompilationResult`. `create_compiled_func` runs the stages in order and never
changes the active context except to remember a successful result."""

from __future__ import annotations

import ast
import ctypes
import dataclasses
from functools import cached_property
from typing import Any, Callable

from numba.core.typing.ctypes_utils import to_ctypes

from .artifact import NodeArtifact, Param, toolchain_fingerprint
from .codegen import CompileUnit, cache_key, code_for, compile_cache
from .compilation_context import CompilationContext
from .entry_adapters import AdapterNode, applicable_adapters
from .errors import internal_errors
from .function_analyzer import FunctionAnalyzer, NumbaFunctionInfo, UserFunction
from .numba_ast_converter import NumbaASTConverter
from .source_registry import CfuncParam, SourceRegistry
from .semantic_key import semantic_key
from .targets.jit import UnresolvedSymbolError
from .variable_factory import VariableFactory

__all__ = [
    "CompilationOptions",
    "CompilationResult",
    "NativeEntryPoint",
    "NodeArtifact",
    "NumbaFunctionInfo",
    "create_compiled_func",
    "semantic_key",
    "compile_cache",
    "cache_key",
    "NATIVE_PREFIX",
]

NATIVE_PREFIX = "_gc_numba_"


@dataclasses.dataclass(frozen=True)
class CompilationOptions:
    """Compile flags (all opt-in). ``fastmath`` goes to Numba; ``force_inline`` lets the
    optimiser merge Numba's function into the exported entry point. ``error_model="numpy"`` turns
    off the numeric runtime faults of SPEC §5 (division by zero, float-to-int conversion, negative
    int exponent, float ``**`` and datetime overflow) for IEEE / wrapping results instead (see
    `defaults.numeric` and the table in docs/getting-started.md)."""

    fastmath: bool = False
    force_inline: bool = False
    error_model: str = "python"

    def __post_init__(self) -> None:
        if self.error_model not in ("python", "numpy"):
            raise ValueError(f"CompilationOptions: error_model must be 'python' or 'numpy', not {self.error_model!r}")

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
    #: entry adapter name -> address of its exported function in this process (`adapter_address`).
    adapter_addresses: dict[str, int] = dataclasses.field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        metadata = self.__dict__.get("metadata", {})
        if name in metadata:
            return metadata[name]
        raise AttributeError(f"CompilationResult has no attribute or metadata entry {name!r}")

    @property
    def address(self) -> int:
        return self.compiled_func.address

    def adapter_address(self, name: str) -> int:
        """The C function pointer of the entry adapter ``name`` (`numba_cfunc_compiler.entry_adapters`)
        in this process: same code, same lifetime as the entry point (released with it)."""
        address = self.adapter_addresses.get(name)
        if address is None:
            known = ", ".join(self.adapter_addresses) or "none"
            raise KeyError(f"{self.native_name} ({self.qualname}) has no entry adapter {name!r} (it has: {known})")
        return address


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
    # Each stage runs under `internal_errors`: a CompilationError (the user's mistake) goes through,
    # any other exception becomes an InternalCompilerError naming the stage, the user's line and
    # the extension that raised. A wrong `func`/`signature` argument stays a TypeError.
    with internal_errors("loading the function", passthrough=(TypeError,)):
        user = UserFunction.load(func, signature, func_globals)
    with internal_errors("analysis", user):
        info = FunctionAnalyzer.analyze(user, args, kwargs, extract_python_type_fn, call_globals, decorator_name)
        categories = SourceRegistry.ordered()
    with internal_errors("variable creation", user):
        factory = create_variables(info, categories)
    with internal_errors("AST conversion", user):
        module = NumbaASTConverter(info, factory, categories, start_body, stop_body, options=options).convert()
        params = [p for c in categories for p in c.cfunc_params]
        source = ast.unparse(module)
    slots, adapters, node = None, (), None
    if ctx.entry_adapters:  # which apply depends on the node's slots, and enters the key
        with internal_errors("entry adapters", user):
            slots = _slots(info, categories)
            node = AdapterNode("", user.qualname, tuple(params), *slots)
            adapters = applicable_adapters(node)
    with internal_errors("semantic key", user):
        namespace = {**info.globals, **ctx.helpers, **factory.helpers}
        sig_text = "void(" + ", ".join(f"{p.name}: {p.type}" for p in params) + ")"
        key = semantic_key(source, sig_text, options, namespace, module, adapters=adapters)

    known = key in ctx.results
    with internal_errors("code generation", user, passthrough=(UnresolvedSymbolError,)):
        native_name = NATIVE_PREFIX + key
        adapter_node = dataclasses.replace(node, native_name=native_name) if adapters else None
        unit = CompileUnit(module, namespace, params, options, key, native_name, info, factory, adapters, adapter_node)
        ctx.ensure_nrt_loaded()  # Numba compiles @njit helpers against the runtime's symbols
        code, addresses = code_for(unit, ctx.results)
    try:
        with internal_errors("result", user):
            return _result(unit, code, addresses, categories, source, sig_text, slots)
    except BaseException:
        if not known:  # a failed compile leaves the context as it found it
            ctx.results.pop(key, None)
        raise


def _slots(info: NumbaFunctionInfo, categories: list[Any]) -> tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]:
    """The input, output and state slots the categories declare, in index order."""
    return (
        tuple(s for c in categories for s in c.input_slots(info)),
        tuple(s for c in categories for s in c.output_slots(info)),
        tuple(s for c in categories for s in c.state_slots(info)),
    )


def _result(
    unit: CompileUnit,
    code: Any,
    addresses: dict[str, int],
    categories: list[Any],
    source: str,
    sig_text: str,
    slots: tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None = None,
) -> CompilationResult:
    """The `NodeArtifact` and `CompilationResult` of a compiled unit (categories add metadata)."""
    info, params, key, options = unit.info, unit.params, unit.key, unit.options
    user = info.user
    native_name = unit.native_name
    inputs, outputs, state = slots if slots is not None else _slots(info, categories)

    artifact = NodeArtifact(
        native_name=native_name,
        semantic_key=key,
        qualname=user.qualname,
        params=tuple(Param(p.name, p.type) for p in params),
        inputs=inputs,
        outputs=outputs,
        state=state,
        llvm_ir=code.llvm_ir,
        toolchain=toolchain_fingerprint(),
        imports=code.imports,
        extra={k: v for c in categories for k, v in c.artifact_entries(info).items()},
        adapters=code.adapters,
    )
    metadata = artifact.metadata()
    for category in categories:
        metadata.update(category.get_result_metadata(info))
    output_analysis = info.output_analysis
    return CompilationResult(
        compiled_func=NativeEntryPoint(native_name, addresses[native_name], params, code.llvm_ir),
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
        adapter_addresses={a["name"]: addresses[a["symbol"]] for a in code.adapters},
    )


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


