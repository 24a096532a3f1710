"""The reference host: a small, complete domain extension written only with the public API.

Node authors write::

    from numba_cfunc_compiler import State
    from numba_cfunc_compiler.host import Signal, ticked, compile_node, NodeRunner

    def ema(x: Signal[float], alpha: float) -> Signal[float]:
        avg: State[float] = 0.0
        if ticked(x):
            avg = alpha * x + (1 - alpha) * avg
            return avg

    runner = NodeRunner(compile_node(ema, alpha=0.1))
"""

from .annotations import Outputs, Signal, SignalType, output, start, stop, ticked, valid
from .extension import SIGNAL_CATEGORY, CtypesStructType, is_registered, register
from .runner import DEFAULT_OPTIONS, NodeRunner, NodeRuntimeError, compile_node
from .batch import compile_many

__all__ = [
    "Signal",
    "SignalType",
    "Outputs",
    "ticked",
    "valid",
    "output",
    "start",
    "stop",
    "register",
    "is_registered",
    "SIGNAL_CATEGORY",
    "CtypesStructType",
    "compile_node",
    "compile_many",
    "NodeRunner",
    "NodeRuntimeError",
    "DEFAULT_OPTIONS",
]
