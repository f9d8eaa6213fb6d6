"""The h11 transport's own behaviour, under asyncio and under trio: its framing, its per-host
connection limit, its proxy checks, and idle connections found dead before use."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import anyio
import pytest
from _transport_servers import Servers
from _transport_support import H11_FLAVORS, Make, request_with

from higgsfield_proto._http import FailureKind, Outcome, Response, StreamedBody, TransportFailure

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("flavor", H11_FLAVORS, indirect=True)]


def answer(outcome: Outcome) -> Dict[str, Any]:
    assert isinstance(outcome, Response), outcome
    data: Dict[str, Any] = json.loads(outcome.body)
    return data


async def test_post_without_body_sends_content_length_zero(make: Make, servers: Servers) -> None:
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "POST")))
    assert echo["headers"][1:] == [["Content-Length", "0"]]


@pytest.mark.parametrize(("limit", "connections"), [(1, 1), (2, 2)])
async def test_connections_per_host_are_limited(
    make: Make, servers: Servers, limit: int, connections: int
) -> None:
    driver = make(max_connections_per_host=limit)
    peers = []

    async def one() -> None:
        outcome = await driver.send(request_with(servers.web.http_url + "/slow?delay=0.3"))
        peers.append(answer(outcome)["peer"])

    async with anyio.create_task_group() as group:
        group.start_soon(one)
        group.start_soon(one)
    # Two slow answers at once need two connections; with one allowed, the second waits for it.
    assert len(set(peers)) == connections


async def test_non_http_proxy_from_the_environment_is_a_connect_failure(
    make: Make, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    outcome = await make().send(request_with(servers.web.http_url + "/echo"))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.CONNECT
    assert outcome.request_written is False


async def test_idle_connection_closed_by_the_server_is_not_even_tried(make: Make, servers: Servers) -> None:
    # Seen dead before use (end-of-file waiting on the socket): the request goes straight to a
    # new connection, so its body is opened once, not once more for a doomed attempt.
    opened = 0

    def body() -> Iterator[bytes]:
        nonlocal opened
        opened += 1
        yield b"payload"

    driver = make()
    answer(await driver.send(request_with(servers.raw.url + "/idle-close")))
    await anyio.sleep(0.2)  # the server closes the idle connection meanwhile
    request = request_with(servers.raw.url + "/ok", "POST", (), StreamedBody(open=body, length=7))
    answer(await driver.send(request))
    assert opened == 1


async def test_one_watchdog_task_serves_every_exchange_and_ends_with_the_transport(
    make: Make, servers: Servers, flavor: Any
) -> None:
    driver = make(timeout=0.3)
    before = _tasks(flavor[1])
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo")))
    result = await driver.send(request_with(servers.raw.url + "/stall"))  # its connection is closed
    assert isinstance(result, TransportFailure)
    assert result.kind is FailureKind.TIMEOUT
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo")))
    assert _tasks(flavor[1]) == sorted([*before, "h11 transport watchdog"])  # one for all three
    await driver.close()
    assert _tasks(flavor[1]) == before


async def test_closed_where_every_await_is_cancelled_it_still_closes_everything(
    make: Make, servers: Servers, flavor: Any
) -> None:
    # As when a run ends and closes the transports it made (see the client's event-loop tests).
    driver = make(timeout=5)
    before = _tasks(flavor[1])
    live = servers.raw.live

    async def two() -> None:
        for _ in range(2):
            assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)

    async with anyio.create_task_group() as group:  # two connections at once, both pooled
        group.start_soon(two)
        group.start_soon(two)
    assert servers.raw.live == live + 2
    with anyio.CancelScope() as scope:
        scope.cancel()
        await driver.transport.aclose()
    assert _tasks(flavor[1]) == before
    for _ in range(150):  # the server sees both go
        if servers.raw.live == live:
            break
        await anyio.sleep(0.02)
    assert servers.raw.live == live


def _tasks(library: str) -> List[str]:
    """The names of the tasks of the running trio run (at the top) or asyncio loop, but this one."""
    if library == "trio":
        import trio

        root = trio.lowlevel.current_root_task()
        assert root is not None
        return sorted(task.name for nursery in root.child_nurseries for task in nursery.child_tasks)
    import asyncio

    return sorted(task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task())


async def test_a_head_built_on_kept_headers_carries_its_own_request_s(make: Make, servers: Servers) -> None:
    # The route keeps the checked headers of the heads it sent; a request with other headers or
    # another body length must not go out with a kept head's.
    driver = make()
    url = servers.web.http_url + "/echo"
    first = request_with(url, "POST", (("X-Key", "one"),), b"abc")
    sent = [
        answer(await driver.send(request))
        for request in (
            first,
            first,
            request_with(url, "POST", (("X-Key", "two"),), b"abc"),
            request_with(url, "POST", (("X-Key", "one"),), b"abcdef"),
            request_with(url + "?q=1", "PUT", (("X-Key", "one"),), b"abc"),
            request_with(url, "POST", [("X-Key", "list")], b"abc"),  # type: ignore[arg-type]
        )
    ]
    seen = [(echo["method"], echo["path"], echo["headers"][1:], echo["body_length"]) for echo in sent]
    assert seen == [
        ("POST", "/echo", [["X-Key", "one"], ["Content-Length", "3"]], 3),
        ("POST", "/echo", [["X-Key", "one"], ["Content-Length", "3"]], 3),
        ("POST", "/echo", [["X-Key", "two"], ["Content-Length", "3"]], 3),
        ("POST", "/echo", [["X-Key", "one"], ["Content-Length", "6"]], 6),
        ("PUT", "/echo?q=1", [["X-Key", "one"], ["Content-Length", "3"]], 3),
        ("POST", "/echo", [["X-Key", "list"], ["Content-Length", "3"]], 3),
    ]
