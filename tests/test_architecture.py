"""Architecture rules of SPEC §2, checked on the package's source: imports go one way down the
layers (function-level imports included), `utils/` is the bottom and imports nothing of ours above
it, no import cycles, and no module-level mutable registries."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import numba_cfunc_compiler

PACKAGE = "numba_cfunc_compiler"
PACKAGE_DIR = Path(numba_cfunc_compiler.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


# -- the import graph ----------------------------------------------------------------------------


def resolve_relative(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def owning_module(dotted: str, modules: set[str]) -> str | None:
    """The package module ``dotted`` names, or that holds it (``pkg.mod.attr`` -> ``pkg.mod``)."""
    while dotted:
        if dotted in modules:
            return dotted
        dotted = dotted.rpartition(".")[0]
    return None


def import_targets(importer: str, is_package: bool, source: str, modules: set[str]) -> set[str]:
    """Absolute dotted names of everything ``importer`` imports anywhere (module level, functions,
    classes), ours or not.

    ``from pkg import sub`` names the submodule ``pkg.sub``; ``from pkg import name`` (not a
    submodule) names ``pkg`` itself; ``importlib.import_module("pkg.x")`` counts.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve_relative(importer, is_package, node.level, node.module)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in modules else base)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                targets = [node.args[0].value]
        found.update(targets)
    return found


def import_edges(importer: str, is_package: bool, source: str, modules: set[str]) -> set[str]:
    """Package modules that ``importer`` imports anywhere (see `import_targets`)."""
    edges: set[str] = set()
    for target in import_targets(importer, is_package, source, modules):
        owner = owning_module(target, modules)
        if owner is not None and owner != importer:
            edges.add(owner)
    return edges


def package_graph() -> dict[str, set[str]]:
    names = set(MODULES)
    return {
        name: import_edges(name, path.name == "__init__.py", path.read_text(), names)
        for name, path in MODULES.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, BLACK) == GREY:
                return [*stack[stack.index(nxt):], nxt]
            if colour.get(nxt) == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_package_has_no_import_cycle():
    cycle = find_cycle(package_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_import_graph_sees_the_pipeline_imports():
    graph = package_graph()
    assert f"{PACKAGE}.compilation_context" in graph[f"{PACKAGE}.numba_core"]
    assert f"{PACKAGE}.numba_ast_converter" in graph[f"{PACKAGE}.numba_core"]
    assert f"{PACKAGE}.numba_core" in graph[f"{PACKAGE}.host.runner"]


def test_compilation_context_is_at_the_bottom_of_the_graph():
    graph = package_graph()
    allowed = {f"{PACKAGE}.errors", f"{PACKAGE}.models"}
    assert graph[f"{PACKAGE}.compilation_context"] <= allowed
    assert graph[f"{PACKAGE}.models"] <= {f"{PACKAGE}.errors"}


SYNTHETIC_MODULES = {"pkg", "pkg.a", "pkg.b", "pkg.sub", "pkg.sub.c"}


def test_cycle_finder_sees_function_level_and_relative_imports():
    graph = {
        "pkg.a": import_edges("pkg.a", False, "from . import b\n", SYNTHETIC_MODULES),
        "pkg.b": import_edges("pkg.b", False, "def f():\n    from .sub.c import x\n", SYNTHETIC_MODULES),
        "pkg.sub.c": import_edges("pkg.sub.c", False, "def g():\n    import pkg.a\n", SYNTHETIC_MODULES),
    }
    assert graph == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.sub.c": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]


def test_importing_a_name_from_a_package_is_an_edge_to_its_init():
    edges = import_edges("pkg.sub.c", False, "from .. import a, helper\n", SYNTHETIC_MODULES)
    assert edges == {"pkg.a", "pkg"}
    assert import_edges("pkg.a", False, "from .sub import thing\n", SYNTHETIC_MODULES) == {"pkg.sub"}
    assert import_edges("pkg.a", False, "from .sub import c\n", SYNTHETIC_MODULES) == {"pkg.sub.c"}


# -- layers ---------------------------------------------------------------------------------------

#: SPEC §2, bottom first: a module imports only modules of its own layer or of a layer below it.
#: Names are relative to the package ("" is the package itself; a subpackage covers its modules,
#: the longest name wins). A new module must be placed here before the tests pass.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bottom", ("utils",)),
    # stores the pipeline drives (the byte cache, the process JIT): they know nothing of the compiler
    ("leaf services", ("targets.cache", "targets.jit")),
    ("context and models", ("", "errors", "models", "containers", "enum_set", "artifact", "compilation_context")),
    ("registries", ("type_factory", "function_analyzer", "source_registry", "ast_handlers", "helpers", "entry_adapters")),
    ("variable sources", ("variable_factory", "numba_type_inference")),
    ("extensions and AST converter", ("defaults", "numba_ast_converter")),
    ("pipeline", ("semantic_key", "post_compilation", "codegen", "numba_core")),
    ("targets and CLI", ("targets", "targets.aot", "linker", "aot", "host", "targets.registry", "hatch_plugin", "cli", "demo", "__main__", "contrib")),
)

