"""Entry adapters: extra exported functions of a host's own shape around a node's entry point.

A host whose engine calls every node through one fixed callback shape (``void cb(void* node,
void* state)``, ``int64_t run(void** state, int8_t phase)``) registers an `EntryAdapter` in the
active `CompilationContext`. Every node compiled there (for which `EntryAdapter.applies_to` is
true) then also exports ``<native_name>__<name>`` (`adapter_symbol`): a function the adapter's
`EntryAdapter.build` writes in LLVM IR with `llvmlite.ir`, around a declaration of the node's entry
point. The IR passes link it into the node's own module before optimisation (so the entry point
can be inlined into it), which makes it part of the final IR and of everything built from it: the
artifact (`NodeArtifact.adapters`), the persistent cache, `link` and AOT libraries. No C compiler
is involved. The entry point itself does not change.

This module only builds IR text (`adapter_ir`); parsing and linking it is `post_compilation`'s job.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import llvmlite.ir as ir
from numba.core import types

from .compilation_context import CompilationContext
from .errors import InternalCompilerError
from .models import StateSlot, ValueSlot
from .source_registry import CfuncParam
from .utils.introspection import check_arity
from .utils.type_names import parse_numba_type

__all__ = [
    "AdapterBuilder",
    "AdapterNode",
    "EntryAdapter",
    "RegisteredAdapter",
    "adapter_ir",
    "adapter_symbol",
    "applicable_adapters",
    "llvm_type",
    "register_entry_adapter",
    "registered_entry_adapters",
    "unregister_entry_adapter",
]

_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: C (and C++) keywords: an adapter or parameter name appears in the generated C header.
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int long "
    "register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while "
    "bool class delete new private protected public template this throw try catch namespace operator virtual".split()
)
#: The stage named by the internal errors of this module.
STAGE = "entry adapters"


def adapter_symbol(native_name: str, name: str) -> str:
    """The exported symbol of adapter ``name`` of the node ``native_name``: ``<native_name>__<name>``."""
    return f"{native_name}__{name}"


def llvm_type(spelling: str) -> ir.Type:
    """The LLVM type of a C spelling as `CfuncParam` accepts it (``"void"`` too): integers by
    width, ``bool`` as ``i8``, ``float``/``double``, and every pointer as ``ptr``."""
    if isinstance(spelling, str) and spelling.strip() == "void":
        return ir.VoidType()
    ty = parse_numba_type(spelling)
    if isinstance(ty, (types.CPointer, types.RawPointer)):
        return ir.PointerType()
    if isinstance(ty, types.Boolean):
        return ir.IntType(8)
    if isinstance(ty, types.Integer):
        return ir.IntType(ty.bitwidth)
    if isinstance(ty, types.Float):
        return ir.FloatType() if ty.bitwidth == 32 else ir.DoubleType()
    raise ValueError(f"type {spelling!r} ({ty}) cannot be a C parameter or result")


def _ir_type_of_text(text: str) -> ir.Type:
    """An LLVM type as the LLVM IR of a parsed module prints it (``ptr``, ``i8``, ``double``)."""
    if text == "ptr" or text.endswith("*"):
        return ir.PointerType()
    if re.fullmatch(r"i\d+", text):
        return ir.IntType(int(text[1:]))
    simple = {"double": ir.DoubleType(), "float": ir.FloatType(), "half": ir.HalfType()}
    if text in simple:
        return simple[text]
    raise ValueError(f"entry point parameter of LLVM type {text!r} is not supported by entry adapters")


# -- what an adapter sees ------------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterNode:
    """Plain data about the node being wrapped (no live objects).

    ``native_name`` is the node's entry point; it is ``""`` in `EntryAdapter.applies_to`, which is
    asked before the name exists (the name depends on which adapters apply).
    """

    native_name: str
    qualname: str
    params: tuple[CfuncParam, ...]  # the entry point's parameters, in order
    inputs: tuple[ValueSlot, ...]
    outputs: tuple[ValueSlot, ...]
    state: tuple[StateSlot, ...]

    def __post_init__(self) -> None:
        for name in ("params", "inputs", "outputs", "state"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def param(self, name: str) -> CfuncParam | None:
        """The entry point's parameter ``name``, or None."""
        return next((p for p in self.params if p.name == name), None)


