"""The httpx transports' own behaviour: a caller's client and its settings, credentials a client
carries, options refused next to a client, the facts of a failure with and without httpcore's
trace, and query strings kept out of httpx's log lines (binding to one run is tested with the
trio transport's, in test_transport_lifecycle)."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable, Dict, List, Tuple

import httpx
import pytest
from _transport_servers import Servers
from _transport_support import Driver, request_with

from higgsfield_proto._http import FailureKind, Response, StreamedBody, TransportFailure
from higgsfield_transports.httpx import AsyncHttpxTransport, HttpxTransport, _Trace

# (transport kind, event-loop library): the sync transport over an httpx.Client, the async one
# over an httpx.AsyncClient under asyncio and under trio.
CLIENT_FLAVORS = [
    pytest.param(("httpx", "asyncio"), id="httpx"),
    pytest.param(("httpx-async", "asyncio"), id="httpx-asyncio"),
    pytest.param(("httpx-async", "trio"), id="httpx-trio"),
]


def driver_over(kind: str, client: Any) -> Driver:
    """A driver of the httpx transport of ``kind`` over the caller's ``client``; the client is
    closed after the transport."""
    if kind == "httpx":
        return Driver(HttpxTransport(client), blocking=True, session=client)
    return Driver(AsyncHttpxTransport(client), blocking=False)


def client_of(kind: str, **options: Any) -> Any:
    return httpx.Client(**options) if kind == "httpx" else httpx.AsyncClient(**options)


async def close(driver: Driver, client: Any) -> None:
    await driver.close()
    if isinstance(client, httpx.AsyncClient):
        await client.aclose()


def echoed(outcome: Any) -> Dict[str, Any]:
    assert isinstance(outcome, Response), outcome
    assert outcome.status == 200, outcome
    data: Dict[str, Any] = json.loads(outcome.body)
    return data


def values_of(echo: Dict[str, Any], name: str) -> List[str]:
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


# --- options next to a caller's client -------------------------------------------------------


@pytest.mark.parametrize("transport", [HttpxTransport, AsyncHttpxTransport])
@pytest.mark.parametrize(
    "option",
    [{"timeout": 5.0}, {"timeout": None}, {"connect_timeout": 1.0}, {"verify": False}, {"proxy": None},
     {"trust_env": False}],
    ids=["timeout", "timeout-none", "connect_timeout", "verify", "proxy", "trust_env"],
)
def test_an_option_next_to_a_callers_client_is_refused_not_dropped(
    transport: Any, option: Dict[str, Any]
) -> None:
    client = httpx.Client() if transport is HttpxTransport else httpx.AsyncClient()
    (name,) = option
    with pytest.raises(ValueError, match=f"{name}= cannot apply to an httpx client you pass"):
        transport(client, **option)
    # max_response_bytes is the transport's own limit: it applies to a caller's client too.
    assert repr(transport(client, max_response_bytes=10)) == f"<{transport.__name__} caller's client>"


def test_an_invalid_proxy_is_refused_when_the_transport_is_made() -> None:
    with pytest.raises(ValueError, match="proxy"):
        HttpxTransport(proxy="ftp://127.0.0.1:21")


# --- a caller's client: its settings apply, its credentials never ---------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", CLIENT_FLAVORS, indirect=True)
async def test_a_callers_client_keeps_its_headers_proxy_and_event_hooks(
    servers: Servers, flavor: Tuple[str, str]
) -> None:
    seen: List[str] = []

    def hook(message: Any) -> None:
        seen.append(type(message).__name__)

    async def async_hook(message: Any) -> None:
        hook(message)

    chosen: Callable[[Any], Any] = hook if flavor[0] == "httpx" else async_hook
    client = client_of(
        flavor[0],
        headers={"X-Team": "render-farm"},
        proxy=servers.proxy.url,
        follow_redirects=True,  # the transport never follows one, whatever the client says
        event_hooks={"request": [chosen], "response": [chosen]},
    )
    driver = driver_over(flavor[0], client)
    try:
        echo = echoed(await driver.send(request_with(servers.web.http_url + "/echo")))
        assert values_of(echo, "X-Team") == ["render-farm"]
        assert [target for _, target, _ in servers.proxy.seen] == [servers.web.http_url + "/echo"]
        assert seen == ["Request", "Response"]
        redirect = await driver.send(request_with(servers.web.http_url + "/redirect"))
        assert isinstance(redirect, Response)
        assert redirect.status == 302
    finally:
        await close(driver, client)


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", CLIENT_FLAVORS, indirect=True)
@pytest.mark.parametrize(
    "credentials",
    [{"auth": ("client-user", "client-secret")}, {"headers": {"Authorization": "Bearer client-secret"}}],
    ids=["client-auth", "default-header"],
)
async def test_a_callers_credentials_reach_no_host(
    servers: Servers, flavor: Tuple[str, str], credentials: Dict[str, Any]
) -> None:
    client = client_of(flavor[0], **credentials)
    driver = driver_over(flavor[0], client)
    api = servers.web.http_url + "/echo"
    # The same server under another host name: as the presigned upload host is to the API.
    other = api.replace("127.0.0.1", "localhost")
    try:
        mine = request_with(api, "GET", (("Authorization", "Key mine:secret"),))
        assert values_of(echoed(await driver.send(mine)), "Authorization") == ["Key mine:secret"]
        upload = request_with(other, "PUT", body=b"x")
        assert values_of(echoed(await driver.send(upload)), "Authorization") == []
        assert values_of(echoed(await driver.send(request_with(api))), "Authorization") == []
        in_url = api.replace("http://", "http://url-user:url-secret@")
        assert values_of(echoed(await driver.send(request_with(in_url))), "Authorization") == []
        assert "client-secret" not in repr(driver.transport)
    finally:
        await close(driver, client)


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", CLIENT_FLAVORS, indirect=True)
async def test_a_callers_cookies_are_kept_and_the_transports_own_client_keeps_none(
    servers: Servers, flavor: Tuple[str, str]
) -> None:
    client = client_of(flavor[0], cookies={"team": "render"})
    driver = driver_over(flavor[0], client)
    own = driver_over(flavor[0], None)
    try:
        echo = echoed(await driver.send(request_with(servers.web.http_url + "/echo")))
        assert values_of(echo, "Cookie") == ["team=render"]
        # /fixed sets two cookies: the transport's own client sends none back.
        assert isinstance(await own.send(request_with(servers.web.http_url + "/fixed")), Response)
        assert values_of(echoed(await own.send(request_with(servers.web.http_url + "/echo"))), "Cookie") == []
    finally:
        await own.close()
        await close(driver, client)


# --- the facts of a failure -------------------------------------------------------------------


def raising(error: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


@pytest.mark.parametrize(
    ("error", "kind", "written"),
    [
        (httpx.ConnectError("refused"), FailureKind.CONNECT, False),
        (httpx.ConnectTimeout("slow"), FailureKind.CONNECT, False),
        (httpx.PoolTimeout("full"), FailureKind.TIMEOUT, False),
        (httpx.ReadTimeout("slow"), FailureKind.TIMEOUT, True),
        (httpx.RemoteProtocolError("gone"), FailureKind.READ, True),
        (httpx.WriteError("broken pipe"), FailureKind.READ, True),
    ],
)
def test_a_transport_that_is_not_httpcores_gives_the_facts_the_exception_can_tell(
    error: Exception, kind: FailureKind, written: bool
) -> None:
    # A mount of the caller's own (here httpx's MockTransport) reports no step of the exchange:
    # nothing is known of the connection, and a failure after connecting may have written it.
    with httpx.Client(transport=raising(error)) as client:
        outcome = HttpxTransport(client).send(request_with("http://127.0.0.1:9/echo", "POST", body=b"{}"))
    assert isinstance(outcome, TransportFailure), outcome
    assert (outcome.kind, outcome.request_written) == (kind, written)
    assert outcome.reused_connection is None
    assert outcome.response_started is False


def test_an_answer_from_a_transport_that_is_not_httpcores_is_read_and_sized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 100, headers={"X-Seen": request.method})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        answer = HttpxTransport(client).send(request_with("http://127.0.0.1:9/"))
        assert isinstance(answer, Response)
        assert (answer.body, answer.header("X-Seen")) == (b"x" * 100, "GET")
        too_large = HttpxTransport(client, max_response_bytes=10).send(request_with("http://127.0.0.1:9/"))
    assert isinstance(too_large, TransportFailure)
    assert too_large.kind is FailureKind.TOO_LARGE
    # An answer arrived: the request went out, traced or not.
    assert (too_large.request_written, too_large.response_started) == (True, True)


def test_an_event_hooks_own_exception_propagates_unchanged(servers: Servers) -> None:
    def refuse(response: httpx.Response) -> None:
        response.raise_for_status()  # a caller's hook, raising for a 404

    with httpx.Client(event_hooks={"response": [refuse]}) as client:
        with pytest.raises(httpx.HTTPStatusError):
            HttpxTransport(client).send(request_with(servers.web.http_url + "/status/404"))
        # and the connection of that exchange was closed, not left half read
        assert isinstance(HttpxTransport(client).send(request_with(servers.web.http_url + "/echo")), Response)


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", CLIENT_FLAVORS, indirect=True)
async def test_a_tunnel_the_proxy_cannot_open_left_nothing_written(
    servers: Servers, flavor: Tuple[str, str], closed_port: int
) -> None:
    # The proxy reads the CONNECT, fails to reach the port and hangs up: the CONNECT went out,
    # but it is the tunnel's, not the request's.
    transport = HttpxTransport if flavor[0] == "httpx" else AsyncHttpxTransport
    driver = Driver(transport(proxy=servers.proxy.url), blocking=flavor[0] == "httpx")
    try:
        body = StreamedBody(open=lambda: iter([b"never read"]), length=10)
        outcome = await driver.send(request_with(f"https://127.0.0.1:{closed_port}/", "POST", body=body))
    finally:
        await driver.close()
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.CONNECT
    assert (outcome.request_written, outcome.reused_connection) == (False, False)
    assert [method for method, _, _ in servers.proxy.seen] == ["CONNECT"]


# --- logs -----------------------------------------------------------------------------------


def test_httpx_log_lines_carry_no_query_string(servers: Servers, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with HttpxTransport() as transport:
        url = servers.web.http_url + "/echo?X-Amz-Signature=s3cr3t-signature"
        assert isinstance(transport.send(request_with(url)), Response)
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx"]
    assert any("/echo?..." in line for line in lines), lines  # httpx's INFO line, redacted
    assert "s3cr3t-signature" not in caplog.text


@pytest.mark.parametrize(("method", "written"), [("GET", False), ("CONNECT", True)])
def test_a_connect_while_connecting_is_the_tunnels_unless_the_request_is_a_connect(
    method: str, written: bool
) -> None:
    # The steps httpcore reports for a new connection whose first head out is a CONNECT: a proxy
    # tunnel's for any other request, the request itself for a CONNECT.
    class Head:
        method = b"CONNECT"

    trace = _Trace(method)
    trace("connection.connect_tcp.started", {})
    trace("connection.connect_tcp.complete", {})
    trace("http11.send_request_headers.started", {"request": Head()})
    assert trace.progress.request_written is written
    assert trace.progress.reused_connection is False


@pytest.mark.anyio
@pytest.mark.parametrize("flavor", CLIENT_FLAVORS, indirect=True)
async def test_a_proxy_from_the_environment_httpx_cannot_use_is_a_connect_failure(
    servers: Servers, flavor: Tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "ftp://127.0.0.1:21")
    transport = HttpxTransport if flavor[0] == "httpx" else AsyncHttpxTransport
    driver = Driver(transport(), blocking=flavor[0] == "httpx")
    try:
        outcome = await driver.send(request_with(servers.web.http_url + "/echo"))
    finally:
        await driver.close()
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.CONNECT
    assert outcome.request_written is False
