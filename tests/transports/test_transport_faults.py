"""Every transport: network faults come back as the right TransportFailure, and a connection
whose exchange went wrong never goes back to the pool."""

from __future__ import annotations

import json
import time
from typing import Iterator, List

import anyio
import pytest
from _transport_servers import STALL_SECONDS, Servers
from _transport_support import ASYNC_FLAVORS, H11_FLAVORS, Make, request_with

from higgsfield_proto._http import FailureKind, Outcome, Response, StreamedBody, TransportFailure

pytestmark = pytest.mark.anyio
AIOHTTP_FLAVOR = ASYNC_FLAVORS[0]


def failure(outcome: Outcome) -> TransportFailure:
    assert isinstance(outcome, TransportFailure), outcome
    return outcome


def answered(outcome: Outcome) -> Response:
    assert isinstance(outcome, Response), outcome
    return outcome


async def test_refused_connection_is_a_connect_failure(make: Make, closed_port: int) -> None:
    result = failure(await make().send(request_with(f"http://127.0.0.1:{closed_port}/")))
    assert result.kind is FailureKind.CONNECT
    assert result.request_written is False
    assert "refused" in result.detail.lower()


async def test_unknown_host_is_a_connect_failure(make: Make) -> None:
    driver = make(connect_timeout=5)
    result = failure(await driver.send(request_with("http://no-such-host.invalid/echo")))
    assert result.kind is FailureKind.CONNECT
    assert result.request_written is False


async def test_unanswered_connect_is_a_connect_failure_within_the_timeout(make: Make) -> None:
    # 192.0.2.0/24 is reserved for documentation: nothing answers there.
    driver = make(connect_timeout=0.3)
    started = time.monotonic()
    result = failure(await driver.send(request_with("http://192.0.2.1:81/")))
    assert result.kind is FailureKind.CONNECT
    assert result.request_written is False
    assert time.monotonic() - started < 3


async def test_connection_dropped_without_answer_is_a_read_failure(make: Make, servers: Servers) -> None:
    accepted = servers.raw.accepted
    result = failure(await make().send(request_with(servers.raw.url + "/drop", "POST", (), b"{}")))
    assert result.kind is FailureKind.READ
    assert result.request_written is True
    assert servers.raw.accepted == accepted + 1  # a POST is not sent twice


async def test_truncated_body_is_a_read_failure(make: Make, servers: Servers) -> None:
    result = failure(await make().send(request_with(servers.raw.url + "/truncated")))
    assert result.kind is FailureKind.READ
    assert result.request_written is True


async def test_malformed_answer_is_a_read_failure(make: Make, servers: Servers) -> None:
    result = failure(await make().send(request_with(servers.raw.url + "/malformed")))
    assert result.kind is FailureKind.READ
    assert result.request_written is True


async def test_server_closing_during_upload_is_a_write_failure(make: Make, servers: Servers) -> None:
    def big() -> Iterator[bytes]:
        for _ in range(512):
            yield b"u" * 65536

    body = StreamedBody(open=big, length=512 * 65536)
    result = failure(await make().send(request_with(servers.raw.url + "/drop-early", "PUT", (), body)))
    assert result.kind is FailureKind.WRITE
    assert result.request_written is True


async def test_slow_answer_is_a_timeout_after_the_read_timeout(make: Make, servers: Servers) -> None:
    driver = make(timeout=0.3)
    # The answer would come after 1.5 s: a timeout rather than the answer shows the limit held.
    result = failure(await driver.send(request_with(servers.web.http_url + "/slow?delay=1.5")))
    assert result.kind is FailureKind.TIMEOUT
    assert (result.request_written, result.response_started) == (True, False)


async def test_a_trickling_answer_gets_the_timeout_per_read_on_every_transport(
    make: Make, servers: Servers
) -> None:
    # Eight gaps of 0.1 s, each well within the 0.6 s timeout, 0.8 s in all: the timeout is
    # between reads, not for the whole exchange, whatever the transport and the kind of send.
    url = servers.web.http_url + "/trickle?parts=8&delay=0.1"
    driver = make(timeout=0.6)
    received: List[bytes] = []
    streamed = await driver.stream(request_with(url), received.append)
    assert isinstance(streamed, Response)
    assert b"".join(received) == b"t" * 80
    sent = await driver.send(request_with(url))
    assert isinstance(sent, Response)
    assert sent.body == b"t" * 80


