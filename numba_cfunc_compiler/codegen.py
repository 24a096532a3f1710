"""Code generation: the machine code of a semantic key, from the process memo, the persistent
cache, or Numba lowering -> IR passes -> one code generation, mapped into the process JIT.

`CompileUnit` carries what the stages after AST conversion need. Numba only types and lowers the
generated function (`lower_with_numba`: a slimmer pipeline, no wrappers, no machine code); the IR
passes (`post_compilation`) make the final module; `targets.jit` generates machine code once and
maps it. The persistent cache (`targets.cache`) stores the final IR, its imports and the object
code under `cache_key`, so a hit in another process skips Numba and LLVM both.

``NCC_DUMP`` (a comma-separated list of ``source``, ``ir``, ``asm``, or ``all``) prints on stderr
what each node compiles to, as it is compiled or read from the persistent cache (`dump_stages`).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import linecache
import logging
import os
import re
import struct
import sys
from typing import Any

import llvmlite.binding as llvm
from numba.core import cgutils, compiler, registry, typed_passes, types, untyped_passes
from numba.core import errors as numba_errors
from numba.core.codegen import JITCodeLibrary
from numba.core.compiler_lock import global_compiler_lock
from numba.core.compiler_machinery import PassManager

from .artifact import toolchain_fingerprint
from .entry_adapters import AdapterNode, RegisteredAdapter
from .errors import CompilationError, SourceLocation, internal_errors
from .function_analyzer import NumbaFunctionInfo
from .numba_ast_converter import GENERATED_FUNCTION_NAME
from .post_compilation import external_symbols, finalize_module, forbidden_declarations, host_target_machine
from .source_registry import CfuncParam
from .targets.cache import CompileCache
from .targets.jit import UnresolvedSymbolError, process_jit
from .utils.checks import CHECK_PATTERN
from .utils.suggest import did_you_mean
from .variable_factory import RESERVED_PREFIX, VariableFactory

__all__ = [
    "DUMP_STAGES",
    "Code",
    "CompileUnit",
    "cache_key",
    "code_for",
    "compile_cache",
    "compile_code",
    "dump_stages",
    "lower_with_numba",
]

log = logging.getLogger("numba_cfunc_compiler.cache")


@dataclasses.dataclass(frozen=True)
class CompileUnit:
    """One function after AST conversion: everything code generation needs.

    ``module`` is the generated module and ``namespace`` its globals; ``params`` the cfunc
    parameters; ``key`` the semantic key and ``native_name`` the exported symbol; ``info`` and
    ``factory`` map Numba's errors back to the user's names and lines; ``adapters`` the entry
    adapters (`entry_adapters.RegisteredAdapter`) built around the entry point with ``adapter_node``.
    """

    module: ast.Module
    namespace: dict[str, Any]
    params: list[CfuncParam]
    options: Any
    key: str
    native_name: str
    info: NumbaFunctionInfo
    factory: VariableFactory
    adapters: tuple[RegisteredAdapter, ...] = ()
    adapter_node: AdapterNode | None = None


@dataclasses.dataclass(frozen=True)
class Code:
    """The compiled code of one semantic key: final IR, the symbols it imports, its object code,
    and the entry adapters it exports besides the entry point (`NodeArtifact.adapters` entries)."""

    llvm_ir: str
    imports: tuple[str, ...]
    object_code: bytes
    adapters: tuple[dict[str, Any], ...] = ()

    def exports(self, native_name: str) -> list[str]:
        """The symbols this code exports: the entry point ``native_name``, then its adapters."""
        return [native_name, *(a["symbol"] for a in self.adapters)]


def _load(native_name: str, code: Code) -> dict[str, int]:
    """Map ``code`` into the process JIT (or add a holder): the address of each exported symbol."""
    return process_jit().load_library(native_name, code.object_code, code.exports(native_name), code.imports)


def code_for(unit: CompileUnit, memo: dict[str, Code]) -> tuple[Code, dict[str, int]]:
    """The code of ``unit`` and the addresses of its exported symbols (the entry point, then its
    adapters) in the process JIT: from ``memo`` (the context's results), else the persistent cache,
    else compiled; remembered in ``memo``."""
    code = memo.get(unit.key)
    if code is not None:
        return code, _load(unit.native_name, code)
    code, addresses = _cached_or_compiled(unit)
    memo[unit.key] = code
    return code, addresses


def _cached_or_compiled(unit: CompileUnit) -> tuple[Code, dict[str, int]]:
    """A cache entry that does not decode or load is rebuilt."""
    dump = os.environ.get("NCC_DUMP", "")  # read once per compile
    dump_stages(unit, dump)  # the source first: a compile that fails still shows it
    cache = compile_cache()
    ckey = cache_key(unit.key)
    payload = cache.get(ckey) if cache is not None else None
    if payload is not None:
        try:
            code = _unpack(payload)
            dump_stages(unit, dump, code, cached=True)
            return code, _load(unit.native_name, code)
        except UnresolvedSymbolError:
            raise
        except Exception as exc:  # noqa: BLE001 - a valid checksum over unusable contents: rebuild
            log.debug("cache entry %s for %s is unusable (%s); recompiling", ckey, unit.native_name, exc)
    code = compile_code(unit)
    dump_stages(unit, dump, code)
    addresses = _load(unit.native_name, code)
    if cache is not None:
        cache.put(ckey, _pack(code))
    return code, addresses


def compile_code(unit: CompileUnit) -> Code:
    """Numba lowering (no code generation) -> IR passes -> the one code generation. An unexpected
    failure in a step is an `InternalCompilerError` naming that step (`internal_errors`)."""
    user = unit.info.user
    with internal_errors("Numba lowering", user):
        ir, inner_name = lower_with_numba(unit)
    with internal_errors("IR passes", user):
        final = finalize_module(
            ir,
            inner_name=inner_name,
            native_name=unit.native_name,
            force_inline_entry=unit.options.force_inline,
            target_machine=host_target_machine(),
            pure_functions=unit.info.pure_functions,
            adapters=unit.adapters,
            adapter_node=unit.adapter_node,
        )
    leftovers = forbidden_declarations(final)
    if leftovers:
        raise CompilationError(
            f"compiled code still refers to the Python runtime ({', '.join(leftovers[:5])})",
            unit.info.location(None),
            stage="IR passes",
            hint="something in the function needs Python objects; use numbers and registered types only",
        )
    adapters = tuple(spec.describe(unit.native_name) for spec in unit.adapters)
    with internal_errors("machine code generation", user):
        return Code(str(final), tuple(external_symbols(final)), process_jit().emit_object(final), adapters)


# -- NCC_DUMP ---------------------------------------------------------------------------------
#: The stages ``NCC_DUMP`` can name, in the order they are printed (``all`` names every one).
DUMP_STAGES = ("source", "ir", "asm")


def dump_stages(unit: CompileUnit, setting: str, code: Code | None = None, *, cached: bool = False) -> None:
    """Print on stderr the stages that ``setting`` (the value of ``NCC_DUMP``) names, each under a
    header line naming the node: its transformed source when ``code`` is None (before lowering),
    else the final LLVM IR and the assembly for this process's JIT (generated from the IR, so a
    persistent-cache hit shows it too). Unknown names are ignored with a one-line notice."""
    names = {name.strip().lower() for name in setting.split(",")} - {""}
    if not names:
        return
    if "all" in names:
        names = (names - {"all"}) | set(DUMP_STAGES)
    unknown = sorted(names - set(DUMP_STAGES))
    blocks = []
    if unknown and code is None:
        blocks.append(f"NCC_DUMP: ignoring {', '.join(unknown)} (expected a comma-separated list of "
                      f"{', '.join(DUMP_STAGES)}, or all)\n")
    origin = ", from the persistent compile cache" if cached else ""
    for stage in ("source",) if code is None else ("ir", "asm"):
        if stage not in names:
            continue
        detail = origin
        if stage == "source":
            text = ast.unparse(unit.module)
        elif stage == "ir":
            text = code.llvm_ir
        else:
            machine = host_target_machine(jit=True)
            text = machine.emit_assembly(llvm.parse_assembly(code.llvm_ir))
            detail = f", for {machine.triple} {llvm.get_host_cpu_name()}{origin}"
        header = f"=== NCC_DUMP {stage}: {unit.info.user.qualname} ({unit.native_name}{detail}) ==="
        blocks.append(f"{header}\n{text.rstrip()}\n")
    sys.stderr.write("".join(blocks))  # one write per call: compiles on other threads do not split it
    sys.stderr.flush()


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


def cache_key(semantic_key: str) -> str:
    """The persistent-cache key of a semantic key: it adds the toolchain fingerprint (the semantic
    key already covers the code of every ``@njit`` helper and FFI declaration the node uses)."""
    text = f"{_CACHE_FORMAT}\n{semantic_key}\n{_toolchain_text()}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _pack(code: Code) -> bytes:
    head = json.dumps({"llvm_ir": code.llvm_ir, "imports": list(code.imports), "adapters": list(code.adapters)}).encode()
    return struct.pack("<Q", len(head)) + head + code.object_code


def _unpack(payload: bytes) -> Code:
    (size,) = struct.unpack_from("<Q", payload)
    head = json.loads(payload[8 : 8 + size])
    return Code(head["llvm_ir"], tuple(head["imports"]), payload[8 + size :], tuple(head.get("adapters", ())))


# -- Numba ------------------------------------------------------------------------------------
#: Passes of Numba's nopython pipeline that generated node code never needs: the converter rejects
#: ``with``, closures, lambdas, comprehensions and ``raise`` before Numba runs, it uses no arrays
#: (NopythonRewrites only rewrites array expressions and string-literal getitems) and there are no
#: parfors. ``@njit`` helpers compile with Numba's full pipeline.
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


def lower_with_numba(unit: CompileUnit) -> tuple[str, str]:
    """Run Numba's type inference and lowering on the generated module, without generating machine
    code or any Python-facing wrapper: returns the LLVM IR (with the ``@njit`` helpers it calls
    linked in) and the name of the lowered function. Numba's errors come back at the user's line."""
    info, factory = unit.info, unit.factory
    code = compile(unit.module, info.filename, "exec")
    scope = dict(unit.namespace)
    exec(code, scope)  # noqa: S102 - our generated code
    pyfunc = scope[GENERATED_FUNCTION_NAME]
    target = registry.cpu_target
    flags = compiler.Flags()
    target.options.parse_as_flags(
        flags, {"nopython": True, "nogil": True, "_nrt": False, "error_model": "numpy", "fastmath": unit.options.fastmath}
    )
    flags.no_cpython_wrapper = True  # we add our own C entry point (post_compilation.add_entry_point)
    flags.no_cfunc_wrapper = True
    flags.no_compile = True  # the IR passes come first; machine code is generated once, after them
    flags.enable_pyobject = False
    args = tuple(p.numba_type for p in unit.params)
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
    stage = "Numba lowering" if isinstance(exc, numba_errors.LoweringError) else "Numba typing"
    explained = _explain(text, info, factory, lineno)
    if explained is not None:
        message, location, hint = explained
        return CompilationError(message, location, stage=stage, hint=hint)
    location = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno, info, summary))
    return CompilationError(
        f"Numba could not compile this line: {summary}",
        location,
        stage=stage,
        hint="check the types of the values used on this line",
    )


_LOSSY_STORE = re.compile(r"a (\S+) value cannot be stored where an? (\w+) is expected")
_UNDEFINED = re.compile(r"Variable '(\w+)' is not defined")
_UNTYPED_GLOBAL = re.compile(r"Untyped global name '(\w+)'.*?<class '(\w+)'>")
_CONVERT_HINT = {"int": "wrap the value in int(...) (it truncates toward zero; round(...) rounds)", "bool": "wrap the value in bool(...)"}


def _shown(numba_type: str) -> str:
    """A Numba type as the user's Python code names it (``float64`` -> ``float``)."""
    base = re.sub(r"^Literal\[(\w+)\].*$", r"\1", numba_type)
    if base.startswith("bool"):
        return "bool"
    match = re.fullmatch(r"(u?int|float)\d*", base)
    return ("float" if match.group(1) == "float" else "int") if match else base


