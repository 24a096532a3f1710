"""Example nodes for ``python -m numba_cfunc_compiler demo``: compiled, run, results printed."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, TextIO

import numba

from . import NumbaDict, NumbaList, State, create_new_dict, create_new_list
from .host import NodeRunner, Outputs, Signal, compile_node, output, start, stop, ticked, valid


@numba.njit(cache=False)
def _clamp(value, low, high):
    return min(max(value, low), high)


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    """Exponential moving average of x."""
    avg: State[float] = 0.0
    seen: State[bool] = False
    if ticked(x):
        if seen:
            avg = alpha * x + (1.0 - alpha) * avg
        else:
            avg = x
            seen = True
        return avg


def crossover(fast: Signal[float], slow: Signal[float]) -> Outputs(spread=Signal[float], signal=Signal[int]):
    """Spread between two series, and +1/-1 when the fast one crosses the slow one."""
    side: State[int] = 0
    if valid(fast) and valid(slow):
        spread = fast - slow
        output(spread=spread)
        now = 1 if spread > 0 else -1
        if now != side:
            if side != 0:
                output(signal=now)
            side = now


def volatility(price: Signal[float], window: int) -> Signal[float]:
    """Running standard deviation of log returns, clamped, with START/STOP hooks."""
    last: State[float] = 0.0
    count: State[int] = 0
    total: State[float] = 0.0
    total_sq: State[float] = 0.0
    with start():
        count = 0
    if ticked(price) and price > 0:
        if last > 0:
            r = math.log(price / last)
            total += r
            total_sq += r * r
            count += 1
        last = price
        if count >= window:
            mean = total / count
            return _clamp(math.sqrt(max(total_sq / count - mean * mean, 0.0)), 0.0, 1.0)
    with stop():
        count = -1


def rolling_max(x: Signal[float], window: int) -> Signal[float]:
    """Maximum of the last ``window`` values, kept in a NumbaList."""
    recent: State[NumbaList] = create_new_list(float)
    if ticked(x):
        recent.append(x)
        if len(recent) > window:
            recent.pop(0)
        best = recent[0]
        for v in recent:
            best = max(best, v)
        return best


def trade_gaps(venue: Signal[int], at: Signal[datetime]) -> Outputs(gap=Signal[float], venues=Signal[int]):
    """Seconds since the previous trade on the same venue (a NumbaDict of last times)."""
    last_seen: State[NumbaDict[int, float]] = create_new_dict(int, float)
    if ticked(at):
        now = (at - datetime(2024, 1, 1, tzinfo=timezone.utc)).total_seconds()
        if venue in last_seen:
            output(gap=now - last_seen[venue])
        last_seen[venue] = now
        output(venues=len(last_seen))


def run_demo(out: TextIO) -> None:
    def compiled(fn: Callable, **constants: object) -> NodeRunner:
        t0 = time.perf_counter()
        result = compile_node(fn, **constants)
        elapsed = (time.perf_counter() - t0) * 1e3
        out.write(f"compiled {fn.__name__:<11} -> {result.native_name}  ({elapsed:.0f} ms)\n")
        runner = NodeRunner(result)
        runner.start()
        return runner

    node = compiled(ema, alpha=0.5)
    values = [node.execute(x=x) for x in (10.0, 20.0, 30.0)]
    out.write(f"  ema(alpha=0.5) over 10, 20, 30: {values}\n")
    node.stop()

    node = compiled(crossover)
    ticks = [(1.0, 2.0), (3.0, None), (None, 4.0), (None, 1.0)]
    for fast, slow in ticks:
        given = {k: v for k, v in (("fast", fast), ("slow", slow)) if v is not None}
        out.write(f"  crossover{given}: {node.execute(**given)}\n")
    node.stop()

    node = compiled(volatility, window=3)
    prices = [100.0, 101.0, 99.5, 100.5, 102.0]
    vols = [node.execute(price=p) for p in prices]
    out.write(f"  volatility(window=3) over {prices}: {[None if v is None else round(v, 6) for v in vols]}\n")
    node.stop()

    node = compiled(rolling_max, window=3)
    xs = [3.0, 1.0, 4.0, 1.0, 5.0, 0.5, 0.25, 0.125]
    out.write(f"  rolling_max(window=3) over {xs}: {[node.execute(x=x) for x in xs]}\n")
    node.stop()

    node = compiled(trade_gaps)
    t0 = datetime(2024, 5, 1, 9, 30, tzinfo=timezone.utc)
    for venue, seconds in [(1, 0.0), (2, 0.5), (1, 2.25), (2, 3.0)]:
        result = node.execute(venue=venue, at=t0 + timedelta(seconds=seconds))
        out.write(f"  trade_gaps(venue={venue}, at=+{seconds}s): {result}\n")
    node.stop()
