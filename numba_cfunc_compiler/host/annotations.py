"""What node authors write: ``Signal[T]``, ``Outputs(...)``, ``ticked``, ``valid``, ``output``,
``start`` and ``stop``. At compile time the host's handlers lower each of them; calling them from
Python is a mistake and says so."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Signal", "SignalType", "Outputs", "ticked", "valid", "output", "start", "stop"]


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
