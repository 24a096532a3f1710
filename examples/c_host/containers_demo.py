"""Compile a node that keeps a list and a dict, link it into a C program, run it there and read the
containers out of the node's state cells with the runtime's C API.

    python examples/c_host/containers_demo.py [BUILD_DIR]

Steps:
  1. compile_node(book)                       -> result.native_name, the state layout
  2. link([result]).emit_object("book.o")     -> a position-independent object file for this CPU
  3. cc read_containers.c book.o -lnumba_rt    (the cells of `recent` and `per_venue` as -D flags)
  4. run the program (no Python in that process) and print what it printed

Needs a C compiler on PATH as `cc`. BUILD_DIR defaults to a temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numba_rt
from numba_cfunc_compiler import NumbaDict, NumbaList, State, create_new_dict, create_new_list
from numba_cfunc_compiler.host import Signal, compile_node, ticked
from numba_cfunc_compiler.linker import link

HERE = Path(__file__).resolve().parent


def book(price: Signal[float], venue: Signal[int]) -> Signal[float]:
    recent: State[NumbaList[float]] = create_new_list(float)  # the last 4 prices
    per_venue: State[NumbaDict[int, int]] = create_new_dict(int, int)  # trades per venue
    if ticked(venue):
        per_venue[venue] = per_venue.get(venue, 0) + 1
    if ticked(price):
        recent.append(price)
        if len(recent) > 4:
            recent.pop(0)
        total = 0.0
        for p in recent:
            total += p
        return total / len(recent)


def build_and_run(build_dir: Path) -> str:
    result = compile_node(book)
    names = result.state_names
    print(f"compiled {result.qualname} -> {result.native_name}")
    print(f"state: {names}  containers at {result.nrt_state_indices}")

    linked = link([result])
    print(f"exported: {linked.native_names}  needs: {list(linked.imports)}")
    obj = build_dir / "book.o"
    linked.emit_object(obj)

    cc = shutil.which("cc")
    if cc is None:
        raise SystemExit("no C compiler: `cc` is not on PATH")
    lib_dir = str(Path(numba_rt.library_path()).parent)
    exe = build_dir / "read_containers"
    cmd = [
        cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
        f"-DNODE_SYMBOL={result.native_name}",
        f"-DSTATE_COUNT={len(result.state_values)}",
        f"-DRECENT_CELL={names.index('recent')}",
        f"-DVENUES_CELL={names.index('per_venue')}",
        f"-I{numba_rt.include_dir()}",
        str(HERE / "read_containers.c"), str(obj),
        f"-L{lib_dir}", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-lm",
        "-o", str(exe),
    ]  # fmt: skip
    print("+ " + " ".join(Path(c).name if c == cc else c for c in cmd))
    subprocess.run(cmd, check=True)

    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    print("--- output of read_containers ---")
    print(run.stdout, end="")
    return run.stdout


def main() -> None:
    if len(sys.argv) > 1:
        build_dir = Path(sys.argv[1])
        build_dir.mkdir(parents=True, exist_ok=True)
        build_and_run(build_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            build_and_run(Path(tmp))


if __name__ == "__main__":
    main()
