"""One way to write a client test for every transport: a scenario is an async function.

The ``harness`` fixture runs it with an AsyncClient (aiohttp under asyncio, the trio transport
under trio and under asyncio) or with a SyncClient (requests) behind a thin awaitable facade, so
one test body covers all four transports against the emulator over real loopback HTTP.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator

import anyio

from higgsfield_client import (
    AsyncClient,
    PollPolicy,
    RetryPolicy,
    SyncClient,
    SyncRequestController,
)
from higgsfield_client.testing import Emulator

FAST_POLL = PollPolicy(initial_delay=0.05, multiplier=1.5, max_delay=0.1)
FAST_RETRY = RetryPolicy(max_attempts=4, backoff_base=0.02, backoff_cap=0.1, max_retry_after=2.0)
ASYNC_TRANSPORTS = ["aiohttp", "trio", "trio-on-asyncio"]
TRANSPORTS = ["requests", *ASYNC_TRANSPORTS]


async def _aiter(iterator: Iterator[Any]) -> AsyncIterator[Any]:
    for item in iterator:
        yield item


class SyncFacade:
    """Makes a SyncClient (or controller) awaitable, so scenarios are written once."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if type(attribute).__module__ == "higgsfield_client.agents.resources":
            return SyncFacade(attribute)  # client.agents, .sessions, .media
        if not callable(attribute) or name == "budget":  # budget() is a plain method on both
            return attribute
        if name == "poll_request_status":
            return lambda *a, **k: _aiter(attribute(*a, **k))

        @functools.wraps(attribute)
        async def call(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            return SyncFacade(result) if isinstance(result, SyncRequestController) else result

        return call

    async def aclose(self) -> None:
        self._target.close()


@dataclass
class Harness:
    """Runs scenarios against ``emulator`` with one transport."""

    transport: str
    emulator: Emulator

    @property
    def is_async(self) -> bool:
        return self.transport != "requests"

    @property
    def backend(self) -> str:
        return "trio" if self.transport == "trio" else "asyncio"

    def client(self, **options: Any) -> Any:
        """A client on the emulator (an awaitable facade for the sync one). Call inside a run."""
        options.setdefault("base_url", self.emulator.base_url)
        options.setdefault("api_key", self.emulator.api_key)
        options.setdefault("poll", FAST_POLL)
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeout", 10.0)
        if not self.is_async:
            return SyncFacade(SyncClient(**options))
        options.setdefault("transport", "aiohttp" if self.transport == "aiohttp" else "trio")
        return AsyncClient(**options)

    def run(self, scenario: Callable[..., Awaitable[Any]], **options: Any) -> Any:
        """Run ``scenario(client)`` on this harness's backend and close the client afterwards."""

        async def main() -> Any:
            client = self.client(**options)
            try:
                return await scenario(client)
            finally:
                await client.aclose()

        return anyio.run(main, backend=self.backend)

    def run_plain(self, scenario: Callable[[], Awaitable[Any]]) -> Any:
        """Run a scenario that builds its own clients, on this harness's backend."""
        return anyio.run(scenario, backend=self.backend)
