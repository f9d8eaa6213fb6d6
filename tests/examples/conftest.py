"""Running the scripts of examples/ against the emulator, polling fast."""

from __future__ import annotations

import functools
import runpy
from pathlib import Path
from typing import Any, Callable, Dict

import pytest

import higgsfield_client._async
import higgsfield_client._sync
from higgsfield_client import PollPolicy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients made without ``poll=`` poll every 0.05 s instead of the 2 s the API asks for."""
    fast = functools.partial(PollPolicy, initial_delay=0.05, max_delay=0.05)
    monkeypatch.setattr(higgsfield_client._sync, "PollPolicy", fast)
    monkeypatch.setattr(higgsfield_client._async, "PollPolicy", fast)


@pytest.fixture
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The examples write to ./outputs: run them in a fresh folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load(name: str) -> Dict[str, Any]:
    """The globals of ``examples/<name>.py``, run as a module (its ``main()`` not called)."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def main_of(name: str) -> Callable[[], None]:
    main: Callable[[], None] = load(name)["main"]
    return main
