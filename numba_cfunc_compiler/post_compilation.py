"""IR passes run on Numba's output (machine code is generated afterwards, once: `targets.jit`).

Each pass is a small function over a parsed llvmlite module. Together they turn the module of a
``@cfunc`` into the final form: one exported definition ``_gc_numba_<key>`` (our own wrapper, which
sends a failure status of the Numba function to the runtime's error record instead of Python) plus
the entry adapters registered for the node (``_gc_numba_<key>__<name>``, `link_entry_adapters`),
everything else internal, dead code and unused declarations (Numba's Python-facing wrapper and its
``Py*``/``numba_gil_*`` declarations) removed.
"""

from __future__ import annotations

import logging
import re
from typing import Iterable

import llvmlite.binding as llvm
from numba_rt import abi

from .entry_adapters import AdapterNode, RegisteredAdapter, adapter_ir, adapter_symbol
from .errors import InternalCompilerError
from .targets.jit import host_target_machine
from .utils.intrinsics import ENTRY_NAME_SYMBOL

__all__ = [
    "ERROR_SET_SYMBOL",
    "FORBIDDEN_SYMBOL_PREFIXES",
    "add_entry_point",
    "link_entry_adapters",
    "bind_entry_name",
    "mark_pure",
    "link_ffi_bitcode",
    "strip_target_attributes",
    "force_inline",
    "internalize_except",
    "optimize",
    "forbidden_declarations",
    "finalize_module",
    "host_target_machine",
    "external_symbols",
]

log = logging.getLogger(__name__)

ERROR_SET_SYMBOL = abi.ERROR_SET_SYMBOL
FORBIDDEN_SYMBOL_PREFIXES = ("Py", "_Py", "numba_gil_")
NCC_ERR_EXCEPTION = int(abi.ErrorCode.EXCEPTION)
_NUMBA_OK, _NUMBA_NONE = 0, -2  # Numba's success statuses (RETCODE_OK, RETCODE_NONE)


def _c_string(name: str, text: str) -> str:
    data = text.encode() + b"\0"
    escaped = "".join(chr(b) if 32 <= b < 127 and b not in (34, 92) else f"\\{b:02X}" for b in data)
    return f'@{name} = private unnamed_addr constant [{len(data)} x i8] c"{escaped}"'


def add_entry_point(module: llvm.ModuleRef, inner_name: str, native_name: str, *, noinline: bool) -> None:
    """Define ``native_name`` with the plain C signature of the Numba function ``inner_name``.

    The wrapper calls the Numba function and, if it reports an exception, records
    ``NCC_ERR_EXCEPTION`` in the runtime's thread-local error record.
    """
    inner = module.get_function(inner_name)
    arg_types = [str(a.type) for a in inner.arguments]
    if len(arg_types) < 2:
        raise ValueError(f"{inner_name} does not have Numba's calling convention")
    ret_ty, exc_ty, *params = arg_types
    formal = ", ".join(f"{t} %a{i}" for i, t in enumerate(params))
    actual = ", ".join([f"{ret_ty} %ret", f"{exc_ty} %exc"] + [f"{t} %a{i}" for i, t in enumerate(params)])
    message = f"exception raised in compiled code of {native_name}"
    text = f"""
target triple = "{module.triple}"
target datalayout = "{module.data_layout}"
declare i32 @"{inner_name}"({", ".join(arg_types)})
{abi.llvm_declaration(ERROR_SET_SYMBOL)}
{_c_string(".ncc.entry", native_name)}
{_c_string(".ncc.message", message)}
define void @"{native_name}"({formal}) {{
entry:
  %ret = alloca [16 x i8], align 8
  %exc = alloca ptr, align 8
  store ptr null, ptr %exc, align 8
  %st = call i32 @"{inner_name}"({actual}){" #0" if noinline else ""}
  %ok = icmp eq i32 %st, {_NUMBA_OK}
  %none = icmp eq i32 %st, {_NUMBA_NONE}
  %good = or i1 %ok, %none
  br i1 %good, label %done, label %fault, !prof !0
fault:
  call void @{ERROR_SET_SYMBOL}(i32 {NCC_ERR_EXCEPTION}, ptr @.ncc.message, ptr @.ncc.entry)
  br label %done
done:
  ret void
}}
attributes #0 = {{ noinline }}
!0 = !{{!"branch_weights", i32 2000, i32 1}}
"""
    wrapper = llvm.parse_assembly(text)
    module.link_in(wrapper)