def _explain(text: str, info: NumbaFunctionInfo, factory: VariableFactory, lineno: int | None) -> tuple[str, SourceLocation, str] | None:
    """For the typing errors whose cause we know: the user's message, where (the offending
    sub-expression) and what to do; None for the others."""
    check = CHECK_PATTERN.search(text)
    checks = getattr(info, "typing_checks", [])
    if check and int(check.group(1)) < len(checks):
        node, message, hint = checks[int(check.group(1))]
        return message.format(type=_shown(check.group(2))), info.location(node), hint
    if not lineno:
        return None
    lossy = _LOSSY_STORE.search(text)
    if lossy:
        value_type, cell_type = _shown(lossy.group(1)), lossy.group(2)
        hint = _CONVERT_HINT.get(cell_type, f"convert the value to {cell_type}")
        for kind, name, store_type, node, returned in _stores_at(info, factory, lineno):
            if _shown(store_type) == cell_type:
                verb = "returned into" if returned else "stored in"
                return f"a {value_type} value cannot be {verb} {cell_type} {kind} {name!r}", info.location(node), hint
        article = "an" if cell_type[:1] in "aeiou" else "a"
        where = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno))
        return f"a {value_type} value cannot be stored where {article} {cell_type} is expected", where, hint
    undefined = _UNDEFINED.search(text)
    if undefined:
        name = undefined.group(1)
        where = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno, info, f"'{name}'"))
        known = [n for n in factory.variables if not n.startswith(RESERVED_PREFIX)]
        return (
            f"local variable {name!r} is read before it is assigned{did_you_mean(name, known)}",
            where,
            "assign it first, or declare it with State[...] to keep its value across calls",
        )
    untyped = _UNTYPED_GLOBAL.search(text)
    if untyped and untyped.group(2) == "function":
        name = untyped.group(1)
        where = SourceLocation(info.filename, lineno, _first_column(info.filename, lineno, info, f"'{name}'"))
        return f"cannot use plain Python function {name!r} in compiled code", where, "decorate it with @numba.njit"
    return None


