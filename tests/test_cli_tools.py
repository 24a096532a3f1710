"""The command-line tools: ``python -m numba_cfunc_compiler --version`` and ``--help``, the
``numba-cfunc-compiler`` console script, ``python -m numba_rt`` (flags, paths, pkg-config) with a C
program built against it, and ``NCC_DUMP``. Everything runs in subprocesses, as a user runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version as dist_version
from pathlib import Path

import pytest

import numba_cfunc_compiler
import numba_rt

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
NODE_HEADER = re.compile(r"^=== NCC_DUMP (\w+): (\S+) \((_gc_numba_[0-9a-f]+)(.*)\) ===$", re.MULTILINE)


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=300, **kwargs)


def python(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, *args], **kwargs)


def shell(command: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``command`` through /bin/sh, with this interpreter first on PATH (as ``python``)."""
    bin_dir = str(Path(sys.executable).parent)
    environment = {**os.environ, **(env or {})}
    environment["PATH"] = bin_dir + os.pathsep + environment.get("PATH", "")
    return run(["sh", "-c", command], cwd=cwd, env=environment)


# -- python -m numba_cfunc_compiler ------------------------------------------------------------
VERSION_LINE = re.compile(r"numba-cfunc-compiler (\S+) \(numba (\S+), llvmlite (\S+), runtime (\S+)\)")


def test_version_names_the_package_numba_llvmlite_and_the_runtime():
    proc = python("-m", "numba_cfunc_compiler", "--version")
    assert proc.returncode == 0, proc.stderr
    match = VERSION_LINE.fullmatch(proc.stdout.rstrip("\n"))
    assert match, proc.stdout
    assert match.groups() == (
        numba_cfunc_compiler.__version__,
        dist_version("numba"),
        dist_version("llvmlite"),
        numba_rt.runtime_version(),
    )


def test_version_does_not_import_numba():
    code = (
        "import sys\n"
        "from numba_cfunc_compiler.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(sorted(m for m in ('numba', 'llvmlite') if m in sys.modules))\n"
    )
    proc = python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


def _subcommands() -> list[str]:
    usage = python("-m", "numba_cfunc_compiler", "--help").stdout
    return re.search(r"\{([\w,-]+)\}", usage).group(1).split(",")


def test_every_help_text_is_plain_words():
    commands = _subcommands()
    assert {"demo", "inspect", "cache", "build"} <= set(commands)
    for args in [[], *([c] for c in commands)]:
        proc = python("-m", "numba_cfunc_compiler", *args, "--help")
        assert proc.returncode == 0, (args, proc.stderr)
        assert "`" not in proc.stdout, (args, proc.stdout)
        assert proc.stdout.startswith("usage: python -m numba_cfunc_compiler"), proc.stdout
    top = python("-m", "numba_cfunc_compiler", "--help").stdout
    for word in ("--version", "NCC_DUMP", "NCC_CACHE_DIR", "python -m numba_rt --cflags --libs"):
        assert word in top, word
    rt_help = python("-m", "numba_rt", "--help")
    assert rt_help.returncode == 0 and "`" not in rt_help.stdout, rt_help.stdout


