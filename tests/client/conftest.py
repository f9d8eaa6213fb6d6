from __future__ import annotations

from typing import Iterator

import pytest

from higgsfield_client.testing import Emulator

from .harness import ASYNC_TRANSPORTS, TRANSPORTS, Harness


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0.1, run_time=0.15, seed=7) as emu:
        yield emu


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest, emulator: Emulator) -> Harness:
    """Every transport: requests, httpx (sync), aiohttp, trio under trio, the trio transport under
    asyncio, httpx under asyncio and under trio."""
    return Harness(transport=request.param, emulator=emulator)


@pytest.fixture(params=ASYNC_TRANSPORTS)
def async_harness(request: pytest.FixtureRequest, emulator: Emulator) -> Harness:
    """The async transports only, for behaviour that only the AsyncClient has."""
    return Harness(transport=request.param, emulator=emulator)
