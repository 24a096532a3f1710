"""Entry adapter benchmark: a node called through an engine's own callback shape.

Run:  python benchmarks/bench_adapter.py            (full: 7 rounds x 20 M calls)
      python benchmarks/bench_adapter.py --quick    (a few seconds, for CI / a smoke check)

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
(``-DEMA_ALPHA``), as for benchmarks/bench_ema.py; the checksums of all three must be
bit-identical in every round (asserted); rounds are interleaved with alternating order.
No goal in SPEC section 8; the adapter should cost no more than the hand-written C.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("NCC_CACHE_DIR", "off")

import llvmlite.ir as ir  # noqa: E402

import numba_rt  # noqa: E402
from numba_rt.abi import Phase  # noqa: E402
from numba_cfunc_compiler import State, host  # noqa: E402
from numba_cfunc_compiler.compilation_context import CompilationContext  # noqa: E402
from numba_cfunc_compiler.entry_adapters import EntryAdapter, register_entry_adapter  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node, ticked  # noqa: E402
from numba_cfunc_compiler.source_registry import CfuncParam  # noqa: E402

C_SOURCE = Path(__file__).resolve().parent / "c" / "adapter_bench.c"
CFLAGS = ["-O2", "-shared", "-fPIC", "-ffp-contract=off"]


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds x 2 M calls")
    args = parser.parse_args()
    rounds, calls = (3, 2_000_000) if args.quick else (7, 20_000_000)
    alpha = 0.1
    with CompilationContext.current().derive():
        host.register()
        register_entry_adapter(Tick())
        result = compile_node(ema, alpha=alpha)
    with tempfile.TemporaryDirectory(prefix="ncc-bench-") as tmp:
        lib = os.path.join(tmp, "adapter_bench.so")
        cc = os.environ.get("CC", "cc")
        subprocess.run([cc, *CFLAGS, f"-DEMA_ALPHA={alpha!r}", "-I", numba_rt.include_dir(), str(C_SOURCE), "-o", lib], check=True)
        dll = ctypes.CDLL(lib)
        dll.run_tick.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_double)]
        dll.run_tick.restype = ctypes.c_double
        dll.set_shim_entry.argtypes = [ctypes.c_void_p]
        dll.set_shim_entry(result.address)
        fns = {
            "hand-written C": ctypes.cast(dll.ema_c_tick, ctypes.c_void_p).value,
            "adapter": result.adapter_address("tick"),
            "C shim + entry": ctypes.cast(dll.shim_tick, ctypes.c_void_p).value,
        }

        def run(name: str, n: int) -> tuple[float, float]:
            checksum = ctypes.c_double()
            ns = dll.run_tick(fns[name], n, ctypes.byref(checksum))
            assert ns >= 0, "driver could not allocate its inputs"
            return ns, checksum.value

        for name in fns:
            run(name, min(calls, 1_000_000))
        samples: dict[str, list[float]] = {name: [] for name in fns}
        names = list(fns)
        for r in range(rounds):
            sums = {}
            for name in names if r % 2 == 0 else names[::-1]:
                ns, sums[name] = run(name, calls)
                samples[name].append(ns)
            assert len(set(sums.values())) == 1, f"checksums differ: {sums}"

    print(f"Entry adapter: EMA node, alpha={alpha}, {rounds} rounds x {calls:,} calls of "
          "int8_t tick(void** state, double x, double* out), driven from C")
    print(f"   C side: {os.environ.get('CC', 'cc')} {' '.join(CFLAGS)}   compiled: {result.native_name}__tick")
    print(f"   {'variant':<18}{'min ns/call':>13}{'median ns/call':>16}{'ratio to C (min)':>19}")
    reference = min(samples["hand-written C"])
    for name, values in samples.items():
        print(f"   {name:<18}{min(values):>13.3f}{statistics.median(values):>16.3f}{min(values) / reference:>18.3f}x")
    print("   checksums identical in every round")
    return 0


if __name__ == "__main__":
    sys.exit(main())
