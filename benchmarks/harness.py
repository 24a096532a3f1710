"""What the per-call benchmarks share: they time compiled nodes against hand-written C through one C driver.

Used by bench_ema.py, bench_containers.py, bench_array.py, bench_basket.py, bench_enum_set.py and
bench_adapter.py (each runs as ``python benchmarks/<name>.py``, which puts this directory on the path).

The method, the same for all of them:

- `build` compiles the benchmark's file in benchmarks/c/ with ``cc -O2 -shared -fPIC
  -ffp-contract=off`` (`CFLAGS`; ``$CC`` if set) and the numba_rt headers, and loads it with ctypes.
  The file holds the hand-written nodes and a driver (c/bench_driver.h has the pieces drivers share)
  that owns the cells, calls START, times n EXECUTE calls with clock_gettime(CLOCK_MONOTONIC) inside
  C, each through the same function pointer, then calls STOP, and returns ns per call and a checksum
  of the outputs. The compiled node's address and the C nodes' addresses go to the SAME driver, so
  loop, cell traffic and the indirect call are identical and only the node differs.
  ``-ffp-contract=off`` only forbids fused multiply-add, which the compiled node does not use either,
  so both round identically (bench_enum_set.py, integers only, builds without it).
- `measure` runs every node once to warm up (page in code and data, settle the CPU clock), then
  `rounds` rounds of `calls` calls each; rounds are interleaved and alternate order, so drift hits
  every node alike. The checksums of nodes computing the same thing must be bit-identical in every
  round (asserted), so a node that skips work cannot look fast. Optionally no runtime fault may be
  pending after a run.
- `table` prints min and median ns per call per node (`min` is the best round, the least disturbed
  by the machine; `median` the typical one); `verdict` prints the ratio compiled / C of minimums
  (what the goal judges) and of medians, and each node's body above the floor: the no-op C node
  (`FLOOR`), which times the driver loop and the indirect call alone.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numba_rt

C_DIR = Path(__file__).resolve().parent / "c"
CFLAGS = ("-O2", "-shared", "-fPIC", "-ffp-contract=off")
FLOOR = "no-op C (floor)"  # the row of the drivers' noop_c_node
QUICK_ROUNDS = 3


# ---- arguments ------------------------------------------------------------------------------
def parser(doc: str, calls: int | None, quick: str, check: bool = True) -> argparse.ArgumentParser:
    """The flags the per-call benchmarks share: ``--calls N`` (unless `calls` is None: the script adds
    its own), ``--rounds N``, ``--quick`` (`quick` is its help) and, for a benchmark with a goal, ``--check``."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if calls is not None:
        p.add_argument("--calls", type=int, default=calls, help=f"EXECUTE calls per round (default {calls / 1e6:g} M)")
    p.add_argument("--rounds", type=int, default=7, help="interleaved rounds per node (default 7)")
    p.add_argument("--quick", action="store_true", help=quick)
    if check:
        p.add_argument("--check", action="store_true", help="exit 1 if the ratio misses the goal")
    return p


def parse(p: argparse.ArgumentParser, **quick) -> argparse.Namespace:
    """Parse the command line; ``--quick`` sets `QUICK_ROUNDS` rounds and the given values."""
    args = p.parse_args()
    if args.quick:
        vars(args).update(rounds=QUICK_ROUNDS, **quick)
    return args


def print_machine() -> None:
    print(f"python {sys.version.split()[0]}, {os.uname().machine}, {os.cpu_count()} CPUs")


# ---- the C side -----------------------------------------------------------------------------
def cc() -> str:
    return os.environ.get("CC", "cc")


def c_side(*flags: str, cflags: Iterable[str] = CFLAGS) -> str:
    """How the C side is built, as the benchmarks print it: ``cc <cflags> <flags>``."""
    return " ".join([cc(), *cflags, *flags])


def build(source: str, *flags: str, cflags: Iterable[str] = CFLAGS, link: Iterable[str] = ()) -> ctypes.CDLL:
    """Compile c/<source> with ``cc <cflags> <flags> -I<numba_rt include>`` (then `link`) into a shared
    library and load it (its file is removed once loaded; the mapping stays)."""
    with tempfile.TemporaryDirectory(prefix="ncc-bench-") as tmp:
        lib = os.path.join(tmp, Path(source).with_suffix(".so").name)
        cmd = [cc(), *cflags, *flags, "-I", numba_rt.include_dir(), str(C_DIR / source), *link, "-o", lib]
        subprocess.run(cmd, check=True)
        return ctypes.CDLL(lib)


