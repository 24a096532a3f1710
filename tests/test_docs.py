"""The documentation is tested: its code runs against the current package and prints what it shows.

How README.md and docs/*.md run (`run_page`, `check_page`):

- Every ```python block runs. Before its first one, a page says how: "The examples on this page
  run in order in one session; each builds on the ones above." (its blocks run in order in one
  namespace, in one fresh Python process whose working directory is an empty temporary directory)
  or "Each example stands alone." (each block runs so on its own: own process, own directory, as
  if copied into a file). ``<!-- skip-test -->`` before a python block skips it (for deliberate
  fragments only; no page has one).
- A ```sh block that has an output block runs too, with bash, in page order, from a directory that
  stands for the repository root (``examples/`` is linked into it, so ``python examples/x.py
  build`` works and writes there); ``python`` is this interpreter.
- A fenced block after the line ``<!-- output -->`` is the stdout of the python or sh block right
  above it (nothing but the marker between). Trailing spaces and leading or trailing blank lines
  aside, it must match character for character what the block prints, after these placeholders
  replace, in the printed text only (never in the doc, which must show the placeholder): the file
  of a python block -> ``/path/to/example.py``; the folder of the installed `numba_rt` ->
  ``<numba_rt>``; the repository or the directory standing for it -> ``<repo>``; the python blocks'
  working directory -> ``<cwd>``; other temporary paths of the page -> ``<tmp>``; ``_gc_numba_`` +
  16 hex digits -> ``_gc_numba_<key>`` (keys change with the package version); ``123 ms`` ->
  ``<t> ms``. `test_changed_output_is_reported` changes one character of every output block in
  turn and checks that the comparison fails there; `test_runner_reports_a_changed_output` does it
  end to end on a copy of README.md.
- No sample output escapes: a fenced block right after a python or sh block must be its
  ``<!-- output -->``, and every ```text block is marked ``<!-- output -->``,
  ``<!-- file: PATH -->`` (a listing of that repository file, checked equal to it) or
  ``<!-- listing -->`` (not output of anything: a signature, a file list).
- The docs show no machine paths; relative links, backquoted repository paths (``docs/...``,
  ``examples/...``, ...) and Markdown file names exist; README.md shows the exact test command of
  .ci/run and names every tool a test skips without (which .ci/run must install).
- Every script under examples/ runs, here or as a doc's sh block with its output checked.

Why our own runner and not a doc-testing library. Sybil 10.1 and pytest-markdown-docs 0.9.2 were
evaluated (their source, and our pages run in one process as they would run them) against these needs:

1. A fresh process per page (per block for pages whose examples stand alone). Both libraries exec
   the blocks inside the pytest process. Our pages compile into a process-wide JIT, register
   extensions, load C libraries into the process (ffi.md asks whether a symbol is available before
   loading it), and count the process's live nodes and containers. Run one after another in one
   process, each page in its own namespace and directory (what Sybil would do), three blocks of
   linking-and-caching.md print other numbers; and a crash in a page's C code would end the test
   run instead of failing that page. (In one process all pages took 15 s against 25 s with a
   process per page: faster, and wrong.)
2. Sample outputs checked. Neither compares a block's stdout with the block under it, which is how
   the outputs drifted (issue 10): pytest-markdown-docs has no such feature; in Sybil it takes a
   custom parser and evaluator, about as much code as this runner, still in process. Neither runs shell
   blocks.
3. Blocks that build on each other. pytest-markdown-docs shares state only by re-running every
   earlier block of the page for each ``continuation`` block: quadratic in compiles, and the C
   programs and files of earlier blocks are rebuilt each time.
4. Our rules: placeholders applied to the printed text only, the marker checks, the page-mode
   sentence enforced by how the page runs.
So the runner stays (about 170 lines); its own tests (`test_runner_*`, the mutation test) keep it honest.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import numba_rt

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]  # docs/hosts/ too
CODE_DOCS = [p for p in DOCS if p.name != "index.md"]  # index.md only links
EXAMPLES = ROOT / "examples"
TIMEOUT = 900

SKIP_MARKER = "<!-- skip-test -->"
OUTPUT_MARKER = "<!-- output -->"
LISTING_MARKER = "<!-- listing -->"
FILE_MARKER = re.compile(r"<!-- file: (\S+) -->")
SESSION_SENTENCE = "The examples on this page run in order in one session; each builds on the ones above."
ALONE_SENTENCE = "Each example stands alone."
SHOWN_PATH = "/path/to/example.py"
SHELL_LINKS = ("examples",)  # what the directory standing for the repository root holds
RUN_LANGS = ("python", "sh")
WRONG_OUTPUT = "this block does not print the output shown"


@dataclass
class Fence:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str | None  # an HTML comment on the last non-blank line before the fence
    after: Fence | None  # the fence right above, when only blank lines and the marker separate them


@dataclass
class Block:
    """A block the runner runs: every python block, and every sh block that has an output block."""

    fence: Fence
    skip: bool = False
    expected: Fence | None = None  # its output block

    @property
    def line(self) -> int:
        return self.fence.line


@dataclass
class Doc:
    path: Path
    fences: list[Fence] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)  # in page order
    mode: str | None = None  # "session" or "alone"

    @property
    def name(self) -> str:
        return self.path.relative_to(ROOT).as_posix() if self.path.is_relative_to(ROOT) else self.path.name


def parse_doc(path: Path) -> Doc:
    """The fences of a Markdown page, its runnable blocks with their output blocks, and its mode."""
    doc = Doc(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    previous = ""  # the last non-blank line
    last_fence: Fence | None = None  # the fence above, while only blank lines and markers follow it
    i = 0
    while i < len(lines):
        fence = re.match(r"^(`{3,})\s*([\w+-]*)", lines[i])
        if not fence:
            if lines[i].strip():
                previous = lines[i].strip()
                if not previous.startswith("<!--"):
                    last_fence = None
            i += 1
            continue
        ticks, start, body = fence.group(1), i, []
        i += 1
        while i < len(lines) and not lines[i].startswith(ticks):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: unclosed code fence")
        i += 1
        marker = previous if previous.startswith("<!--") else None
        current = Fence(start + 1, fence.group(2), "\n".join(body) + "\n", marker, last_fence)
        doc.fences.append(current)
        previous, last_fence = lines[i - 1].strip(), current
    first_code = min((f.line for f in doc.fences if f.lang == "python"), default=None)
    if first_code is not None:
        head = "\n".join(lines[: first_code - 1])
        head = " ".join(head.split())  # sentences may wrap
        modes = [m for m, s in (("session", SESSION_SENTENCE), ("alone", ALONE_SENTENCE)) if s in head]
        doc.mode = modes[0] if len(modes) == 1 else None
    by_fence: dict[int, Block] = {}
    for f in doc.fences:
        if f.lang == "python":
            by_fence[f.line] = Block(f, skip=f.marker == SKIP_MARKER)
        if f.marker == OUTPUT_MARKER:
            above = f.after
            if above is None or above.lang not in RUN_LANGS or above.marker == SKIP_MARKER:
                raise AssertionError(f"{path.name}:{f.line}: {OUTPUT_MARKER} must come right after python or sh code")
            by_fence.setdefault(above.line, Block(above)).expected = f
    doc.blocks = sorted(by_fence.values(), key=lambda b: b.line)
    return doc


# Runs in the subprocess: the blocks of one session in order, python blocks in one namespace;
# records each block's stdout, or the error that stopped the session.
DRIVER = textwrap.dedent(
    """
    import contextlib, io, json, os, pathlib, subprocess, sys, traceback
    session, report = json.loads(pathlib.Path(sys.argv[1]).read_text()), pathlib.Path(sys.argv[2])
    namespace = {"__name__": "__main__"}
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    results = []
    for block in session["blocks"]:
        out = io.StringIO()
        try:
            if block["lang"] == "sh":
                run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block["code"]], cwd=session["shell"],
                                     env=env, capture_output=True, text=True)
                out.write(run.stdout)
                if run.returncode:
                    raise RuntimeError(f"exit status {run.returncode}; stderr:\\n{run.stderr}")
            else:
                with contextlib.redirect_stdout(out):
                    exec(compile(pathlib.Path(block["file"]).read_text(), block["file"], "exec"), namespace)
        except BaseException:
            results.append({"stdout": out.getvalue(), "error": traceback.format_exc()})
            break
        results.append({"stdout": out.getvalue(), "error": None})
    report.write_text(json.dumps(results))
    """
)


@dataclass
class PageRun:
    """What each block of a page printed (None: it did not run), and the paths to mask."""

    results: dict[int, dict] = field(default_factory=dict)  # block line -> {"stdout", "error"}
    blocks_dir: Path | None = None
    tmp: Path | None = None
    shells: list[Path] = field(default_factory=list)
    works: list[Path] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)


def run_page(doc: Doc, tmp: Path) -> PageRun:
    """Run the page's blocks as its mode says, each session in a fresh process (see the docstring).
    The sessions of a page whose examples stand alone run side by side."""
    tmp.mkdir(parents=True, exist_ok=True)
    run = PageRun(blocks_dir=tmp / "blocks", tmp=tmp)
    runnable = [b for b in doc.blocks if not b.skip]
    sessions = [runnable] if doc.mode == "session" else [[b] for b in runnable]
    (tmp / "driver.py").write_text(DRIVER)
    commands = []
    for n, session in enumerate(sessions):
        home = tmp / f"s{n}"
        work, shell = home / "work", home / "repo"
        work.mkdir(parents=True)
        shell.mkdir()
        for name in SHELL_LINKS:
            (shell / name).symlink_to(ROOT / name)
        run.shells.append(shell)
        run.works.append(work)
        blocks = []
        for block in session:
            entry = {"lang": block.fence.lang, "code": block.fence.text}
            if block.fence.lang == "python":
                file = run.blocks_dir / str(block.line) / "example.py"
                file.parent.mkdir(parents=True)
                file.write_text(block.fence.text, encoding="utf-8")
                entry["file"] = str(file)
            blocks.append(entry)
        (home / "session.json").write_text(json.dumps({"blocks": blocks, "shell": str(shell)}))
        commands.append([sys.executable, str(tmp / "driver.py"), str(home / "session.json"), str(home / "report.json")])

    def run_session(n: int) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        return subprocess.run(commands[n], cwd=run.works[n], capture_output=True, text=True, timeout=TIMEOUT, env=env)

    with ThreadPoolExecutor(max_workers=max(1, min(len(sessions), os.cpu_count() or 1))) as pool:
        procs = list(pool.map(run_session, range(len(sessions))))
    for n, (session, proc) in enumerate(zip(sessions, procs, strict=True)):
        report = tmp / f"s{n}" / "report.json"
        if not report.is_file() or proc.returncode != 0:
            where = f"{doc.name}:{session[0].line}"
            run.crashes.append(f"{where}: the process running this block and those after it crashed\n{proc.stderr}")
        if report.is_file():
            for block, result in zip(session, json.loads(report.read_text()), strict=False):  # stops at an error
                run.results[block.line] = result
    return run


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def mask(text: str, run: PageRun) -> str:
    """What the code printed, with what depends on the machine or the run as placeholders."""
    text = re.sub(re.escape(str(run.blocks_dir)) + r"/\d+/example\.py", SHOWN_PATH, text)
    rt = Path(numba_rt.__file__).parent
    for path, shown in [(rt.resolve(), "<numba_rt>"), (rt, "<numba_rt>"),
                        *((s, "<repo>") for s in run.shells), (ROOT, "<repo>"),
                        *((w, "<cwd>") for w in run.works), (run.tmp, "<tmp>")]:  # fmt: skip
        text = text.replace(str(path), shown)
    text = re.sub(r"_gc_numba_[0-9a-f]{16}", "_gc_numba_<key>", text)
    return re.sub(r"\b\d+ ms\b", "<t> ms", text)


def check_page(doc: Doc, run: PageRun) -> list[str]:
    """Every way the page's code and its sample outputs disagree; empty if none."""
    problems = list(run.crashes)
    for block in doc.blocks:
        if block.skip:
            continue
        where = f"{doc.name}:{block.line}"
        result = run.results.get(block.line)
        if result is None:
            problems.append(f"{where}: this block did not run (a block before it failed)")
        elif result["error"] is not None:
            problems.append(f"{where}: this block failed\n{block.fence.text}\n{result['error']}")
        elif block.expected is not None:
            actual, expected = _tidy(mask(result["stdout"], run)), _tidy(block.expected.text)
            if actual != expected:
                shown = f"{doc.name}:{block.expected.line} (doc)"
                diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), shown, "printed", lineterm="")
                problems.append(f"{where}: {WRONG_OUTPUT} at line {block.expected.line}\n" + "\n".join(diff))
    return problems


