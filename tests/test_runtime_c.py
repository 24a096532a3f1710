"""Tests for the C runtime (libnumba_rt): the C error record, its Python wrapper, its exports."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import threading
from collections.abc import Iterator
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest

import numba_rt

C_DIR = Path(__file__).parent / "c"


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def error_record_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """tests/c/test_error_record.c compiled against the installed header and library."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (`cc`) on PATH; one is needed to build the package anyway")
    lib_dir = str(Path(numba_rt.library_path()).parent)
    out = str(tmp_path_factory.mktemp("c") / "test_error_record.bin")
    cmd = [
        cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread",
        f"-I{numba_rt.include_dir()}", str(C_DIR / "test_error_record.c"),
        f"-L{lib_dir}", "-lnumba_rt", f"-Wl,-rpath,{lib_dir}", "-o", out,
    ]  # fmt: skip
    result = run(cmd)
    assert result.returncode == 0, result.stderr
    return out


def test_c_error_record(error_record_binary: str) -> None:
    result = run([error_record_binary])
    assert result.returncode == 0, result.stderr


def test_c_error_record_under_valgrind(error_record_binary: str) -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        pytest.skip("valgrind not on PATH (.ci/run installs it, so CI always runs this)")
    result = run([valgrind, "--error-exitcode=1", "--leak-check=full", error_record_binary])
    assert result.returncode == 0, result.stderr


def test_header_compiles_as_cxx(tmp_path: Path) -> None:
    cxx = shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler (`c++`) on PATH")
    src = tmp_path / "use.cpp"
    src.write_text('#include "ncc_runtime.h"\nint main() { return ncc_error_code(); }\n')
    result = run([cxx, "-Wall", "-Werror", "-fsyntax-only", f"-I{numba_rt.include_dir()}", str(src)])
    assert result.returncode == 0, result.stderr


@pytest.fixture
def rt() -> Iterator[numba_rt.Runtime]:
    runtime = numba_rt.load()
    runtime.clear_error()
    yield runtime
    runtime.clear_error()


def test_load_is_cached(rt: numba_rt.Runtime) -> None:
    assert numba_rt.load() is rt


def test_python_round_trip(rt: numba_rt.Runtime) -> None:
    assert rt.error() is None
    rt.set_error(numba_rt.ErrorCode.KEY, "missing key 'a'", "my_node")
    assert rt.error() == (numba_rt.ErrorCode.KEY, "missing key 'a'", "my_node")
    rt.set_error(numba_rt.ErrorCode.INDEX, "second", "other")  # first fault wins
    assert rt.error() == (1, "missing key 'a'", "my_node")
    rt.clear_error()
    assert rt.error() is None
    rt.set_error(numba_rt.ErrorCode.EMPTY, None, None)
    assert rt.error() == (3, "", "")


def test_python_truncation(rt: numba_rt.Runtime) -> None:
    rt.set_error(numba_rt.ErrorCode.EXCEPTION, "x" * 1000, "e" * 1000)
    code, message, entry = rt.error()
    assert (code, message, entry) == (4, "x" * 255, "e" * 127)


def test_python_error_is_per_thread(rt: numba_rt.Runtime) -> None:
    seen = []
    worker = threading.Thread(target=lambda: (rt.set_error(6, "t", "t"), seen.append(rt.error())))
    worker.start()
    worker.join()
    assert seen == [(6, "t", "t")]
    assert rt.error() is None


def test_error_codes_match_header() -> None:
    header = (Path(numba_rt.include_dir()) / "ncc_runtime.h").read_text()
    for code in numba_rt.ErrorCode:
        name = "NCC_OK" if code.name == "OK" else f"NCC_ERR_{code.name}"
        assert f"{name} = {code.value}" in header


def test_version_matches_distribution(rt: numba_rt.Runtime) -> None:
    assert rt.version() == dist_version("numba-cfunc-compiler")


def test_jit_resolves_same_library(rt: numba_rt.Runtime) -> None:
    """LLVM's symbol table and ctypes must see one copy (and so one error record)."""
    from llvmlite import binding

    for name in ("ncc_error_set", "ncc_error_code"):
        ctypes_address = ctypes.cast(getattr(rt.lib, name), ctypes.c_void_p).value
        assert binding.address_of_symbol(name) == ctypes_address


def test_exports() -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) not on PATH")
    lib = numba_rt.library_path()

    undefined = run([nm, "-D", "--undefined-only", lib])
    assert undefined.returncode == 0, undefined.stderr
    names = [line.split()[-1] for line in undefined.stdout.splitlines() if line.strip()]
    assert not [n for n in names if n.lstrip("_").startswith("Py")], names

    defined = run([nm, "-D", "--defined-only", lib])
    assert defined.returncode == 0, defined.stderr
    names = [line.split()[-1] for line in defined.stdout.splitlines() if line.strip()]
    assert names and all(n.startswith("ncc_") for n in names), names

    ldd = shutil.which("ldd")
    if ldd is not None:
        linked = run([ldd, lib])
        assert "libpython" not in linked.stdout, linked.stdout
