"""An exponential moving average node, compiled and run with the reference host.

    python examples/ema.py
"""

from __future__ import annotations

from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import NodeRunner, Signal, compile_node, ticked


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    seen: State[bool] = False
    if ticked(x):
        if seen:
            avg = alpha * x + (1.0 - alpha) * avg
        else:
            avg = x
            seen = True
        return avg


def main() -> None:
    result = compile_node(ema, alpha=0.5)  # alpha is baked into the machine code
    print(f"{result.native_name} at {result.address:#x}")
    runner = NodeRunner(result)
    runner.start()
    for x in (10.0, 20.0, 30.0, 40.0):
        print(f"x={x:<5} ema={runner.execute(x=x)}")
    print(f"no input  -> {runner.execute()}")  # x did not tick: no output
    runner.stop()


if __name__ == "__main__":
    main()
