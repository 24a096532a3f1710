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

``Basket[T, N]`` is one parameter holding N signals of type T (docs/baskets.md).

Importing this package does not import Numba: the names that need the compiler
(``register``, ``compile_many``, ...) load it on first access (PEP 562), and ``compile_node`` when
it is called. ``NodeRunner.from_library`` drives an AOT-built node with Numba never imported.
"""

from __future__ import annotations

from typing import Any

from .annotations import Basket, BasketType, Outputs, Signal, SignalType, output, start, stop, ticked, valid
from .runner import NodeRunner, NodeRuntimeError, compile_node

#: Names loaded on first access (their modules import the compiler).
_LAZY = ("SIGNAL_CATEGORY", "CtypesStructType", "is_registered", "register", "DEFAULT_OPTIONS", "compile_many")


def __getattr__(name: str) -> Any:
    if name in ("SIGNAL_CATEGORY", "CtypesStructType", "is_registered", "register"):
        from . import extension  # noqa: PLC0415

        return getattr(extension, name)
    if name == "DEFAULT_OPTIONS":
        from . import runner  # noqa: PLC0415

        return runner.DEFAULT_OPTIONS
    if name == "compile_many":
        from .batch import compile_many  # noqa: PLC0415

        return compile_many
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "Signal",
    "SignalType",
    "Basket",
    "BasketType",
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
