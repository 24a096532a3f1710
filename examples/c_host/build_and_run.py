"""Compile a node, turn its LLVM IR into an object file, link it into a C program and run it.

    python examples/c_host/build_and_run.py [BUILD_DIR]

Steps:
  1. compile_node(ema, alpha=0.5)          -> CompilationResult (result.native_name, result.artifact)
  2. link([result]).emit_object("ema.o")   -> a position-independent object file for this CPU
  3. cc host_main.c ema.o -lnumba_rt -lm    (the header and library come from numba_rt)
  4. run the program (no Python in that process) and print what it printed

Needs a C compiler on PATH as `cc`. BUILD_DIR defaults to a temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numba

import numba_rt
from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import Signal, compile_node, ticked
from numba_cfunc_compiler.linker import link

HERE = Path(__file__).resolve().parent


@numba.njit
def check_price(x):
    if x <= 0.0:
        raise ValueError("price must be positive")  # becomes a fault in the error record
    return x


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    seen: State[bool] = False
    if ticked(x):
        price = check_price(x)
        if seen:
            avg = alpha * price + (1.0 - alpha) * avg
        else:
            avg = price
            seen = True
        return avg


def build_and_run(build_dir: Path) -> str:
    result = compile_node(ema, alpha=0.5)
    print(f"compiled {result.qualname} -> {result.native_name}")
    print(f"signature: {result.signature}")

    linked = link([result])  # one node here; link() takes any number
    print(f"exported: {linked.native_names}  needs: {list(linked.imports)}")
    obj = build_dir / "ema.o"
    linked.emit_object(obj)

    cc = shutil.which("cc")
    if cc is None:
        raise SystemExit("no C compiler: `cc` is not on PATH")
    lib_dir = str(Path(numba_rt.library_path()).parent)
    exe = build_dir / "host_main"
    cmd = [
        cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
        f"-DNODE_SYMBOL={result.native_name}",
        f"-DSTATE_COUNT={len(result.state_values)}",
        f"-I{numba_rt.include_dir()}",
        str(HERE / "host_main.c"), str(obj),
        f"-L{lib_dir}", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-lm",
        "-o", str(exe),
    ]  # fmt: skip
    print("+ " + " ".join(Path(c).name if c == cc else c for c in cmd))
    subprocess.run(cmd, check=True)

    run = subprocess.run([str(exe)], check=True, capture_output=True, text=True)
    print("--- output of host_main ---")
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