def _statements_at(info: NumbaFunctionInfo, lineno: int) -> list[ast.stmt]:
    """The user's statements whose lines cover ``lineno``, innermost first."""
    found = [
        n
        for stmt in getattr(info, "user_code", info.body)
        for n in ast.walk(stmt)
        if isinstance(n, ast.stmt) and n.lineno <= lineno <= (n.end_lineno or n.lineno)
    ]
    return sorted(found, key=lambda n: (n.end_lineno or n.lineno) - n.lineno)


def _stores_at(info: NumbaFunctionInfo, factory: VariableFactory, lineno: int) -> list[tuple[str, str, str, ast.AST, bool]]:
    """What the statement at ``lineno`` writes into typed cells: ``(kind, name, cell type, value
    node, is a return)`` for each output or state variable it stores into."""
    stores: list[tuple[str, str, str, ast.AST, bool]] = []
    for stmt in _statements_at(info, lineno):
        if isinstance(stmt, ast.Return) and stmt.value is not None and len(factory.outputs) == 1:
            out = factory.outputs[0]
            stores.append(("output", out.name, out.type.get_numba_type_name(), stmt.value, True))
        pairs: list[tuple[ast.expr, ast.expr]] = []
        if isinstance(stmt, ast.Assign):
            pairs = [(t, stmt.value) for t in stmt.targets]
        elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign)) and stmt.value is not None:
            pairs = [(stmt.target, stmt.value)]
        for target, value in pairs:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
                pairs += list(zip(target.elts, value.elts))
                continue
            source = factory.get(target.id) if isinstance(target, ast.Name) else None
            if source is not None and source.kind == "state" and source.type is not None:
                stores.append(("state variable", source.name, source.type.get_numba_type_name(), value, False))
        for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
            for kw in call.keywords:
                out = factory.output(kw.arg) if kw.arg else None
                if out is not None:
                    stores.append(("output", out.name, out.type.get_numba_type_name(), kw.value, False))
    return stores


def _first_column(filename: str, lineno: int | None, info: NumbaFunctionInfo | None = None, summary: str = "") -> int:
    """The column to point at on ``lineno``: the first use on that line of a name the error quotes
    (a variable or an attribute), else the statement's first character."""
    if info is not None and lineno:
        quoted = set(re.findall(r"'(\w+)'", summary))
        hits = [
            info.location(n).col_offset + (n.end_col_offset - len(n.attr) - n.col_offset if isinstance(n, ast.Attribute) else 0)
            for stmt in _statements_at(info, lineno)
            for n in ast.walk(stmt)
            if getattr(n, "lineno", None) == lineno
            and ((isinstance(n, ast.Name) and n.id in quoted) or (isinstance(n, ast.Attribute) and n.attr in quoted and n.end_lineno == lineno))
        ]
        if hits:
            return min(hits)
    line = linecache.getline(filename, lineno or 0)
    return len(line) - len(line.lstrip())
