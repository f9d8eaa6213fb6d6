"""The ``higgsfield-sansio`` command run in-process against the emulator, with its output captured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, List

import pytest

from higgsfield_client.cli import main

MODEL = "higgsfield-ai/soul/standard"
FAST = ["--poll-interval", "0.05"]


@dataclass
class Ran:
    """One run of the command: its exit code and what it printed."""

    code: int
    out: str
    err: str


Run = Callable[..., Ran]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """``run("status", "ID")`` runs ``higgsfield-sansio status ID`` and returns what happened."""

    def call(*argv: Any) -> Ran:
        capsys.readouterr()
        code = main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return call


def lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line]
