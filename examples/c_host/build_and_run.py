"""Compile a node, turn its LLVM IR into an object file, link it into a C program and run it.

    python examples/c_host/build_and_run.py [BUILD_DIR]

Steps:
  1. compile_node(ema, alpha=0.5)          -> CompilationResult (result.llvm_ir, result.native_name)
  2. llvmlite: parse result.llvm_ir, emit an object file with a PIC target machine
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

import llvmlite.binding as llvm
import numba

import numba_rt
from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import Signal, compile_node, ticked

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


def emit_object(llvm_ir: str, path: Path) -> None:
    """Write the machine code of ``llvm_ir`` for this machine to ``path`` (position independent)."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = llvm.parse_assembly(llvm_ir)
    module.verify()
    defined = [f.name for f in module.functions if not f.is_declaration and f.linkage == llvm.Linkage.external]
    needed = [f.name for f in module.functions if f.is_declaration and not f.name.startswith("llvm.")]
    print(f"exported: {defined}  needs: {needed}")
    target = llvm.Target.from_triple(module.triple)
    machine = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=2,
        reloc="pic",
        codemodel="default",
    )
    path.write_bytes(machine.emit_object(module))


def build_and_run(build_dir: Path) -> str:
    result = compile_node(ema, alpha=0.5)
    print(f"compiled {result.qualname} -> {result.native_name}")
    print(f"signature: {result.signature}")

    obj = build_dir / "ema.o"
    emit_object(result.llvm_ir, obj)

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
