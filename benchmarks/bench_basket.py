"""Basket benchmark: a sum over the ticked elements of a basket, per-call cost against hand-written C.

Run:  python benchmarks/bench_basket.py            (full: 7 rounds x 10 M calls, ~15 s)
      python benchmarks/bench_basket.py --quick    (3 rounds x 1 M calls, for CI / a smoke check)

Goal (issue 11): compiled <= 1.2x hand-written C.

The judged node: ``prices: Basket[float, 16]``, 4 elements ticking per call; it outputs the sum of
the values that ticked::

    total = 0.0
    for i, v in prices.tickeditems():
        total += v
    return total

The hand-written C node (benchmarks/c/basket_bench.c) is what a C host author writes: one loop over
the 16 int8 tick flags, adding the cells whose flag is set, then the output. It is timed twice: as
written (gcc -O2 keeps the loop, whose one branch is mispredicted often since which 4 elements tick
is random) and fully unrolled with ``#pragma GCC unroll 16`` (what LLVM does to the compiled node's
loop: 16 branch sites, each predicted on its own). The ratio is judged against the faster of the
two, the strong reference.

Informational rows, not judged: the same sum written with an index
(``for i in range(len(prices)): if ticked(prices[i]): total += prices[i]``; each ``prices[i]`` is
range-checked, which is free when LLVM sees ``i`` in range); and a running total kept in
``State[float]`` and updated in the loop (``total += v`` on the state variable) against the same in
C (``*total += ...``, unrolled), and the same with a local accumulator (``acc = total``, add to
``acc``, then ``total = acc``; the same additions in the same order). The two compiled rows should
cost the same: state cell pointers are loaded with the ABI's guarantees (dereferenceable, aligned,
non-null; ``utils/intrinsics.py`` ``cell_pointer``), so LLVM keeps the running total in a register.

Method, the per-call benchmarks' (benchmarks/harness.py): the C file is built with ``cc -O2 -shared
-fPIC -ffp-contract=off`` and loaded with ctypes. The SAME C driver (``run``) times every node through
the same ncc_host_node_fn pointer: it owns the cells (16 input cells, the state cell, the output cell),
calls START, then times n EXECUTE calls with clock_gettime inside C, each clearing the 16 tick flags,
ticking 4 distinct elements with new values (a precomputed 4096-entry pattern table), clearing the
output tick, calling the node and adding the output to a checksum; then STOP. Every node adds in
element order, so the checksums of the nodes computing the same thing must be bit-identical
(asserted every round); rounds are interleaved and alternate order. A no-op C node gives the floor
(driver + call).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("NCC_CACHE_DIR", "off")  # compile for real; bench_compile.py measures the cache

import numba_rt  # noqa: E402
from numba_cfunc_compiler import State  # noqa: E402
from numba_cfunc_compiler.host import Basket, Signal, compile_node, ticked  # noqa: E402

import harness  # noqa: E402  (benchmarks/harness.py)

GOAL = 1.2


# ---- the nodes ------------------------------------------------------------------------------
def basket_sum(prices: Basket[float, 16]) -> Signal[float]:
    total = 0.0
    for i, v in prices.tickeditems():
        total += v
    return total


def basket_sum_indexed(prices: Basket[float, 16]) -> Signal[float]:
    total = 0.0
    for i in range(len(prices)):
        if ticked(prices[i]):
            total += prices[i]
    return total


def basket_total(prices: Basket[float, 16]) -> Signal[float]:
    total: State[float] = 0.0
    for i, v in prices.tickeditems():
        total += v
    return total


def basket_total_local(prices: Basket[float, 16]) -> Signal[float]:
    total: State[float] = 0.0
    acc = total
    for i, v in prices.tickeditems():
        acc += v
    total = acc
    return total


#: name -> (node or C symbol, the family whose checksums must agree)
C_SUM, C_SUM_UNROLLED, COMPILED = "hand-written C", "hand-written C, unrolled", "compiled (tickeditems)"
ROWS = {
    C_SUM: ("basket_c_node", "sum"),
    C_SUM_UNROLLED: ("basket_c_node_unrolled", "sum"),
    COMPILED: (basket_sum, "sum"),
    "compiled, indexed (info)": (basket_sum_indexed, "sum"),
    "C, State running total (info)": ("total_c_node", "total"),
    "compiled, State total (info)": (basket_total, "total"),
    "compiled, local acc (info)": (basket_total_local, "total"),
    harness.FLOOR: ("noop_c_node", None),
}


def bench(calls: int, rounds: int) -> float:
    results = {name: compile_node(node) for name, (node, _) in ROWS.items() if callable(node)}
    dll = harness.build("basket_bench.c")
    fns = {name: results[name].address if callable(node) else harness.address(dll, node)
           for name, (node, _) in ROWS.items()}
    families = [[name for name, (_, f) in ROWS.items() if f == family] for family in ("sum", "total")]
    samples = harness.measure(harness.driver(dll, "run"), fns, calls, rounds, warmup=1_000_000, same=families,
                              rt=numba_rt.load())

    print(f"\nBasket sum: 16 float elements, 4 ticking per call, {rounds} rounds x {calls:,} EXECUTE calls,"
          " driven from C")
    print(f"   C side: {harness.c_side()}   compiled: {results[COMPILED].native_name}")
    reference = min((C_SUM, C_SUM_UNROLLED), key=lambda name: min(samples[name]))
    harness.table(samples, 32, reference=reference)
    ratio = harness.verdict(samples, COMPILED, reference, GOAL, label=f"compiled / C ({reference!r}, the faster C)")
    state_c = min(samples["C, State running total (info)"])
    print(f"   State running total (info): compiled {min(samples['compiled, State total (info)']) / state_c:.3f}x C,"
          f" with a local accumulator {min(samples['compiled, local acc (info)']) / state_c:.3f}x C")
    print("   checksums identical in every round")
    return ratio


def main() -> int:
    args = harness.parse(harness.parser(__doc__, calls=10_000_000, quick="3 rounds x 1 M calls"), calls=1_000_000)
    harness.print_machine()
    ratio = bench(args.calls, args.rounds)
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