def driver(dll: ctypes.CDLL, name: str, checksum: type = ctypes.c_double, extra: tuple = ()):
    """The driver `name`: ``double name(fn, int64_t n, *extra, checksum*)`` returning ns per call."""
    fn = getattr(dll, name)
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, *extra, ctypes.POINTER(checksum)]
    fn.restype = ctypes.c_double
    return fn


def address(dll: ctypes.CDLL, symbol: str) -> int:
    return ctypes.cast(getattr(dll, symbol), ctypes.c_void_p).value


# ---- timing ---------------------------------------------------------------------------------
def measure(run_driver, fns: dict[str, int], calls: int, rounds: int, *, warmup: int,
            same: Iterable[Iterable[str]] | None = None, rt: numba_rt.Runtime | None = None,
            extra: Callable[[int], tuple] = lambda r: (), after: Callable[[str], None] | None = None
            ) -> dict[str, list[float]]:
    """Time every node of `fns` (row name -> address) with the driver `run_driver`: a warm-up run of
    min(calls, warmup) calls each, then `rounds` interleaved rounds of `calls` calls, the order
    alternating. Returns the ns per call of every round, by row.

    same: groups of rows whose checksums must be bit-identical in every round (default: every row but
    the floor). rt: if given, no runtime fault may be pending after a run. extra(r): the driver's
    arguments between n and the checksum in round r (the warm-up is round 0). after(name): more
    checks after each run."""
    groups = [list(g) for g in same] if same is not None else [[name for name in fns if name != FLOOR]]
    checksum_type = run_driver.argtypes[-1]._type_
    if rt is not None:
        rt.clear_error()

    def run(name: str, n: int, r: int) -> tuple[float, float]:
        checksum = checksum_type()
        ns = run_driver(fns[name], n, *extra(r), ctypes.byref(checksum))
        assert ns >= 0, "driver could not allocate its cells"
        if rt is not None:
            fault = rt.error()
            assert fault is None, f"{name}: runtime fault {fault}"
        if after is not None:
            after(name)
        return ns, checksum.value

    for name in fns:  # warm-up: page in code and data, settle the CPU clock
        run(name, min(calls, warmup), 0)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        sums = {}
        for name in names if r % 2 == 0 else names[::-1]:
            ns, sums[name] = run(name, calls, r)
            samples[name].append(ns)
        for group in groups:
            members = {name: sums[name] for name in group}
            assert len(set(members.values())) == 1, f"checksums differ in round {r}: {members}"
    return samples


# ---- output ---------------------------------------------------------------------------------
def table(samples: dict[str, list[float]], width: int, reference: str | None = None, head: str = "node",
          ratio_head: str = "min ratio", ratio_width: int = 11) -> None:
    """One row per node: min and median ns per call, and (if `reference` is given) its min over the
    reference row's min."""
    ratio = f"{ratio_head:>{ratio_width}}" if reference else ""
    print(f"   {head:<{width}}{'min ns/call':>13}{'median ns/call':>16}{ratio}")
    for name, values in samples.items():
        ratio = f"{min(values) / min(samples[reference]):>{ratio_width - 1}.3f}x" if reference else ""
        print(f"   {name:<{width}}{min(values):>13.3f}{statistics.median(values):>16.3f}{ratio}")


def verdict(samples: dict[str, list[float]], compiled: str, c: str, goal: float, label: str = "compiled / C",
            body_ratio: bool = False) -> float:
    """Print the ratio compiled / C of minimums (judged against `goal`) and of medians, then both
    nodes' bodies above the floor (and their ratio if `body_ratio`); return the ratio of minimums."""
    comp, ref, floor = samples[compiled], samples[c], min(samples[FLOOR])
    ratio_min = min(comp) / min(ref)
    ratio_med = statistics.median(comp) / statistics.median(ref)
    judged = "OK" if ratio_min <= goal else "SLOWER THAN GOAL"
    print(f"   ratio {label}:   min {ratio_min:.3f}x   median {ratio_med:.3f}x   (goal <= {goal}x: {judged})")
    body = f"   node body above the floor: C {min(ref) - floor:.3f} ns, compiled {min(comp) - floor:.3f} ns"
    if body_ratio:
        body += f"   (body ratio {(min(comp) - floor) / (min(ref) - floor):.3f}x)"
    print(body)
    return ratio_min
