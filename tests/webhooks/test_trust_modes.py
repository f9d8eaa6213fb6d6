"""The two other ways a receiver trusts a delivery: a token in its URL (UrlToken), and the job's
status fetched again (ConfirmByPolling, against the emulator with every kind of client)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio

from higgsfield_client import AsyncClient, RetryPolicy, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_client.webhooks import (
    ConfirmByPolling,
    UrlToken,
    WebhookReceiver,
    WebhookSecretError,
    signed_webhook_url,
)
from higgsfield_proto import JobState, WebhookEvent

from .support import status_body

TOKEN_SECRET = "an app secret for webhook URL tokens: 52 bytes long."
OLD_TOKEN_SECRET = "the app's previous secret for webhook URL tokens..."
BASE = "https://app.example/webhooks/higgsfield"
MODEL = "higgsfield-ai/soul/standard"


class Recorder:
    def __init__(self) -> None:
        self.calls: list[WebhookEvent] = []

    def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event)


def _query(ref: str, secret: str = TOKEN_SECRET) -> str:
    return urlsplit(signed_webhook_url(BASE, secret, ref)).query


# -- UrlToken ------------------------------------------------------------------------------------


def test_a_delivery_to_a_signed_url_is_handled_with_its_reference() -> None:
    handler = Recorder()
    receiver = WebhookReceiver(UrlToken([TOKEN_SECRET, OLD_TOKEN_SECRET]), handler)
    body = status_body("job-1")
    reply = receiver.handle({"content-type": "application/json"}, body, query=_query("order-1"))
    assert (reply.status, reply.reason) == (200, "handled")
    (event,) = handler.calls
    assert (event.reference, event.status.request_id, event.status.state) == (
        "order-1", "job-1", JobState.COMPLETED
    )
    assert reply.event == event
    # A redelivery (no webhook-id: an unsigned account's) is known by request id and state.
    assert receiver.handle({}, body, query=_query("order-1")).reason == "duplicate"
    # A URL made with the rotated-away secret still verifies.
    old = receiver.handle({}, status_body("job-2"), query=_query("order-2", OLD_TOKEN_SECRET))
    assert old.status == 200
    assert [event.reference for event in handler.calls] == ["order-1", "order-2"]


def test_a_delivery_without_a_valid_token_is_401_before_its_body_is_read(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Recorder()
    receiver = WebhookReceiver(UrlToken(TOKEN_SECRET), handler)
    token = dict(pair.split("=") for pair in _query("order-1").split("&"))["hf_token"]
    forged = [
        "",
        "hf_ref=order-1",
        f"hf_ref=order-2&hf_token={token}",  # another job's reference
        _query("order-1", "someone else's secret, long enough to pass"),
    ]
    with caplog.at_level(logging.INFO, logger="higgsfield_client.webhooks"):
        replies = [receiver.handle({}, b"not even json", query=query) for query in forged]
    assert [reply.status for reply in replies] == [401] * 4
    assert handler.calls == []
    assert token not in caplog.text + "".join(reply.reason for reply in replies)
    # A valid token on a body that is no job status: 400.
    assert receiver.handle({}, b"not even json", query=_query("order-1")).status == 400


def test_the_token_secret_is_refused_empty_or_short_and_never_shown() -> None:
    for secret in ("", "short", [], [TOKEN_SECRET, ""]):
        with pytest.raises(WebhookSecretError):
            UrlToken(secret)
    token = UrlToken([TOKEN_SECRET, OLD_TOKEN_SECRET])
    receiver = WebhookReceiver(token, Recorder())
    shown = repr(token) + repr(receiver)
    assert TOKEN_SECRET not in shown
    assert OLD_TOKEN_SECRET not in shown
    assert "UrlToken(<2 secrets>)" in repr(receiver)
    # URLs are made with the first secret of a rotation.
    assert token.url(BASE, "order-9") == signed_webhook_url(BASE, TOKEN_SECRET, "order-9")
    assert repr(UrlToken(TOKEN_SECRET)) == "UrlToken(<1 secret>)"


def test_handle_async_checks_the_token_too() -> None:
    handler = Recorder()
    receiver = WebhookReceiver(UrlToken(TOKEN_SECRET), handler)

    async def deliver(query: str) -> int:
        return (await receiver.handle_async({}, status_body("job-1"), query=query)).status

    assert asyncio.run(deliver("hf_ref=order-1&hf_token=forged")) == 401
    assert trio.run(deliver, _query("order-1")) == 200
    assert [event.reference for event in handler.calls] == ["order-1"]


# -- ConfirmByPolling ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0, run_time=0.02) as emu:
        yield emu


def _job(emulator: Emulator, outcome: str = "completed", *, finished: bool = True, **script: Any) -> str:
    """A job of the emulator's, ended with ``outcome`` (or still queued, unless ``finished``)."""
    emulator.script_next_job(outcome, **script)
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
        request_id = client.submit(MODEL, {"prompt": "a kite"}).request_id
    while finished and emulator.job(request_id).status != outcome:
        time.sleep(0.01)
    return request_id


