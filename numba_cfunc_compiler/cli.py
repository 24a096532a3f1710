"""Command line of numba-cfunc-compiler (also installed as the ``numba-cfunc-compiler`` script).

  python -m numba_cfunc_compiler --version
  python -m numba_cfunc_compiler demo
  python -m numba_cfunc_compiler inspect module:function [name=value ...] [--ir] [--asm]
  python -m numba_cfunc_compiler cache info|clear
  python -m numba_cfunc_compiler build REGISTRY -o DIR [--name NAME] [--cpu host|generic] [--keep-going]

The help text is plain text (no reStructuredText markup): it is printed as is by ``--help``.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import sys
from typing import Any, TextIO

__all__ = ["UsageError", "build_command", "inspect_node", "main", "version_text"]


class UsageError(Exception):
    """A command-line mistake: printed as one line, exit status 2."""


_EPILOG = """\
environment:
  NCC_DUMP             print what each node compiles to, on stderr, while compiling:
                       a comma-separated list of source (the transformed Python source),
                       ir (the final LLVM IR) and asm (the assembly for this CPU), or all
  NCC_CACHE_DIR        the compile cache's directory (default: the user cache directory);
                       off disables the cache
  NCC_CACHE_MAX_BYTES  the compile cache's size bound, in bytes or with a K, M or G suffix
                       (default 256M)

C and C++ hosts: python -m numba_rt --cflags --libs prints the flags that build
against the runtime (python -m numba_rt --help lists the others).
"""


def version_text() -> str:
    """``numba-cfunc-compiler X.Y.Z (numba A, llvmlite B, runtime R)``, without importing Numba."""
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    def installed(distribution: str) -> str:
        try:
            return version(distribution)
        except PackageNotFoundError:
            return "not installed"

    try:
        import numba_rt

        runtime = numba_rt.runtime_version()
    except (ImportError, RuntimeError, OSError):
        runtime = "not built"
    return f"numba-cfunc-compiler {__version__} (numba {installed('numba')}, llvmlite {installed('llvmlite')}, runtime {runtime})"


class _VersionAction(argparse.Action):
    """``--version``: like argparse's, but the text is only computed when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: Any = None) -> None:
        print(version_text())
        parser.exit()


