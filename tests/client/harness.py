"""One way to write a client test for every transport: a scenario is an async function.

The ``harness`` fixture runs it with an AsyncClient (aiohttp under asyncio, the trio transport
under trio and under asyncio, the httpx transport under asyncio and under trio) or with a
SyncClient (requests, httpx) behind a thin awaitable facade, so one test body covers every
transport against the emulator over real loopback HTTP. The httpx transports are passed to the
clients as objects (``SyncClient(transport=HttpxTransport(...))``), built with the ``timeout``,
``verify`` and ``proxy`` the scenario gave (a client refuses them next to a transport object).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List

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
ASYNC_TRANSPORTS = ["aiohttp", "trio", "trio-on-asyncio", "httpx-asyncio", "httpx-trio"]
TRANSPORTS = ["requests", "httpx", *ASYNC_TRANSPORTS]
SYNC_TRANSPORTS = ("requests", "httpx")
HTTPX_TRANSPORTS = ("httpx", "httpx-asyncio", "httpx-trio")
TRIO_TRANSPORTS = ("trio", "httpx-trio")


def httpx_transport(kind: str, options: Dict[str, Any]) -> Any:
    """An httpx transport for a client of ``kind``, built with the transport options that
    ``options`` (a client's keyword arguments) holds; they are taken out of ``options``."""
    from higgsfield_transports.httpx import AsyncHttpxTransport, HttpxTransport

    given = {name: options.pop(name) for name in ("timeout", "verify", "proxy") if name in options}
    return HttpxTransport(**given) if kind == "httpx" else AsyncHttpxTransport(**given)


async def close_transport(transport: Any) -> None:
    """Close a transport the test made for a client (the client leaves it open)."""
    if hasattr(transport, "aclose"):
        await transport.aclose()
    else:
        transport.close()


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
    made: List[Any] = field(default_factory=list)  # transports made for clients, closed by run()

    @property
    def is_async(self) -> bool:
        return self.transport not in SYNC_TRANSPORTS

    @property
    def backend(self) -> str:
        return "trio" if self.transport in TRIO_TRANSPORTS else "asyncio"

    def client(self, **options: Any) -> Any:
        """A client on the emulator (an awaitable facade for the sync one). Call inside a run."""
        options.setdefault("base_url", self.emulator.base_url)
        options.setdefault("api_key", self.emulator.api_key)
        options.setdefault("poll", FAST_POLL)
        options.setdefault("retry", FAST_RETRY)
        options.setdefault("timeout", 10.0)
        if self.transport in HTTPX_TRANSPORTS:
            options["transport"] = httpx_transport(self.transport, options)
            self.made.append(options["transport"])
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
                while self.made:
                    await close_transport(self.made.pop())

        return anyio.run(main, backend=self.backend)

    def run_plain(self, scenario: Callable[[], Awaitable[Any]]) -> Any:
        """Run a scenario that builds its own clients, on this harness's backend."""
        return anyio.run(scenario, backend=self.backend)
