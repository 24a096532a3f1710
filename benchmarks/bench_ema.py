"""EMA benchmark: per-call cost against hand-written C, and compile latency.

Run:  python benchmarks/bench_ema.py            (full: 7 rounds x 20 M calls, 50 nodes)
      python benchmarks/bench_ema.py --quick    (a few seconds, for CI / a smoke check)

1. Per-call cost (SPEC section 8 goal: compiled <= 1.05x hand-written C).
   The EMA node below is compiled by the reference host (`compile_node(ema, alpha=...)`).
   benchmarks/c/ema_bench.c holds a hand-written node with exactly the host ABI doing the same
   EMA, and a driver `run(fn, n, &checksum)` (bench_run_float of benchmarks/c/bench_driver.h) that
   owns the cells, calls START, then times n EXECUTE calls with clock_gettime(CLOCK_MONOTONIC)
   inside C: each iteration writes the next input (from a precomputed 4096-entry table), sets the
   input tick, clears the output tick, calls `fn` and adds the output to a checksum. The file is
   built with `cc -O2 -shared -fPIC -ffp-contract=off` and loaded with ctypes, and the nodes are
   timed, by benchmarks/harness.py, as in the other per-call benchmarks. Why the comparison is fair:
   - the SAME driver times both nodes, calling each through the same function pointer type, so
     loop, cell traffic and the indirect call are identical and only the node body differs;
   - alpha is baked into the C node as a compile-time constant (-DEMA_ALPHA), as the compiler
     bakes it into the compiled node; the C side gets plain -O2 (no -march=native, no fast-math);
     -ffp-contract=off only forbids fused multiply-add, which the compiled node does not use either;
   - the checksums of the two nodes must be bit-identical (asserted), so a node that skips work
     cannot look fast; rounds are interleaved (order alternates) so drift hits both alike.
   A no-op C node is timed too: it is the floor (driver + call) under both nodes.

2. Compile latency: import time; the first `compile_node` in the process (includes Numba
   warm-up) for three node kinds (EMA, crossover with named outputs, counter with `with start():`);
   then N distinct nodes (a constant varies, so every semantic key differs, asserted); then a cache
   hit (the identical node again in the same context returns the memoised compiled code). Peak RSS
   (getrusage ru_maxrss) after each phase; `--tracemalloc` adds the Python-side peak (slower).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
import tracemalloc

# The compile latencies below are of real compiles: no persistent cache (bench_compile.py measures
# it). Set NCC_CACHE_DIR yourself to time something else.
os.environ.setdefault("NCC_CACHE_DIR", "off")
_T_IMPORT = time.perf_counter()
from numba_cfunc_compiler import State  # noqa: E402
from numba_cfunc_compiler.host import Outputs, Signal, compile_node, output, start, ticked, valid  # noqa: E402

IMPORT_MS = (time.perf_counter() - _T_IMPORT) * 1e3
import harness  # noqa: E402  (benchmarks/harness.py, after the timed import)

GOAL = 1.05


# ---- the nodes ------------------------------------------------------------------------------
def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1.0 - alpha) * avg
        return avg


def crossover(fast: Signal[float], slow: Signal[float], threshold: float) -> Outputs(spread=Signal[float], side=Signal[int]):
    last: State[int] = 0
    if valid(fast) and valid(slow):
        spread = fast - slow
        output(spread=spread)
        now = 1 if spread > threshold else -1
        if now != last:
            output(side=now)
            last = now


def counter(x: Signal[float], step: int) -> Signal[int]:
    count: State[int] = 0
    with start():
        count = 10
    if ticked(x):
        count += step
        return count


def rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def ms(seconds: float) -> float:
    return seconds * 1e3


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - t0


# ---- 1. per-call cost -----------------------------------------------------------------------
def bench_calls(result, alpha: float, calls: int, rounds: int) -> float:
    dll = harness.build("ema_bench.c", f"-DEMA_ALPHA={alpha!r}")
    fns = {
        "hand-written C": harness.address(dll, "ema_c_node"),
        "compiled": result.address,
        harness.FLOOR: harness.address(dll, "noop_c_node"),
    }
    samples = harness.measure(harness.driver(dll, "run"), fns, calls, rounds, warmup=1_000_000)

    print(f"\n1. Per-call cost: EMA node, alpha={alpha}, {rounds} rounds x {calls:,} EXECUTE calls, driven from C")
    print(f"   C side: {harness.c_side()}   compiled: {result.native_name}")
    harness.table(samples, 22)
    ratio = harness.verdict(samples, "compiled", "hand-written C", GOAL)
    print("   checksums identical in every round")
    return ratio


# ---- 2. compile latency ---------------------------------------------------------------------
KINDS = [(ema, "alpha", 0.1, 1e-4), (crossover, "threshold", 0.0, 1e-3), (counter, "step", 1, 1)]


def bench_compile(first: dict[str, float], rss_after_first: float, nodes: int, hits: int, trace: bool) -> None:
    if trace:
        tracemalloc.start()
    times, keys = [], set()
    for i in range(nodes):
        fn, param, base, step = KINDS[i % len(KINDS)]
        result, seconds = timed(compile_node, fn, **{param: base + step * (i // len(KINDS) + 1)})
        times.append(seconds)
        keys.add(result.semantic_key)
    assert len(keys) == nodes, f"only {len(keys)} distinct semantic keys for {nodes} nodes"
    traced_peak = tracemalloc.get_traced_memory()[1] / (1 << 20) if trace else None
    if trace:
        tracemalloc.stop()
    rss_after_nodes = rss_mb()

    original = compile_node(ema, alpha=0.1)
    hit_times = []
    for _ in range(hits):
        again, seconds = timed(compile_node, ema, alpha=0.1)
        assert again.address == original.address, "identical node was compiled again"
        hit_times.append(seconds)

    print("\n2. Compile latency (compile_node, reference host)")
    print(f"   import numba_cfunc_compiler.host        {IMPORT_MS:9.1f} ms   (peak RSS {first['rss_import']:.0f} MB)")
    for name, seconds in first.items():
        if name != "rss_import":
            print(f"   first compile: {name:<24} {ms(seconds):9.1f} ms")
    print(f"   peak RSS after first compiles           {rss_after_first:9.0f} MB")
    kinds = "/".join(k[0].__name__ for k in KINDS)
    print(f"   {nodes} distinct nodes ({kinds}), {len(keys)} distinct keys:")
    print(f"     per node   mean {ms(statistics.mean(times)):.1f} ms   median {ms(statistics.median(times)):.1f} ms"
          f"   min {ms(min(times)):.1f} ms   max {ms(max(times)):.1f} ms   total {sum(times):.2f} s")
    grow = (rss_after_nodes - rss_after_first) * 1024 / nodes
    print(f"     peak RSS after: {rss_after_nodes:.0f} MB   (+{grow:.0f} KB/node)")
    if traced_peak is not None:
        print(f"     tracemalloc peak (Python heap, timings above inflated by tracing): {traced_peak:.1f} MB")
    print(f"   cache hit (identical node, same context, x{hits}):"
          f"   median {ms(statistics.median(hit_times)):.3f} ms   min {ms(min(hit_times)):.3f} ms")


def main() -> int:
    parser = harness.parser(__doc__, calls=20_000_000, quick="3 rounds x 2 M calls, 9 nodes, 20 hits")
    parser.add_argument("--nodes", type=int, default=50, help="distinct nodes to compile (default 50; spec: 200)")
    parser.add_argument("--hits", type=int, default=100, help="cache-hit compiles to time (default 100)")
    parser.add_argument("--alpha", type=float, default=0.1, help="EMA alpha (default 0.1)")
    parser.add_argument("--only", choices=["calls", "compile"], help="run one part only")
    parser.add_argument("--tracemalloc", action="store_true", help="also report the Python heap peak while compiling")
    args = harness.parse(parser, calls=2_000_000, nodes=9, hits=20)

    harness.print_machine()
    first = {"rss_import": rss_mb()}
    result, first["ema (Numba warm-up)"] = timed(compile_node, ema, alpha=args.alpha)
    if args.only != "calls":
        _, first["crossover (named outputs)"] = timed(compile_node, crossover, threshold=0.0)
        _, first["counter (with start():)"] = timed(compile_node, counter, step=1)
    rss_after_first = rss_mb()

    ratio = None
    if args.only != "compile":
        ratio = bench_calls(result, args.alpha, args.calls, args.rounds)
    if args.only != "calls":
        bench_compile(first, rss_after_first, args.nodes, args.hits, args.tracemalloc)
    return 1 if args.check and ratio is not None and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
