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

Method, as benchmarks/bench_ema.py and bench_containers.py: the C file is built here with ``cc -O2
-shared -fPIC -ffp-contract=off -DWINDOW=<N>`` and loaded with ctypes. The SAME C driver (run_ring)
times every node, calling it through the same ncc_host_node_fn pointer: it owns the cells and the
array memory (64-byte aligned), calls START, times n EXECUTE calls with clock_gettime inside C (each
writes the next input from a table, sets the input tick, clears the output tick, calls, adds the
output to a checksum), then calls STOP. Sums are taken in the same order in C and in the node, so
checksums must be bit-identical (asserted every round); rounds are interleaved and alternate order.
After every run the script checks that no runtime fault was recorded. A no-op C node gives the floor.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NCC_CACHE_DIR", "off")  # compile for real; bench_compile.py measures the cache
import numba_rt  # noqa: E402
from numba_cfunc_compiler import NumbaArray, State, create_new_array  # noqa: E402
from numba_cfunc_compiler.host import Signal, compile_node  # noqa: E402

C_SOURCE = Path(__file__).resolve().parent / "c" / "array_bench.c"
CFLAGS = ["-O2", "-shared", "-fPIC", "-ffp-contract=off"]
GOAL = 1.2


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


# ---- driver ---------------------------------------------------------------------------------
def build_driver(window: int, workdir: str) -> ctypes.CDLL:
    lib = os.path.join(workdir, "array_bench.so")
    cc = os.environ.get("CC", "cc")
    cmd = [cc, *CFLAGS, f"-DWINDOW={window}", "-I", numba_rt.include_dir(), str(C_SOURCE), "-o", lib]
    subprocess.run(cmd, check=True)
    dll = ctypes.CDLL(lib)
    dll.run_ring.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_double)]
    dll.run_ring.restype = ctypes.c_double
    return dll


def address(dll: ctypes.CDLL, symbol: str) -> int:
    return ctypes.cast(getattr(dll, symbol), ctypes.c_void_p).value


def bench(title: str, driver, fns: dict[str, int], judged: tuple[str, str], calls: int, rounds: int,
          rt: numba_rt.Runtime) -> float:
    """Time every node in fns with the same driver; returns min(compiled) / min(C) for `judged`."""

    def run(name: str, n: int) -> tuple[float, float]:
        checksum = ctypes.c_double()
        ns = driver(fns[name], n, ctypes.byref(checksum))
        assert ns >= 0, "driver could not allocate its cells"
        fault = rt.error()
        assert fault is None, f"{name}: runtime fault {fault}"
        return ns, checksum.value

    for name in fns:  # warm-up: page in code and data, settle the CPU clock
        run(name, min(calls, 500_000))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        sums = {}
        for name in names if r % 2 == 0 else names[::-1]:
            ns, sums[name] = run(name, calls)
            samples[name].append(ns)
        reference = sums[judged[1]]
        for name, value in sums.items():
            if not name.startswith("no-op"):
                assert value == reference, f"checksums differ: {name} {value!r} vs {judged[1]} {reference!r}"

    print(f"\n{title}, {rounds} rounds x {calls:,} EXECUTE calls, driven from C")
    print(f"   {'node':<40}{'min ns/call':>13}{'median ns/call':>16}{'min ratio':>11}")
    c = samples[judged[1]]
    for name, values in samples.items():
        ratio = f"{min(values) / min(c):>10.3f}x"
        print(f"   {name:<40}{min(values):>13.3f}{statistics.median(values):>16.3f}{ratio}")
    comp = samples[judged[0]]
    ratio_min = min(comp) / min(c)
    ratio_med = statistics.median(comp) / statistics.median(c)
    floor = min(samples["no-op C (floor)"])
    verdict = "OK" if ratio_min <= GOAL else "SLOWER THAN GOAL"
    print(f"   ratio compiled / C:   min {ratio_min:.3f}x   median {ratio_med:.3f}x   (goal <= {GOAL}x: {verdict})")
    print(f"   node body above the floor: C {min(c) - floor:.3f} ns, compiled {min(comp) - floor:.3f} ns"
          f"   (body ratio {(min(comp) - floor) / (min(c) - floor):.3f}x)")
    print("   checksums identical in every round; no faults")
    return ratio_min


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2_000_000, help="EXECUTE calls per round (default 2 M)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per node (default 7)")
    parser.add_argument("--size", type=int, default=64, help="array length N (default 64)")
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 k calls")
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio misses the goal")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.rounds = 200_000, 3

    print(f"python {sys.version.split()[0]}, {os.uname().machine}, {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    ring_result = compile_node(ring, n=args.size)
    indexed_result = compile_node(ring_indexed, n=args.size)
    print(f"compiled 2 nodes in {time.perf_counter() - t0:.2f} s;"
          f"   C side: {os.environ.get('CC', 'cc')} {' '.join(CFLAGS)} -DWINDOW={args.size}")
    layout = [(s.name, s.kind, s.size) for s in ring_result.artifact.state]
    assert layout == [("buf", "array", 8 * args.size), ("pos", "scalar", 8)], layout  # what run_ring gives
    rt = numba_rt.load()
    rt.clear_error()
    with tempfile.TemporaryDirectory(prefix="ncc-bench-") as tmp:
        dll = build_driver(args.size, tmp)
        fns = {
            "hand-written C": address(dll, "ring_c_node"),
            "compiled (for v in buf)": ring_result.address,
            "compiled, range(len(buf)) (info)": indexed_result.address,
            "no-op C (floor)": address(dll, "noop_c_node"),
        }
        ratio = bench(f"Ring buffer: buf[pos] = x, advance pos, mean of NumbaArray[float, {args.size}]",
                      dll.run_ring, fns, ("compiled (for v in buf)", "hand-written C"), args.calls, args.rounds, rt)
    return 1 if args.check and ratio > GOAL else 0


if __name__ == "__main__":
    sys.exit(main())