def _forged(request_id: str) -> bytes:
    """A "completed" delivery with made-up URLs, signed by nobody."""
    return json.dumps(
        {"status": "completed", "request_id": request_id, "images": [{"url": "https://evil.example/x.png"}]}
    ).encode()


def _sync_client(emulator: Emulator) -> SyncClient:
    return SyncClient(base_url=emulator.base_url, api_key=emulator.api_key,
                      retry=RetryPolicy(max_attempts=1))


def test_the_handler_gets_the_status_fetched_never_the_forged_one(emulator: Emulator) -> None:
    completed = _job(emulator)
    failed = _job(emulator, "failed", error="out of ink")
    handler = Recorder()
    with _sync_client(emulator) as client:
        receiver = WebhookReceiver(ConfirmByPolling(client), handler)
        first = receiver.handle({"webhook-id": "anything"}, _forged(completed))
        again = receiver.handle({}, _forged(completed))
        lied = receiver.handle({}, _forged(failed))
    assert [(reply.status, reply.reason) for reply in (first, again, lied)] == [
        (200, "handled"), (200, "duplicate"), (200, "handled")
    ]
    good, bad = handler.calls
    assert good.status.request_id == completed
    assert good.status.images == tuple(
        f"{emulator.base_url}/outputs/{completed}/{name}" for name in ("0.png",)
    )
    assert "evil.example" not in json.dumps(dict(good.status.payload))
    assert (bad.status.state, bad.status.error) == (JobState.FAILED, "out of ink")
    assert good.webhook_id == "anything"  # headers are kept as they came, unverified


def test_a_job_unknown_unfinished_or_unreachable_is_not_handled(emulator: Emulator) -> None:
    queued = _job(emulator, finished=False, queue_time=3600)
    handler = Recorder()
    with _sync_client(emulator) as client:
        receiver = WebhookReceiver(ConfirmByPolling(client), handler)
        unknown = receiver.handle({}, _forged("made-up-job"))
        unfinished = receiver.handle({}, _forged(queued))
        emulator.script_fault("status", "503")
        unreachable = receiver.handle({}, _forged(queued))
        malformed = receiver.handle({}, b"{}")
    assert [(reply.status, reply.reason) for reply in (unknown, unfinished, unreachable)] == [
        (400, "the API knows no such job"),
        (409, "the job has not finished"),
        (503, "the job's status could not be checked"),
    ]
    assert (malformed.status, malformed.reason) == (400, "unknown job status None")  # not even a hint
    assert handler.calls == []


@pytest.mark.parametrize("library", ["asyncio", "trio"])
@pytest.mark.parametrize("kind", ["async", "sync"])
def test_handle_async_confirms_with_an_async_client_or_a_sync_one_in_a_thread(
    emulator: Emulator, library: str, kind: str
) -> None:
    completed = _job(emulator)
    handler = Recorder()

    async def deliver() -> tuple[int, int]:
        if kind == "async":
            client: Any = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)
        else:
            client = _sync_client(emulator)
        receiver = WebhookReceiver(ConfirmByPolling(client), handler)
        try:
            handled = await receiver.handle_async({}, _forged(completed))
            unknown = await receiver.handle_async({}, _forged("made-up-job"))
        finally:
            if kind == "async":
                await client.aclose()
            else:
                client.close()
        return handled.status, unknown.status

    statuses = trio.run(deliver) if library == "trio" else asyncio.run(deliver())
    assert statuses == (200, 400)
    (event,) = handler.calls
    assert event.status.images[0].startswith(emulator.base_url)


def test_handle_with_an_async_client_is_a_type_error(emulator: Emulator) -> None:
    client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)
    receiver = WebhookReceiver(ConfirmByPolling(client), Recorder())
    with pytest.raises(TypeError, match="handle_async"):
        receiver.handle({}, _forged("made-up-job"))
    assert "ConfirmByPolling(client=" in repr(receiver)
