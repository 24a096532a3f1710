"""EMA benchmark: per-call cost against hand-written C, and compile latency.

Run:  python benchmarks/bench_ema.py            (full: 7 rounds x 20 M calls, 50 nodes)
      python benchmarks/bench_ema.py --quick    (a few seconds, for CI / a smoke check)

1. Per-call cost (SPEC section 8 goal: compiled <= 1.05x hand-written C).
   The EMA node below is compiled by the reference host (`compile_node(ema, alpha=...)`).
   benchmarks/c/ema_bench.c holds a hand-written node with exactly the host ABI doing the same
   EMA, and a driver `run(fn, n, &checksum)` that owns the cells, calls START, then times n EXECUTE
   calls with clock_gettime(CLOCK_MONOTONIC) inside C: each iteration writes the next input (from a
   precomputed 4096-entry table), sets the input tick, clears the output tick, calls `fn` and adds
   the output to a checksum. The file is built here with `cc -O2 -shared -fPIC -ffp-contract=off`
   and loaded with ctypes. Why the comparison is fair:
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

import argparse
import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# The compile latencies below are of real compiles: no persistent cache (bench_compile.py measures
# it). Set NCC_CACHE_DIR yourself to time something else.
os.environ.setdefault("NCC_CACHE_DIR", "off")
_T_IMPORT = time.perf_counter()
import numba_rt  # noqa: E402
from numba_cfunc_compiler import State  # noqa: E402
from numba_cfunc_compiler.host import Outputs, Signal, compile_node, output, start, ticked, valid  # noqa: E402

IMPORT_MS = (time.perf_counter() - _T_IMPORT) * 1e3
C_SOURCE = Path(__file__).resolve().parent / "c" / "ema_bench.c"
CFLAGS = ["-O2", "-shared", "-fPIC", "-ffp-contract=off"]
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
def build_driver(alpha: float, workdir: str) -> ctypes.CDLL:
    lib = os.path.join(workdir, "ema_bench.so")
    cc = os.environ.get("CC", "cc")
    cmd = [cc, *CFLAGS, f"-DEMA_ALPHA={alpha!r}", "-I", numba_rt.include_dir(), str(C_SOURCE), "-o", lib]
    subprocess.run(cmd, check=True)
    dll = ctypes.CDLL(lib)
    dll.run.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_double)]
    dll.run.restype = ctypes.c_double
    return dll


def bench_calls(result, alpha: float, calls: int, rounds: int) -> float:
    with tempfile.TemporaryDirectory(prefix="ncc-bench-") as tmp:
        dll = build_driver(alpha, tmp)
        fns = {
            "hand-written C": ctypes.cast(dll.ema_c_node, ctypes.c_void_p).value,
            "compiled": result.address,
            "no-op C (floor)": ctypes.cast(dll.noop_c_node, ctypes.c_void_p).value,
        }

        def run(name: str, n: int) -> tuple[float, float]:
            checksum = ctypes.c_double()
            ns = dll.run(fns[name], n, ctypes.byref(checksum))
            assert ns >= 0, "driver could not allocate its cells"
            return ns, checksum.value

        for name in fns:  # warm-up: page in code and data, settle the CPU clock
            run(name, min(calls, 1_000_000))
        samples: dict[str, list[float]] = {name: [] for name in fns}
        names = list(fns)
        for r in range(rounds):
            sums = {}
            for name in names if r % 2 == 0 else names[::-1]:
                ns, sums[name] = run(name, calls)
                samples[name].append(ns)
            assert sums["compiled"] == sums["hand-written C"], (
                f"checksums differ: compiled {sums['compiled']!r} vs C {sums['hand-written C']!r}"
            )

    print(f"\n1. Per-call cost: EMA node, alpha={alpha}, {rounds} rounds x {calls:,} EXECUTE calls, driven from C")
    print(f"   C side: {os.environ.get('CC', 'cc')} {' '.join(CFLAGS)}   compiled: {result.native_name}")
    print(f"   {'node':<22}{'min ns/call':>13}{'median ns/call':>16}")
    for name, values in samples.items():
        print(f"   {name:<22}{min(values):>13.3f}{statistics.median(values):>16.3f}")
    c, comp = samples["hand-written C"], samples["compiled"]
    ratio_min = min(comp) / min(c)
    ratio_med = statistics.median(comp) / statistics.median(c)
    floor = min(samples["no-op C (floor)"])
    verdict = "OK" if ratio_min <= GOAL else "SLOWER THAN GOAL"
    print(f"   ratio compiled / C:   min {ratio_min:.3f}x   median {ratio_med:.3f}x   (goal <= {GOAL}x: {verdict})")
    print(f"   node body above the floor: C {min(c) - floor:.3f} ns, compiled {min(comp) - floor:.3f} ns")
    print("   checksums identical in every round")
    return ratio_min


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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000_000, help="EXECUTE calls per round (default 20 M)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per node (default 7)")
    parser.add_argument("--nodes", type=int, default=50, help="distinct nodes to compile (default 50; spec: 200)")
    parser.add_argument("--hits", type=int, default=100, help="cache-hit compiles to time (default 100)")
    parser.add_argument("--alpha", type=float, default=0.1, help="EMA alpha (default 0.1)")
    parser.add_argument("--quick", action="store_true", help="3 rounds x 2 M calls, 9 nodes, 20 hits")
    parser.add_argument("--only", choices=["calls", "compile"], help="run one part only")
    parser.add_argument("--tracemalloc", action="store_true", help="also report the Python heap peak while compiling")
    parser.add_argument("--check", action="store_true", help="exit 1 if the per-call ratio misses the goal")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds, args.nodes, args.hits = 2_000_000, 3, 9, 20

    print(f"python {sys.version.split()[0]}, {os.uname().machine}, {os.cpu_count()} CPUs")
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
