"""csp benchmark: the cost per tick of a compiled node in a real csp 0.19.1 graph.

Run:  python benchmarks/bench_csp.py            (1,000,000 ticks, 7 rounds, ~1 min)
      python benchmarks/bench_csp.py --quick    (200,000 ticks, 3 rounds)

Goals: the compiled EMA costs <= 0.5x csp's C++ ``csp.stats.ema`` and <= 0.15x the same node
written as a Python ``@csp.node``, per tick, net of the engine's own source-to-sink cost.

Method. Each graph is a numpy-backed ``csp.curve`` source (one tick per millisecond), one node,
and a sink that keeps only the last tick (``csp.add_graph_output(..., tick_count=1)``). The
*baseline* graph is the same source wired straight to the sink: what the engine costs with no
node. Each graph is built once (``csp.build_graph``: compiling happens there, not in the timing)
and then run (``csp.run`` on the built graph: engine creation, the run, teardown) once per round;
rounds are interleaved, in alternating order. A graph's time is its best round; per tick it is
``time / ticks``, and *net* is that minus the baseline's. Ratios are of net costs.

Nodes. EMA (``alpha=0.1``, first value taken as is): compiled (`numba_cfunc_compiler.contrib.csp`),
Python ``@csp.node``, and ``csp.stats.ema(x, alpha=0.1, adjust=False)`` (csp's C++ statistics; it
wires more than one node, so it is what a csp user would otherwise write, not one node). Dict
count (keys drawn from 1,000): ``counts[k] = counts.get(k, 0) + 1; return counts[k]``, compiled
with a ``NumbaDict`` and as a Python ``@csp.node`` with a dict. Before timing, each compiled node's
outputs are checked equal, bit for bit, to the Python node's on the first 20,000 ticks (and
``csp.stats.ema``'s to within 1e-9, since it associates the arithmetic differently).

``csp.count`` (a C++ node that only counts its ticks) is timed too, for scale: what any node
costs the engine.

``--cells`` also times a variant of the compiled EMA whose generated callback copies every input
into a cell (with its ticked and valid flags) before calling the node, as a host without direct
accessors would: the node then reads cells instead of calling csp's accessors.
"""

from __future__ import annotations

import argparse
import ast
import struct
import sys
import time
from datetime import datetime, timedelta

import csp
import llvmlite.ir as ir
import numpy as np
from csp import ts

from numba_cfunc_compiler import NumbaDict, State, create_new_dict
from numba_cfunc_compiler.compilation_context import CompilationContext
from numba_cfunc_compiler.contrib.csp import compiled_node, register
from numba_cfunc_compiler.contrib.csp.accessors import VALID, VALUE_TYPES, getter
from numba_cfunc_compiler.contrib.csp.adapters import EXECUTE, EXECUTE_UNCHECKED, ExecuteCallback
from numba_cfunc_compiler.contrib.csp.extension import CATEGORY, CspInputCategory, CspInputSource
from numba_cfunc_compiler.entry_adapters import register_entry_adapter, unregister_entry_adapter
from numba_cfunc_compiler.source_registry import CfuncParam, SourceRegistry
from numba_cfunc_compiler.type_factory import TypeFactory

START = datetime(2020, 1, 1)
ALPHA = 0.1
KEYS = 1000
GOAL_VS_STATS, GOAL_VS_PYTHON = 0.5, 0.15


# ---- the nodes ------------------------------------------------------------------------------
@compiled_node
def ema(x: ts[float], alpha: float) -> ts[float]:
    avg: State[float] = 0.0
    first: State[bool] = True
    if csp.ticked(x):
        if first:
            avg = x
            first = False
        else:
            avg = alpha * x + (1 - alpha) * avg
        return avg


@csp.node
def ema_py(x: ts[float], alpha: float) -> ts[float]:
    with csp.state():
        s_avg = 0.0
        s_first = True
    if csp.ticked(x):
        if s_first:
            s_avg = x
            s_first = False
        else:
            s_avg = alpha * x + (1 - alpha) * s_avg
        return s_avg


