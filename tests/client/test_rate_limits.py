"""``client.rate_limits``: the Retry-After and ``x-ratelimit-*`` values of the last answer that
carried any, on every transport; and a warning for each answer that asks the client to slow down."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import pytest
from aiohttp import web
from transports._transport_servers import LoopThread

from higgsfield_client import RateLimits, SyncClient

from .harness import Harness

REQUEST_ID = "3f2b8c1e-0d4a-4e8b-9c55-1a2b3c4d5e6f"
UNLIMITED_ID = "0c9a1f7e-5b2d-4f3a-8e61-7d8c9b0a1e2f"  # answered without x-ratelimit-* headers
LIMITS = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "12.5"}


@pytest.fixture
def limited() -> Iterator[str]:
    """A loopback server whose status answers carry ``x-ratelimit-*`` headers (the emulator's
    do not: the API documents none); its base URL."""

    async def status(request: web.Request) -> web.Response:
        request_id = request.match_info["rid"]
        body = {"status": "queued", "request_id": request_id}
        return web.json_response(body, headers={} if request_id == UNLIMITED_ID else LIMITS)

    async def start() -> web.AppRunner:
        app = web.Application()
        app.router.add_get("/requests/{rid}/status", status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner

    thread = LoopThread()
    runner = thread.run(start)
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        thread.run(runner.cleanup)
        thread.stop()


def test_a_429_leaves_its_retry_after_on_the_client_and_a_warning(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="higgsfield_client")
    emulator = harness.emulator
    emulator.script_next_job(queue_time=60.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit("higgsfield-ai/soul/standard", {"prompt": "busy"})
        assert client.rate_limits == RateLimits()  # nothing seen yet
        emulator.script_fault("status", "429")
        await controller.status()
        return client.rate_limits

    limits = harness.run(scenario)
    assert limits.status == 429
    assert limits.retry_after == 1.0  # the emulator's Retry-After
    assert limits.url is not None
    assert limits.url.endswith("/status")
    assert limits.seen_at is not None
    warnings = [record for record in caplog.records if record.name == "higgsfield_client"]
    assert [record.levelno for record in warnings] == [logging.WARNING, logging.WARNING]
    rate, retry = warnings
    assert "rate limited: GET" in rate.getMessage()
    assert "answered 429; Retry-After 1 s" in rate.getMessage()
    assert rate.http_status == 429
    assert "attempt 1 failed (HTTP 429); next attempt in 1.00 s; Retry-After 1 s" in retry.getMessage()
    assert retry.reason == "HTTP 429"


def test_x_ratelimit_headers_are_kept_from_any_answer(harness: Harness, limited: str) -> None:
    async def scenario(client: Any) -> Any:
        await client.status(REQUEST_ID)
        return client.rate_limits

    limits = harness.run(scenario, base_url=limited)
    assert limits.status == 200
    assert dict(limits.headers) == {name.lower(): value for name, value in LIMITS.items()}
    assert (limits.limit, limits.remaining, limits.reset) == (60.0, 59.0, 12.5)
    assert limits.retry_after is None


def test_an_answer_without_limits_leaves_the_last_ones_in_place(limited: str) -> None:
    with SyncClient(base_url=limited, api_key="k:s") as client:
        client.status(REQUEST_ID)
        seen = client.rate_limits
        client.status(UNLIMITED_ID)
        assert client.rate_limits is seen
    assert seen.remaining == 59.0


def test_an_unreadable_limit_reads_as_none() -> None:
    assert RateLimits(headers={"x-ratelimit-remaining": "many"}).remaining is None
    assert RateLimits().limit is None


def test_an_exchange_span_carries_the_limits_and_a_429_a_rate_limit_event(
    limited: str, emulator: Any, spans: Any
) -> None:
    with SyncClient(base_url=limited, api_key="k:s") as client:
        client.status(REQUEST_ID)
    (plain,) = spans.named("GET")
    assert plain.attributes["higgsfield.ratelimit.remaining"] == "59"
    assert plain.attributes["higgsfield.ratelimit.limit"] == "60"
    assert "higgsfield.correlation_id" not in plain.attributes  # this server sends none
    assert plain.events == ()  # limits told, no slowing down asked
    spans.clear()
    emulator.script_next_job(queue_time=60.0)
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
        controller = client.submit("higgsfield-ai/soul/standard", {"prompt": "busy"})
        emulator.script_fault("status", "429")
        controller.status()
    refused, answered = spans.named("GET")
    assert [event.name for event in refused.events] == ["higgsfield.rate_limit", "higgsfield.retry"]
    limit, retry = refused.events
    assert dict(limit.attributes) == {"http.response.status_code": 429, "higgsfield.retry_after": 1.0}
    assert retry.attributes["higgsfield.retry_after"] == 1.0
    assert answered.attributes["http.response.status_code"] == 200
