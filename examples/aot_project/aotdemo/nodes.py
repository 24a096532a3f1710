"""The node functions nodes.toml lists; the wheel ships them compiled."""

from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import Signal, ticked


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


def band(x: Signal[float], low: float, high: float, levels) -> Signal[int]:
    """How many of ``levels`` (a constant list) the position of ``x`` in [low, high] reaches."""
    if ticked(x):
        position = (x - low) / (high - low)
        count = 0
        for level in levels:
            if position >= level:
                count += 1
        return count