class AdapterBuilder:
    """What `EntryAdapter.build` writes the adapter with.

    ``module`` is the adapter's own `llvmlite.ir.Module` (its triple and data layout are the
    node's); ``function`` the adapter function, whose parameters are ``args`` (by name);
    ``builder`` is positioned at the start of its entry block; ``entry`` is the node's entry point
    (declared: call it with `call_entry`, or ``builder.call(entry, [...])``); ``node`` is the
    `AdapterNode`.
    """

    def __init__(self, module: ir.Module, function: ir.Function, entry: ir.Function, node: AdapterNode) -> None:
        self.module = module
        self.function = function
        self.entry = entry
        self.node = node
        self.builder = ir.IRBuilder(function.append_basic_block("entry"))
        self.args: dict[str, ir.Value] = {arg.name: arg for arg in function.args}

    def declare(self, name: str, restype: str, *argtypes: str) -> ir.Function:
        """Declare the external C function ``restype name(argtypes...)`` (C spellings as
        `CfuncParam` accepts, ``"void"`` as the result of a function returning nothing). It is
        resolved when the code is loaded or linked, like the node's other imports: a symbol the
        process does not define is an `UnresolvedSymbolError` at load. Declaring the same name
        again with the same types returns the same function."""
        if not isinstance(name, str) or not _C_IDENTIFIER.match(name):
            raise ValueError(f"declare: {name!r} is not a C identifier")
        fnty = ir.FunctionType(llvm_type(restype), [_param_type(t) for t in argtypes])
        existing = self.module.globals.get(name)
        if existing is None:
            return ir.Function(self.module, fnty, name=name)
        if isinstance(existing, ir.Function) and existing.function_type == fnty:
            return existing
        what = existing.function_type if isinstance(existing, ir.Function) else existing.type
        raise ValueError(f"declare: {name!r} is already declared as {what}, not {fnty}")

    def call_entry(self, **values: Any) -> None:
        """Call the entry point with ``values`` by parameter name (`llvmlite.ir.Value`s of the
        parameter's LLVM type, or Python numbers for integer and float parameters such as
        ``lifecycle_phase=numba_rt.abi.Phase.START``). Parameters not given are passed as null / 0."""
        names = [p.name for p in self.node.params]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise TypeError(f"call_entry: the entry point has no parameter {', '.join(map(repr, unknown))} (it has {', '.join(names)})")
        args = []
        for name, ty in zip(names, self.entry.function_type.args):
            value = values.get(name)
            if value is None:
                args.append(ir.Constant(ty, None))
            elif isinstance(value, ir.Value):
                if value.type != ty:
                    raise TypeError(f"call_entry: parameter {name!r} is {ty}, got a value of type {value.type}")
                args.append(value)
            else:
                args.append(_python_constant(ty, value, f"call_entry: parameter {name!r}"))
        self.builder.call(self.entry, args)

    def constant(self, type_name: str, value: Any) -> ir.Constant:
        """An LLVM constant of the C type ``type_name`` (``constant("int8", 1)``; ``None`` is null / 0)."""
        ty = _param_type(type_name)
        return ir.Constant(ty, None) if value is None else _python_constant(ty, value, f"constant({type_name!r})")

    def array(self, type_name: str, values: Iterable[Any]) -> ir.Value:
        """A stack array of C type ``type_name`` in the adapter's frame, holding ``values``
        (`llvmlite.ir.Value`s or Python numbers; ``None`` is null / 0); returns a pointer to its
        first element (what a ``void**`` or ``int8*`` parameter of the entry point takes)."""
        ty = _param_type(type_name)
        values = list(values)
        array_type = ir.ArrayType(ty, max(len(values), 1))
        if self.builder.block is self.function.entry_basic_block:
            slot = self.builder.alloca(array_type)
        else:  # in the entry block, so the stack does not grow in a loop and LLVM can promote it
            with self.builder.goto_entry_block():
                slot = self.builder.alloca(array_type)
        first = self.builder.gep(slot, [ir.IntType(32)(0), ir.IntType(32)(0)], inbounds=True)
        for i, value in enumerate(values):
            if not isinstance(value, ir.Value):
                value = ir.Constant(ty, None) if value is None else _python_constant(ty, value, f"array({type_name!r})[{i}]")
            elif value.type != ty:
                raise TypeError(f"array({type_name!r})[{i}]: got a value of type {value.type}, expected {ty}")
            self.builder.store(value, self.builder.gep(slot, [ir.IntType(32)(0), ir.IntType(32)(i)], inbounds=True))
        return first


def _param_type(spelling: str) -> ir.Type:
    ty = llvm_type(spelling)
    if isinstance(ty, ir.VoidType):
        raise ValueError(f"{spelling!r} is not a value type")
    return ty


def _python_constant(ty: ir.Type, value: Any, what: str) -> ir.Constant:
    if isinstance(ty, ir.IntType) and isinstance(value, int):
        return ir.Constant(ty, int(value))
    if isinstance(ty, (ir.DoubleType, ir.FloatType, ir.HalfType)) and isinstance(value, (int, float)):
        return ir.Constant(ty, float(value))
    raise TypeError(f"{what} is {ty}: give an llvmlite.ir.Value{' or a Python number' if not isinstance(ty, ir.PointerType) else ''}, not {value!r}")


# -- the extension point -------------------------------------------------------------------------


