"""The h11 transport's own behaviour, under asyncio and under trio: its framing, its per-host
connection limit, its proxy checks, and idle connections found dead before use."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator

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
