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

Method, the per-call benchmarks' (benchmarks/harness.py): the C file is built with ``cc -O2 -shared
-fPIC`` and loaded with ctypes. The SAME C driver (run_set) times every node through the same
ncc_host_node_fn pointer: it owns the cells, calls START, times n EXECUTE calls with clock_gettime
inside C (each writes the next two inputs from tables of members, sets the input ticks, clears the
output tick, calls, adds the output to a checksum), then calls STOP. Checksums must be identical
(asserted every round); rounds are interleaved and alternate order; no runtime fault may be
recorded. A no-op C node gives the floor.
"""

from __future__ import annotations

import ctypes
import enum
import os
import sys
import time

os.environ.setdefault("NCC_CACHE_DIR", "off")  # compile for real; bench_compile.py measures the cache
import numba_rt  # noqa: E402
from numba_cfunc_compiler import EnumSet, State  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node  # noqa: E402

import harness  # noqa: E402  (benchmarks/harness.py)

CFLAGS = ("-O2", "-shared", "-fPIC")  # integer arithmetic only: no -ffp-contract=off needed
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


def main() -> int:
    args = harness.parse(harness.parser(__doc__, calls=5_000_000, quick="3 rounds x 500 k calls"), calls=500_000)
    harness.print_machine()
    t0 = time.perf_counter()
    compiled = compile_node(track)
    print(f"compiled 1 node in {time.perf_counter() - t0:.2f} s;   C side: {harness.c_side(cflags=CFLAGS)}")
    dll = harness.build("enum_set_bench.c", cflags=CFLAGS)
    native = harness.build("enum_set_bench.c", "-march=native", cflags=CFLAGS)
    fns = {
        "hand-written C": harness.address(dll, "set_c_node"),
        "compiled": compiled.address,
        "C, -march=native (info)": harness.address(native, "set_c_node"),
        harness.FLOOR: harness.address(dll, "noop_c_node"),
    }
    run_set = harness.driver(dll, "run_set", checksum=ctypes.c_int64)
    samples = harness.measure(run_set, fns, args.calls, args.rounds, warmup=500_000, rt=numba_rt.load())

    print(f"\nEnumSet[Code] (16 members): add, discard, iterate, len, in; {args.rounds} rounds x {args.calls:,} calls,"
          " driven from C")
    harness.table(samples, 28, reference="hand-written C")
    ratio = harness.verdict(samples, "compiled", "hand-written C", GOAL)
    print("   checksums identical in every round; no faults")
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