class PageRuns:
    """Each page runs once per test session; the mutation test reuses the runs."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory, self.runs = factory, {}

    def get(self, path: Path) -> PageRun:
        if path not in self.runs:
            self.runs[path] = run_page(parse_doc(path), self.factory.mktemp(path.stem))
        return self.runs[path]


@pytest.fixture(scope="session")
def page_runs(tmp_path_factory: pytest.TempPathFactory) -> PageRuns:
    return PageRuns(tmp_path_factory)


def test_docs_have_code() -> None:
    assert (ROOT / "README.md").is_file() and len(DOCS) >= 5, DOCS
    for path in CODE_DOCS:
        assert [b for b in parse_doc(path).blocks if b.fence.lang == "python"], f"{path.name} has no python block"


@pytest.mark.parametrize("path", CODE_DOCS, ids=[p.name for p in CODE_DOCS])
def test_doc_code_runs(path: Path, page_runs: PageRuns) -> None:
    doc = parse_doc(path)
    assert doc.mode, f"{doc.name}: say how the examples run (see test_pages_say_how_examples_run)"
    problems = check_page(doc, page_runs.get(path))
    assert not problems, "\n\n".join(problems)


def _one_character_changes(text: str) -> list[str]:
    """The text with one character replaced, inserted or deleted, at its first, middle and last
    non-blank characters."""
    spots = [i for i, c in enumerate(text) if not c.isspace()]
    changes = []
    for i in sorted({spots[0], spots[len(spots) // 2], spots[-1]}):
        other = "x" if text[i] != "x" else "y"
        changes += [text[:i] + other + text[i + 1 :], text[:i] + other + text[i:], text[:i] + text[i + 1 :]]
    return changes


@pytest.mark.parametrize("path", CODE_DOCS, ids=[p.name for p in CODE_DOCS])
def test_changed_output_is_reported(path: Path, page_runs: PageRuns) -> None:
    """Any one-character change to any output block of the page makes the check fail at that block."""
    doc, run = parse_doc(path), page_runs.get(path)
    if check_page(doc, run):
        pytest.fail(f"{doc.name} fails as it is: see test_doc_code_runs")
    outputs = [b for b in doc.blocks if b.expected is not None]
    assert outputs, f"{doc.name} shows no output"
    for block in outputs:
        for changed in _one_character_changes(block.expected.text):
            block.expected.text, original = changed, block.expected.text
            problems = check_page(doc, run)
            block.expected.text = original
            assert [p for p in problems if p.startswith(f"{doc.name}:{block.line}: {WRONG_OUTPUT}")], (
                f"{doc.name}:{block.expected.line}: changing the output to {changed!r} went unnoticed"
            )


def test_runner_reports_a_changed_output(tmp_path: Path) -> None:
    """End to end: copies of README.md with one character of its sample output changed."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = parse_doc(ROOT / "README.md").blocks[0]
    lines = text.splitlines(keepends=True)
    first = block.expected.line  # index of the output's first line (the fence is at index line - 1)
    assert lines[first].startswith("void(outputs"), lines[first]
    for n, changed in enumerate(("void(outputz", "void(outputs(", "vid(outputs")):
        copy = tmp_path / f"copy{n}" / "README.md"
        copy.parent.mkdir()
        changed_line = lines[first].replace("void(outputs", changed, 1)
        copy.write_text("".join([*lines[:first], changed_line, *lines[first + 1 :]]))
        doc = parse_doc(copy)
        problems = check_page(doc, run_page(doc, tmp_path / f"run{n}"))
        assert len(problems) == 1 and f"README.md:{block.line}: {WRONG_OUTPUT}" in problems[0], problems


