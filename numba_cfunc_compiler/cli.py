"""Command line: ``python -m numba_cfunc_compiler demo``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m numba_cfunc_compiler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="compile a few example nodes, run them and print the results")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo  # the demo pulls in Numba; `--help` should not

        run_demo(sys.stdout)
    return 0
