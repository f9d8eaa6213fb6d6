"""What the transport tests share besides fixtures: the flavors, the driver, request building."""

from __future__ import annotations

import functools
import ssl
from typing import Any, Callable, Optional, Tuple

import anyio
import anyio.to_thread
import pytest

from higgsfield_proto._http import Body, Outcome, Request, Response
from higgsfield_transports.requests import _close_pools as close_pools

# (transport, event-loop library)
FLAVORS = [
    pytest.param(("requests", "asyncio"), id="requests"),
    # The requests transport over a caller's session, which goes through Session.request (its
    # own session sends through the adapter's pool directly).
    pytest.param(("requests-session", "asyncio"), id="requests-session"),
    pytest.param(("aiohttp", "asyncio"), id="aiohttp"),
    pytest.param(("h11", "asyncio"), id="h11-asyncio"),
    pytest.param(("h11", "trio"), id="h11-trio"),
    pytest.param(("httpx-async", "asyncio"), id="httpx-asyncio"),
    pytest.param(("httpx-async", "trio"), id="httpx-trio"),
    pytest.param(("httpx", "asyncio"), id="httpx"),
    # The sync httpx transport over a caller's httpx.Client, built with the options the way a
    # caller would set them on the client (the transport refuses them next to a client).
    pytest.param(("httpx-client", "asyncio"), id="httpx-client"),
]
REQUESTS_FLAVORS = FLAVORS[:2]
ASYNC_FLAVORS = FLAVORS[2:7]
H11_FLAVORS = FLAVORS[3:5]
BLOCKING = ("requests", "requests-session", "httpx", "httpx-client")
# The flavors whose transport takes verify=False itself (and so warns): a caller's httpx client
# carries its own verify, which the transport refuses next to it.
VERIFY_FLAVORS = FLAVORS[:-1]


class Driver:
    """One transport behind an async face; the blocking one runs in a worker thread."""

    def __init__(self, transport: Any, blocking: bool, session: Any = None) -> None:
        self.transport = transport
        self.blocking = blocking
        self.session = session  # a caller's requests session or httpx client, closed after the transport

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
        if self.session is not None and hasattr(self.session, "adapters"):
            # As a careful caller closes a session: Session.close() only drops urllib3 2's pools,
            # which close their idle connections when collected, and a reference cycle can put
            # that off (on Python 3.10, contextlib keeps the traceback of a body read cut short).
            for adapter in self.session.adapters.values():
                close_pools(adapter)
            self.session.close()
        elif self.session is not None:
            self.session.close()  # a caller's httpx.Client


Make = Callable[..., Driver]


def request_with(
    url: str, method: str = "GET", headers: Tuple[Tuple[str, str], ...] = (), body: Body = None
) -> Request:
    return Request(method=method, url=url, headers=headers, body=body)


def build_driver(kind: str, **options: Any) -> Driver:
    """A driver of a transport of ``kind`` built with ``options``.

    For ``requests-session`` the options a session carries itself go to a caller's
    ``requests.Session`` the way a caller would set them: ``trust_env`` on the session, and an
    ``ssl.SSLContext`` in an adapter mounted for https.
    """
    if kind == "httpx-client":
        return httpx_client_driver(**options)
    if kind != "requests-session":
        return Driver(build_transport(kind, **options), blocking=kind in BLOCKING)
    import requests

    from higgsfield_transports.requests import _ContextAdapter

    session = requests.Session()
    session.trust_env = options.get("trust_env", True)
    if isinstance(options.get("verify"), ssl.SSLContext):
        session.mount("https://", _ContextAdapter(options.pop("verify")))
    return Driver(build_transport("requests", session=session, **options), blocking=True, session=session)


def httpx_client_driver(
    *,
    timeout: Optional[float] = 90.0,
    connect_timeout: float = 10.0,
    verify: Any = True,
    proxy: Optional[str] = None,
    trust_env: bool = True,
    **options: Any,
) -> Driver:
    """The sync httpx transport over a caller's ``httpx.Client`` that carries these settings."""
    import httpx

    from higgsfield_transports._checks import ssl_context_for

    client = httpx.Client(
        timeout=httpx.Timeout(connect=connect_timeout, read=timeout, write=timeout, pool=None),
        verify=ssl_context_for(verify) if verify is not True else True,
        proxy=proxy,
        trust_env=trust_env,
    )
    return Driver(build_transport("httpx", client=client, **options), blocking=True, session=client)


def build_transport(kind: str, **options: Any) -> Any:
    if kind == "requests":
        from higgsfield_transports.requests import RequestsTransport

        return RequestsTransport(**options)
    if kind == "aiohttp":
        from higgsfield_transports.aiohttp import AiohttpTransport

        return AiohttpTransport(**options)
    if kind == "httpx":
        from higgsfield_transports.httpx import HttpxTransport

        return HttpxTransport(**options)
    if kind == "httpx-async":
        from higgsfield_transports.httpx import AsyncHttpxTransport

        return AsyncHttpxTransport(**options)
    from higgsfield_transports.trio import TrioTransport

    return TrioTransport(**options)