SYNTHETIC_PAGE = """\
# A page

{mode}

```python
import os
import time

print(os.getcwd())
print("_gc_numba_0123456789abcdef", f"{{round(time.time()) % 1000 + 1000}} ms")
value = 1
print((lambda: 0).__code__.co_filename)
```

<!-- output -->
```text
{output}
```

```python
print(value)
```

```sh
echo "from sh: $(basename "$PWD")"; ls examples/c_host/host_main.c
```

<!-- output -->
```text
from sh: repo
examples/c_host/host_main.c
```
"""


def test_runner_masks_and_modes(tmp_path: Path) -> None:
    """The placeholders replace only what the code printed; the page's mode decides the sessions."""
    good = "<cwd>\n_gc_numba_<key> <t> ms\n/path/to/example.py"
    cases = {
        "good": (SESSION_SENTENCE, good, []),
        "real key in the doc": (SESSION_SENTENCE, good.replace("<key>", "0123456789abcdef"), [0]),
        "real time in the doc": (SESSION_SENTENCE, good.replace("<t>", "1234"), [0]),
        "a changed path": (SESSION_SENTENCE, good.replace("/path/to/", "/path/of/"), [0]),
        "alone": (ALONE_SENTENCE, good, [1]),  # `value` comes from the first block
    }
    for name, (mode, output, failing) in cases.items():
        page = tmp_path / name / "page.md"
        page.parent.mkdir()
        page.write_text(SYNTHETIC_PAGE.format(mode=mode, output=output))
        doc = parse_doc(page)
        assert [b.fence.lang for b in doc.blocks] == ["python", "python", "sh"], doc.blocks
        problems = check_page(doc, run_page(doc, tmp_path / (name + "-run")))
        assert [int(p.split(":")[1]) for p in problems] == [doc.blocks[i].line for i in failing], (name, problems)


