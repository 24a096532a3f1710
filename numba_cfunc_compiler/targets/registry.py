"""Registry files: a TOML list of nodes to compile into one AOT library (SPEC §7 "AOT export").

::

    name = "mynodes"            # optional: the library's name (default: the file's stem)
    cpu = "generic"             # optional: "generic" (portable, the default) or "host"

    [[nodes]]
    function = "mypkg.nodes:ema"            # module:function (module:Class.method works too)
    constants = { alpha = 0.25 }            # optional: the node's constant parameters

    [[nodes]]
    function = "mypkg.nodes:scale"
    compiler = "mypkg.build:compile_scale"  # optional: called as compiler(func, **constants)

`load_registry` parses and checks a file; `build_registry` compiles every entry (the registry's
folder is importable meanwhile) and writes the library with `numba_cfunc_compiler.aot.build_library`.
An entry that cannot be built raises `RegistryEntryError`, whose message names the registry
file and line, the entry's index and its ``function``; with ``keep_going=True`` the other
entries still build and the returned `BuildReport` lists the failures.
"""

from __future__ import annotations

import contextlib
import datetime
import enum
import importlib
import inspect
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (a dependency there)
    import tomli as tomllib

from ..utils.suggest import did_you_mean

__all__ = [
    "Registry",
    "RegistryEntry",
    "RegistryError",
    "RegistryEntryError",
    "EntryResult",
    "BuildReport",
    "load_registry",
    "build_registry",
    "convert_constants",
]

TOP_LEVEL_KEYS = ("name", "cpu", "nodes")
ENTRY_KEYS = ("function", "constants", "compiler")
CPUS = ("generic", "host")
DEFAULT_COMPILER = "numba_cfunc_compiler.host:compile_node"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*\Z")  # as build_library accepts: it names lib<name>.so
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")
_INT_KEY = re.compile(r"[+-]?[0-9]+\Z")


class RegistryError(Exception):
    """The registry file cannot be used: missing, not TOML, or malformed (the message says where)."""


class RegistryEntryError(RegistryError):
    """One entry could not be built. ``entry`` is the `RegistryEntry`; ``reason`` is the message
    without the entry's location (for a compile error, the `CompilationError` text, which names
    the user's file and line); ``str(error)`` is ``"<where>: <reason>"``."""

    def __init__(self, entry: RegistryEntry, reason: str) -> None:
        self.entry = entry
        self.reason = reason
        super().__init__(f"{entry.where}: {reason}")


@dataclass(frozen=True)
class RegistryEntry:
    """One ``[[nodes]]`` table. ``index`` counts from 1; ``line`` is its line in ``path`` (or None)."""

    index: int
    function: str
    constants: Mapping[str, Any] = field(default_factory=dict)
    compiler: str | None = None
    path: Path | None = None
    line: int | None = None

    @property
    def where(self) -> str:
        """``"nodes.toml:7: entry 2 (mypkg.nodes:ema)"``: how messages name this entry."""
        place = f"{self.path}:{self.line}: " if self.path and self.line else f"{self.path}: " if self.path else ""
        return f"{place}entry {self.index} ({self.function})"


@dataclass(frozen=True)
class Registry:
    """A parsed registry file: its entries and the defaults it sets (None when unset)."""

    path: Path
    entries: tuple[RegistryEntry, ...]
    name: str | None = None
    cpu: str | None = None

    @property
    def folder(self) -> Path:
        """The folder made importable while the entries load."""
        return self.path.parent


@dataclass
class EntryResult:
    """How one entry went: ``ok`` with its ``native_name``, or ``error`` (a `RegistryEntryError`)."""

    entry: RegistryEntry
    seconds: float
    native_name: str | None = None
    error: RegistryEntryError | None = None
    result: Any = field(default=None, repr=False)  # the CompilationResult or NodeArtifact

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BuildReport:
    """What `build_registry` did: one `EntryResult` per entry attempted, in order, and the files
    written (None when nothing was, because every entry failed)."""

    registry: Registry
    name: str
    cpu: str
    results: list[EntryResult]
    files: Any = None  # numba_cfunc_compiler.aot's result: .library, .manifest, .header, .runtime

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and len(self.results) == len(self.registry.entries)

    @property
    def failures(self) -> list[EntryResult]:
        return [r for r in self.results if not r.ok]

    @property
    def built(self) -> list[EntryResult]:
        return [r for r in self.results if r.ok]


# -- loading ----------------------------------------------------------------------------------------


