"""Fixtures for the emulator's own tests: a fast emulator and a plain requests session."""

from __future__ import annotations

from typing import Any, Iterator, List

import pytest
import requests
from emu_helpers import Receiver

from higgsfield_client.testing import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(
        queue_time=0.05, run_time=0.1, seed=7, slow_seconds=0.3, agent_turn_time=0.05
    ) as emulator:
        yield emulator


@pytest.fixture
def http(emu: Emulator) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Key {emu.api_key}"
        yield session


@pytest.fixture
def receiver_factory() -> Iterator[Any]:
    made: List[Receiver] = []

    def make(failures: int = 0, stalls: int = 0, stall: float = 0.0) -> Receiver:
        receiver = Receiver(failures, stalls, stall)
        receiver.thread.start()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.server.shutdown()
        receiver.server.server_close()