@compiled_node
def count(k: ts[int]) -> ts[int]:
    counts: State[NumbaDict[int, int]] = create_new_dict(int, int)
    if csp.ticked(k):
        counts[k] = counts.get(k, 0) + 1
        return counts[k]


@csp.node
def count_py(k: ts[int]) -> ts[int]:
    with csp.state():
        s_counts = {}
    if csp.ticked(k):
        s_counts[k] = s_counts.get(k, 0) + 1
        return s_counts[k]


# ---- the cells variant (--cells): inputs copied into cells by the callback ---------------------
class CellInputSource(CspInputSource):
    """An input read from its cell, ``inputs[i]``, which the callback filled."""

    def get(self) -> ast.expr:
        raw = ast.Subscript(value=ast.Name(id="inputs", ctx=ast.Load()), slice=ast.Constant(self.array_idx), ctx=ast.Load())
        cell = self.factory.cast_pointer(raw, self.type.get_numba_type_name())
        return self.type.from_cell(ast.Subscript(value=cell, slice=ast.Constant(0), ctx=ast.Load()))


class CellInputCategory(CspInputCategory):
    """The csp inputs as cells: ``inputs: void**`` (and ``csp_node``, which the callbacks pass)."""

    @property
    def cfunc_params(self) -> list[CfuncParam]:
        return [CfuncParam("inputs", "void**"), *super().cfunc_params]

    def create_variables(self, info, factory) -> None:
        for index, (name, argument) in enumerate(info.input_analysis.get_by_category(self.id).items()):
            var_type = TypeFactory.get_type(info.extract_python_type_fn(argument))
            factory.add_variable(CellInputSource(index, var_type, name, None, False), category=self.id)


class CellExecuteCallback(ExecuteCallback):
    """The execute callback, first copying each valid input's value into a cell on its stack
    (``csp.ticked`` still asks csp)."""

    def entry_arguments(self, node, b) -> dict:
        builder, i32 = b.builder, ir.IntType(32)
        cells = []
        for i, slot in enumerate(node.inputs):
            python_type = next(t for t, (_, cell) in VALUE_TYPES.items() if cell == slot.cell)
            get, valid = (b.declare(fn.name, fn.restype, *fn.argtypes) for fn in (getter(python_type), VALID))
            args = [b.args["node"], i32(i)]
            is_valid = builder.icmp_signed("!=", builder.call(valid, args), ir.IntType(8)(0))
            value = builder.select(is_valid, builder.call(get, args), ir.Constant(get.function_type.return_type, 0))
            cell = builder.alloca(ir.IntType(64))
            builder.store(value, builder.bitcast(cell, value.type.as_pointer()))
            cells.append(builder.bitcast(cell, ir.PointerType()))
        return {"inputs": b.array("void*", cells)}


def cells_graph(data):
    """The EMA graph, built (and compiled) with the cells variant of the csp extension."""
    with CompilationContext.current().derive():
        register()
        SourceRegistry.unregister(CATEGORY)
        SourceRegistry.register(CellInputCategory())
        for checked in (True, False):
            unregister_entry_adapter(EXECUTE if checked else EXECUTE_UNCHECKED)
            register_entry_adapter(CellExecuteCallback(checked))
        return csp.build_graph(make_graph("cells", *data), starttime=START, endtime=timedelta(days=10))