def load_registry(path: str | Path) -> Registry:
    """Parse and check a registry file. Raises `RegistryError` naming the file (and the entry and
    line) for a missing file, invalid TOML or a malformed table; imports nothing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{path}: no such registry file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read the registry: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line L, column C)"
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    return _parse(path, data, _entry_lines(text))


def _entry_lines(text: str) -> list[tuple[int, int | None]]:
    """For each ``[[nodes]]`` header: (its line, the line of its ``function =`` key or None).

    A cheap scan, not a TOML parser: a registry written with an inline array of tables gets no lines.
    """
    lines = text.splitlines()
    headers = [i for i, line in enumerate(lines) if re.match(r"\s*\[\[\s*nodes\s*\]\]\s*(#.*)?$", line)]
    found = []
    for n, start in enumerate(headers):
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        function = next(
            (i for i in range(start + 1, end) if re.match(r"\s*function\s*=", lines[i])),
            None,
        )
        found.append((start + 1, None if function is None else function + 1))
    return found


def _parse(path: Path, data: dict[str, Any], lines: list[tuple[int, int | None]]) -> Registry:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise RegistryError(f"{path}: unknown top-level key {key!r}{did_you_mean(key, TOP_LEVEL_KEYS)} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and _NAME.match(name)):
        raise RegistryError(f"{path}: 'name' must be a string of letters, digits, '_', '.', '+' or '-', got {name!r}")
    cpu = data.get("cpu")
    if cpu is not None and cpu not in CPUS:
        raise RegistryError(f"{path}: 'cpu' must be one of {', '.join(map(repr, CPUS))}, got {cpu!r}")
    nodes = data.get("nodes")
    if nodes is None:
        raise RegistryError(f"{path}: no [[nodes]] entries")
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise RegistryError(f"{path}: 'nodes' must be an array of tables ([[nodes]] sections)")
    if not nodes:
        raise RegistryError(f"{path}: no [[nodes]] entries")
    use_lines = len(lines) == len(nodes)  # otherwise the scan missed some: give no line rather than a wrong one
    entries = []
    for index, table in enumerate(nodes, start=1):
        header, function_line = lines[index - 1] if use_lines else (None, None)
        entries.append(_parse_entry(path, index, table, header, function_line))
    return Registry(path=path, entries=tuple(entries), name=name, cpu=cpu)


def _parse_entry(path: Path, index: int, table: dict[str, Any], header: int | None, function_line: int | None) -> RegistryEntry:
    function = table.get("function")
    label = f"entry {index}" + (f" ({function})" if isinstance(function, str) else "")
    where = f"{path}:{header}: {label}" if header else f"{path}: {label}"

    def fail(message: str) -> RegistryError:
        return RegistryError(f"{where}: {message}")

    for key in table:
        if key not in ENTRY_KEYS:
            raise fail(f"unknown key {key!r}{did_you_mean(key, ENTRY_KEYS)} (allowed: {', '.join(ENTRY_KEYS)})")
    if function is None:
        raise fail("missing 'function' (function = \"module:function\")")
    if not isinstance(function, str) or not _TARGET.match(function):
        raise fail(f"'function' must be a string \"module:function\", got {function!r}")
    constants = table.get("constants", {})
    if not isinstance(constants, dict):
        raise fail(f"'constants' must be a table ({{ name = value, ... }}), got {constants!r}")
    bad = [n for n in constants if not n.isidentifier()]
    if bad:
        raise fail(f"constant name {bad[0]!r} is not a Python identifier")
    compiler = table.get("compiler")
    if compiler is not None and not (isinstance(compiler, str) and _TARGET.match(compiler)):
        raise fail(f"'compiler' must be a string \"module:callable\", got {compiler!r}")
    return RegistryEntry(
        index=index,
        function=function,
        constants=constants,
        compiler=compiler,
        path=path,
        line=function_line or header,
    )


# -- building ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def importable(folder: Path) -> Iterator[None]:
    """Put ``folder`` first on sys.path for the duration; sys.path is restored after."""
    saved = list(sys.path)
    sys.path.insert(0, str(folder.resolve()))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved


def resolve(target: str, what: str) -> Any:
    """``module:attr.attr`` -> the object. Raises LookupError with a one-line reason."""
    module_name, _, attr_path = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if missing == module_name or module_name.startswith(missing + "."):
            raise LookupError(f"cannot import module {module_name!r}: no module named {missing!r}") from None
        raise LookupError(f"importing module {module_name!r} failed: {exc}") from None
    except Exception as exc:  # the module itself raised (a SyntaxError names its file and line)
        raise LookupError(f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            names = dir(obj)
            raise LookupError(f"module {module_name!r} has no {what} {attr_path!r}{did_you_mean(part, names)}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise LookupError(f"{target} is not a {what} (it is a {type(obj).__name__})")
    return obj


def convert_constants(func: Callable, constants: Mapping[str, Any]) -> dict[str, Any]:
    """TOML values -> the Python values a compiler takes.

    TOML integers, floats, booleans, strings, arrays (lists) and offset date-times (aware
    ``datetime``) pass as they are. Three conversions: an inline table becomes a dict whose keys
    that spell integers (``{ 1 = 0.5 }``) become ints — TOML keys are always strings and
    `NumbaDict` keys are ints —; a string given to a parameter annotated with an ``Enum`` names a
    member (``mode = "FAST"`` -> ``Mode.FAST``); and a parameter annotated ``timedelta`` takes a
    number of seconds or a TOML local time (``bar = 00:01:30`` -> 90 seconds).
    """
    annotations = _annotations(func)
    values: dict[str, Any] = {}
    for name, value in constants.items():
        annotation = annotations.get(name)
        if isinstance(value, str) and isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            if value not in annotation.__members__:
                raise ValueError(
                    f"constant {name!r}: {annotation.__name__} has no member {value!r}"
                    f"{did_you_mean(value, annotation.__members__)}"
                )
            value = annotation[value]
        elif annotation is datetime.timedelta and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = datetime.timedelta(seconds=value)
        elif annotation is datetime.timedelta and isinstance(value, datetime.time):
            value = datetime.timedelta(
                hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
            )
        elif isinstance(value, dict):
            value = {int(k) if _INT_KEY.match(k) else k: v for k, v in value.items()}
        values[name] = value
    return values


def _annotations(func: Callable) -> dict[str, Any]:
    """Parameter annotations, string ones evaluated in the function's module where they can be."""
    try:
        parameters = inspect.signature(func).parameters
    except (TypeError, ValueError):  # no signature
        return {}
    found = {}
    for name, p in parameters.items():
        annotation = p.annotation
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, getattr(func, "__globals__", {}))  # noqa: S307 - the user's own annotation
            except Exception:
                pass
        found[name] = annotation
    return found