def test_output_blocks_are_checked() -> None:
    """No sample output escapes the comparison: see the module docstring."""
    problems = []
    for path in DOCS:
        doc = parse_doc(path)
        for f in doc.fences:
            where = f"{doc.name}:{f.line}"
            is_file = bool(FILE_MARKER.fullmatch(f.marker or ""))
            if f.marker not in (None, OUTPUT_MARKER, LISTING_MARKER, SKIP_MARKER) and not is_file:
                problems.append(f"{where}: unknown marker {f.marker}")
            if f.after and f.after.lang in RUN_LANGS and f.lang not in RUN_LANGS and f.marker != OUTPUT_MARKER:
                problems.append(f"{where}: a block right after a {f.after.lang} block must be its {OUTPUT_MARKER}")
            marked = is_file or f.marker in (OUTPUT_MARKER, LISTING_MARKER)
            if f.lang in ("text", "", "console", "output") and not marked:
                problems.append(f"{where}: mark it {OUTPUT_MARKER} (under the code that prints it) or {LISTING_MARKER}")
            if f.marker == SKIP_MARKER and f.lang != "python":
                problems.append(f"{where}: {SKIP_MARKER} only skips python blocks")
    assert not problems, "\n".join(problems)


def test_pages_say_how_examples_run() -> None:
    for path in CODE_DOCS:
        doc = parse_doc(path)
        assert doc.mode, f"{doc.name}: before its first python block, say {SESSION_SENTENCE!r} or {ALONE_SENTENCE!r}"


