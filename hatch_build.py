"""Project build hook (hatchling's ``custom`` hook, configured in pyproject.toml).

For wheels (regular and editable; the sdist ships ``cpp/`` instead) it

1. compiles the C runtime, ``cpp/*.c``, into ``numba_rt/libnumba_rt.so`` (``.dylib`` on macOS)
   with the system C compiler: ``$CC`` if set, else the first of ``cc``, ``gcc``, ``clang`` on
   PATH. ``$CFLAGS`` and ``$LDFLAGS`` are added as usual. Warnings do not fail the build unless
   ``NCC_WERROR=1`` (CI sets it). The library has the SONAME ``libnumba_rt.so`` and does not link
   Python, so the wheel is tagged ``py3-none-<platform>``: one wheel serves every Python 3;
2. copies every ``cpp/*.h`` into ``numba_rt/include/``;
3. builds the registry of a ``[tool.numba-cfunc-compiler]`` table, if pyproject.toml has one (the
   same code as the hatchling plugin downstream projects use: `numba_cfunc_compiler.hatch_plugin`,
   docs/aot.md). That imports the package from this source tree and compiles with Numba, so numba
   and llvmlite must then be in ``[build-system] requires``.

The outputs land in the source tree (gitignored; pyproject's ``artifacts`` puts them in the wheel),
so editable installs find them too. Step 1 runs only when the hook's table names the runtime
sources (``runtime-sources``), as this project's pyproject.toml does.

A missing compiler or a failed compile ends the build with one line that says what to do
(`BuildError`, raised as ``SystemExit`` so no traceback buries it).

The runtime is built here with one compiler call rather than by hatch-cpp: hatch-cpp calls
``gcc`` (or ``$CC``) by name, tags wheels ``cpXY-cpXY``, and imports a ``hatch_build`` package
whose name this file shadows whenever the project root is on ``sys.path`` (``hatch build``,
``python -m hatchling build``).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (hatchling depends on it there)
    import tomli as tomllib

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

NO_COMPILER = (
    "numba-cfunc-compiler needs a C compiler to build its runtime: install gcc or clang (apt install gcc), or set CC"
)


class BuildError(SystemExit):
    """The build cannot go on; the message says why in one line. A ``SystemExit``: the PEP 517
    backend process prints it and exits with status 1, without a traceback."""


def _toolchain() -> Any:
    """``numba_rt/toolchain.py`` of this source tree, loaded by path: the package is not installed
    while it builds, and the lookup of the C compiler is defined there once."""
    path = Path(__file__).resolve().parent / "numba_rt" / "toolchain.py"
    spec = importlib.util.spec_from_file_location("_ncc_build_toolchain", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_c_compiler(environ: Mapping[str, str] = os.environ) -> list[str]:
    """The C compiler command users expect (`numba_rt.toolchain.find_c_compiler`: ``$CC``, else
    ``cc``, ``gcc``, ``clang`` on ``$PATH``). Raises `BuildError`, one line saying what to do."""
    try:
        return _toolchain().find_c_compiler(environ)
    except LookupError as exc:
        if environ.get("CC", "").strip():
            raise BuildError(f"numba-cfunc-compiler: {exc}: install it, or set CC to one that is") from None
        raise BuildError(NO_COMPILER) from None


def werror_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """``NCC_WERROR`` set to anything but empty or ``0``: compiler warnings fail the build (CI)."""
    return environ.get("NCC_WERROR", "").strip() not in ("", "0")


def runtime_command(
    sources: list[str],
    output: str,
    cflags: list[str],
    *,
    soname: str | None = None,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
) -> list[str]:
    """The one compiler call that builds the shared runtime library ``output`` from ``sources``:
    the compiler, flags and ``-Werror`` as `find_c_compiler` and `werror_enabled` read ``environ``.
    ``soname`` (default: the name of ``output``) is the name programs linked against it record."""
    name = soname or os.path.basename(output)
    if platform == "darwin":
        link = ["-dynamiclib", f"-Wl,-install_name,@rpath/{name}"]
    else:
        link = ["-shared", f"-Wl,-soname,{name}"]
    return [
        *find_c_compiler(environ),
        *cflags,
        *(["-Werror"] if werror_enabled(environ) else []),
        "-fPIC",
        *shlex.split(environ.get("CFLAGS", "")),
        *sources,
        *link,
        *shlex.split(environ.get("LDFLAGS", "")),
        "-o",
        output,
    ]


def wheel_tag() -> str:
    """``py3-none-<platform>``: the most specific platform tag this interpreter accepts that is not
    a manylinux/musllinux one (those are for auditwheel to give, after it checked the wheel)."""
    from packaging.tags import sys_tags

    tag = next(t for t in sys_tags() if "manylinux" not in t.platform and "musllinux" not in t.platform)
    return f"py3-none-{tag.platform}"


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        if self.config.get("runtime-sources"):
            self.build_runtime()
            build_data["pure_python"] = False
            build_data["tag"] = wheel_tag()
        self.copy_headers()
        self.build_registry(version, build_data)

    def build_runtime(self) -> None:
        """Compile the runtime as the hook's table says: ``runtime-sources`` (globs, relative to the
        root), ``runtime-library`` (the path without suffix) and ``runtime-cflags``."""
        root = Path(self.root)
        sources = sorted({p for pattern in self.config["runtime-sources"] for p in glob.glob(pattern, root_dir=root)})
        if not sources:
            raise BuildError(
                f"numba-cfunc-compiler: no C sources match runtime-sources = {self.config['runtime-sources']}"
            )
        suffix = ".dylib" if sys.platform == "darwin" else ".so"
        output = self.config.get("runtime-library", "numba_rt/libnumba_rt") + suffix
        # Linked under a temporary name, then renamed: a process that has the old library mapped
        # (an editable install in use) keeps its copy intact.
        partial = f"{output}.partial-{os.getpid()}"
        command = runtime_command(
            sources, partial, list(self.config.get("runtime-cflags", [])), soname=os.path.basename(output)
        )
        self.app.display_info(shlex.join(command))
        try:
            status = subprocess.run(command, cwd=root, check=False).returncode  # its diagnostics go to the build output
        except OSError as error:  # found on PATH but not runnable
            raise BuildError(f"numba-cfunc-compiler: cannot run the C compiler {command[0]!r}: {error}") from None
        if status != 0:
            (root / partial).unlink(missing_ok=True)
            raise BuildError(
                f"numba-cfunc-compiler: compiling the C runtime failed (exit status {status}); see the compiler's messages above"
            )
        os.replace(root / partial, root / output)

    def copy_headers(self) -> None:
        root = Path(self.root)
        include = root / "numba_rt" / "include"
        shutil.rmtree(include, ignore_errors=True)  # drop headers since removed from cpp/
        include.mkdir(parents=True)
        for header in sorted((root / "cpp").glob("*.h")):
            shutil.copy2(header, include / header.name)

    def build_registry(self, version: str, build_data: dict[str, Any]) -> None:
        """The optional AOT build of ``[tool.numba-cfunc-compiler]``'s registry (module docstring)."""
        with (Path(self.root) / "pyproject.toml").open("rb") as f:
            if "numba-cfunc-compiler" not in tomllib.load(f).get("tool", {}):
                return
        self._work_dir = tempfile.mkdtemp(prefix="ncc-wheel-")
        saved = list(sys.path)
        sys.path.insert(0, str(Path(self.root).resolve()))  # this source tree's numba_cfunc_compiler and numba_rt
        try:
            from numba_cfunc_compiler.compilation_context import CompilationContext
            from numba_cfunc_compiler.defaults import register_all
            from numba_cfunc_compiler.hatch_plugin import build_node_library, read_settings

            # This package is being built, not installed: its entry points (which name the built-in
            # defaults) do not exist yet, so the nodes compile in an explicit context.
            with CompilationContext():
                register_all()
                build_node_library(
                    self.root,
                    read_settings(self.root),
                    build_data,
                    version=version,
                    work_dir=self._work_dir,
                    log=self.app.display_info,
                )
        finally:
            sys.path[:] = saved

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_work_dir", None):
            shutil.rmtree(self._work_dir, ignore_errors=True)
