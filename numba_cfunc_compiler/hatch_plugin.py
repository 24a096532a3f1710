"""Hatchling build hook: a wheel that ships precompiled nodes (SPEC §7 "AOT export", docs/aot.md).

A project that depends on numba-cfunc-compiler lists a registry in its pyproject.toml::

    [build-system]
    requires = ["hatchling", "numba-cfunc-compiler"]
    build-backend = "hatchling.build"

    [tool.hatch.build.hooks.numba-cfunc-compiler]   # enables this hook

    [tool.numba-cfunc-compiler]
    registry = "nodes.toml"       # relative to the project root
    output = "mypkg/_nodes"       # where the files go, inside the wheel
    name = "mynodes"              # optional: default the registry's `name`, else its file name
    cpu = "generic"               # optional: "generic" (default) or "host"

and its wheel holds ``mypkg/_nodes/libmynodes.so``, ``mynodes.json``, ``mynodes.h`` and
``libnumba_rt.so``. The wheel is tagged ``py3-none-<platform>``: the library is machine code for
one OS and architecture but does not link Python. An editable install builds into
``<root>/<output>`` instead, where the source tree's package finds the files.

The hook is registered with hatchling through the ``hatch`` entry-point group. This project's own
``hatch_build.py`` calls `build_node_library` too, when its pyproject has the table.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.plugin import hookimpl

__all__ = ["NodeLibraryBuildHook", "NodeLibrarySettings", "read_settings", "build_node_library", "wheel_tag"]

TABLE = "numba-cfunc-compiler"  # [tool.numba-cfunc-compiler]
KEYS = ("registry", "output", "name", "cpu")


class SettingsError(ValueError):
    """The ``[tool.numba-cfunc-compiler]`` table is malformed."""


@dataclass(frozen=True)
class NodeLibrarySettings:
    """The ``[tool.numba-cfunc-compiler]`` table: paths relative to the project root."""

    registry: str
    output: str
    name: str | None = None
    cpu: str | None = None


def read_settings(root: str | Path) -> NodeLibrarySettings | None:
    """The project's ``[tool.numba-cfunc-compiler]`` table, or None when it has none."""
    pyproject = Path(root) / "pyproject.toml"
    with pyproject.open("rb") as f:
        table = tomllib.load(f).get("tool", {}).get(TABLE)
    if table is None:
        return None
    where = f"{pyproject}: [tool.{TABLE}]"
    if not isinstance(table, dict):
        raise SettingsError(f"{where} must be a table")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise SettingsError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(KEYS)})")
    for key in ("registry", "output"):
        if not isinstance(table.get(key), str) or not table[key]:
            raise SettingsError(f"{where}: {key!r} is required (a path relative to the project root)")
    output = PurePosixPath(table["output"])
    if output.is_absolute() or ".." in output.parts:
        raise SettingsError(f"{where}: 'output' must be a folder inside the project, got {table['output']!r}")
    for key in ("name", "cpu"):
        if key in table and not isinstance(table[key], str):
            raise SettingsError(f"{where}: {key!r} must be a string")
    return NodeLibrarySettings(
        registry=table["registry"], output=output.as_posix(), name=table.get("name"), cpu=table.get("cpu")
    )


def wheel_tag() -> str:
    """``py3-none-<platform>``, the platform as hatchling infers it (not manylinux: the wheel is not audited)."""
    from packaging.tags import sys_tags

    tag = next(t for t in sys_tags() if "manylinux" not in t.platform and "musllinux" not in t.platform)
    return f"py3-none-{tag.platform}"


def build_node_library(
    root: str | Path,
    settings: NodeLibrarySettings,
    build_data: dict[str, Any],
    *,
    version: str,
    work_dir: str | Path,
    log: Callable[[str], None] = print,
) -> Any:
    """Build the registry and add its files to the wheel ``build_data`` describes.

    ``version`` is hatchling's wheel version: ``"editable"`` writes into ``<root>/<output>``
    (the editable install sees the source tree); anything else writes into ``work_dir`` and
    force-includes the files at ``<output>/`` in the wheel. Returns the `BuildReport`; a failing
    entry raises `RegistryEntryError` and fails the build.
    """
    from .targets.registry import build_registry

    root = Path(root)
    destination = root / settings.output if version == "editable" else Path(work_dir)

    def progress(entry: Any, total: int, outcome: Any) -> None:
        if outcome is not None and outcome.ok:
            log(f"[{entry.index}/{total}] {entry.function} ... ok ({outcome.native_name})")

    log(f"numba-cfunc-compiler: building {settings.registry} into {settings.output}")
    report = build_registry(root / settings.registry, destination, name=settings.name, cpu=settings.cpu, progress=progress)
    files = report.files
    if version != "editable":
        for path in (files.library, files.manifest, files.header, files.runtime):
            build_data["force_include"][str(path)] = f"{settings.output}/{Path(path).name}"
    build_data["pure_python"] = False
    if "tag" not in build_data and not build_data.get("infer_tag"):
        build_data["tag"] = wheel_tag()
    return report


class NodeLibraryBuildHook(BuildHookInterface):
    """``[tool.hatch.build.hooks.numba-cfunc-compiler]``: builds ``[tool.numba-cfunc-compiler]``'s
    registry into the wheel (see the module docstring)."""

    PLUGIN_NAME = TABLE

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":  # the sdist ships the registry and the node sources
            return
        settings = read_settings(self.root)
        if settings is None:
            raise SettingsError(
                f"{Path(self.root) / 'pyproject.toml'}: the {TABLE} build hook is enabled but there is no "
                f"[tool.{TABLE}] table (registry = \"nodes.toml\", output = \"mypkg/_nodes\")"
            )
        self._work_dir = tempfile.mkdtemp(prefix="ncc-wheel-")
        build_node_library(
            self.root, settings, build_data, version=version, work_dir=self._work_dir, log=self.app.display_info
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work_dir = getattr(self, "_work_dir", None)
        if work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)


@hookimpl
def hatch_register_build_hook() -> type[BuildHookInterface]:
    return NodeLibraryBuildHook
