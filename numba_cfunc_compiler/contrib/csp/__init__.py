"""Compiled nodes in csp graphs (csp 0.19.1, https://github.com/Point72/csp).

::

    import csp
    from csp import ts
    from numba_cfunc_compiler import State
    from numba_cfunc_compiler.contrib.csp import compiled_node

    @compiled_node
    def ema(x: ts[float], alpha: float) -> ts[float]:
        avg: State[float] = 0.0
        if csp.ticked(x):
            avg = alpha * x + (1 - alpha) * avg
            return avg

``ema(x, alpha=0.1)`` in a ``@csp.graph`` wires a node that csp runs natively: its inputs are read
and its outputs ticked through csp's exported accessors, by callbacks generated in LLVM IR. See
docs/hosts/csp.md. Importing this package imports csp (and the compiler).
"""

from __future__ import annotations

from .extension import compile_csp_node, is_registered, register
from .node import CompiledNode, CompiledNodeError, compiled_node

__all__ = ["CompiledNode", "CompiledNodeError", "compile_csp_node", "compiled_node", "is_registered", "register"]