@pytest.mark.parametrize("flavor", [AIOHTTP_FLAVOR, *H11_FLAVORS], indirect=True)
async def test_a_stalled_upload_is_a_timeout_between_writes(make: Make, servers: Servers) -> None:
    # The server reads the head and nothing more: 64 MiB cannot fit in the socket buffers, so a
    # write waits, and the timeout (between writes as between reads) ends it while the server
    # still waits.
    driver = make(timeout=0.3)
    gave_up = servers.raw.gave_up
    chunks = (b"u" * 2**20 for _ in range(64))
    body = StreamedBody(open=lambda: chunks, length=64 * 2**20)
    result = failure(await driver.send(request_with(servers.raw.url + "/no-read", "PUT", (), body)))
    assert servers.raw.gave_up == gave_up
    assert result.kind is FailureKind.TIMEOUT
    assert (result.request_written, result.response_started) == (True, False)


@pytest.mark.parametrize("flavor", [AIOHTTP_FLAVOR], indirect=True)
async def test_the_aiohttp_transport_times_its_own_sessions_waits_with_one_watchdog_task(
    make: Make, servers: Servers
) -> None:
    # Its own session has no per-read timer of aiohttp's: one task ends every wait past its
    # deadline (mid-body here), and goes with the transport.
    import asyncio

    def tasks() -> List[str]:
        return sorted(task.get_name() for task in asyncio.all_tasks() if task is not asyncio.current_task())

    driver = make(timeout=0.3)
    before = tasks()
    answered(await driver.send(request_with(servers.raw.url + "/ok")))
    result = failure(await driver.send(request_with(servers.raw.url + "/stall")))
    assert result.kind is FailureKind.TIMEOUT
    answered(await driver.send(request_with(servers.raw.url + "/ok")))
    assert tasks() == sorted([*before, "aiohttp transport watchdog"])  # one for all three
    await driver.close()
    assert tasks() == before


async def connection_closed_by_client(servers: Servers, live: int) -> None:
    """Wait (bounded) until the raw server has seen the client close its connections."""
    deadline = time.monotonic() + 3
    while servers.raw.live != live:
        assert time.monotonic() < deadline, "the client kept the connection open"
        await anyio.sleep(0.02)


async def test_timed_out_exchange_closes_its_connection(make: Make, servers: Servers) -> None:
    driver = make(timeout=0.3)
    live = servers.raw.live
    accepted = servers.raw.accepted
    assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)
    result = failure(await driver.send(request_with(servers.raw.url + "/stall")))  # mid-body
    assert result.kind is FailureKind.TIMEOUT
    assert result.request_written is True
    await connection_closed_by_client(servers, live)  # at once, not when next used
    assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)
    assert servers.raw.accepted == accepted + 2


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_body_over_the_limit_is_too_large_and_its_connection_closed(
    make: Make, servers: Servers, framing: str
) -> None:
    driver = make(max_response_bytes=300_000)
    live = servers.raw.live
    assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)
    # Far more than the limit, so that the response is still arriving when the limit trips.
    result = failure(await driver.send(request_with(f"{servers.raw.url}/huge-{framing}")))
    assert result.kind is FailureKind.TOO_LARGE
    assert result.request_written is True
    await connection_closed_by_client(servers, live)
    assert isinstance(await driver.send(request_with(servers.raw.url + "/ok")), Response)


async def test_body_at_the_limit_is_accepted(make: Make, servers: Servers) -> None:
    driver = make(max_response_bytes=400_000)
    outcome = await driver.send(request_with(f"{servers.web.http_url}/huge?size=400000&chunked=1"))
    assert isinstance(outcome, Response)
    assert len(outcome.body) == 400_000


async def test_keep_alive_connection_closed_by_the_server_is_replaced(make: Make, servers: Servers) -> None:
    driver = make()
    accepted = servers.raw.accepted
    for _ in range(2):
        outcome = await driver.send(request_with(servers.raw.url + "/idle-close"))
        assert isinstance(outcome, Response), outcome
        await anyio.sleep(0.2)  # the server closes the idle connection meanwhile
    assert servers.raw.accepted == accepted + 2


@pytest.mark.parametrize("flavor", ASYNC_FLAVORS, indirect=True)
async def test_cancelled_exchange_closes_its_connection_and_the_pool_goes_on(
    make: Make, servers: Servers
) -> None:
    driver = make()
    live = servers.raw.live
    accepted = servers.raw.accepted
    first = answered(await driver.send(request_with(servers.raw.url + "/ok")))
    started = time.monotonic()
    with anyio.move_on_after(0.5) as scope:
        await driver.send(request_with(servers.raw.url + "/stall"))  # on the pooled connection
    assert scope.cancelled_caught
    assert time.monotonic() - started < STALL_SECONDS / 2
    await connection_closed_by_client(servers, live)  # closed, not put back in the pool
    second = answered(await driver.send(request_with(servers.raw.url + "/ok")))
    third = answered(await driver.send(request_with(servers.raw.url + "/ok")))
    assert servers.raw.accepted == accepted + 2
    connections = [json.loads(o.body)["connection"] for o in (first, second, third)]
    assert connections[1] == connections[2] != connections[0]  # and the pool still works
