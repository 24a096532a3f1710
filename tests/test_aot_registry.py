"""Registry files, `python -m numba_cfunc_compiler build` and the hatchling build hook (SPEC §7
"AOT export", issue 9 items 2-4): every TOML value type reaches the compiler as the value
`compile_node` takes, every broken entry is named (registry file and line, index, ``function``;
the user's file and line for a compile error), ``--keep-going`` builds the rest, and the example
project's wheel ships a library that a C program runs."""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

import numba_rt
from numba_cfunc_compiler.host import NodeRunner, compile_node
from numba_cfunc_compiler.targets.registry import (
    RegistryEntryError,
    RegistryError,
    build_registry,
    convert_constants,
    load_registry,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "aot_project"

NODES = '''
import enum
from datetime import datetime, timedelta

from numba_cfunc_compiler import NumbaDict, State
from numba_cfunc_compiler.host import Signal, compile_node, ticked


class Mode(enum.IntEnum):
    SLOW = 1
    FAST = 2


def ema(x: Signal[float], alpha: float) -> Signal[float]:
    avg: State[float] = 0.0
    if ticked(x):
        avg = alpha * x + (1 - alpha) * avg
        return avg


def mix(x: Signal[int], n: int, scale: float, flag: bool, mode: Mode, levels,
        weights: NumbaDict[int, float], since: datetime, bar: timedelta) -> Signal[float]:
    if ticked(x):
        total = 0.0
        for level in levels:
            total += level
        w = 0.0
        if x in weights:
            w = weights[x]
        m = 1.0
        if mode == Mode.FAST:
            m = 2.0
        if flag:
            m = -m
        later = since + bar
        return (x + n) * scale * m + total + w + (later - since).total_seconds()


def broken(x: Signal[float]) -> Signal[float]:
    if ticked(x):
        return x + undefined_name


CALLS = []


def doubling_compiler(func, **constants):
    """A custom compiler: records the call and doubles every float constant."""
    CALLS.append(func.__name__)
    return compile_node(func, **{k: v * 2 if isinstance(v, float) else v for k, v in constants.items()})


def not_a_compiler(func, **constants):
    return "not a result"
'''


@pytest.fixture
def project(tmp_path: Path):
    """A folder with a uniquely named node module (``project.module``) and a registry writer."""
    module = f"regnodes_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(NODES)

    class Project:
        root = tmp_path

        def __init__(self) -> None:
            self.module = module

        def registry(self, text: str, name: str = "nodes.toml") -> Path:
            path = tmp_path / name
            path.write_text(textwrap.dedent(text).replace("MOD", module))
            return path

    yield Project()
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[name]


def node_module(project):
    return sys.modules[project.module]


# -- the happy path ----------------------------------------------------------------------------


MIX_TOML = """
    name = "mixed"
    cpu = "generic"

    [[nodes]]
    function = "MOD:ema"
    constants = { alpha = 0.25 }

    [[nodes]]
    # a comment between the header and the function line
    function = "MOD:mix"
    constants = { n = 3, scale = 0.5, flag = false, mode = "FAST", levels = [1.0, 2.5], weights = { 1 = 0.5, 7 = 0.25 }, since = 2024-01-02T14:30:00Z, bar = 00:01:30 }

    [[nodes]]
    function = "MOD:ema"
    constants = { alpha = 0.25 }
    compiler = "MOD:doubling_compiler"
"""


def test_registry_builds_every_entry_with_constants_of_each_toml_type(project, tmp_path):
    path = project.registry(MIX_TOML)
    registry = load_registry(path)
    assert (registry.name, registry.cpu, len(registry.entries)) == ("mixed", "generic", 3)
    assert [e.line for e in registry.entries] == [6, 11, 15]  # each entry's `function =` line
    assert registry.entries[1].constants["levels"] == [1.0, 2.5]

    seen = []
    report = build_registry(path, tmp_path / "out", progress=lambda e, total, r: seen.append((e.index, total, r and r.ok)))
    assert seen == [(1, 3, None), (1, 3, True), (2, 3, None), (2, 3, True), (3, 3, None), (3, 3, True)]
    assert report.ok and not report.failures and (report.name, report.cpu) == ("mixed", "generic")
    mod = node_module(project)
    assert mod.CALLS == ["ema"]  # the custom compiler ran for entry 3 only

    # Each entry compiled exactly as compile_node with the Python values would: same semantic key.
    expected = [
        compile_node(mod.ema, alpha=0.25),
        compile_node(mod.mix, n=3, scale=0.5, flag=False, mode=mod.Mode.FAST, levels=[1.0, 2.5],
                     weights={1: 0.5, 7: 0.25}, since=datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc),
                     bar=timedelta(seconds=90)),
        compile_node(mod.ema, alpha=0.5),  # doubled by the custom compiler
    ]
    assert [r.native_name for r in report.results] == [e.native_name for e in expected]

    files = report.files
    assert files.library.name == "libmixed.so" and files.manifest.name == "mixed.json"
    assert files.header.name == "mixed.h" and files.runtime.name == "libnumba_rt.so"
    assert all(Path(f).is_file() for f in (files.library, files.manifest, files.header, files.runtime))
    manifest = json.loads(files.manifest.read_text())
    assert [n["native_name"] for n in manifest["nodes"]] == [e.native_name for e in expected]

    runner = NodeRunner(report.results[1].result)
    runner.start()
    # (7 + 3) * 0.5 * 2.0 + 3.5 + 0.25 + 90
    assert runner.execute(x=7) == pytest.approx(103.75)
    runner.stop()


