"""What the transport tests share besides fixtures: the flavors, the driver, request building."""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Tuple

import anyio
import anyio.to_thread
import pytest

from higgsfield_proto._http import Body, Outcome, Request, Response

# (transport, event-loop library)
FLAVORS = [
    pytest.param(("requests", "asyncio"), id="requests"),
    pytest.param(("aiohttp", "asyncio"), id="aiohttp"),
    pytest.param(("h11", "asyncio"), id="h11-asyncio"),
    pytest.param(("h11", "trio"), id="h11-trio"),
]
ASYNC_FLAVORS = FLAVORS[1:]
H11_FLAVORS = FLAVORS[2:]


class Driver:
    """One transport behind an async face; the blocking one runs in a worker thread."""

    def __init__(self, transport: Any, blocking: bool) -> None:
        self.transport = transport
        self.blocking = blocking

    async def send(self, request: Request) -> Outcome:
        if self.blocking:
            outcome: Outcome = await anyio.to_thread.run_sync(self.transport.send, request)
            return outcome
        result: Outcome = await self.transport.send(request)
        return result

    async def stream(
        self,
        request: Request,
        sink: Callable[[bytes], object],
        head: Optional[Callable[[Response], object]] = None,
    ) -> Outcome:
        if self.blocking:
            call = functools.partial(self.transport.stream, request, sink, head=head)
            outcome: Outcome = await anyio.to_thread.run_sync(call)
            return outcome
        result: Outcome = await self.transport.stream(request, sink, head=head)
        return result

    async def close(self) -> None:
        if self.blocking:
            await anyio.to_thread.run_sync(self.transport.close)
        else:
            await self.transport.aclose()


Make = Callable[..., Driver]


def request_with(
    url: str, method: str = "GET", headers: Tuple[Tuple[str, str], ...] = (), body: Body = None
) -> Request:
    return Request(method=method, url=url, headers=headers, body=body)


def build_transport(kind: str, **options: Any) -> Any:
    if kind == "requests":
        from higgsfield_transports.requests import RequestsTransport

        return RequestsTransport(**options)
    if kind == "aiohttp":
        from higgsfield_transports.aiohttp import AiohttpTransport

        return AiohttpTransport(**options)
    from higgsfield_transports.trio import TrioTransport

    return TrioTransport(**options)
