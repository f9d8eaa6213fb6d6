"""Fixtures of the MCP server's tests: an asyncio backend and an emulator for each module."""

from __future__ import annotations

from typing import Iterator

import pytest

from higgsfield_client.testing import Emulator


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0.3, run_time=0.4, seed=5) as emulator:
        yield emulator
