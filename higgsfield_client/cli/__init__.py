"""The ``higgsfield-sansio`` command line: ``main(argv)`` parses it, runs a subcommand and returns its
exit code."""

from ._main import main

__all__ = ["main"]