def _compile_entry(entry: RegistryEntry) -> tuple[str, Any]:
    """(native_name, the compiled item) for one entry, or RegistryEntryError."""
    from ..artifact import NodeArtifact
    from ..errors import CompilationError

    try:
        func = resolve(entry.function, "function")
        compiler = resolve(entry.compiler or DEFAULT_COMPILER, "compiler")
        constants = convert_constants(func, entry.constants)
    except (LookupError, ValueError) as exc:
        raise RegistryEntryError(entry, str(exc)) from None
    try:
        result = compiler(func, **constants)
    except CompilationError as exc:  # names the user's file and line
        raise RegistryEntryError(entry, str(exc)) from exc
    except Exception as exc:  # a custom compiler's own error, a TypeError for a bad constant name
        raise RegistryEntryError(entry, f"{type(exc).__name__}: {exc}") from exc
    artifact = result if isinstance(result, NodeArtifact) else getattr(result, "artifact", None)
    if not isinstance(artifact, NodeArtifact):
        raise RegistryEntryError(
            entry,
            f"compiler {entry.compiler or DEFAULT_COMPILER} returned {type(result).__name__}; "
            "expected a CompilationResult or a NodeArtifact",
        )
    return artifact.native_name, result


def build_registry(
    path: str | Path | Registry,
    output_dir: str | Path,
    *,
    name: str | None = None,
    cpu: str | None = None,
    keep_going: bool = False,
    progress: Callable[[RegistryEntry, int, EntryResult | None], None] | None = None,
) -> BuildReport:
    """Compile every entry of the registry at ``path`` and write ``lib<name>.so``, ``<name>.json``,
    ``<name>.h`` (and the runtime) into ``output_dir`` with `build_library`.

    ``name`` and ``cpu`` override the registry's own (defaults: the registry file's stem,
    ``"generic"``). ``progress(entry, total, None)`` is called before each entry and
    ``progress(entry, total, entry_result)`` after it. The first failing entry raises
    `RegistryEntryError` (nothing is written) unless ``keep_going``: then every entry is tried,
    the library holds those that compiled, and the report lists the failures (``report.files``
    is None when none compiled). Entries that compile to the same native name are built once.
    """
    registry = path if isinstance(path, Registry) else load_registry(path)
    name = name or registry.name or registry.path.stem
    if not _NAME.match(name):
        raise RegistryError(f"library name {name!r}: use letters, digits, '_', '.', '+' or '-' (it names lib<name>.so)")
    cpu = cpu or registry.cpu or "generic"
    if cpu not in CPUS:
        raise RegistryError(f"cpu must be one of {', '.join(map(repr, CPUS))}, got {cpu!r}")
    report = BuildReport(registry=registry, name=name, cpu=cpu, results=[])
    total = len(registry.entries)
    with importable(registry.folder):
        for entry in registry.entries:
            if progress:
                progress(entry, total, None)
            start = time.perf_counter()
            try:
                native_name, item = _compile_entry(entry)
                outcome = EntryResult(entry, time.perf_counter() - start, native_name=native_name, result=item)
            except RegistryEntryError as exc:
                outcome = EntryResult(entry, time.perf_counter() - start, error=exc)
            report.results.append(outcome)
            if progress:
                progress(entry, total, outcome)
            if outcome.error is not None and not keep_going:
                raise outcome.error
    unique: dict[str, Any] = {}
    for outcome in report.built:
        unique.setdefault(outcome.native_name, outcome.result)
    if unique:
        from .aot import build_library

        report.files = build_library(list(unique.values()), Path(output_dir), name, cpu=cpu)
    return report