def test_no_machine_paths() -> None:
    machine = r"/tmp/|/var/tmp/|/var/folders/|/private/|/work/|/root/|/home/|/Users/|[A-Z]:\\"
    pattern = re.compile(rf"(?<![\w<>.-])({machine})")
    found = []
    for path in DOCS:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "paths of a machine (outputs must show the runner's placeholders):\n" + "\n".join(found)


REPO_DIRS = ("docs/", "examples/", "tests/", "benchmarks/", "cpp/", "numba_rt/", "numba_cfunc_compiler/", ".ci/")


def test_references_exist() -> None:
    """Relative links, backquoted repository paths and Markdown file names point at real files."""
    missing = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        prose = re.sub(r"`[^`\n]*`", "", re.sub(r"^(`{3,}).*?^\1", "", text, flags=re.M | re.S))  # links are never code
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            if not (path.parent / target.split("#", 1)[0]).exists():
                missing.append(f"{path.name}: link {target}")
        for token in re.findall(r"`([^`\s]+)`", text):
            token = token.rstrip(".,:;)")
            if any(c in token for c in "<>*{}$") or "..." in token:
                continue  # a pattern, not a path
            if token.startswith(REPO_DIRS) and not (ROOT / token).exists():
                missing.append(f"{path.name}: `{token}`")
            if re.fullmatch(r"[\w.-]+\.md", token) and not any((d / token).exists() for d in (ROOT, ROOT / "docs")):
                missing.append(f"{path.name}: `{token}`")
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"\bSPEC\b|\.\./shared/", line):
                missing.append(f"{path.name}:{n}: cites a document that is not in the repository: {line.strip()}")
    assert not missing, "\n".join(missing)


