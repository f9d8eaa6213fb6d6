"""Ownership and lifetime: sessions passed in, closing, event-loop binding, credentials that
must not leak from a session, reprs, options, and the package's import surface."""

from __future__ import annotations

import asyncio
import gc
import json
import ssl
import subprocess
import sys
import time
import warnings
from typing import Any, Dict, List, Tuple

import aiohttp
import anyio
import httpx
import pytest
import requests
import trio
from _transport_servers import Servers
from _transport_support import BLOCKING, Driver, Make, build_transport, request_with

from higgsfield_proto._http import Response
from higgsfield_transports import AsyncTransport, SyncTransport
from higgsfield_transports.aiohttp import AiohttpTransport
from higgsfield_transports.httpx import AsyncHttpxTransport, HttpxTransport
from higgsfield_transports.requests import RequestsTransport
from higgsfield_transports.trio import TrioTransport

SESSION_FLAVORS = [
    pytest.param(("requests", "asyncio"), id="requests"),
    pytest.param(("aiohttp", "asyncio"), id="aiohttp"),
    pytest.param(("httpx", "asyncio"), id="httpx"),
    pytest.param(("httpx-async", "asyncio"), id="httpx-asyncio"),
    pytest.param(("httpx-async", "trio"), id="httpx-trio"),
]


async def wait_for(condition: Any, seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await anyio.sleep(0.02)


def authorization_values(outcome: Any) -> List[str]:
    assert isinstance(outcome, Response), outcome
    headers = json.loads(outcome.body)["headers"]
    return [value for name, value in headers if name.lower() == "authorization"]


def session_for(kind: str, **options: Any) -> Any:
    """A caller's session (requests, aiohttp) or client (httpx) with ``options``."""
    if kind == "httpx":
        return httpx.Client(**options)
    if kind == "httpx-async":
        return httpx.AsyncClient(**options)
    if kind == "requests":
        session = requests.Session()
        for name, value in options.items():
            if name == "headers":
                session.headers.update(value)
            else:
                setattr(session, name, value)
        return session
    if "auth" in options:
        options["auth"] = aiohttp.BasicAuth(*options["auth"])
    return aiohttp.ClientSession(**options)


def over(kind: str, session: Any) -> Driver:
    """A driver of a transport of ``kind`` over the caller's ``session``."""
    name = "client" if kind.startswith("httpx") else "session"
    return Driver(build_transport(kind, **{name: session}), kind in BLOCKING)


async def close_session(session: Any) -> None:
    if isinstance(session, (requests.Session, httpx.Client)):
        session.close()
    elif isinstance(session, httpx.AsyncClient):
        await session.aclose()
    else:
        await session.close()


async def get_status(session: Any, url: str) -> int:
    """The status of a GET of ``url`` by the session's owner, with the session itself."""
    if isinstance(session, requests.Session):
        return session.get(url, timeout=5).status_code
    if isinstance(session, httpx.Client):
        return session.get(url).status_code
    if isinstance(session, httpx.AsyncClient):
        return (await session.get(url)).status_code
    async with session.get(url) as response:
        status: int = response.status
        return status


# --- closing -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_close_closes_the_transports_own_connections(make: Make, servers: Servers) -> None:
    live = servers.raw.live
    driver = make()
    assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)
    await wait_for(lambda: servers.raw.live == live + 1)
    await driver.close()
    await wait_for(lambda: servers.raw.live == live)
    with pytest.raises(RuntimeError, match="closed"):
        await driver.send(request_with(servers.raw.url + "/ok"))


def test_requests_transport_close_closes_connections_of_a_pool_still_referenced(servers: Servers) -> None:
    # urllib3 2 closes the connections of a pool that Session.close() dropped only when the pool
    # is collected, and something may still hold it: on Python 3.12+ the traceback of a read
    # that timed out does, in a reference cycle. Here the test holds it.
    url = servers.raw.url + "/ok"
    live = servers.raw.live
    transport = RequestsTransport()
    assert isinstance(transport.send(request_with(url)), Response)
    pools = transport._session.get_adapter(url).poolmanager.pools
    held = [pools.get(key) for key in pools.keys()]  # noqa: SIM118 (the container refuses iteration)
    assert held
    assert servers.raw.live == live + 1
    transport.close()
    deadline = time.monotonic() + 3
    while servers.raw.live != live:
        assert time.monotonic() < deadline, "the pooled connection is still open"
        time.sleep(0.02)
    del held


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", SESSION_FLAVORS, indirect=True)
async def test_a_session_passed_in_stays_open_after_close(servers: Servers, flavor: Tuple[str, str]) -> None:
    session = session_for(flavor[0])
    try:
        driver = over(flavor[0], session)
        live = servers.raw.live
        assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)
        await driver.close()
        await anyio.sleep(0.2)
        assert servers.raw.live == live + 1  # its pooled connection is still open
        assert await get_status(session, servers.raw.url + "/ok") == 200  # and works for its owner
    finally:
        await close_session(session)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(("limit", "at_once"), [(1, 1), (0, 3)], ids=["one-connection", "no-limit"])
