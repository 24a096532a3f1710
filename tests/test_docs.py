"""The documentation is tested: its code must run against the current package.

- Every ```python block of README.md and docs/*.md runs, in order, in one namespace per file, in
  a fresh subprocess whose working directory is a temporary directory. A block preceded by the
  line ``<!-- skip-test -->`` is not run (for deliberate fragments only).
- A fenced block preceded by the line ``<!-- output -->`` is the expected stdout of the python
  block before it. Paths of the doc's own code are shown as ``/path/to/example.py``.
- Every example under examples/ runs as a script and must print what it is known to print; the
  C host example needs only ``cc``.
- A block preceded by ``<!-- file: PATH -->`` is a listing of that file and must equal it.
- Relative links in the docs point at files that exist, and README.md shows the exact test command
  that .ci/run executes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import numba_rt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CODE_DOCS = [p for p in DOCS if p.name != "index.md"]  # index.md only links
EXAMPLES = ROOT / "examples"
SKIP_MARKER = "<!-- skip-test -->"
OUTPUT_MARKER = "<!-- output -->"
SHOWN_PATH = "/path/to/example.py"
TIMEOUT = 900


@dataclass
class CodeBlock:
    line: int  # 1-based line of the opening fence
    code: str
    skip: bool = False
    expected_output: str | None = None


@dataclass
class Doc:
    path: Path
    blocks: list[CodeBlock] = field(default_factory=list)


def parse_doc(path: Path) -> Doc:
    """The python blocks of a Markdown file, with their skip markers and expected outputs."""
    doc = Doc(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    previous = ""  # the last non-blank line before the current one
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(`{3,})\s*([\w+-]*)", line)
        if not fence:
            if line.strip():
                previous = line.strip()
            i += 1
            continue
        ticks, info = fence.group(1), fence.group(2)
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].startswith(ticks):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
        i += 1
        text = "\n".join(body) + "\n"
        if previous == OUTPUT_MARKER:
            if not doc.blocks or doc.blocks[-1].skip:
                raise AssertionError(f"{path.name}:{start + 1}: {OUTPUT_MARKER} does not follow a tested python block")
            doc.blocks[-1].expected_output = text
        elif info == "python":
            doc.blocks.append(CodeBlock(start + 1, text, skip=previous == SKIP_MARKER))
        previous = lines[i - 1].strip()
    return doc


# Runs in the subprocess: exec each block file in one namespace, record stdout or the traceback.
DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, pathlib, sys, traceback
    blocks, report = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    namespace = {"__name__": "__main__"}
    results = []
    for path in json.loads(blocks.read_text()):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(pathlib.Path(path).read_text(), path, "exec"), namespace)
        except BaseException:
            results.append({"stdout": out.getvalue(), "error": traceback.format_exc()})
            break
        results.append({"stdout": out.getvalue(), "error": None})
    report.write_text(json.dumps(results))
    """
)