_ENTRY_DECLARATION = re.compile(rf'^@"?{ENTRY_NAME_SYMBOL}"? = external global i8.*$', re.MULTILINE)


def bind_entry_name(ir: str, native_name: str) -> str:
    """Define the entry-name placeholder that runtime faults report (see `utils.intrinsics.entry_name`)
    as ``native_name``, so the error record names the entry point that faulted."""
    definition = _c_string(ENTRY_NAME_SYMBOL, native_name).replace("private unnamed_addr", "internal")
    return _ENTRY_DECLARATION.sub(lambda _: definition, ir)


def link_entry_adapters(
    module: llvm.ModuleRef, native_name: str, adapters: Iterable[RegisteredAdapter], node: AdapterNode | None
) -> list[str]:
    """Build each entry adapter around ``native_name`` (defined in ``module``) and link it into
    ``module``; returns their symbols. An adapter whose IR does not parse or verify is an
    `InternalCompilerError` naming it (the module is then unusable: the caller drops it)."""
    adapters = list(adapters)
    if not adapters:
        return []
    entry_types = [str(a.type) for a in module.get_function(native_name).arguments]
    symbols = []
    for spec in adapters:
        text = adapter_ir(spec, node, entry_types, triple=module.triple, data_layout=module.data_layout)
        try:
            adapter = llvm.parse_assembly(text)
            adapter.verify()
        except RuntimeError as exc:
            raise InternalCompilerError(
                f"entry adapter {spec.name!r} ({type(spec.adapter).__module__}.{type(spec.adapter).__qualname__}) "
                f"built invalid LLVM IR: {str(exc).strip()}",
                stage="entry adapters",
                extension=spec.label,
            ) from exc
        module.link_in(adapter)
        symbols.append(adapter_symbol(native_name, spec.name))
    return symbols


def force_inline(module: llvm.ModuleRef, keep: str | Iterable[str]) -> None:
    """Let the optimiser merge everything the entry point ``keep`` calls (Numba's function, ``@njit``
    helpers, container operations) into it: every other definition becomes ``alwaysinline``
    (LLVM leaves recursive ones alone). ``keep`` may name several exported definitions."""
    keep = {keep} if isinstance(keep, str) else set(keep)
    for fn in module.functions:
        if not fn.is_declaration and fn.name not in keep:
            fn.add_function_attribute("alwaysinline")


def internalize_except(module: llvm.ModuleRef, keep: Iterable[str]) -> None:
    """Give every definition except ``keep`` internal linkage, so modules link without clashes."""
    keep = set(keep)
    for value in [*module.functions, *module.global_variables]:
        if not value.is_declaration and value.name not in keep:
            value.linkage = llvm.Linkage.internal


def optimize(module: llvm.ModuleRef, target_machine: llvm.TargetMachine, level: int = 2) -> None:
    """Run LLVM's standard pipeline (inlining, IPSCCP, global DCE, dead-prototype stripping)."""
    pto = llvm.create_pipeline_tuning_options(speed_level=level)
    pb = llvm.create_pass_builder(target_machine, pto)
    mpm = pb.getModulePassManager()
    mpm.add_global_dead_code_eliminate_pass()
    mpm.add_strip_dead_prototype_pass()
    mpm.run(module, pb)


def forbidden_declarations(module: llvm.ModuleRef) -> list[str]:
    """Declarations of the Python C API or Numba's GIL helpers left in ``module``."""
    return sorted(
        f.name for f in [*module.functions, *module.global_variables]
        if f.is_declaration and f.name.startswith(FORBIDDEN_SYMBOL_PREFIXES)
    )


