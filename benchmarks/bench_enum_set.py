"""EnumSet benchmark: add, discard, iterate, count and test a set of enum members, per-call cost
against hand-written C.

Run:  python benchmarks/bench_enum_set.py            (full: 7 rounds x 5 M calls)
      python benchmarks/bench_enum_set.py --quick    (a few seconds, for CI / a smoke check)

Goal (docs/enum-sets.md): compiled <= 1.2x hand-written C.

The node keeps ``s: State[EnumSet[Code]]`` (one int64 bit mask in its state cell) for a 16-member
enum whose values are not bit positions (member i is 3 * i + 1), and per call does ``s.add(c)``,
``s.discard(d)``, sums the members' values by iteration (``for m in s``) and returns that sum +
1000 * ``len(s)`` + ``c in s``. The hand-written C node (benchmarks/c/enum_set_bench.c) does the same
on the same cell: a lookup table from value to bit, or/and-not on the mask, a ctz loop over the
set bits, a popcount. The compiled node is generated for this machine's CPU (the process JIT), the
C node with plain ``-O2`` as in the other benchmarks, where ``__builtin_popcountll`` is a libgcc
call on x86-64 without ``-mpopcnt``; an informational row, not judged, builds the C node with
``-march=native`` too.

Method, as benchmarks/bench_ema.py: the C file is built here with ``cc -O2 -shared -fPIC`` and
loaded with ctypes. The SAME C driver (run_set) times every node through the same
ncc_host_node_fn pointer: it owns the cells, calls START, times n EXECUTE calls with clock_gettime
inside C (each writes the next two inputs from tables of members, sets the input ticks, clears the
output tick, calls, adds the output to a checksum), then calls STOP. Checksums must be identical
(asserted every round); rounds are interleaved and alternate order; no runtime fault may be
recorded. A no-op C node gives the floor.
"""

from __future__ import annotations

import argparse
import ctypes
import enum
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NCC_CACHE_DIR", "off")  # compile for real; bench_compile.py measures the cache
import numba_rt  # noqa: E402
from numba_cfunc_compiler import EnumSet, State  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node  # noqa: E402

C_SOURCE = Path(__file__).resolve().parent / "c" / "enum_set_bench.c"
CFLAGS = ["-O2", "-shared", "-fPIC"]
GOAL = 1.2

Code = enum.IntEnum("Code", {f"C{i}": 3 * i + 1 for i in range(16)})  # values are not bit positions


# ---- the nodes ------------------------------------------------------------------------------
def track(c: Signal[Code], d: Signal[Code]) -> Signal[int]:
    s: State[EnumSet[Code]] = EnumSet[Code]()
    s.add(c)
    s.discard(d)
    total = 0
    for m in s:
        total += m
    return total + 1000 * len(s) + (c in s)


# ---- driver ---------------------------------------------------------------------------------
def build_driver(workdir: str, extra: tuple[str, ...] = ()) -> ctypes.CDLL:
    lib = os.path.join(workdir, f"enum_set_bench{len(extra)}.so")
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, *CFLAGS, *extra, "-I", numba_rt.include_dir(), str(C_SOURCE), "-o", lib], check=True)
    dll = ctypes.CDLL(lib)
    dll.run_set.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
    dll.run_set.restype = ctypes.c_double
    return dll


def address(dll: ctypes.CDLL, symbol: str) -> int:
    return ctypes.cast(getattr(dll, symbol), ctypes.c_void_p).value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5_000_000, help="EXECUTE calls per round (default 5 M)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per node (default 7)")
    parser.add_argument("--quick", action="store_true", help="3 rounds x 500 k calls")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio misses the goal")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 500_000, 3

    print(f"python {sys.version.split()[0]}, {os.uname().machine}, {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    compiled = compile_node(track)
    print(
        f"compiled 1 node in {time.perf_counter() - t0:.2f} s;   C side: {os.environ.get('CC', 'cc')} {' '.join(CFLAGS)}"
    )
    rt = numba_rt.load()
    rt.clear_error()
    with tempfile.TemporaryDirectory(prefix="ncc-bench-") as tmp:
        dll = build_driver(tmp)
        native = build_driver(tmp, ("-march=native",))
        fns = {
            "hand-written C": address(dll, "set_c_node"),
            "compiled": compiled.address,
            "C, -march=native (info)": address(native, "set_c_node"),
            "no-op C (floor)": address(dll, "noop_c_node"),
        }

        def run(fn: int, n: int) -> tuple[float, int]:
            checksum = ctypes.c_int64()
            ns = dll.run_set(fn, n, ctypes.byref(checksum))
            assert ns >= 0, "driver could not allocate its cells"
            fault = rt.error()
            assert fault is None, f"runtime fault {fault}"
            return ns, checksum.value

        for fn in fns.values():  # warm-up
            run(fn, min(args.calls, 500_000))
        samples: dict[str, list[float]] = {name: [] for name in fns}
        names = list(fns)
        for r in range(args.rounds):
            sums = {}
            for name in names if r % 2 == 0 else names[::-1]:
                ns, sums[name] = run(fns[name], args.calls)
                samples[name].append(ns)
            assert sums["compiled"] == sums["hand-written C"] == sums["C, -march=native (info)"], (
                f"checksums differ: {sums}"
            )
    c, comp, floor = min(samples["hand-written C"]), min(samples["compiled"]), min(samples["no-op C (floor)"])
    print(
        f"\nEnumSet[Code] (16 members): add, discard, iterate, len, in; {args.rounds} rounds x {args.calls:,} calls, driven from C"
    )
    print(f"   {'node':<28}{'min ns/call':>13}{'median ns/call':>16}{'min ratio':>11}")
    for name, values in samples.items():
        print(f"   {name:<28}{min(values):>13.3f}{statistics.median(values):>16.3f}{min(values) / c:>10.3f}x")
    ratio = comp / c
    median_ratio = statistics.median(samples["compiled"]) / statistics.median(samples["hand-written C"])
    print(
        f"   ratio compiled / C:   min {ratio:.3f}x   median {median_ratio:.3f}x   (goal <= {GOAL}x: {'OK' if ratio <= GOAL else 'SLOWER THAN GOAL'})"
    )
    print(f"   node body above the floor: C {c - floor:.3f} ns, compiled {comp - floor:.3f} ns")
    print("   checksums identical in every round; no faults")
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