def test_entries_compiling_to_one_node_are_built_once(project, tmp_path):
    path = project.registry("""
        [[nodes]]
        function = "MOD:ema"
        constants = { alpha = 0.5 }
        [[nodes]]
        function = "MOD:ema"
        constants = { alpha = 0.5 }
    """)
    report = build_registry(path, tmp_path / "out")
    assert report.ok and report.name == "nodes"  # the default name: the registry's file name
    assert len(json.loads(report.files.manifest.read_text())["nodes"]) == 1


def test_arguments_override_the_registry_defaults_and_sys_path_is_restored(project, tmp_path):
    path = project.registry(MIX_TOML)
    before = list(sys.path)
    report = build_registry(path, tmp_path / "out", name="other", cpu="host")
    assert sys.path == before
    assert (report.name, report.cpu) == ("other", "host")
    assert report.files.library.name == "libother.so"
    assert json.loads(report.files.manifest.read_text())["cpu"] == "host"


class Colour(enum.Enum):
    RED = 1


def test_convert_constants_maps_toml_values():
    def f(c: Colour, d, t: timedelta, s: timedelta, plain):
        pass

    got = convert_constants(f, {"c": "RED", "d": {"1": 2.0, "-3": 1.0, "x": 0.0}, "t": time(1, 2, 3), "s": 1.5, "plain": "RED"})
    assert got == {"c": Colour.RED, "d": {1: 2.0, -3: 1.0, "x": 0.0}, "t": timedelta(hours=1, minutes=2, seconds=3),
                   "s": timedelta(seconds=1.5), "plain": "RED"}
    with pytest.raises(ValueError, match=r"constant 'c': Colour has no member 'RDE'; did you mean 'RED'\?"):
        convert_constants(f, {"c": "RDE"})


# -- malformed registries ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ('[[nodes]]\nconstants = { a = 1 }\n', r"nodes\.toml:1: entry 1: missing 'function'"),
        ('[[nodes]]\nfunction = "m:f"\n\n[[nodes]]\nfunction = 3\n', r"nodes\.toml:4: entry 2: 'function' must be a string \"module:function\", got 3"),
        ('[[nodes]]\nfunction = "nodes_only"\n', r"entry 1 \(nodes_only\): 'function' must be a string \"module:function\""),
        ('[[nodes]]\nfunction = "m:f"\nconstant = { a = 1 }\n', r"nodes\.toml:1: entry 1 \(m:f\): unknown key 'constant'; did you mean 'constants'\?"),
        ('[[nodes]]\nfunction = "m:f"\nconstants = [1, 2]\n', r"entry 1 \(m:f\): 'constants' must be a table"),
        ('[[nodes]]\nfunction = "m:f"\ncompiler = "nocolon"\n', r"entry 1 \(m:f\): 'compiler' must be a string \"module:callable\""),
        ('[[nodes]]\nfunction = "m:f"\nconstants = { "a b" = 1 }\n', r"constant name 'a b' is not a Python identifier"),
        ('nme = "x"\n[[nodes]]\nfunction = "m:f"\n', r"unknown top-level key 'nme'; did you mean 'name'\?"),
        ('cpu = "fast"\n[[nodes]]\nfunction = "m:f"\n', r"'cpu' must be one of 'generic', 'host', got 'fast'"),
        ('name = "lib/x"\n[[nodes]]\nfunction = "m:f"\n', r"'name' must be a string of letters"),
        ('nodes = "m:f"\n', r"'nodes' must be an array of tables"),
        ('name = "x"\n', r"no \[\[nodes\]\] entries"),
        ('[[nodes]]\nfunction = "m:f"\nconstants = { a = }\n', r"nodes\.toml: not valid TOML: .*\(at line 3, column \d+\)"),
    ],
)
def test_a_malformed_registry_is_refused_naming_the_entry(tmp_path, text, message):
    path = tmp_path / "nodes.toml"
    path.write_text(text)
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def test_a_missing_registry_file(tmp_path):
    with pytest.raises(RegistryError, match=r"nope\.toml: no such registry file"):
        load_registry(tmp_path / "nope.toml")