def mark_pure(ir: str, names: Iterable[str]) -> str:
    """Give the declarations of the C functions ``names`` the attributes ``readonly nounwind``."""
    for name in sorted(set(names)):
        pattern = re.compile(
            rf'^(declare [^@]*@"?{re.escape(name)}"?\([^)]*\)(?: local_unnamed_addr| unnamed_addr)?)(.*)$', re.MULTILINE
        )
        ir = pattern.sub(lambda m: f"{m.group(1)} readonly nounwind{m.group(2)}", ir)
    return ir


def finalize_module(
    ir: str,
    *,
    inner_name: str,
    native_name: str,
    force_inline_entry: bool,
    target_machine: llvm.TargetMachine,
    pure_functions: Iterable[str] = (),
    adapters: Iterable[RegisteredAdapter] = (),
    adapter_node: AdapterNode | None = None,
) -> llvm.ModuleRef:
    """Numba's module text -> the verified final module (see the module docstring). ``adapters``
    are built around the entry point with ``adapter_node`` and linked in before optimisation."""
    module = llvm.parse_assembly(mark_pure(bind_entry_name(ir, native_name), pure_functions))
    add_entry_point(module, inner_name, native_name, noinline=not force_inline_entry)
    exported = {native_name, *link_entry_adapters(module, native_name, adapters, adapter_node)}
    if force_inline_entry:
        force_inline(module, exported)
    internalize_except(module, exported)
    optimize(module, target_machine)
    module.verify()
    return module


def external_symbols(module: llvm.ModuleRef) -> list[str]:
    """Names of the functions and globals ``module`` declares but does not define (what the code
    imports from the process: the runtime's ``ncc_*``, Numba's helpers, host C functions).
    LLVM intrinsics (``llvm.*``) are not symbols."""
    return sorted(
        v.name for v in [*module.functions, *module.global_variables]
        if v.is_declaration and not v.name.startswith("llvm.")
    )


_TARGET_ATTRIBUTES = re.compile(r'\s*"target-(?:cpu|features)"="[^"]*"')


_NOT_INLINABLE = re.compile(r"(?<=[{\s])(?:noinline|optnone)(?=[\s}])")


def strip_target_attributes(ir: str) -> str:
    """Remove ``target-cpu`` / ``target-features`` attributes, the ``noinline`` / ``optnone`` of
    unoptimised builds (and attribute groups left empty)."""
    ir = _TARGET_ATTRIBUTES.sub("", ir)
    ir = _NOT_INLINABLE.sub("", ir)  # bitcode built at -O0 carries these; alwaysinline conflicts
    for group in re.findall(r"^attributes #(\d+) = \{\s*\}$", ir, re.MULTILINE):
        ir = re.sub(rf"^attributes #{group} = \{{\s*\}}\n?", "", ir, flags=re.MULTILINE)
        ir = re.sub(rf" #{group}\b", "", ir)
    return ir


def link_ffi_bitcode(module: llvm.ModuleRef, bitcode: bytes) -> llvm.ModuleRef:
    """Link the FFI function bodies in ``bitcode`` into ``module`` so the optimiser can inline them.

    Every function defined in the bitcode is marked ``alwaysinline`` and its ``target-cpu`` /
    ``target-features`` attributes are stripped (they would block inlining into code built for
    another CPU description). On any error the unchanged ``module`` is returned and a warning
    logged: the calls then stay calls to the external symbols.
    """
    try:
        ffi = llvm.parse_bitcode(bitcode)
        ffi = llvm.parse_assembly(strip_target_attributes(str(ffi)))
        ffi.triple, ffi.data_layout = module.triple, module.data_layout
        for fn in ffi.functions:
            if not fn.is_declaration:
                fn.add_function_attribute("alwaysinline")
        linked = llvm.parse_assembly(str(module))
        linked.link_in(ffi)
        linked.verify()
        return linked
    except Exception as exc:  # noqa: BLE001 - any failure falls back to external calls
        log.warning("link_ffi_bitcode: keeping FFI calls external: %s", exc)
        return module
