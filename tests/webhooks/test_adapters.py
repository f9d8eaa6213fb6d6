"""The ASGI, WSGI and aiohttp adapters at their edges: bare apps, methods, bodies, lifespan."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from higgsfield_client.webhooks import WebhookReceiver, aiohttp_handler, asgi_app, wsgi_app
from higgsfield_proto import WebhookEvent

from .servers import under_uvicorn
from .support import SECRET, signed, status_body


@pytest.fixture
def seen() -> list[WebhookEvent]:
    return []


@pytest.fixture
def bare_asgi_url(seen: list[WebhookEvent]) -> Iterator[str]:
    """``asgi_app`` alone under uvicorn, lifespan on: no framework at all."""
    with under_uvicorn(asgi_app(WebhookReceiver(SECRET, seen.append))) as root:
        yield root + "/any/path"


def test_the_bare_asgi_app_serves_any_path_and_answers_405_to_other_methods(
    bare_asgi_url: str, seen: list[WebhookEvent]
) -> None:
    body = status_body()
    with requests.Session() as http:
        delivered = http.post(bare_asgi_url, data=body, headers=signed(body), timeout=10)
        wrong = http.put(bare_asgi_url, data=body, headers=signed(body), timeout=10)
        chunks = iter([body[:10], body[10:]])
        chunked = http.post(bare_asgi_url, data=chunks, headers=signed(body, webhook_id="msg_2"), timeout=10)
    assert (delivered.status_code, delivered.text) == (200, "handled\n")
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "POST")
    assert chunked.status_code == 200
    assert [event.webhook_id for event in seen] == ["msg_1", "msg_2"]


def test_the_asgi_app_stops_reading_past_the_limit_and_leaves_a_vanished_sender_unanswered() -> None:
    body = status_body()
    app = asgi_app(WebhookReceiver(SECRET, lambda event: None, max_body=len(body) + 5))
    scope = {"type": "http", "method": "POST", "headers": [(b"webhook-id", b"x")]}

    async def run(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
        sent: list[dict[str, Any]] = []
        queue = list(messages)

        async def receive() -> dict[str, Any]:
            return queue.pop(0)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent, len(queue)

    chunk = {"type": "http.request", "body": body, "more_body": True}
    sent, unread = asyncio.run(run([chunk, chunk, chunk, {"type": "http.request", "body": b""}]))
    assert sent[0]["status"] == 413
    assert unread == 2  # the body was not read further than the limit
    sent, _ = asyncio.run(run([chunk, {"type": "http.disconnect"}]))
    assert sent == []
    with pytest.raises(ValueError, match="HTTP only"):
        asyncio.run(app({"type": "websocket"}, None, None))  # type: ignore[arg-type]


def _environ(body: bytes, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_TYPE": "application/json",
        **{f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()},
        **extra,
    }
    return environ


def test_the_wsgi_app_reads_a_body_without_a_length_only_from_a_terminated_input() -> None:
    seen: list[WebhookEvent] = []
    app = wsgi_app(WebhookReceiver(SECRET, seen.append))
    body = status_body()
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        statuses.append(status)

    terminated = _environ(body, signed(body), **{"wsgi.input_terminated": True})
    assert app(terminated, start_response) == [b"handled\n"]
    # Not read: the empty body does not match its signature.
    assert app(_environ(body, signed(body, webhook_id="msg_2")), start_response) == [
        b"no webhook signature matches\n"
    ]
    assert statuses == ["200 OK", "401 Unauthorized"]
    assert [event.webhook_id for event in seen] == ["msg_1"]
    get = _environ(body, signed(body), REQUEST_METHOD="GET")
    assert app(get, start_response) == [b"webhooks are POSTed\n"]
    assert statuses[-1] == "405 Method Not Allowed"


def test_the_aiohttp_handler_answers_405_to_other_methods_routed_to_it() -> None:
    from aiohttp import ClientSession, web

    app = web.Application()
    app.router.add_route("*", "/hook", aiohttp_handler(WebhookReceiver(SECRET, lambda event: None)))

    async def get() -> tuple[int, str]:
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
            async with ClientSession() as http, http.get(url) as answer:
                return answer.status, answer.headers["Allow"]
        finally:
            await runner.cleanup()

    assert asyncio.run(get()) == (405, "POST")