class EntryAdapter:
    """An extra exported function of the host's own shape around every node's entry point.

    Subclass it and register an instance with `register_entry_adapter` in the active
    `CompilationContext`. Set ``name`` (a C identifier: the symbol is ``<native_name>__<name>``),
    ``restype`` (a C spelling as `CfuncParam` accepts, or ``"void"``) and ``params`` (a tuple of
    `CfuncParam`), as class or instance attributes, and implement `build`.
    """

    name: str = ""
    restype: str = "void"
    params: tuple[CfuncParam, ...] = ()

    def applies_to(self, node: AdapterNode) -> bool:
        """Whether nodes like ``node`` get this adapter (default: every node). ``node.native_name``
        is empty here."""
        return True

    def build(self, node: AdapterNode, b: AdapterBuilder) -> None:
        """Emit the adapter's body with ``b.builder``, ending every block with a terminator
        (``b.builder.ret_void()`` / ``b.builder.ret(value)``)."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement build(node, b)")

    def key(self) -> str:
        """What determines the generated code besides ``name``, ``restype``, ``params`` and the code
        of this class's methods (which the semantic key covers by itself): by default the class's
        module and qualified name and the repr of the instance's attributes. Override it if an
        attribute's repr is not stable across processes (``<object at 0x...>``)."""
        cls = type(self)
        fields = sorted((k, repr(v)) for k, v in vars(self).items()) if hasattr(self, "__dict__") else []
        if dataclasses.is_dataclass(self):
            fields = sorted({(f.name, repr(getattr(self, f.name))) for f in dataclasses.fields(self)} | set(fields))
        return f"{cls.__module__}.{cls.__qualname__}:{fields!r}"


@dataclass(frozen=True)
class RegisteredAdapter:
    """An `EntryAdapter` as registered: its checked ``name``, ``restype`` (canonical text) and
    ``params``, taken when it was registered."""

    adapter: EntryAdapter
    name: str
    restype: str
    params: tuple[CfuncParam, ...]

    @property
    def label(self) -> str:
        """``module.Class (entry adapter 'name')``: who to blame in errors."""
        cls = type(self.adapter)
        return f"{cls.__module__}.{cls.__qualname__} (entry adapter {self.name!r})"

    def signature(self) -> str:
        return f"{self.restype}({', '.join(f'{p.name}: {p.type}' for p in self.params)})"

    def key_text(self) -> str:
        """The text the semantic key hashes for this adapter (with `EntryAdapter.key`)."""
        try:
            key = self.adapter.key()
        except Exception as exc:  # noqa: BLE001 - the adapter's bug, reported as such
            raise _adapter_error(self, "key()", exc) from exc
        if not isinstance(key, str):
            raise InternalCompilerError(f"entry adapter {self.name!r}: key() must return a str, got {key!r}",
                                        stage=STAGE, extension=self.label)
        return f"adapter {self.name}: {self.signature()}: {key}"

    def describe(self, native_name: str) -> dict[str, Any]:
        """The artifact's entry for this adapter around ``native_name`` (plain data)."""
        return {
            "name": self.name,
            "symbol": adapter_symbol(native_name, self.name),
            "restype": self.restype,
            "params": [{"name": p.name, "type": p.type} for p in self.params],
        }


def _adapter_error(spec: RegisteredAdapter, what: str, exc: BaseException) -> InternalCompilerError:
    return InternalCompilerError(
        f"entry adapter {spec.name!r} ({type(spec.adapter).__module__}.{type(spec.adapter).__qualname__}) "
        f"failed in {what}: {type(exc).__name__}: {exc}",
        stage=STAGE,
        extension=spec.label,
    )


def _checked(adapter: EntryAdapter) -> RegisteredAdapter:
    """The `RegisteredAdapter` of ``adapter``; TypeError/ValueError naming it if it is malformed."""
    if not isinstance(adapter, EntryAdapter):
        raise TypeError(f"register_entry_adapter expects an EntryAdapter instance, got {adapter!r}")
    where = f"entry adapter {type(adapter).__module__}.{type(adapter).__qualname__}"
    name = adapter.name
    if not isinstance(name, str) or not _C_IDENTIFIER.match(name) or name in _C_KEYWORDS:
        raise ValueError(f"{where}: name {name!r} must be a C identifier (letters, digits, '_'; not a keyword)")
    where = f"{where} {name!r}"
    restype = adapter.restype
    if isinstance(restype, str) and restype.strip() == "void":
        restype = "void"
    else:
        try:
            restype = CfuncParam("result", restype).type
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: restype {restype!r} is not a C result type ('void' or {exc})") from None
    if isinstance(adapter.params, (str, bytes)) or not isinstance(adapter.params, Iterable):
        raise TypeError(f"{where}: params must be a tuple of CfuncParam, got {adapter.params!r}")
    params = tuple(adapter.params)
    seen: set[str] = set()
    for p in params:
        if not isinstance(p, CfuncParam):
            raise TypeError(f"{where}: params must be CfuncParam instances, got {p!r}")
        try:  # again: a CfuncParam can be forged past its constructor
            p = CfuncParam(p.name, p.type)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        if p.name in _C_KEYWORDS or not _C_IDENTIFIER.match(p.name):
            raise ValueError(f"{where}: parameter name {p.name!r} must be a C identifier, not a keyword")
        if p.name in seen:
            raise ValueError(f"{where}: parameter {p.name!r} appears twice")
        seen.add(p.name)
    check_arity(getattr(adapter, "build", None), 2, f"{where}: build", "(node, b)")
    check_arity(getattr(adapter, "applies_to", None), 1, f"{where}: applies_to", "(node)")
    check_arity(getattr(adapter, "key", None), 0, f"{where}: key", "()")
    return RegisteredAdapter(adapter, name, restype, params)


