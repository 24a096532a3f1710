"""``python -m numba_rt``: the flags and paths a C or C++ build needs to use the runtime.

  cc prog.c $(python -m numba_rt --cflags --libs)
  PKG_CONFIG_PATH=$(python -m numba_rt --pkgconfig-path) pkg-config --cflags --libs numba_rt

Like everything in numba_rt, this needs neither Numba nor numba_cfunc_compiler.
"""

from __future__ import annotations

import argparse
import sys

import numba_rt

__all__ = ["main"]

_EPILOG = """\
Options can be combined. --cflags and --libs print one line (like pkg-config),
after the other values, which print one line each in the order listed above.

examples:
  cc prog.c $(python -m numba_rt --cflags --libs) -o prog
  PKG_CONFIG_PATH=$(python -m numba_rt --pkgconfig-path) pkg-config --cflags --libs numba_rt
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m numba_rt",
        description="Print the compiler and linker flags, paths and version of the numba_rt C runtime\n"
        "(libnumba_rt and its header ncc_runtime.h).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="store_true", help="the runtime's version, as the library reports it")
    parser.add_argument("--include-dir", action="store_true", help="the directory holding ncc_runtime.h")
    parser.add_argument("--library-path", action="store_true", help="the path of the shared library")
    parser.add_argument("--pkgconfig-path", action="store_true",
                        help="write numba_rt.pc for this installation and print its directory (for PKG_CONFIG_PATH)")
    parser.add_argument("--pkgconfig", action="store_true",
                        help="print the text of numba_rt.pc (to write the file elsewhere yourself)")
    parser.add_argument("--cflags", action="store_true", help="the compiler flags: -I<include dir>")
    parser.add_argument("--libs", action="store_true",
                        help="the linker flags: -L<dir> -lnumba_rt -Wl,-rpath,<dir>")
    args = parser.parse_args(argv)
    wanted = [name for name in ("version", "include_dir", "library_path", "pkgconfig_path", "pkgconfig",
                                "cflags", "libs") if getattr(args, name)]
    if not wanted:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: nothing to print; try --cflags --libs (--help lists every option)", file=sys.stderr)
        return 2
    try:
        lines = []
        if args.version:
            lines.append(numba_rt.runtime_version())
        if args.include_dir:
            lines.append(numba_rt.include_dir())
        if args.library_path:
            lines.append(numba_rt.library_path())
        if args.pkgconfig_path:
            lines.append(numba_rt.pkgconfig_path())
        if args.pkgconfig:
            lines.append(numba_rt.pkgconfig().rstrip("\n"))
        flags = [f() for wanted_flag, f in ((args.cflags, numba_rt.cflags), (args.libs, numba_rt.libs)) if wanted_flag]
        if flags:
            lines.append(" ".join(flags))
    except (RuntimeError, OSError) as exc:  # the library was not built, the cache is not writable
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
