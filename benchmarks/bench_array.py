"""NumbaArray benchmark: a rolling mean over a fixed array, per-call cost against hand-written C.

Run:  python benchmarks/bench_array.py            (full: 7 rounds x 2 M calls)
      python benchmarks/bench_array.py --quick    (a few seconds, for CI / a smoke check)

Goal (docs/arrays.md): compiled <= 1.2x hand-written C.

The node keeps ``buf: State[NumbaArray] = create_new_array(float, 64)`` (64 doubles in the host's
state memory: no allocation) and ``pos: State[int]``, and does ``buf[pos] = x; pos = (pos + 1) %
64`` then sums ``buf`` by iteration (``for v in buf``) and returns the mean: a ring buffer. The
hand-written C node (benchmarks/c/array_bench.c) does the same on the same state layout (state[0]
points at the 64 doubles, state[1] at the int64 position): a bounds check of the position, the store,
the advance, a front-to-back sum loop. An informational row, not judged, sums with an index loop
``for i in range(len(buf)): total += buf[i]`` instead (its bounds checks must vanish: the loop index
is known to be in range).

Method, the per-call benchmarks' (benchmarks/harness.py): the C file is built with ``cc -O2 -shared
-fPIC -ffp-contract=off -DWINDOW=<N>`` and loaded with ctypes. The SAME C driver (run_ring, the
bench_run_float of benchmarks/c/bench_driver.h) times every node, calling it through the same
ncc_host_node_fn pointer: it owns the cells and the array memory (64-byte aligned), calls START,
times n EXECUTE calls with clock_gettime inside C (each writes the next input from a table, sets the
input tick, clears the output tick, calls, adds the output to a checksum), then calls STOP. Sums are
taken in the same order in C and in the node, so checksums must be bit-identical (asserted every
round); rounds are interleaved and alternate order. After every run the harness checks that no
runtime fault was recorded. A no-op C node gives the floor.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("NCC_CACHE_DIR", "off")  # compile for real; bench_compile.py measures the cache
import numba_rt  # noqa: E402
from numba_cfunc_compiler import NumbaArray, State, create_new_array  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node  # noqa: E402

import harness  # noqa: E402  (benchmarks/harness.py)

GOAL = 1.2
COMPILED = "compiled (for v in buf)"


# ---- the nodes (the window N is a constant parameter, baked in) ------------------------------
def ring(x: Signal[float], n: int) -> Signal[float]:
    buf: State[NumbaArray] = create_new_array(float, n)
    pos: State[int] = 0
    buf[pos] = x
    pos = (pos + 1) % n
    total = 0.0
    for v in buf:
        total += v
    return total / n


def ring_indexed(x: Signal[float], n: int) -> Signal[float]:
    buf: State[NumbaArray] = create_new_array(float, n)
    pos: State[int] = 0
    buf[pos] = x
    pos = (pos + 1) % len(buf)
    total = 0.0
    for i in range(len(buf)):
        total += buf[i]
    return total / n


def main() -> int:
    parser = harness.parser(__doc__, calls=2_000_000, quick="3 rounds x 200 k calls")
    parser.add_argument("--size", type=int, default=64, help="array length N (default 64)")
    args = harness.parse(parser, calls=200_000)

    harness.print_machine()
    t0 = time.perf_counter()
    ring_result = compile_node(ring, n=args.size)
    indexed_result = compile_node(ring_indexed, n=args.size)
    window = f"-DWINDOW={args.size}"
    print(f"compiled 2 nodes in {time.perf_counter() - t0:.2f} s;   C side: {harness.c_side(window)}")
    layout = [(s.name, s.kind, s.size) for s in ring_result.artifact.state]
    assert layout == [("buf", "array", 8 * args.size), ("pos", "scalar", 8)], layout  # what run_ring gives
    dll = harness.build("array_bench.c", window)
    fns = {
        "hand-written C": harness.address(dll, "ring_c_node"),
        COMPILED: ring_result.address,
        "compiled, range(len(buf)) (info)": indexed_result.address,
        harness.FLOOR: harness.address(dll, "noop_c_node"),
    }
    samples = harness.measure(harness.driver(dll, "run_ring"), fns, args.calls, args.rounds, warmup=500_000,
                              rt=numba_rt.load())

    print(f"\nRing buffer: buf[pos] = x, advance pos, mean of NumbaArray[float, {args.size}],"
          f" {args.rounds} rounds x {args.calls:,} EXECUTE calls, driven from C")
    harness.table(samples, 40, reference="hand-written C")
    ratio = harness.verdict(samples, COMPILED, "hand-written C", GOAL, body_ratio=True)
    print("   checksums identical in every round; no faults")
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