#: What the bottom layer may import besides itself.
BOTTOM_MAY_IMPORT = frozenset(sys.stdlib_module_names) | {"numba", "llvmlite", "numpy", "numba_rt"}


def layer_of(module: str, package: str = PACKAGE, layers=LAYERS) -> int | None:
    """Index in ``layers`` of the entry that holds ``module`` (the longest matching name wins)."""
    best: tuple[int, int] | None = None  # (length of the matching name, layer)
    for index, (_, names) in enumerate(layers):
        for name in names:
            full = f"{package}.{name}" if name else package
            if module == full or (name and module.startswith(full + ".")):
                if best is None or len(full) > best[0]:
                    best = (len(full), index)
    return None if best is None else best[1]


def layer_violations(graph: dict[str, set[str]], package: str = PACKAGE, layers=LAYERS) -> list[str]:
    """Every import that runs up the layers, as ``"importer (layer) -> imported (layer)"``."""
    found = []
    for importer, imported in sorted(graph.items()):
        here = layer_of(importer, package, layers)
        for target in sorted(imported):
            there = layer_of(target, package, layers)
            if here is not None and there is not None and there > here:
                found.append(f"{importer} ({layers[here][0]}) -> {target} ({layers[there][0]})")
    return found


def bottom_layer_violations(importer: str, is_package: bool, source: str, modules: set[str], package: str = PACKAGE) -> list[str]:
    """Imports of a `utils` module that leave the bottom layer: anything of ours outside `utils`,
    anything third-party other than numba, llvmlite, numpy and numba_rt."""
    bottom = f"{package}.utils"
    found = []
    for target in sorted(import_targets(importer, is_package, source, modules)):
        if target == bottom or target.startswith(bottom + "."):
            continue
        if target.partition(".")[0] == package or target.partition(".")[0] not in BOTTOM_MAY_IMPORT:
            found.append(target)
    return found


def test_every_module_has_a_layer():
    assert [name for name in MODULES if layer_of(name) is None] == []


def test_imports_only_go_down_the_layers():
    assert layer_violations(package_graph()) == []


def test_utils_imports_nothing_above_the_bottom_layer():
    names = set(MODULES)
    offenders = {
        name: bad
        for name, path in MODULES.items()
        if layer_of(name) == 0
        and (bad := bottom_layer_violations(name, path.name == "__init__.py", path.read_text(), names))
    }
    assert offenders == {}


SYNTHETIC_LAYERS = (("bottom", ("utils",)), ("middle", ("", "core")), ("top", ("cli",)))
SYNTHETIC_LAYERED = {"pkg", "pkg.utils", "pkg.utils.ffi", "pkg.utils.types", "pkg.core", "pkg.cli"}


def test_layer_checker_flags_an_import_that_runs_up():
    graph = {
        "pkg.utils.ffi": import_edges("pkg.utils.ffi", False, "def f():\n    from ..core import handler\n", SYNTHETIC_LAYERED),
        "pkg.core": import_edges("pkg.core", False, "from .utils import ffi\n", SYNTHETIC_LAYERED),
        "pkg.cli": import_edges("pkg.cli", False, "from . import core\n", SYNTHETIC_LAYERED),
    }
    assert layer_violations(graph, "pkg", SYNTHETIC_LAYERS) == ["pkg.utils.ffi (bottom) -> pkg.core (middle)"]
    assert layer_of("pkg.cli.sub", "pkg", SYNTHETIC_LAYERS) == 2 and layer_of("pkg.other", "pkg", SYNTHETIC_LAYERS) is None


@pytest.mark.parametrize(
    "source, bad",
    [
        ("from ..core import handler\n", ["pkg.core"]),  # the import that ran back up (ast_handlers)
        ("def f():\n    from .. import core\n", ["pkg.core"]),
        ("from .. import anything\n", ["pkg"]),
        ("import requests\n", ["requests"]),
        ("import importlib\nimportlib.import_module('pkg.cli')\n", ["pkg.cli"]),
        ("from __future__ import annotations\nimport ctypes\nimport numba_rt\nfrom numba.core import types\n"
         "import llvmlite.binding as llvm\nimport numpy as np\nfrom . import types as t\nfrom .types import x\n", []),
    ],
)
def test_bottom_layer_checker(source, bad):
    assert bottom_layer_violations("pkg.utils.ffi", False, source, SYNTHETIC_LAYERED, "pkg") == bad