def normalize(text: str, blocks_dir: Path) -> str:
    text = re.sub(re.escape(str(blocks_dir)) + r"/\d+/example\.py", SHOWN_PATH, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_docs_have_code() -> None:
    assert (ROOT / "README.md").is_file() and len(DOCS) >= 5, DOCS
    for path in CODE_DOCS:
        assert parse_doc(path).blocks, f"{path.name} has no python block"


@pytest.mark.parametrize("path", CODE_DOCS, ids=[p.name for p in CODE_DOCS])
def test_doc_code_runs(path: Path, tmp_path: Path) -> None:
    doc = parse_doc(path)
    runnable = [b for b in doc.blocks if not b.skip]
    blocks_dir = tmp_path / "blocks"
    work = tmp_path / "work"
    work.mkdir()
    files = []
    for n, block in enumerate(runnable):
        file = blocks_dir / str(n) / "example.py"
        file.parent.mkdir(parents=True)
        file.write_text(block.code, encoding="utf-8")
        files.append(str(file))
    (tmp_path / "blocks.json").write_text(json.dumps(files))
    (tmp_path / "driver.py").write_text(DRIVER)
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json"), str(report)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert report.is_file(), f"{path.name}: the block runner crashed\n{proc.stdout}\n{proc.stderr}"
    results = json.loads(report.read_text())
    for block, result in zip(runnable, results):
        where = f"{path.relative_to(ROOT)}:{block.line}"
        assert result["error"] is None, f"{where}: this block failed\n{block.code}\n{result['error']}"
        if block.expected_output is not None:
            actual = normalize(result["stdout"], blocks_dir)
            expected = normalize(block.expected_output, blocks_dir)
            assert actual == expected, f"{where}: the output shown in the doc is not what the block prints"
    assert len(results) == len(runnable)
    assert proc.returncode == 0, proc.stderr


def run_example(*args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{args[0]} failed (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_all_examples_are_tested() -> None:
    scripts = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py")}
    expected = {"ema.py", "custom_extension.py", "ffi_host.py", "c_host/build_and_run.py", "c_host/containers_demo.py"}
    # a project, not a script: tests/test_aot_registry.py builds its wheel and runs its nodes from C
    expected |= {"aot_project/aotdemo/__init__.py", "aot_project/aotdemo/nodes.py"}
    assert scripts == expected, "add a test for the new example"


def test_example_ema(tmp_path: Path) -> None:
    out = run_example(str(EXAMPLES / "ema.py"), cwd=tmp_path)
    assert re.search(r"^_gc_numba_[0-9a-f]{16} at 0x[0-9a-f]+$", out, re.M), out
    assert "x=10.0  ema=10.0\nx=20.0  ema=15.0\nx=30.0  ema=22.5\nx=40.0  ema=31.25\nno input  -> None\n" in out


def test_example_custom_extension(tmp_path: Path) -> None:
    out = run_example(str(EXAMPLES / "custom_extension.py"), cwd=tmp_path)
    assert "void(outputs: void**, output_ticked: int8*, state: void**, lifecycle_phase: int8, now_ns: int64)" in out
    assert "state_values=[-1]" in out
    expected = ["now_ns= 0: WARN", "now_ns= 5: -", "now_ns=20: WARN", "now_ns=22: -", "now_ns=40: WARN"]
    assert out.splitlines()[-5:] == expected, out


def test_example_c_host(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; the C host example needs one (CI has it)")
    out = run_example(str(EXAMPLES / "c_host" / "build_and_run.py"), str(tmp_path / "build"), cwd=tmp_path)
    name = re.search(r"^compiled ema -> (_gc_numba_[0-9a-f]{16})$", out, re.M)
    assert name, out
    assert f"exported: ['{name.group(1)}']  needs: ['ncc_error_set']" in out
    host_output = out.split("--- output of host_main ---\n", 1)[1]
    assert host_output == (
        "x=10 -> ema=10\n"
        "x=20 -> ema=15\n"
        f"x=-1: fault 4: exception raised in compiled code of {name.group(1)}\n"
        "x=30 -> ema=22.5\n"
        "x=40 -> ema=31.25\n"
        "no tick -> no output\n"
        f"runtime {numba_rt.load().version()}\n"
    ), out
    assert (tmp_path / "build" / "ema.o").is_file()


def test_example_c_host_containers(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; the C host example needs one (CI has it)")
    out = run_example(str(EXAMPLES / "c_host" / "containers_demo.py"), str(tmp_path / "build"), cwd=tmp_path)
    assert re.search(r"^compiled book -> _gc_numba_[0-9a-f]{16}$", out, re.M), out
    assert "state: ['recent', 'per_venue']  containers at [0, 1]\n" in out
    host_output = out.split("--- output of read_containers ---\n", 1)[1]
    assert host_output == (
        "after START: 2 live containers\n"
        "price=10 venue=1 -> mean=10\n"
        "price=11 venue=2 -> mean=10.5\n"
        "price=12.5 venue=1 -> mean=11.1667\n"
        "price=12 venue=9 -> mean=11.375\n"
        "price=13 venue=1 -> mean=12.125\n"
        "price=14 venue=2 -> mean=12.875\n"
        "recent (len 4): 12.5 12 13 14  (last 14)\n"
        "per_venue (len 3): 9->101 1->3 2->2\n"
        "venue 1: 3 trades\n"
        "venue 5: not in the dict\n"
        "recent: len=4 capacity=8 kind=2\n"
        "after STOP: cells NULL, 0 live containers\n"
        "execute after STOP: fault 5: container used before START or after STOP\n"
    ), out
    assert (tmp_path / "build" / "book.o").is_file()


def test_example_ffi_host(tmp_path: Path) -> None:
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; the FFI example needs one (CI has it)")
    out = run_example(str(EXAMPLES / "ffi_host.py"), str(tmp_path / "build"), cwd=tmp_path)
    assert "available before loading: False\navailable after loading:  True\n" in out, out
    assert re.search(r"^compiled fair_value -> _gc_numba_[0-9a-f]{16}$", out, re.M), out
    assert "declare double @book_mid(ptr) local_unnamed_addr #0   ; 1 call(s)\n" in out, out
    assert "memory(read)" in out, out
    assert out.splitlines()[-4:] == [
        "book 99.0/101.0 30x10 -> edge +0.250  fair value 100.250",
        "book 99.0/101.0 30x10 -> edge +0.250  fair value 100.250",
        "book 100.0/101.0 5x15 -> edge -0.125  fair value 100.375",
        "logged by C: [100.25, 100.375]",
    ], out
    assert (tmp_path / "build" / "libffi_functions.so").is_file()


def test_file_listings_match_files() -> None:
    """A fenced block preceded by ``<!-- file: PATH -->`` shows that file of the repository, exactly."""
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            marker = re.fullmatch(r"<!-- file: (\S+) -->", line.strip())
            if not marker:
                continue
            assert lines[i + 1].startswith("```"), f"{path.name}:{i + 1}: the marker must precede a code fence"
            end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
            shown = "\n".join(lines[i + 2 : end]) + "\n"
            actual = (ROOT / marker.group(1)).read_text(encoding="utf-8")
            assert shown == actual, f"{path.name}:{i + 1}: the listing differs from {marker.group(1)}"


def test_relative_links_resolve() -> None:
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            file = (path.parent / target.split("#", 1)[0]).resolve()
            assert file.exists(), f"{path.name}: broken link {target}"


def test_readme_shows_the_ci_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M).group(1)
    readme = (ROOT / "README.md").read_text()
    assert f". .venv/bin/activate && {command}" in readme, command