async def test_aiohttp_sends_beyond_the_connectors_limit_wait_in_the_transport(
    servers: Servers, limit: int, at_once: int
) -> None:
    # A send waits for a connection before aiohttp starts the request (and builds its state):
    # with one connection, three slow sends start one at a time; without a limit, at once.
    started: List[str] = []

    async def on_request_start(session: Any, context: Any, params: Any) -> None:
        started.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector, trace_configs=[trace]) as session:
        transport = AiohttpTransport(session)
        outcomes: List[Any] = []

        async def send() -> None:
            outcomes.append(await transport.send(request_with(servers.web.http_url + "/slow?delay=0.4")))

        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(send)
            await anyio.sleep(0.2)
            assert len(started) == at_once
        assert len(started) == 3
        assert all(isinstance(outcome, Response) and outcome.status == 200 for outcome in outcomes)


# --- credentials never come from a session --------------------------------------------------


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")  # aiohttp's session auth
@pytest.mark.parametrize("flavor", SESSION_FLAVORS, indirect=True)
@pytest.mark.parametrize(
    "session_options",
    [
        {"headers": {"Authorization": "Bearer session-secret"}},
        {"auth": ("session-user", "session-secret")},
    ],
    ids=["default-header", "session-auth"],
)
async def test_a_session_passed_in_never_adds_authorization(
    servers: Servers, flavor: Tuple[str, str], session_options: Dict[str, Any]
) -> None:
    session = session_for(flavor[0], **session_options)
    try:
        driver = over(flavor[0], session)
        url = servers.web.http_url + "/echo"
        assert authorization_values(await driver.send(request_with(url))) == []
        mine = request_with(url, "GET", (("Authorization", "Key mine"),))
        assert authorization_values(await driver.send(mine)) == ["Key mine"]
        assert "session-secret" not in repr(driver.transport)
    finally:
        await close_session(session)


@pytest.mark.anyio
async def test_netrc_credentials_are_never_sent(make: Make, servers: Servers, netrc_file: Any) -> None:
    outcome = await make().send(request_with(servers.web.http_url + "/echo"))
    assert authorization_values(outcome) == []


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", SESSION_FLAVORS, indirect=True)
async def test_netrc_credentials_are_never_sent_through_a_trusting_session(
    servers: Servers, flavor: Tuple[str, str], netrc_file: Any
) -> None:
    session = session_for(flavor[0], trust_env=True)
    try:
        driver = over(flavor[0], session)
        outcome = await driver.send(request_with(servers.web.http_url + "/echo"))
        assert authorization_values(outcome) == []
    finally:
        await close_session(session)


# --- event loops and runs -------------------------------------------------------------------


def test_aiohttp_transport_is_bound_to_the_loop_of_its_first_send(servers: Servers) -> None:
    transport = AiohttpTransport()  # no running loop needed
    assert transport.loop is None
    assert transport.is_usable()

    async def first() -> None:
        assert transport.is_usable()
        assert isinstance(await transport.send(request_with(servers.web.http_url + "/echo")), Response)
        assert transport.loop is asyncio.get_running_loop()
        assert transport.is_usable()

    async def second() -> None:
        assert not transport.is_usable()
        with pytest.raises(RuntimeError, match="another event loop"):
            await transport.send(request_with(servers.web.http_url + "/echo"))
        await transport.aclose()  # from another loop, once the first one is closed

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Unclosed client session" would fail the test
        # The sockets of a loop that closed under them can only be reclaimed by the GC.
        warnings.simplefilter("ignore", ResourceWarning)
        asyncio.run(first())
        assert not transport.is_usable()
        asyncio.run(second())
        gc.collect()