# -- module-level mutable registries -------------------------------------------------------------

MUTABLE_FACTORIES = {
    "dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter",
    "WeakValueDictionary", "WeakKeyDictionary", "WeakSet", "ChainMap",
}  # fmt: skip
MUTATING_METHODS = {
    "append", "extend", "insert", "add", "update", "setdefault", "pop", "popitem", "remove",
    "discard", "clear", "appendleft", "extendleft", "__setitem__", "__delitem__",
}  # fmt: skip


def _mutable_value(value: ast.expr | None) -> tuple[bool, bool]:
    """(is a new mutable container, is it empty)."""
    if isinstance(value, ast.Dict):
        return True, not value.keys
    if isinstance(value, (ast.List, ast.Set)):
        return True, not value.elts
    if isinstance(value, (ast.DictComp, ast.ListComp, ast.SetComp)):
        return True, False
    if isinstance(value, ast.Call):
        func = value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in MUTABLE_FACTORIES:
            empty = not value.keywords and (not value.args or name == "defaultdict" and len(value.args) == 1)
            return True, empty
    return False, False


def _assigned_names(stmt: ast.stmt) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _top_level_statements(body: list[ast.stmt]):
    """Statements run at import time (descending into module-level if/try/with blocks)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                yield from _top_level_statements(getattr(stmt, field, []))
            for handler in getattr(stmt, "handlers", []):
                yield from _top_level_statements(handler.body)


def _mutated_in_functions(tree: ast.Module, names: set[str], owners: set[str]) -> set[str]:
    """Which of ``names`` some function of ``tree`` mutates: ``NAME.append(...)``,
    ``NAME[k] = v``, ``del NAME[k]``, ``NAME += ...``, ``global NAME`` (also as
    ``Owner.NAME`` / ``cls.NAME`` for class attributes)."""

    def target_name(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in owners:
            return expr.attr
        return None

    mutated: set[str] = set()
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        for node in ast.walk(func):
            hit: str | None = None
            if isinstance(node, ast.Global):
                mutated.update(n for n in node.names if n in names)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS:
                hit = target_name(node.func.value)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Subscript):
                        hit = target_name(target.value) or hit
                    elif isinstance(node, ast.AugAssign):
                        hit = target_name(target) or hit
            if hit in names:
                mutated.add(hit)
    return mutated


def mutable_registries(source: str) -> list[str]:
    """Module- or class-level mutable containers that are created empty or mutated by a function."""
    tree = ast.parse(source)
    found: dict[str, bool] = {}
    owners = {"cls"}
    for stmt in _top_level_statements(tree.body):
        scopes = [(stmt, None)]
        if isinstance(stmt, ast.ClassDef):
            owners.add(stmt.name)
            scopes = [(s, stmt.name) for s in stmt.body]
        for inner, owner in scopes:
            if isinstance(inner, (ast.Assign, ast.AnnAssign)):
                is_mutable, empty = _mutable_value(inner.value)
                for name in _assigned_names(inner):
                    if is_mutable and name != "__all__":
                        label = f"{owner}.{name}" if owner else name
                        found[label] = found.get(label, False) or empty
    bare = {label.rpartition(".")[2] for label in found}
    mutated = _mutated_in_functions(tree, bare, owners)
    return sorted(label for label, empty in found.items() if empty or label.rpartition(".")[2] in mutated)


def test_no_module_level_mutable_registries():
    offenders = {
        name: registries
        for name, path in MODULES.items()
        if (registries := mutable_registries(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "_REGISTRY = {}\n",
        "_HANDLERS: list = []\ndef register(h):\n    _HANDLERS.append(h)\n",
        "TABLE = {'a': 1}\ndef register(k, v):\n    TABLE[k] = v\n",
        "from collections import defaultdict\n_BY_KIND = defaultdict(list)\n",
        "class TypeFactory:\n    _types = []\n",
        "class TypeFactory:\n    _types = [int]\n    @classmethod\n    def register(cls, t):\n        cls._types.append(t)\n",
        "_SEEN = set()\ndef mark(x):\n    global _SEEN\n    _SEEN = _SEEN | {x}\n",
    ],
)
def test_registry_checker_flags_registries(source):
    assert mutable_registries(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "__all__ = ['a', 'b']\n",
        "_PHASES = {0: 'EXECUTE', 1: 'START'}\ndef name(p):\n    return _PHASES[p]\n",
        "_TABLE = {1: 2}\nif True:\n    _TABLE[3] = 4\n",
        "KINDS = ('a', 'b')\nNAMES = frozenset({'x'})\n",
        "def f():\n    cache = {}\n    cache[1] = 2\n    return cache\n",
    ],
)
def test_registry_checker_accepts_constant_tables(source):
    assert mutable_registries(source) == []
