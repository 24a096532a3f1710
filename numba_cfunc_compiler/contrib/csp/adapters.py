"""The callbacks csp's ``PyNumbaNode`` calls, generated in LLVM IR by entry adapters.

csp 0.19.1 calls a node through two function pointers of the shape ``void cb(void* node, void*
state)``: one when the engine starts, one on every cycle in which an input ticked. ``state`` is
whatever pointer the node was created with; here it is the node's ``void*`` array of state cells,
followed by a pointer to the node's status cell (`STATUS_STARTED`).
Every node compiled with the csp extension exports, besides its entry point:

- ``<native_name>__csp_start``: START, then the status cell.
- ``<native_name>__csp_execute``: EXECUTE with the outputs in cells on the callback's own stack
  (LLVM keeps them in registers once the entry point is inlined); then, if the runtime's error
  record is clear, each output the node wrote is ticked into csp with ``__csp_return_<T>_value__``.
  If a fault is recorded (by this call, or by another node earlier in this engine cycle), nothing
  is ticked but the hidden last output, a ``bool``: the node's guard consumes it and raises the
  fault as a Python exception in the same cycle.
- ``<native_name>__csp_execute_unchecked``: the same without reading the error record, for a node
  whose code cannot record a fault (`may_fault`): one call less on every tick.
- ``<native_name>__csp_stop``: STOP, called from Python by the guard at engine stop (csp 0.19.1's
  ``PyNumbaNode::stop()`` does nothing).
"""

from __future__ import annotations

import re

import llvmlite.ir as ir

from numba_rt.abi import Phase

from ...entry_adapters import AdapterBuilder, AdapterNode, EntryAdapter, register_entry_adapter
from ...source_registry import CfuncParam
from .accessors import NODE_PARAM, VALUE_TYPES, accessors, returner

__all__ = ["START", "EXECUTE", "EXECUTE_UNCHECKED", "STOP", "STATUS_STARTED", "STATUS_START_FAULTED", "ExecuteCallback", "may_fault", "register_adapters"]

#: Adapter names; the exported symbols are ``<native_name>__<name>``.
START, EXECUTE, EXECUTE_UNCHECKED, STOP = "csp_start", "csp_execute", "csp_execute_unchecked", "csp_stop"

#: ``state`` points at the node's ``void*`` state array plus one more pointer, at its *status*
#: cell (an int64, zero until START): START stores one of these there.
STATUS_STARTED, STATUS_START_FAULTED = 1, 2

#: The Python type of an output from its cell type (outputs are int, float or bool: see extension).
_CELL_TYPES = {cell: python_type for python_type, (_, cell) in VALUE_TYPES.items()}


class _Callback(EntryAdapter):
    """``void name(void* node, void* state)``, for nodes compiled with the csp extension."""

    restype = "void"
    params = (CfuncParam("node", "void*"), CfuncParam("state", "void*"))

    def applies_to(self, node: AdapterNode) -> bool:
        return node.param(NODE_PARAM) is not None


class LifecycleCallback(_Callback):
    """START or STOP: one call of the entry point. START also sets the node's status cell
    (`STATUS_STARTED`, or `STATUS_START_FAULTED` when it recorded a fault), so that Python knows
    whether STOP is due and which phase faulted."""

    def __init__(self, name: str, phase: Phase) -> None:
        self.name = name
        self.phase = int(phase)

    def build(self, node: AdapterNode, b: AdapterBuilder) -> None:
        builder = b.builder
        b.call_entry(state=b.args["state"], lifecycle_phase=self.phase, **{NODE_PARAM: b.args["node"]})
        if self.phase == Phase.START:
            i64 = ir.IntType(64)
            faulted = builder.icmp_signed("!=", builder.call(b.declare("ncc_error_code", "int32_t"), []), ir.IntType(32)(0))
            status = builder.select(faulted, i64(STATUS_START_FAULTED), i64(STATUS_STARTED))
            at = builder.gep(b.args["state"], [i64(len(node.state))], source_etype=ir.PointerType())
            builder.store(status, builder.load(at, typ=ir.PointerType()))
        builder.ret_void()


