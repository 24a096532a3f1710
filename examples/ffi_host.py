"""Call host C functions from a compiled node.

    python examples/ffi_host.py [BUILD_DIR]

Steps:
  1. cc -O2 -shared -fPIC examples/c/ffi_functions.c -o BUILD_DIR/libffi_functions.so
  2. load it into this process with llvmlite's load_library_permanently, so JIT-compiled code
     finds its symbols
  3. declare the functions with FFIFunction, compile a node that calls them, run it and read the
     log that the C side kept

Needs a C compiler on PATH as `cc`. BUILD_DIR defaults to a temporary directory.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import llvmlite.binding as llvm

from numba_cfunc_compiler import State
from numba_cfunc_compiler.host import NodeRunner, Signal, compile_node, ticked
from numba_cfunc_compiler.utils.ffi import FFIFunction

C_SOURCE = Path(__file__).resolve().parent / "c" / "ffi_functions.c"


class Book(ctypes.Structure):
    """The C struct `book` of ffi_functions.c; a struct input is passed to C as its address."""

    _fields_ = [
        ("bid", ctypes.c_double),
        ("ask", ctypes.c_double),
        ("bid_size", ctypes.c_int64),
        ("ask_size", ctypes.c_int64),
    ]


# name, return type, argument types (Numba type names), pure = reads memory only, no side effects
book_mid = FFIFunction("book_mid", "float64", ("voidptr",), pure=True)
book_imbalance = FFIFunction("book_imbalance", "float64", ("voidptr",), pure=True)
record_signal = FFIFunction("record_signal", "void", ("float64",))


def fair_value(book: Signal[Book], weight: float) -> Signal[float]:
    last: State[float] = 0.0
    if ticked(book):
        value = book_mid(book) + weight * book_imbalance(book) * (book.ask - book.bid) / 2
        edge = value - book_mid(book)  # the same pure call again: LLVM reuses the first result
        if abs(value - last) > 0.01:
            record_signal(value)  # a side effect: the C side logs it, every time it is called
        last = value
        return edge


def build_library(build_dir: Path) -> Path:
    cc = shutil.which("cc")
    if cc is None:
        raise SystemExit("no C compiler: `cc` is not on PATH")
    library = build_dir / "libffi_functions.so"
    cmd = [cc, "-O2", "-shared", "-fPIC", str(C_SOURCE), "-o", str(library)]
    print("+ cc " + " ".join(cmd[1:]))
    subprocess.run(cmd, check=True)
    return library


def run(build_dir: Path) -> None:
    library = build_library(build_dir)
    print("available before loading:", book_mid.is_available())
    llvm.load_library_permanently(str(library))  # every symbol of the library, for JIT code
    print("available after loading: ", book_mid.is_available())

    result = compile_node(fair_value, weight=0.5)
    print(f"compiled {result.qualname} -> {result.native_name}")
    for name in ("book_mid", "book_imbalance", "record_signal"):
        declaration = re.search(rf"^declare .*@{name}\(.*$", result.llvm_ir, re.M).group(0)
        calls = len(re.findall(rf"call \S+ @{name}\(", result.llvm_ir))
        print(f"{declaration}   ; {calls} call(s)")
        group = re.search(r"#(\d+)$", declaration)
        if group:  # pure: the attributes mark_pure added, as LLVM prints them
            print("    " + re.search(rf"^attributes #{group.group(1)} = .*$", result.llvm_ir, re.M).group(0))

    runner = NodeRunner(result)
    runner.start()
    for bid, ask, bid_size, ask_size in [(99.0, 101.0, 30, 10), (99.0, 101.0, 30, 10), (100.0, 101.0, 5, 15)]:
        edge = runner.execute(book=Book(bid, ask, bid_size, ask_size))
        print(f"book {bid}/{ask} {bid_size}x{ask_size} -> edge {edge:+.3f}  fair value {runner.state('last'):.3f}")
    runner.stop()

    log = ctypes.CDLL(str(library))  # the same library: the loader maps it once
    log.recorded_count.restype = ctypes.c_int64
    log.recorded_at.restype = ctypes.c_double
    log.recorded_at.argtypes = [ctypes.c_int64]
    print("logged by C:", [round(log.recorded_at(i), 3) for i in range(log.recorded_count())])


def main() -> None:
    if len(sys.argv) > 1:
        build_dir = Path(sys.argv[1])
        build_dir.mkdir(parents=True, exist_ok=True)
        run(build_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp))


if __name__ == "__main__":
    main()