def test_console_script_runs_cli_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["numba-cfunc-compiler"] == "numba_cfunc_compiler.cli:main"
    # What the installed script does, with its name as argv[0]: the usage names the script.
    code = (
        "import sys\nfrom numba_cfunc_compiler.cli import main\n"
        "sys.argv[0] = '/somewhere/bin/numba-cfunc-compiler'\nsys.exit(main())\n"
    )
    proc = python("-c", code, "cache")
    assert proc.returncode == 2 and proc.stderr.startswith("usage: numba-cfunc-compiler cache"), proc.stderr
    script = shutil.which("numba-cfunc-compiler", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the numba-cfunc-compiler script is not installed (pip install -e . installs it)")
    proc = run([script, "--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == python("-m", "numba_cfunc_compiler", "--version").stdout


# -- python -m numba_rt ------------------------------------------------------------------------
def test_numba_rt_prints_flags_and_paths():
    lib_dir = str(Path(numba_rt.library_path()).parent)
    cflags = f"-I{numba_rt.include_dir()}"
    libs = f"-L{lib_dir} -lnumba_rt -Wl,-rpath,{lib_dir}"
    expected = {
        ("--cflags",): cflags,
        ("--libs",): libs,
        ("--cflags", "--libs"): f"{cflags} {libs}",
        ("--libs", "--cflags"): f"{cflags} {libs}",
        ("--include-dir",): numba_rt.include_dir(),
        ("--library-path",): numba_rt.library_path(),
        ("--version",): numba_rt.runtime_version(),
        ("--version", "--include-dir", "--cflags"): f"{numba_rt.runtime_version()}\n{numba_rt.include_dir()}\n{cflags}",
    }
    for args, output in expected.items():
        proc = python("-m", "numba_rt", *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == output + "\n", args
    assert numba_rt.cflags() == cflags and numba_rt.libs() == libs
    assert Path(numba_rt.include_dir(), "ncc_runtime.h").is_file()
    proc = python("-m", "numba_rt")
    assert proc.returncode == 2 and "--cflags --libs" in proc.stderr


def test_numba_rt_needs_neither_numba_nor_the_compiler(tmp_path):
    code = (
        "import sys\nfrom numba_rt.__main__ import main\n"
        "assert main(['--version', '--include-dir', '--library-path', '--pkgconfig-path', '--pkgconfig', "
        "'--cflags', '--libs']) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite', 'numba_cfunc_compiler')))\n"
    )
    proc = python("-c", code, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "[]"


C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "ncc_runtime.h"

int main(void) {
    ncc_list* list = ncc_list_new(NCC_KIND_INT, 0);
    if (!list) return 1;
    for (int64_t v = 10; v <= 30; v += 10)
        if (ncc_list_append(list, v) != 0) return 2;
    int64_t last = 0, beyond = 0;
    if (ncc_list_get(list, 2, &last) != 0) return 3;
    if (ncc_list_get(list, 3, &beyond) == 0) return 4; /* out of range */
    printf("runtime %s, list of %lld ending in %lld\n", ncc_runtime_version(), (long long)ncc_list_len(list),
           (long long)last);
    ncc_list_free(list);
    printf("live containers %lld\n", (long long)ncc_live_containers());
    return strcmp(ncc_runtime_version(), NCC_RUNTIME_VERSION) != 0;
}
"""


def _expected_program_output() -> str:
    return f"runtime {numba_rt.runtime_version()}, list of 3 ending in 30\nlive containers 0\n"


@pytest.fixture
def c_program(tmp_path: Path) -> Path:
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (cc) on PATH; one is needed to build the package anyway")
    (tmp_path / "prog.c").write_text(C_PROGRAM)
    return tmp_path


def test_c_program_builds_with_numba_rt_flags(c_program: Path):
    # Run from another directory: the rpath, not the current directory, finds the library.
    build = shell("cc -std=c11 -Wall -Wextra -Werror prog.c $(python -m numba_rt --cflags --libs) -o prog", c_program)
    assert build.returncode == 0, build.stderr
    proc = run([str(c_program / "prog")], cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _expected_program_output()


def test_c_program_builds_with_pkg_config(c_program: Path):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    env = {"XDG_CACHE_HOME": str(c_program / "cache")}
    command = (
        'PKG_CONFIG_PATH="$(python -m numba_rt --pkgconfig-path)" && export PKG_CONFIG_PATH && '
        "pkg-config --modversion numba_rt && "
        "cc -std=c11 -Wall -Werror prog.c $(pkg-config --cflags --libs numba_rt) -o prog"
    )
    build = shell(command, c_program, env)
    assert build.returncode == 0, build.stderr
    assert build.stdout == numba_rt.runtime_version() + "\n"
    proc = run([str(c_program / "prog")], cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == _expected_program_output()


def test_pkgconfig_path_writes_a_current_file_once(tmp_path: Path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    first = python("-m", "numba_rt", "--pkgconfig-path", env=env)
    assert first.returncode == 0, first.stderr
    directory = Path(first.stdout.strip())
    assert directory.is_relative_to(tmp_path / "cache" / "numba_rt" / "pkgconfig")
    pc = directory / "numba_rt.pc"
    assert pc.read_text() == numba_rt.pkgconfig()
    assert python("-m", "numba_rt", "--pkgconfig", env=env).stdout == numba_rt.pkgconfig()
    text = pc.read_text()
    lib_dir = str(Path(numba_rt.library_path()).parent)
    assert f"prefix={lib_dir}\n" in text and f"Version: {numba_rt.runtime_version()}\n" in text
    stamp = pc.stat().st_mtime_ns, pc.stat().st_ino
    assert python("-m", "numba_rt", "--pkgconfig-path", env=env).stdout == first.stdout
    assert (pc.stat().st_mtime_ns, pc.stat().st_ino) == stamp  # unchanged text: not rewritten
    pc.write_text("stale")
    assert python("-m", "numba_rt", "--pkgconfig-path", env=env).stdout == first.stdout
    assert pc.read_text() == text
    # An explicit directory; and a cache that cannot be written falls back to the temporary directory.
    assert numba_rt.pkgconfig_path(tmp_path / "mine") == str(tmp_path / "mine")
    assert (tmp_path / "mine" / "numba_rt.pc").read_text() == text
    (tmp_path / "not-a-dir").write_text("")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "not-a-dir"), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    fallback = python("-m", "numba_rt", "--pkgconfig-path", env=env)
    assert fallback.returncode == 0, fallback.stderr
    assert Path(fallback.stdout.strip()).parent == tmp_path / "tmp"


# -- NCC_DUMP ----------------------------------------------------------------------------------
NODE_FILE = """\
from numba_cfunc_compiler.host import Signal, ticked


def scaled(x: Signal[float], factor: float) -> Signal[float]:
    if ticked(x):
        return factor * x
"""


def _inspect_with_dump(tmp_path: Path, setting: str | None) -> tuple[str, str]:
    """Compile nodes.py:scaled with ``inspect``: (its native name, stderr)."""
    (tmp_path / "nodes.py").write_text(NODE_FILE)
    env = {**os.environ, "NCC_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("NCC_DUMP", None)
    if setting is not None:
        env["NCC_DUMP"] = setting
    proc = python("-m", "numba_cfunc_compiler", "inspect", "nodes.py:scaled", "factor=2.5", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    native = re.search(r"^native name:\s+(\S+)$", proc.stdout, re.MULTILINE).group(1)
    return native, proc.stderr


def _blocks(stderr: str) -> list[tuple[str, str, str, str, str]]:
    """``(stage, qualname, native name, detail, text)`` of each dumped block."""
    heads = list(NODE_HEADER.finditer(stderr))
    ends = [h.start() for h in heads[1:]] + [len(stderr)]
    return [(*h.groups(), stderr[h.end() : end]) for h, end in zip(heads, ends)]


def test_ncc_dump_prints_source_ir_and_asm_while_compiling_and_on_a_cache_hit(tmp_path: Path):
    native, stderr = _inspect_with_dump(tmp_path, "source, IR,asm")
    blocks = _blocks(stderr)
    assert [b[0] for b in blocks] == ["source", "ir", "asm"], stderr
    assert {(b[1], b[2]) for b in blocks} == {("scaled", native)}
    source, ir, asm = (b[4] for b in blocks)
    assert "def " in source and "2.5 *" in source
    assert f'define void @"{native}"' in ir or f"define void @{native}" in ir, ir[:2000]
    assert re.search(rf"^\"?{native}\"?:", asm, re.MULTILINE), asm[:2000]
    assert "from the persistent compile cache" not in stderr
    assert re.fullmatch(r", for \S+ \S+", blocks[2][3]), blocks[2][3]  # the JIT's triple and CPU

    # The same node again, same cache: a cache hit dumps the source and the IR it read back ...
    _, again = _inspect_with_dump(tmp_path, "source,ir")
    hit = _blocks(again)
    assert [(b[0], b[3]) for b in hit] == [("source", ""), ("ir", ", from the persistent compile cache")]
    assert hit[1][4] == ir
    # ... and the assembly, generated from the IR, when asked for.
    _, with_asm = _inspect_with_dump(tmp_path, "all")
    assert [b[0] for b in _blocks(with_asm)] == ["source", "ir", "asm"]
    assert _blocks(with_asm)[2][4] == asm


def test_ncc_dump_off_unset_or_unknown(tmp_path: Path):
    _, stderr = _inspect_with_dump(tmp_path, None)
    assert "NCC_DUMP" not in stderr
    _, stderr = _inspect_with_dump(tmp_path, "")
    assert "NCC_DUMP" not in stderr
    _, stderr = _inspect_with_dump(tmp_path, "ir,bogus")
    assert "NCC_DUMP: ignoring bogus (expected a comma-separated list of source, ir, asm, or all)" in stderr
    assert [b[0] for b in _blocks(stderr)] == ["ir"]


def test_ncc_dump_is_documented_in_the_help():
    text = python("-m", "numba_cfunc_compiler", "--help").stdout
    assert re.search(r"NCC_DUMP\s+print what each node compiles to", text)
    for word in ("source", "ir", "asm", "all", "comma-separated"):
        assert word in textwrap.dedent(text.split("NCC_DUMP", 1)[1].split("NCC_CACHE_DIR", 1)[0])
