"""The ``higgsfield`` command."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    from .testing._cli import add_arguments

    parser = argparse.ArgumentParser(prog="higgsfield", description="Higgsfield AI from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a tour of the SDK against the embedded emulator")
    demo.add_argument("--live", action="store_true", help="use the real API with your credentials")
    demo.add_argument("--output", type=Path, default=Path("demo-output"), help="where outputs go")
    emulator = commands.add_parser("emulator", help="run a local emulator of the API")
    add_arguments(emulator)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    options = _parser().parse_args(argv)
    if options.command == "demo":
        from ._demo import run_demo

        return run_demo(live=options.live, output=options.output)
    from .testing._cli import run

    return run(options)