def test_an_inline_array_of_tables_works_without_lines(project, tmp_path):
    path = project.registry('nodes = [{ function = "MOD:ema", constants = { alpha = 0.5 } }, { function = "MOD:nope" }]\n')
    registry = load_registry(path)
    assert [e.line for e in registry.entries] == [None, None]
    with pytest.raises(RegistryEntryError) as info:
        build_registry(registry, tmp_path / "out")
    assert str(info.value).startswith(f"{path}: entry 2 ({project.module}:nope): ")


# -- entries that do not build ------------------------------------------------------------------------


def entry_failure(project, tmp_path, entry: str) -> RegistryEntryError:
    """Build a registry of one good entry then ``entry``; return the error, checking it names entry 2."""
    path = project.registry('[[nodes]]\nfunction = "MOD:ema"\nconstants = { alpha = 0.5 }\n\n[[nodes]]\n' + entry)
    out = tmp_path / "out"
    with pytest.raises(RegistryEntryError) as info:
        build_registry(path, out)
    error = info.value
    assert error.entry.index == 2
    assert str(error).startswith(f"{path}:6: entry 2 ({error.entry.function}): "), str(error)
    assert not out.exists()  # the first failure stops the build: nothing written
    return error


@pytest.mark.parametrize(
    "entry, reason",
    [
        ('function = "no_such_module_xyz:f"\n', r"cannot import module 'no_such_module_xyz': no module named 'no_such_module_xyz'"),
        ('function = "MOD:emma"\n', r"module 'MOD' has no function 'emma'; did you mean 'ema'\?"),
        ('function = "MOD:Mode.SLOW"\n', r"MOD:Mode.SLOW is not a function \(it is a Mode\)"),
        ('function = "MOD:ema"\ncompiler = "MOD:no_compiler"\n', r"module 'MOD' has no compiler 'no_compiler'"),
        ('function = "MOD:ema"\ncompiler = "MOD:not_a_compiler"\n', r"compiler MOD:not_a_compiler returned str; expected a CompilationResult or a NodeArtifact"),
        ('function = "MOD:ema"\nconstants = { alpha = 0.5, beta = 1 }\n', r"MOD\.py:\d+:1: arguments do not match the signature: got an unexpected keyword argument 'beta'"),
        ('function = "MOD:ema"\nconstants = { alpha = "fast" }\n', r"MOD\.py:\d+:\d+: constant parameter 'alpha': expected a float, got 'fast'"),
        ('function = "MOD:ema"\n', r"no value given for parameter 'alpha'"),
        ('function = "MOD:mix"\nconstants = { mode = "MEDIUM" }\n', r"constant 'mode': Mode has no member 'MEDIUM'"),
    ],
)
def test_an_entry_that_does_not_build_is_named(project, tmp_path, entry, reason):
    error = entry_failure(project, tmp_path, entry)
    assert re.search(reason.replace("MOD", project.module), error.reason), error.reason


