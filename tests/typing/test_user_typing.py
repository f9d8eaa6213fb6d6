"""A user's code calling the documented API passes ``mypy --strict``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_user_code_passes_mypy_strict() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "tests/typing/user_code.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_typed_arguments_catch_typos_and_values_outside_the_choices() -> None:
    path = "tests/typing/wrong_arguments.py"
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--hide-error-context", path],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors: dict[int, str] = {}
    for line in checked.stdout.splitlines():
        where, _, message = line.partition(": error: ")
        errors[int(where.split(":")[1])] = message
    marked = {
        number: text.split("# wrong: ")[1]
        for number, text in enumerate((ROOT / path).read_text().splitlines(), start=1)
        if "# wrong: " in text
    }
    assert len(marked) == 4
    assert set(errors) == set(marked), checked.stdout
    for number, name in marked.items():
        assert name in errors[number], (number, errors[number])
