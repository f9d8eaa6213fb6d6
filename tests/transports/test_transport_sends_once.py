"""Transports decide nothing: each sends a request once and reports the facts of a failure, and the
core's RetryPolicy alone decides whether to send it again (every transport, asyncio and trio)."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread
import pytest
from _transport_servers import Servers
from _transport_support import FLAVORS, Make, build_driver, request_with

from higgsfield_client._observe import Observer
from higgsfield_client._runner import Call, run_async, run_sync, running_library
from higgsfield_proto import (
    ApiConfig,
    Credentials,
    FailureKind,
    FlowEnv,
    Response,
    RetryPolicy,
    TransportError,
    TransportFailure,
    status_flow,
    submit_flow,
)

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("flavor", FLAVORS, indirect=True)]

# The transports that can tell a reused connection from a new one (requests and aiohttp cannot).
TELLS_REUSE = ("h11", "httpx", "httpx-async", "httpx-client")
RETRY = RetryPolicy(max_attempts=4, backoff_base=0.0, backoff_cap=0.0)


async def test_a_post_read_then_dropped_reached_the_server_once_and_says_so(
    make: Make, servers: Servers, flavor: Any
) -> None:
    before = servers.raw.received["/drop"]
    outcome = await make().send(request_with(servers.raw.url + "/drop", "POST", body=b"payload"))
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.READ
    assert (outcome.request_written, outcome.response_started) == (True, False)
    if flavor[0] in TELLS_REUSE:
        assert outcome.reused_connection is False
    assert servers.raw.received["/drop"] == before + 1


async def test_a_kept_alive_connection_dropped_after_reading_a_get_is_not_sent_again(
    make: Make, servers: Servers, flavor: Any
) -> None:
    # /reuse-drop answers the first request of a connection, then reads the second one and
    # closes without a byte of answer. aiohttp would resend a GET here on its own: not ours.
    driver = make()
    first = await driver.send(request_with(servers.raw.url + "/reuse-drop"))
    assert isinstance(first, Response)
    before = servers.raw.received["/reuse-drop"]
    outcome = await driver.send(request_with(servers.raw.url + "/reuse-drop"))
    assert isinstance(outcome, TransportFailure)
    assert (outcome.request_written, outcome.response_started) == (True, False)
    if flavor[0] in TELLS_REUSE:
        assert outcome.reused_connection is True
    await anyio.sleep(0.05)  # give a resend, if any, the time to arrive
    assert servers.raw.received["/reuse-drop"] == before + 1


async def _run(flavor: Any, flow: Any) -> Any:
    driver = build_driver(flavor[0])
    try:
        if driver.blocking:
            return await anyio.to_thread.run_sync(run_sync, Call(flow=flow), driver.transport, Observer())
        return await run_async(Call(flow=flow), driver.transport, running_library(flavor[1]), Observer())
    finally:
        await driver.close()


async def test_a_post_that_is_not_repeatable_reaches_the_server_once_and_raises(
    servers: Servers, flavor: Any
) -> None:
    config = ApiConfig(credentials=Credentials(key_id="k", secret="s"), base_url=servers.raw.url)
    before = servers.raw.received["/drop"]
    # A submit without an Idempotency-Key: a repeat could create a second, billed job.
    flow = submit_flow(config, "drop", {"prompt": "p"}, FlowEnv(retry=RETRY))
    with pytest.raises(TransportError) as caught:
        await _run(flavor, flow)
    assert caught.value.request_written is True
    assert caught.value.attempts == 1
    assert servers.raw.received["/drop"] == before + 1


async def test_a_repeatable_get_is_sent_again_by_the_core_up_to_its_attempts(
    servers: Servers, flavor: Any
) -> None:
    config = ApiConfig(credentials=Credentials(key_id="k", secret="s"), base_url=servers.raw.url)
    before = servers.raw.received
    target = "/requests/drop/status"
    count = before[target]
    with pytest.raises(TransportError) as caught:
        await _run(flavor, status_flow(config, "drop", FlowEnv(retry=RETRY)))
    assert caught.value.attempts == RETRY.max_attempts
    assert "127.0.0.1" in str(caught.value)
    assert servers.raw.received[target] == count + RETRY.max_attempts
