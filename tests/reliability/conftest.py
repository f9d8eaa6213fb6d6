"""Fixtures for the reliability tests: every transport, and a fast emulator."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, ContextManager

import pytest

from higgsfield_client.testing import Emulator

from .support import ASYNC_TRANSPORTS, TRANSPORTS

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("bench") is None:  # the soak test imports bench.soak from the repo root
    sys.path.insert(0, str(ROOT))

FAST_JOBS = {"queue_time": 0.0, "run_time": 0.02, "timing_jitter": 0.0, "seed": 5}


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """requests, httpx (sync), aiohttp, trio under trio, the trio transport under asyncio, and
    httpx under asyncio and under trio."""
    return str(request.param)


@pytest.fixture(params=ASYNC_TRANSPORTS)
def async_transport(request: pytest.FixtureRequest) -> str:
    """The transports the AsyncClient runs on (cancellation is an async matter)."""
    return str(request.param)


@pytest.fixture
def emulator_with() -> Callable[..., ContextManager[Emulator]]:
    """``with emulator_with(slow_seconds=...) as emu:`` - an emulator with fast jobs by default."""

    def make(**options: Any) -> ContextManager[Emulator]:
        return Emulator(**{**FAST_JOBS, **options})

    return make
