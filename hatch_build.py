"""Project build hook (hatchling's ``custom`` hook, declared in pyproject.toml).

Runs next to hatch-cpp, which compiles ``cpp/*.c`` into ``numba_rt/libnumba_rt.so``. This hook
ships the public C headers with the package: every ``cpp/*.h`` is copied into
``numba_rt/include/`` (gitignored; pyproject's ``artifacts`` puts it in the wheel). The copy
lands in the source tree, so editable installs find the headers too.

Optional AOT build of a registry: when pyproject.toml has a ``[tool.numba-cfunc-compiler]`` table
(``registry``, ``output``, ``name``, ``cpu``), the wheel also ships the library, manifest and header
built from that registry, by the same code as the hatchling plugin downstream projects use
(`numba_cfunc_compiler.hatch_plugin`, docs/aot.md). That imports the package from this source tree
and compiles with Numba, so numba and llvmlite must then be in ``[build-system] requires``; it
runs after hatch-cpp (its table comes first in pyproject.toml), which builds the runtime it ships.

Build through a PEP 517 frontend (pip, ``python -m build``). ``python -m hatchling build`` run
from the project root puts this file on sys.path ahead of the ``hatch_build`` package that
hatch-cpp imports, and the build fails with an ImportError.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (hatchling depends on it there)
    import tomli as tomllib

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # Like hatch-cpp, only wheels (regular and editable) need the runtime; the sdist ships cpp/.
        if self.target_name != "wheel":
            return
        self.copy_headers()
        self.build_registry(version, build_data)

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
                    self.root, read_settings(self.root), build_data, version=version, work_dir=self._work_dir,
                    log=self.app.display_info,
                )
        finally:
            sys.path[:] = saved

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_work_dir", None):
            shutil.rmtree(self._work_dir, ignore_errors=True)