# ---- graphs ---------------------------------------------------------------------------------
def series(n: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    times = np.datetime64(START) + np.arange(n).astype("timedelta64[ms]")
    return times, rng.normal(100.0, 5.0, n), rng.integers(0, KEYS, n)


def make_graph(kind: str, times, values, keys, tick_count: int = 1):
    def graph():
        if kind.startswith("count"):
            src = csp.curve(int, (times, keys))
            node = {"count base": lambda k: k, "count compiled": count, "count python": count_py}[kind]
        else:
            src = csp.curve(float, (times, values))
            node = {
                "ema base": lambda x: x,
                "ema compiled": lambda x: ema(x, ALPHA),
                "cells": lambda x: ema(x, ALPHA),
                "ema python": lambda x: ema_py(x, ALPHA),
                "ema csp.stats": lambda x: csp.stats.ema(x, alpha=ALPHA, adjust=False),
                "ema csp.count": csp.count,
            }[kind]
        csp.add_graph_output("y", node(src), tick_count=tick_count)

    return graph


def run(graph):
    return csp.run(graph, starttime=START, endtime=timedelta(days=10))["y"]


def bits(ticks):
    return [(t, struct.pack("<d", float(v))) for t, v in ticks]


def check(data) -> None:
    """Compiled == Python, bit for bit, on the first ticks; csp.stats.ema within 1e-9."""
    short = tuple(a[:20_000] for a in data)
    out = {kind: run(make_graph(kind, *short, tick_count=-1)) for kind in ("ema compiled", "ema python", "ema csp.stats", "count compiled", "count python")}
    assert len(out["ema compiled"]) == 20_000 and bits(out["ema compiled"]) == bits(out["ema python"]), "EMA differs"
    assert out["count compiled"] == out["count python"], "dict count differs"
    assert max(abs(a[1] - b[1]) for a, b in zip(out["ema compiled"], out["ema csp.stats"])) < 1e-9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200,000 ticks, 3 rounds")
    parser.add_argument("--cells", action="store_true", help="also time the compiled EMA reading inputs from cells")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args()
    if args.quick:
        args.ticks, args.rounds = 200_000, 3

    data = series(args.ticks)
    check(data)
    kinds = ["ema base", "ema compiled", "ema python", "ema csp.stats", "ema csp.count", "count base", "count compiled", "count python"]
    graphs = {kind: csp.build_graph(make_graph(kind, *data), starttime=START, endtime=timedelta(days=10)) for kind in kinds}
    if args.cells:
        graphs["cells"] = cells_graph(data)
        last = {kind: run(graphs[kind])[-1][1] for kind in ("cells", "ema compiled")}
        assert last["cells"] == last["ema compiled"], last
    best = dict.fromkeys(graphs, float("inf"))
    for round_ in range(args.rounds):
        for kind in graphs if round_ % 2 == 0 else reversed(graphs):
            t0 = time.perf_counter()
            run(graphs[kind])
            best[kind] = min(best[kind], time.perf_counter() - t0)
    ns = {kind: best[kind] / args.ticks * 1e9 for kind in graphs}
    net = {kind: ns[kind] - ns[kind.split()[0] + " base"] if not kind.startswith("cells") else ns[kind] - ns["ema base"] for kind in graphs}

    print(f"csp {csp.__version__}: {args.ticks:,} ticks, best of {args.rounds} rounds, ns per tick (net: minus source -> sink)")
    labels = {
        "base": "source -> sink (engine)",
        "compiled": "compiled @compiled_node",
        "python": "Python @csp.node",
        "csp.stats": "csp.stats.ema (C++)",
        "csp.count": "csp.count (C++: a node's floor)",
    }
    ok = True
    for title, prefix in (("EMA, alpha=0.1", "ema"), (f"dict count, {KEYS:,} keys", "count")):
        print(f"\n{title:34} {'total':>8} {'net':>8}")
        for kind in [k for k in graphs if k.startswith(prefix)]:
            label = labels[kind.split(" ", 1)[1]]
            print(f"  {label:32} {ns[kind]:8.1f} {'-' if kind.endswith('base') else f'{net[kind]:.1f}':>8}")
        if prefix == "ema" and "cells" in graphs:
            print(f"  {'compiled, inputs via cells':32} {ns['cells']:8.1f} {net['cells']:8.1f}")
        vs_python = net[f"{prefix} compiled"] / net[f"{prefix} python"]
        goals = [("Python node", vs_python, GOAL_VS_PYTHON if prefix == "ema" else None)]
        if prefix == "ema":
            goals.insert(0, ("csp.stats.ema", net["ema compiled"] / net["ema csp.stats"], GOAL_VS_STATS))
        for name, ratio, goal in goals:
            verdict = "" if goal is None else f"   (goal <= {goal}x: {'OK' if ratio <= goal else 'MISSED'})"
            ok &= goal is None or ratio <= goal
            print(f"  ratio compiled / {name + ':':15} {ratio:5.2f}x{verdict}")
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
