"""`compile_many`: compile a batch of nodes, in parallel worker processes that feed the cache.

A host that starts many nodes at once (a stream engine loading a graph) pays Numba once per node.
With the persistent cache on, worker processes compile the batch first and write the cache; this
process then builds every result from the cache, without running Numba. Nothing is shared between
processes but cache entries, so the results are exactly what sequential compiles would give.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import pickle
from typing import Any, Callable, Iterable

from ..numba_core import CompilationResult, compile_cache
from .runner import compile_node

__all__ = ["compile_many"]


def _compile_in_worker(compiler: Callable[..., Any], func: Callable, constants: dict[str, Any]) -> None:
    try:
        compiler(func, **constants)
    except Exception:  # noqa: BLE001 - this process compiles the job again and raises it there
        pass


def _jobs(items: Iterable[Any]) -> list[tuple[Callable, dict[str, Any]]]:
    jobs = []
    for item in items:
        if callable(item):
            jobs.append((item, {}))
        elif isinstance(item, tuple) and len(item) == 2 and callable(item[0]) and isinstance(item[1], dict):
            jobs.append((item[0], dict(item[1])))
        else:
            raise TypeError(f"compile_many() takes functions or (function, constants) pairs, got {item!r}")
    return jobs


def _picklable(job: tuple[Any, ...]) -> bool:
    try:
        pickle.dumps(job)
    except Exception:  # noqa: BLE001 - lambdas, local functions, unpicklable constants
        return False
    return True


def compile_many(
    items: Iterable[Any],
    *,
    compiler: Callable[..., CompilationResult] = compile_node,
    workers: int | None = None,
) -> list[CompilationResult]:
    """Compile ``items`` — functions, or ``(function, constants)`` pairs — with ``compiler``
    (``compiler(func, **constants)``, the reference host's `compile_node` by default) and return
    the results in order.

    With ``workers`` > 0 (default: one less than the number of CPUs) and the persistent cache on,
    this process compiles the jobs from the first while ``workers`` fresh processes compile them
    from the last into the cache; where they meet, this process finds the rest in the cache. Jobs
    a worker cannot receive (a function not importable by name, say) compile here. A compile
    error is raised here, for the first failing job, as a sequential compile would raise it.
    Workers are spawned, so a script calling this needs an ``if __name__ == "__main__":`` guard.
    """
    jobs = _jobs(items)
    if workers is None:
        workers = (os.cpu_count() or 1) - 1
    shippable = [i for i, (func, constants) in enumerate(jobs) if _picklable((compiler, func, constants))]
    if workers < 1 or len(shippable) < 2 or compile_cache() is None:
        return [compiler(func, **constants) for func, constants in jobs]
    context = multiprocessing.get_context("spawn")  # no fork of a process holding JIT threads
    pool = concurrent.futures.ProcessPoolExecutor(min(workers, len(shippable)), mp_context=context)
    try:
        pending = {i: pool.submit(_compile_in_worker, compiler, *jobs[i]) for i in reversed(shippable)}
        results = []
        for i, (func, constants) in enumerate(jobs):
            results.append(compiler(func, **constants))
            future = pending.pop(i, None)
            if future is not None:
                future.cancel()  # done here: a worker that has not started it never will
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
