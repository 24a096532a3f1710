"""What node authors write: ``Signal[T]``, ``Basket[T, N]``, ``Outputs(...)``, ``ticked``,
``valid``, ``output``, ``start`` and ``stop``. At compile time the host's handlers lower each of them; calling them from
Python is a mistake and says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Signal", "SignalType", "Basket", "BasketType", "Outputs", "ticked", "valid", "output", "start", "stop"]


@dataclass(frozen=True)
class SignalType:
    """``Signal[T]``: an input or output carrying values of type ``T``."""

    python_type: Any

    def __repr__(self) -> str:
        return f"Signal[{getattr(self.python_type, '__name__', self.python_type)}]"


class _SignalMeta(type):
    def __getitem__(cls, python_type: Any) -> SignalType:
        return SignalType(python_type)


class Signal(metaclass=_SignalMeta):
    """Annotation for a ticking value: ``def f(x: Signal[float]) -> Signal[float]``."""


@dataclass(frozen=True)
class BasketType:
    """``Basket[T, N]``: one parameter holding ``N`` signals of type ``T``. ``size`` is None for
    ``Basket[T]``, whose size is given when compiling: ``compile_node(f, x=Basket[T, 16])``.
    Nothing is checked here (an annotation is evaluated when the node is defined); the compiler
    reports a bad type or size as a `CompilationError` at the parameter."""

    python_type: Any
    size: Any = None

    def __repr__(self) -> str:
        name = getattr(self.python_type, "__name__", self.python_type)
        return f"Basket[{name}]" if self.size is None else f"Basket[{name}, {self.size!r}]"


class _BasketMeta(type):
    def __getitem__(cls, params: Any) -> BasketType:
        if isinstance(params, tuple) and params:
            python_type, *rest = params
            return BasketType(python_type, rest[0] if len(rest) == 1 else tuple(rest))
        return BasketType(params)


class Basket(metaclass=_BasketMeta):
    """Annotation for N signals of one type: ``def f(prices: Basket[float, 16])``, or
    ``Basket[float]`` with the size given at compile time (``compile_node(f, prices=Basket[float, 16])``).
    See docs/baskets.md."""


class Outputs:
    """Named outputs: ``-> Outputs(fast=Signal[float], slow=Signal[float])``."""

    def __init__(self, **outputs: SignalType) -> None:
        if not outputs:
            raise TypeError("Outputs(...) needs at least one named output")
        for name, sig in outputs.items():
            if not isinstance(sig, SignalType):
                raise TypeError(f"Outputs({name}=...) must be a Signal[T], got {sig!r}")
        self.outputs = dict(outputs)

    def __repr__(self) -> str:
        return "Outputs(" + ", ".join(f"{k}={v!r}" for k, v in self.outputs.items()) + ")"


def _node_only(name: str) -> Any:
    def marker(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{name}() only has a meaning inside a compiled node")

    marker.__name__ = marker.__qualname__ = name
    return marker


ticked = _node_only("ticked")
valid = _node_only("valid")
output = _node_only("output")
start = _node_only("start")
stop = _node_only("stop")