def test_a_compile_error_names_the_users_file_and_line(project, tmp_path):
    error = entry_failure(project, tmp_path, 'function = "MOD:broken"\n')
    source = (project.root / f"{project.module}.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if "undefined_name" in text)
    assert re.match(rf"{re.escape(str(project.root / project.module))}\.py:{line}:\d+: unknown name 'undefined_name'", error.reason)
    assert "[during: AST conversion]" in error.reason and "return x + undefined_name" in error.reason
    assert str(error).endswith(error.reason)


def test_an_import_error_inside_the_module_is_reported(project, tmp_path):
    (project.root / "bad_import_mod.py").write_text("import no_such_dependency_xyz\n")
    (project.root / "syntax_mod.py").write_text("def f(:\n    pass\n")
    error = entry_failure(project, tmp_path, 'function = "bad_import_mod:f"\n')
    assert error.reason == "importing module 'bad_import_mod' failed: No module named 'no_such_dependency_xyz'"
    sys.modules.pop("bad_import_mod", None)
    error = entry_failure(project, tmp_path, 'function = "syntax_mod:f"\n')
    assert re.match(r"importing module 'syntax_mod' failed: SyntaxError: .*\(syntax_mod\.py, line 1\)", error.reason)


def test_keep_going_builds_the_other_entries(project, tmp_path):
    path = project.registry("""
        [[nodes]]
        function = "MOD:ema"
        constants = { alpha = 0.5 }

        [[nodes]]
        function = "MOD:broken"

        [[nodes]]
        function = "MOD:missing"

        [[nodes]]
        function = "MOD:ema"
        constants = { alpha = 0.125 }
    """)
    report = build_registry(path, tmp_path / "out", keep_going=True)
    assert not report.ok
    assert [r.entry.index for r in report.failures] == [2, 3]
    assert [r.entry.index for r in report.built] == [1, 4]
    assert "unknown name 'undefined_name'" in report.failures[0].error.reason
    manifest = json.loads(report.files.manifest.read_text())
    assert [n["native_name"] for n in manifest["nodes"]] == [r.native_name for r in report.built]


def test_keep_going_writes_nothing_when_every_entry_fails(project, tmp_path):
    path = project.registry('[[nodes]]\nfunction = "MOD:broken"\n')
    report = build_registry(path, tmp_path / "out", keep_going=True)
    assert report.files is None and len(report.failures) == 1
    assert not (tmp_path / "out").exists()


# -- the command line ---------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # NCC_CACHE_DIR (the suite's cache, set by conftest) is inherited.
    return subprocess.run([sys.executable, "-m", "numba_cfunc_compiler", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_cli_build(project, tmp_path):
    project.registry(MIX_TOML)
    run = run_cli("build", "nodes.toml", "-o", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    functions = [f"{project.module}:ema", f"{project.module}:mix", f"{project.module}:ema"]
    for i, function in enumerate(functions):
        assert re.fullmatch(rf"\[{i + 1}/3\] {function} \.\.\. ok \(_gc_numba_[0-9a-f]{{16}}, \d+ ms\)", lines[i]), lines[i]
    assert lines[3:] == [
        "built 3 of 3 entries",
        "wrote library 'mixed' (cpu generic):",
        "  out/libmixed.so",
        "  out/mixed.json",
        "  out/mixed.h",
        "  out/libnumba_rt.so",
    ]
    assert (tmp_path / "out" / "libmixed.so").is_file()
    assert run.stderr == ""


def test_cli_build_failures(project, tmp_path):
    project.registry('[[nodes]]\nfunction = "MOD:ema"\nconstants = { alpha = 0.5 }\n\n[[nodes]]\nfunction = "MOD:broken"\n'
                     '\n[[nodes]]\nfunction = "MOD:ema"\nconstants = { alpha = 0.75 }\n')
    mod = project.module
    run = run_cli("build", "nodes.toml", "-o", "out", "--name", "partial", "--keep-going", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(rf"\[2/3\] {mod}:broken \.\.\. FAILED: .*{mod}\.py:\d+:\d+: unknown name 'undefined_name' \[during: AST conversion\]", lines[1]), lines[1]
    assert lines[2].strip() == "return x + undefined_name"  # the CompilationError's excerpt, indented
    assert lines[1 + 4].startswith("[3/3] ")  # excerpt, caret and hint, then the next entry
    i = lines.index("built 2 of 3 entries, 1 failed:")
    assert lines[i + 1:i + 3] == [f"  entry 2 ({mod}:broken) at nodes.toml:6", "wrote library 'partial' (cpu generic):"]
    assert "  out/libpartial.so" in lines

    run = run_cli("build", "nodes.toml", "-o", "out2", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1] == (
        f"stopped: entry 2 ({mod}:broken) at nodes.toml:6 failed; nothing written (--keep-going builds the other entries)"
    )
    assert "[3/3]" not in run.stdout and not (tmp_path / "out2").exists()

    project.registry(f'[[nodes]]\nfunction = "{mod}:broken"\n', name="all_bad.toml")
    run = run_cli("build", "all_bad.toml", "-o", "out3", "--keep-going", cwd=tmp_path)
    assert run.returncode == 1
    assert run.stdout.splitlines()[-3:] == ["built 0 of 1 entry, 1 failed:", f"  entry 1 ({mod}:broken) at all_bad.toml:2", "nothing written"]
    assert not (tmp_path / "out3").exists()


def test_cli_build_usage_errors(tmp_path):
    run = run_cli("build", "missing.toml", "-o", "out", cwd=tmp_path)
    assert (run.returncode, run.stdout, run.stderr) == (2, "", "error: missing.toml: no such registry file\n")
    (tmp_path / "bad.toml").write_text('[[nodes]]\nfunction = "m:f"\nfunction = "m:g"\n')
    run = run_cli("build", "bad.toml", "-o", "out", cwd=tmp_path)
    assert run.returncode == 2
    assert re.fullmatch(r"error: bad\.toml: not valid TOML: .*\(at line 3, column \d+\)\n", run.stderr), run.stderr
    (tmp_path / "odd.toml").write_text('[[nodes]]\nfunctoin = "m:f"\n')
    run = run_cli("build", "odd.toml", "-o", "out", cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr == "error: odd.toml:1: entry 1: unknown key 'functoin'; did you mean 'function'? (allowed: function, constants, compiler)\n"
    run = run_cli("build", "odd.toml", cwd=tmp_path)  # -o is required
    assert run.returncode == 2 and "-o/--output" in run.stderr
    run = run_cli("build", "odd.toml", "-o", "out", "--cpu", "fast", cwd=tmp_path)
    assert run.returncode == 2 and "invalid choice: 'fast'" in run.stderr
    assert not (tmp_path / "out").exists()


# -- the hatchling build hook ----------------------------------------------------------------------------


PYPROJECT = """
[project]
name = "demo"
version = "0.1.0"

[tool.numba-cfunc-compiler]
registry = "nodes.toml"
output = "demo/_nodes"
name = "demo"
"""


def test_hatch_settings(tmp_path):
    from numba_cfunc_compiler.hatch_plugin import SettingsError, read_settings

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert read_settings(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    settings = read_settings(tmp_path)
    assert (settings.registry, settings.output, settings.name, settings.cpu) == ("nodes.toml", "demo/_nodes", "demo", None)
    for bad, message in [
        ('registry = "n.toml"\n', "'output' is required"),
        ('output = "x"\n', "'registry' is required"),
        ('registry = "n.toml"\noutput = "../x"\n', "'output' must be a folder inside the project"),
        ('registry = "n.toml"\noutput = "x"\nnmae = "y"\n', "unknown key 'nmae'"),
    ]:
        (tmp_path / "pyproject.toml").write_text("[tool.numba-cfunc-compiler]\n" + bad)
        with pytest.raises(SettingsError, match=re.escape(message)):
            read_settings(tmp_path)


def hatch_build_module():
    spec = importlib.util.spec_from_file_location("_ncc_own_hatch_build", ROOT / "hatch_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_our_own_hatch_build_builds_a_registry_when_configured(project, tmp_path):
    """hatch_build.py (this package's hook) shares the plugin's code: with a
    [tool.numba-cfunc-compiler] table its wheel ships the library; without one nothing changes."""
    root = project.root
    (root / "cpp").mkdir()
    (root / "cpp" / "api.h").write_text("/* header */\n")
    (root / "pyproject.toml").write_text(PYPROJECT)
    project.registry('[[nodes]]\nfunction = "MOD:ema"\nconstants = { alpha = 0.5 }\n')
    hook_class = hatch_build_module().CustomBuildHook
    hook = hook_class(str(root), {}, None, None, str(root / "dist"), "wheel")
    build_data = {"force_include": {}, "infer_tag": False, "pure_python": True}
    hook.initialize("standard", build_data)
    assert (root / "numba_rt" / "include" / "api.h").is_file()  # its first job still runs
    shipped = sorted(build_data["force_include"].values())
    assert shipped == ["demo/_nodes/demo.h", "demo/_nodes/demo.json", "demo/_nodes/libdemo.so", "demo/_nodes/libnumba_rt.so"]
    assert all(Path(source).is_file() for source in build_data["force_include"])
    assert build_data["pure_python"] is False and re.fullmatch(r"py3-none-\w+", build_data["tag"])
    hook.finalize("standard", build_data, "")
    assert not any(Path(source).exists() for source in build_data["force_include"])  # the work dir is gone

    # An editable build writes into the source tree, where the editable package finds it.
    build_data = {"force_include": {}, "infer_tag": False, "pure_python": True}
    hook.initialize("editable", build_data)
    hook.finalize("editable", build_data, "")
    assert build_data["force_include"] == {}
    assert sorted(p.name for p in (root / "demo" / "_nodes").iterdir()) == ["demo.h", "demo.json", "libdemo.so", "libnumba_rt.so"]

    (root / "pyproject.toml").write_text('[project]\nname = "demo"\nversion = "0.1.0"\n')
    build_data = {"force_include": {}, "infer_tag": False, "pure_python": True}
    hook.initialize("standard", build_data)
    assert build_data == {"force_include": {}, "infer_tag": False, "pure_python": True}


def test_the_plugin_is_registered_with_hatchling():
    from hatchling.plugin.manager import PluginManager

    from numba_cfunc_compiler.hatch_plugin import NodeLibraryBuildHook

    hooks = PluginManager().build_hook.collect(include_third_party=True)
    assert hooks.get("numba-cfunc-compiler") is NodeLibraryBuildHook, (
        "the `hatch` entry point is missing from the installed metadata: reinstall the package (pip install -e .)"
    )


def test_example_project_wheel_ships_a_library_a_c_program_runs(tmp_path):
    """Builds examples/aot_project's wheel the way pip does (no build isolation: no network; this
    package is installed in the venv), installs it into a folder, and runs its nodes from C.
    Slow-ish (a pip subprocess and two compiles, about 10-30 s)."""
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; this test needs one (CI has it)")
    test_the_plugin_is_registered_with_hatchling()
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run([*pip, "wheel", "--no-build-isolation", "--no-deps", "--no-index", "-w", str(wheels), str(EXAMPLE)],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = wheels.glob("aotdemo-0.1.0-py3-none-*.whl")
    install = subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    nodes = site / "aotdemo" / "_nodes"
    assert sorted(p.name for p in nodes.iterdir()) == ["aotdemo.h", "aotdemo.json", "libaotdemo.so", "libnumba_rt.so"]

    exe = tmp_path / "run_nodes"
    subprocess.run(["cc", str(EXAMPLE / "run_nodes.c"), "-I", str(nodes), "-I", numba_rt.include_dir(), "-ldl", "-o", str(exe)],
                   check=True, capture_output=True, text=True, timeout=120)
    run = subprocess.run([str(exe), str(nodes / "libaotdemo.so")], capture_output=True, text=True, timeout=60,
                         env={"PATH": os.environ.get("PATH", "")})  # no PYTHONPATH, no Python
    assert run.returncode == 0, run.stdout + run.stderr

    # The same nodes compiled in-process give the same values.
    sys.path.insert(0, str(EXAMPLE))
    try:
        from aotdemo import nodes as example_nodes
    finally:
        sys.path.remove(str(EXAMPLE))
    ema = compile_node(example_nodes.ema, alpha=0.5)
    band = compile_node(example_nodes.band, low=-1.0, high=1.0, levels=[0.25, 0.5, 0.75])
    manifest = json.loads((nodes / "aotdemo.json").read_text())
    assert [n["native_name"] for n in manifest["nodes"]] == [ema.native_name, band.native_name]
    ema_runner, band_runner = NodeRunner(ema), NodeRunner(band)
    ema_runner.start()
    band_runner.start()
    expected = []
    for x in (-1.0, 0.0, 0.5, 1.0, -0.6, 0.2):
        expected.append(f"x={x:g} -> ema={ema_runner.execute(x=x):g} band={band_runner.execute(x=x)}")
    ema_runner.stop()
    band_runner.stop()
    assert run.stdout.splitlines() == [*expected, "2 nodes, no Python"]