def register_entry_adapter(adapter: EntryAdapter) -> EntryAdapter:
    """Register ``adapter`` in the active `CompilationContext`: every node compiled there for
    which ``adapter.applies_to(node)`` is true also exports ``<native_name>__<adapter.name>``.
    Checked now: the name (a C identifier, unique in the context: ValueError), ``restype``,
    ``params`` and the hooks' signatures. ``name``, ``restype`` and ``params`` are read once, here."""
    spec = _checked(adapter)
    registry = CompilationContext.current().entry_adapters
    if spec.name in registry:
        other = registry[spec.name].adapter
        raise ValueError(
            f"entry adapter {spec.name!r} is already registered ({type(other).__module__}.{type(other).__qualname__})"
        )
    registry[spec.name] = spec
    return adapter


def unregister_entry_adapter(name: str) -> None:
    """Remove the adapter registered as ``name`` from the active context (KeyError if none is)."""
    registry = CompilationContext.current().entry_adapters
    if name not in registry:
        raise KeyError(f"no entry adapter {name!r} is registered")
    del registry[name]


def registered_entry_adapters() -> list[EntryAdapter]:
    """The adapters of the active context, in registration order."""
    return [spec.adapter for spec in CompilationContext.current().entry_adapters.values()]


# -- the pipeline's side ----------------------------------------------------------------------------


def applicable_adapters(node: AdapterNode) -> tuple[RegisteredAdapter, ...]:
    """The adapters of the active context that apply to ``node``, in registration order."""
    found = []
    for spec in CompilationContext.current().entry_adapters.values():
        try:
            applies = spec.adapter.applies_to(node)
        except Exception as exc:  # noqa: BLE001 - the adapter's bug, reported as such
            raise _adapter_error(spec, "applies_to()", exc) from exc
        if applies:
            found.append(spec)
    return tuple(found)


def adapter_ir(spec: RegisteredAdapter, node: AdapterNode, entry_types: Iterable[str], *, triple: str, data_layout: str) -> str:
    """The LLVM IR text of a module defining adapter ``spec`` around ``node``'s entry point, whose
    parameters have the LLVM types ``entry_types`` (as the node's IR prints them). A failing
    ``build`` is an `InternalCompilerError` naming the adapter."""
    symbol = adapter_symbol(node.native_name, spec.name)
    module = ir.Module(name=symbol)
    module.triple, module.data_layout = triple, data_layout
    try:
        entry_types = [_ir_type_of_text(t) for t in entry_types]
    except ValueError as exc:
        raise _adapter_error(spec, "declaring the entry point", exc) from exc
    entry = ir.Function(module, ir.FunctionType(ir.VoidType(), entry_types), name=node.native_name)
    fnty = ir.FunctionType(llvm_type(spec.restype), [llvm_type(p.type) for p in spec.params])
    function = ir.Function(module, fnty, name=symbol)
    for arg, param in zip(function.args, spec.params):
        arg.name = param.name
    b = AdapterBuilder(module, function, entry, node)
    try:
        spec.adapter.build(node, b)
    except Exception as exc:  # noqa: BLE001 - the adapter's bug, reported as such
        raise _adapter_error(spec, "build()", exc) from exc
    open_blocks = [block.name for block in function.blocks if not block.is_terminated]
    if open_blocks:
        raise InternalCompilerError(
            f"entry adapter {spec.name!r}: build() left block(s) {', '.join(map(repr, open_blocks))} without a "
            "terminator (end the body with b.builder.ret_void() or b.builder.ret(value))",
            stage=STAGE,
            extension=spec.label,
        )
    try:
        return str(module)
    except Exception as exc:  # noqa: BLE001 - e.g. an instruction llvmlite cannot print
        raise _adapter_error(spec, "build() (its IR cannot be printed)", exc) from exc
