"""Entry adapter benchmark: a node called through an engine's own callback shape.

Run:  python benchmarks/bench_adapter.py            (full: 7 rounds x 20 M calls)
      python benchmarks/bench_adapter.py --quick    (a few seconds, for CI / a smoke check)
      (--calls N and --rounds N as in the other per-call benchmarks)

An engine calls every node as ``int8_t tick(void** state, double x, double* out)``. Three ways to
give the EMA node that shape, each timed by the same C driver (benchmarks/c/adapter_bench.c,
``run_tick``: n calls through one ``tick_fn`` pointer, inputs from a 4096-entry table, the ticked
outputs summed into a checksum):

- "adapter": an `EntryAdapter` generates ``<native_name>__tick`` in LLVM IR in the node's module;
  the optimiser inlines the entry point into it;
- "C shim + entry": what a host writes without adapters, a C function of that shape filling the
  host ABI's arrays and calling ``result.address`` through a pointer;
- "hand-written C": the EMA written by hand in that shape, the reference.

The C side is built with ``cc -O2 -shared -fPIC -ffp-contract=off`` and alpha baked in
(``-DEMA_ALPHA``), as for benchmarks/bench_ema.py, and the variants are timed by
benchmarks/harness.py as in the other per-call benchmarks: the checksums of all three must be
bit-identical in every round (asserted); rounds are interleaved with alternating order.
No goal in SPEC section 8; the adapter should cost no more than the hand-written C.
"""

from __future__ import annotations

import ctypes
import os
import sys

os.environ.setdefault("NCC_CACHE_DIR", "off")

import llvmlite.ir as ir  # noqa: E402

from numba_rt.abi import Phase  # noqa: E402
from numba_cfunc_compiler import State, host  # noqa: E402
from numba_cfunc_compiler.compilation_context import CompilationContext  # noqa: E402
from numba_cfunc_compiler.entry_adapters import EntryAdapter, register_entry_adapter  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node, ticked  # noqa: E402
from numba_cfunc_compiler.source_registry import CfuncParam  # noqa: E402

import harness  # noqa: E402  (benchmarks/harness.py)


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


class Tick(EntryAdapter):
    """``int8_t tick(void** state, double x, double* out)``: EXECUTE with ``x`` ticked."""

    name = "tick"
    restype = "int8_t"
    params = (CfuncParam("state", "void**"), CfuncParam("x", "double"), CfuncParam("out", "double*"))

    def build(self, node, b):
        x = b.builder.alloca(ir.DoubleType())
        b.builder.store(b.args["x"], x)
        flags, ticked_cell = b.array("int8", [1]), b.array("int8", [0])
        b.call_entry(outputs=b.array("void*", [b.args["out"]]), output_ticked=ticked_cell, state=b.args["state"],
                     lifecycle_phase=Phase.EXECUTE, inputs=b.array("void*", [x]), input_ticked=flags, input_valid=flags)
        b.builder.ret(b.builder.load(ticked_cell))


def main() -> int:
    parser = harness.parser(__doc__, calls=20_000_000, quick="3 rounds x 2 M calls", check=False)
    args = harness.parse(parser, calls=2_000_000)
    alpha = 0.1
    with CompilationContext.current().derive():
        host.register()
        register_entry_adapter(Tick())
        result = compile_node(ema, alpha=alpha)
    dll = harness.build("adapter_bench.c", f"-DEMA_ALPHA={alpha!r}")
    dll.set_shim_entry.argtypes = [ctypes.c_void_p]
    dll.set_shim_entry(result.address)
    fns = {
        "hand-written C": harness.address(dll, "ema_c_tick"),
        "adapter": result.adapter_address("tick"),
        "C shim + entry": harness.address(dll, "shim_tick"),
    }
    samples = harness.measure(harness.driver(dll, "run_tick"), fns, args.calls, args.rounds, warmup=1_000_000)

    print(f"Entry adapter: EMA node, alpha={alpha}, {args.rounds} rounds x {args.calls:,} calls of "
          "int8_t tick(void** state, double x, double* out), driven from C")
    print(f"   C side: {harness.c_side()}   compiled: {result.native_name}__tick")
    harness.table(samples, 18, reference="hand-written C", head="variant", ratio_head="ratio to C (min)",
                  ratio_width=19)
    print("   checksums identical in every round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