def _prog() -> str:
    """``numba-cfunc-compiler`` when run as the console script, else ``python -m numba_cfunc_compiler``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.endswith(".py") or name in ("", "-c"):
        return "python -m numba_cfunc_compiler"
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Compile Python node functions into native, C-callable entry points.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction,
                        help="print the versions of this package, Numba, llvmlite and the C runtime, and exit")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="compile a few example nodes, run them and print the results",
                        description="Compile a few example nodes, run them and print the results.")
    inspect = commands.add_parser(
        "inspect",
        help="compile a node with the reference host and print its source, ABI and IR statistics",
        description="Compile module:function with the reference host (numba_cfunc_compiler.host) and print "
        "the transformed source, the signature, the semantic key, the ABI and IR statistics.",
    )
    inspect.add_argument("target", help="module:function, or path/to/file.py:function")
    inspect.add_argument("constants", nargs="*", metavar="name=value", help="constant parameters (Python literals)")
    inspect.add_argument("--ir", action="store_true", help="also print the final LLVM IR")
    inspect.add_argument("--asm", action="store_true", help="also print the assembly for this CPU")
    cache = commands.add_parser(
        "cache",
        help="show or clear the persistent compile cache (NCC_CACHE_DIR)",
        description="Show where the persistent compile cache is and how big it is (info), or empty it "
        "(clear). NCC_CACHE_DIR moves it (off disables it).",
    )
    cache.add_argument("action", choices=("info", "clear"), help="info: its directory, entries and size; clear: remove every entry")
    build = commands.add_parser(
        "build",
        help="compile the nodes of a registry file into a shared library, a manifest and a C header",
        description="Compile every [[nodes]] entry of a registry file (TOML) and write lib<NAME>.so, "
        "<NAME>.json and <NAME>.h (and the runtime libnumba_rt.so) into DIR. See docs/aot.md.",
    )
    build.add_argument("registry", help="the registry file (TOML)")
    build.add_argument("-o", "--output", required=True, metavar="DIR", help="where to write the library")
    build.add_argument("--name", help="the library's name (default: the name key of the registry, else its file name)")
    build.add_argument("--cpu", choices=("generic", "host"), help="code for any CPU of this architecture "
                       "(generic, the default) or for this machine's CPU only (host)")
    build.add_argument("--keep-going", action="store_true", help="build the other entries when one fails")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo  # the demo pulls in Numba; `--help` should not

            run_demo(sys.stdout)
        elif args.command == "inspect":
            return inspect_node(args.target, args.constants, ir=args.ir, asm=args.asm, out=sys.stdout)
        elif args.command == "cache":
            return cache_command(args.action, sys.stdout)
        elif args.command == "build":
            return build_command(args.registry, args.output, name=args.name, cpu=args.cpu,
                                 keep_going=args.keep_going, out=sys.stdout)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def load_function(target: str) -> Any:
    """``module:function`` or ``path/to/file.py:function`` -> the function (the current directory
    is importable, as with ``python -m``)."""
    module_name, sep, function_name = target.rpartition(":")
    if not sep or not module_name or not function_name:
        raise UsageError(f"expected module:function, got {target!r}")
    if module_name.endswith(".py"):
        if not os.path.isfile(module_name):
            raise UsageError(f"no such file: {module_name}")
        spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(module_name))[0], module_name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            raise UsageError(f"cannot import module {module_name!r}: {exc}") from None
    obj = module
    for part in function_name.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"module {module_name!r} has no function {function_name!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"{target} is not a function")
    return obj


def parse_constants(items: list[str]) -> dict[str, Any]:
    """``["alpha=0.5", "mode='fast'"]`` -> ``{"alpha": 0.5, "mode": "fast"}`` (Python literals)."""
    constants: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"expected name=value, got {item!r}")
        try:
            constants[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise UsageError(f"constant {name}: {text!r} is not a Python literal (quote strings: {name}=\"'text'\")") from None
    return constants


def inspect_node(target: str, constants: list[str], *, ir: bool = False, asm: bool = False, out: TextIO) -> int:
    from .errors import CompilationError
    from .host import compile_node
    from .post_compilation import host_target_machine

    func = load_function(target)
    values = parse_constants(constants)
    try:
        result = compile_node(func, **values)
    except CompilationError as exc:
        print(exc, file=sys.stderr)
        return 1
    except TypeError as exc:  # a missing or unknown constant
        raise UsageError(f"{target}: {exc}") from None
    artifact = result.artifact
    print(f"# {result.qualname}  ({target})", file=out)
    print(f"native name:  {artifact.native_name}", file=out)
    print(f"semantic key: {artifact.semantic_key}", file=out)
    print(f"signature:    {artifact.signature}", file=out)
    for title, slots in (("inputs", artifact.inputs), ("outputs", artifact.outputs)):
        print(f"{title}:", file=out)
        for i, slot in enumerate(slots):
            print(f"  [{i}] {slot.name}: {slot.type} ({slot.cell})", file=out)
    print("state:", file=out)
    for i, slot in enumerate(artifact.state):
        print(f"  [{i}] {slot.name}: {slot.kind}, {slot.cell}, {slot.size} bytes, initial {slot.initial!r}", file=out)
    if artifact.adapters:  # entry adapters (numba_cfunc_compiler.entry_adapters) registered in the context
        print("adapters:", file=out)
        for adapter in artifact.adapters:
            params = ", ".join(f"{p['name']}: {p['type']}" for p in adapter["params"])
            print(f"  {adapter['name']}: {adapter['restype']} {adapter['symbol']}({params})", file=out)
    print("ir:", file=out)
    for name, value in ir_statistics(artifact.llvm_ir).items():
        print(f"  {name}: {value}", file=out)
    print("imports: " + (", ".join(artifact.imports) or "none"), file=out)
    print("\n# transformed source", file=out)
    print(result.transformed_source, file=out)
    if ir:
        print("\n# LLVM IR", file=out)
        print(artifact.llvm_ir, file=out)
    if asm:
        import llvmlite.binding as llvm

        print("\n# assembly (as the process JIT runs it)", file=out)
        print(host_target_machine(jit=True).emit_assembly(llvm.parse_assembly(artifact.llvm_ir)), file=out)
    return 0


def ir_statistics(llvm_ir: str) -> dict[str, int]:
    """Counts of defined functions, basic blocks, instructions and calls in an IR module."""
    import llvmlite.binding as llvm

    module = llvm.parse_assembly(llvm_ir)
    functions = [f for f in module.functions if not f.is_declaration]
    blocks = [b for f in functions for b in f.blocks]
    instructions = [i for b in blocks for i in b.instructions]
    return {
        "functions": len(functions),
        "basic blocks": len(blocks),
        "instructions": len(instructions),
        "calls": sum(1 for i in instructions if i.opcode == "call"),
        "bytes of IR": len(llvm_ir),
    }


def cache_command(action: str, out: TextIO) -> int:
    from .targets.cache import CompileCache

    cache = CompileCache.from_environment(toolchain="")
    if cache is None:
        print("the compile cache is disabled (NCC_CACHE_DIR=off)", file=out)
        return 0
    if action == "clear":
        removed = cache.clear()
        print(f"removed {removed} {'entry' if removed == 1 else 'entries'} from {cache.directory}", file=out)
        return 0
    info = cache.info()
    print(f"directory: {info.directory}", file=out)
    print(f"entries:   {info.entries}", file=out)
    print(f"size:      {info.total_bytes / 2**10:.0f} KiB of {info.max_bytes / 2**20:.0f} MiB", file=out)
    return 0


def build_command(registry: str, output: str, *, name: str | None, cpu: str | None, keep_going: bool, out: TextIO) -> int:
    """``build``: one progress line per entry, a summary and the files written. Exit status 0 when
    every entry built, 1 when one failed, 2 (UsageError) when the registry cannot be read."""
    from .aot import LibraryError
    from .targets.registry import RegistryEntryError, RegistryError, build_registry, load_registry

    try:
        loaded = load_registry(registry)
    except RegistryError as exc:
        raise UsageError(str(exc)) from None

    def progress(entry, total, outcome) -> None:
        if outcome is None:
            print(f"[{entry.index}/{total}] {entry.function} ... ", end="", file=out, flush=True)
        elif outcome.ok:
            print(f"ok ({outcome.native_name}, {outcome.seconds * 1000:.0f} ms)", file=out, flush=True)
        else:
            first, *rest = outcome.error.reason.splitlines()
            print(f"FAILED: {first}", file=out)
            for line in rest:
                print(f"    {line}", file=out)
            out.flush()

    try:
        report = build_registry(loaded, output, name=name, cpu=cpu, keep_going=keep_going, progress=progress)
    except RegistryEntryError as exc:
        print(f"stopped: {_entry_label(exc.entry)} failed; nothing written (--keep-going builds the other entries)",
              file=out)
        return 1
    except RegistryError as exc:  # a bad --name
        raise UsageError(str(exc)) from None
    except (LibraryError, OSError) as exc:  # linking or writing the library failed (no C compiler, ...)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    failed = report.failures
    total = len(loaded.entries)
    summary = f"built {len(report.built)} of {total} {'entry' if total == 1 else 'entries'}"
    print(summary + (f", {len(failed)} failed:" if failed else ""), file=out)
    for outcome in failed:
        print(f"  {_entry_label(outcome.entry)}", file=out)
    if report.files is None:
        print("nothing written", file=out)
        return 1
    files = report.files
    print(f"wrote library {report.name!r} (cpu {report.cpu}):", file=out)
    for path in (files.library, files.manifest, files.header, files.runtime):
        print(f"  {path}", file=out)
    return 1 if failed else 0


def _entry_label(entry: Any) -> str:
    """``entry 2 (nodes:bad) at nodes.toml:9``."""
    at = f" at {entry.path}:{entry.line}" if entry.line else f" in {entry.path}"
    return f"entry {entry.index} ({entry.function}){at}"