def test_aiohttp_transport_closed_on_its_loop_leaves_nothing_open(servers: Servers) -> None:
    async def use_and_close() -> None:
        transport = AiohttpTransport()
        assert isinstance(await transport.send(request_with(servers.web.http_url + "/echo")), Response)
        await transport.aclose()
        assert not transport.is_usable()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asyncio.run(use_and_close())
        gc.collect()


@pytest.mark.parametrize("transport", [TrioTransport, AsyncHttpxTransport])
def test_a_trio_capable_transport_is_bound_to_the_run_of_its_first_send(
    servers: Servers, transport: Any
) -> None:
    def scenario() -> None:
        bound = transport()

        async def use() -> None:
            assert bound.is_usable()
            outcome = await bound.send(request_with(servers.web.http_url + "/echo"))
            assert isinstance(outcome, Response)
            assert bound.is_usable()

        async def elsewhere() -> None:
            assert not bound.is_usable()
            with pytest.raises(RuntimeError, match="another trio run"):
                await bound.send(request_with(servers.web.http_url + "/echo"))

        trio.run(use)
        assert not bound.is_usable()  # outside any run
        asyncio.run(elsewhere())
        trio.run(elsewhere)
        trio.run(bound.aclose)  # from another run: drops the connections
        assert not bound.is_usable()

    with warnings.catch_warnings():
        # The first run's idle connection can only be dropped from a later run, not closed.
        warnings.simplefilter("ignore", ResourceWarning)
        scenario()
        gc.collect()


@pytest.mark.parametrize("transport", [TrioTransport, AsyncHttpxTransport])
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_trio_capable_transport_closed_in_its_run_leaves_nothing_open(
    servers: Servers, backend: str, transport: Any
) -> None:
    async def use_and_close() -> None:
        bound = transport()
        assert isinstance(await bound.send(request_with(servers.web.http_url + "/echo")), Response)
        await bound.aclose()
        assert not bound.is_usable()
        with pytest.raises(RuntimeError, match="closed"):
            await bound.send(request_with(servers.web.http_url + "/echo"))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        anyio.run(use_and_close, backend=backend)
        gc.collect()


# --- the package surface and options ---------------------------------------------------------


def test_transports_satisfy_the_protocols() -> None:
    sync = RequestsTransport()
    assert isinstance(sync, SyncTransport)
    assert isinstance(AiohttpTransport(), AsyncTransport)
    assert isinstance(TrioTransport(), AsyncTransport)
    assert isinstance(AsyncHttpxTransport(), AsyncTransport)
    with HttpxTransport() as httpx_sync:
        assert isinstance(httpx_sync, SyncTransport)
    sync.close()


def test_importing_the_package_imports_no_http_library() -> None:
    code = (
        "import sys, higgsfield_transports; "
        "print(sorted({'requests', 'aiohttp', 'trio', 'anyio', 'h11', 'httpx', 'httpcore'} "
        "& set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert result.stdout.strip() == "[]"


def test_httpx_is_imported_only_by_its_own_transport() -> None:
    # The core, the client (sync and async, with their default transports) and the other
    # adapters run without httpx: it is an optional extra.
    code = (
        "import sys, higgsfield_proto, higgsfield_client, higgsfield_client.testing; "
        "import higgsfield_transports.requests, higgsfield_transports.aiohttp, higgsfield_transports.trio; "
        "print(sorted({'httpx', 'httpcore', 'h2'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", ["requests", "aiohttp", "h11", "httpx", "httpx-async"])
@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"timeout": 0}, ValueError),
        ({"connect_timeout": -1}, ValueError),
        ({"max_response_bytes": -1}, ValueError),
        ({"verify": 1.5}, TypeError),
    ],
)
def test_bad_options_are_refused(kind: str, options: Dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        build_transport(kind, **options)


def test_requests_transport_refuses_a_context_for_a_session_it_does_not_own() -> None:
    session = requests.Session()
    with pytest.raises(ValueError, match="own session"):
        RequestsTransport(session, verify=ssl.create_default_context())
    session.close()


def test_trio_transport_refuses_a_proxy_it_cannot_speak_to() -> None:
    with pytest.raises(ValueError, match="http://"):
        TrioTransport(proxy="socks5://127.0.0.1:1080")
    with pytest.raises(ValueError, match="max_connections_per_host"):
        TrioTransport(max_connections_per_host=0)