def _call_returner(b: AdapterBuilder, python_type: type, index: int, value: ir.Value) -> None:
    fn = returner(python_type)
    declared = b.declare(fn.name, fn.restype, *fn.argtypes)
    b.builder.call(declared, [b.args["node"], ir.Constant(ir.IntType(32), index), value])


class ExecuteCallback(_Callback):
    """EXECUTE, then the ticks (see the module docstring). ``checked``: look at the runtime's error
    record after the call (the ``csp_execute`` callback); unchecked (``csp_execute_unchecked``) is
    for nodes whose code cannot record a fault (`may_fault`), and saves that call on every tick."""

    def __init__(self, checked: bool = True) -> None:
        self.name = EXECUTE if checked else EXECUTE_UNCHECKED
        self.checked = checked

    def build(self, node: AdapterNode, b: AdapterBuilder) -> None:
        builder = b.builder
        i64, i8, i32 = ir.IntType(64), ir.IntType(8), ir.IntType(32)
        n = len(node.outputs)
        cells = builder.alloca(ir.ArrayType(i64, max(n, 1)))
        cell_at = [builder.gep(cells, [i32(0), i32(i)], inbounds=True) for i in range(n)]
        outputs = b.array("void*", [builder.bitcast(c, ir.PointerType()) for c in cell_at])
        ticked = b.array("int8", [0] * n)
        b.call_entry(
            outputs=outputs, output_ticked=ticked, state=b.args["state"], lifecycle_phase=int(Phase.EXECUTE),
            **{NODE_PARAM: b.args["node"]}, **self.entry_arguments(node, b),
        )
        if self.checked:  # a fault (this node's, or one still pending): no ticks but the fault signal
            error_code = b.declare("ncc_error_code", "int32_t")
            with builder.if_then(builder.icmp_signed("!=", builder.call(error_code, []), i32(0)), likely=False):
                _call_returner(b, bool, n, i32(1))
                builder.ret_void()
        for i, slot in enumerate(node.outputs):
            python_type = _CELL_TYPES[slot.cell]
            flag = builder.load(builder.gep(ticked, [i32(i)], inbounds=True))
            with builder.if_then(builder.icmp_signed("!=", flag, i8(0))):
                if python_type is bool:
                    raw = builder.load(builder.bitcast(cell_at[i], i8.as_pointer()))
                    value = builder.zext(builder.icmp_signed("!=", raw, i8(0)), i32)
                else:
                    c_type = ir.DoubleType() if python_type is float else i64
                    value = builder.load(builder.bitcast(cell_at[i], c_type.as_pointer()))
                _call_returner(b, python_type, i, value)
        builder.ret_void()

    def entry_arguments(self, node: AdapterNode, b: AdapterBuilder) -> dict[str, ir.Value]:
        """More arguments of the entry point, computed before the call (none: the node reads its
        inputs itself). A subclass for a variant of the extension overrides it."""
        return {}


def may_fault(llvm_ir: str) -> bool:
    """Can the node whose final IR is ``llvm_ir`` record a runtime fault? Only a call of an external
    function can (the runtime's ``ncc_*`` functions, Numba's helpers, host functions): no, when it
    calls nothing but csp's accessors, the error-record reading of the callbacks and LLVM's
    intrinsics."""
    harmless = {fn.name for fn in accessors()} | {"ncc_error_code"}
    declared = re.findall(r"^declare [^@]*@([\w.$]+)\(", llvm_ir, re.M)
    return any(not name.startswith("llvm.") and name not in harmless for name in declared)


def register_adapters() -> None:
    """Register the callbacks in the active context."""
    register_entry_adapter(LifecycleCallback(START, Phase.START))
    register_entry_adapter(ExecuteCallback(checked=True))
    register_entry_adapter(ExecuteCallback(checked=False))
    register_entry_adapter(LifecycleCallback(STOP, Phase.STOP))