def test_file_listings_match_files() -> None:
    """A fenced block preceded by ``<!-- file: PATH -->`` shows that file of the repository, exactly."""
    for path in DOCS:
        for f in parse_doc(path).fences:
            marker = FILE_MARKER.fullmatch(f.marker or "")
            if marker:
                actual = (ROOT / marker.group(1)).read_text(encoding="utf-8")
                assert f.text == actual, f"{path.name}:{f.line}: the listing differs from {marker.group(1)}"


def test_readme_shows_the_ci_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M).group(1)
    readme = (ROOT / "README.md").read_text()
    assert f". .venv/bin/activate && {command}" in readme, command


COMES_WITH_CC = {"nm", "readelf", "objdump", "ldd"}  # binutils and libc: gcc's dependencies
APT_PACKAGES = {"c++": "g++", "cc": "gcc"}


def test_readme_names_what_the_tests_need() -> None:
    """Each tool a test skips without is named in README.md and installed by .ci/run (its apt-get
    line), so CI skips nothing; the C and C++ compilers are named too."""
    skipped_without = set()
    for test in (ROOT / "tests").glob("test_*.py"):
        lines = test.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if "pytest.skip(" in line:
                before = "\n".join(lines[max(0, n - 3) : n + 1])
                skipped_without |= set(re.findall(r'shutil\.which\("([^"]+)"\)', before))
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    for tool in sorted(skipped_without | {"cc", "c++"}):
        assert f"`{tool}`" in readme, f"README.md does not name `{tool}`, which the tests use"
    installed = set(" ".join(re.findall(r"apt-get install ([^\n]*)", ci)).split())
    not_installed = sorted(t for t in skipped_without - COMES_WITH_CC if APT_PACKAGES.get(t, t) not in installed)
    assert not not_installed, f".ci/run does not install {not_installed}: tests would skip in CI"


# The examples: each runs here or as a doc's sh block (with its output checked there).


def run_example(*args: str, cwd: Path) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{args[0]} failed (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_all_examples_are_tested() -> None:
    scripts = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py")}
    run_by_docs = {
        m.group(1)
        for path in DOCS
        for b in parse_doc(path).blocks
        if b.fence.lang == "sh" and b.expected is not None
        for m in re.finditer(r"python examples/(\S+\.py)", b.fence.text)
    }
    tested_here = {"ema.py", "custom_extension.py"}
    # a project, not a script: tests/test_aot_registry.py builds its wheel and runs its nodes from C
    project = {"aot_project/aotdemo/__init__.py", "aot_project/aotdemo/nodes.py"}
    assert run_by_docs == {"c_host/build_and_run.py", "c_host/containers_demo.py", "ffi_host.py"}, run_by_docs
    assert scripts == tested_here | run_by_docs | project, "test the new example here or in a doc (sh, with output)"


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


def test_examples_default_to_a_temporary_build_dir(tmp_path: Path) -> None:
    """The docs run the C host examples with a build directory; without one they use a temporary one."""
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (`cc`) on PATH; the C host example needs one (CI has it)")
    out = run_example(str(EXAMPLES / "c_host" / "build_and_run.py"), cwd=tmp_path)
    assert out.endswith(f"no tick -> no output\nruntime {numba_rt.load().version()}\n"), out
    assert not list(tmp_path.iterdir())
