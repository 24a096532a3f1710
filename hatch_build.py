"""Project build hook (hatchling's ``custom`` hook, declared in pyproject.toml).

Runs next to hatch-cpp, which compiles ``cpp/*.c`` into ``numba_rt/libnumba_rt.so``. This hook
ships the public C headers with the package: every ``cpp/*.h`` is copied into
``numba_rt/include/`` (gitignored; pyproject's ``artifacts`` puts it in the wheel). The copy
lands in the source tree, so editable installs find the headers too.

Build through a PEP 517 frontend (pip, ``python -m build``). ``python -m hatchling build`` run
from the project root puts this file on sys.path ahead of the ``hatch_build`` package that
hatch-cpp imports, and the build fails with an ImportError.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        # Like hatch-cpp, only wheels (regular and editable) need the runtime; the sdist ships cpp/.
        if self.target_name != "wheel":
            return
        self.copy_headers()

    def copy_headers(self) -> None:
        root = Path(self.root)
        include = root / "numba_rt" / "include"
        shutil.rmtree(include, ignore_errors=True)  # drop headers since removed from cpp/
        include.mkdir(parents=True)
        for header in sorted((root / "cpp").glob("*.h")):
            shutil.copy2(header, include / header.name)
