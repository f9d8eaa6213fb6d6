"""The framework-neutral receiver: every answer of the issue, from headers and a raw body."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import time
import warnings
from typing import Any

import anyio.lowlevel
import pytest
import trio

from higgsfield_client import InvalidArgumentError
from higgsfield_client.webhooks import MemoryStore, WebhookReceiver, WebhookSecretError, verify_webhook
from higgsfield_proto import JobState, WebhookEvent, WebhookVerificationError

from .servers import load
from .support import FORGER, OLD_SECRET, SECRET, signed, status_body


class Recorder:
    """A handler that records events and raises for the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[WebhookEvent] = []

    def __call__(self, event: WebhookEvent) -> None:
        self.calls.append(event)
        if len(self.calls) <= self.failures:
            raise RuntimeError("the database is down")


def test_a_new_verified_delivery_calls_the_handler_then_answers_200() -> None:
    handler = Recorder()
    body = status_body("job-7")
    reply = WebhookReceiver(SECRET, handler).handle(signed(body, webhook_id="msg_7"), body)
    assert (reply.status, reply.reason, reply.body) == (200, "handled", b"handled\n")
    assert reply.content_type == "text/plain; charset=utf-8"
    (event,) = handler.calls
    assert event.webhook_id == "msg_7"
    assert event.status.request_id == "job-7"
    assert event.status.state is JobState.COMPLETED
    assert reply.event == event


def test_a_duplicate_webhook_id_answers_200_without_calling_the_handler_again() -> None:
    handler = Recorder()
    receiver = WebhookReceiver(SECRET, handler)
    body = status_body()
    assert receiver.handle(signed(body), body).status == 200
    # A redelivery is signed again, later, with the same id.
    again = receiver.handle(signed(body, timestamp=int(time.time()) + 5), body)
    assert (again.status, again.reason) == (200, "duplicate")
    assert len(handler.calls) == 1
    # Another event is new.
    assert receiver.handle(signed(body, webhook_id="msg_2"), body).reason == "handled"
    assert len(handler.calls) == 2


@pytest.mark.parametrize(
    "headers",
    [
        signed(status_body(), secret=FORGER),
        {**signed(status_body()), "webhook-signature": "v1,AAAA v1,BBBB"},
        {**signed(status_body()), "webhook-id": "msg_other"},
        {"content-type": "application/json"},
    ],
    ids=["other key", "forged entries", "id swapped", "unsigned"],
)
def test_a_bad_signature_is_401_and_never_reaches_the_handler(headers: dict[str, str]) -> None:
    handler = Recorder()
    reply = WebhookReceiver(SECRET, handler).handle(headers, status_body())
    assert reply.status == 401
    assert reply.event is None
    assert handler.calls == []


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_a_timestamp_outside_the_tolerance_is_401(offset: int) -> None:
    handler = Recorder()
    body = status_body()
    reply = WebhookReceiver(SECRET, handler).handle(signed(body, timestamp=int(time.time()) + offset), body)
    assert (reply.status, reply.reason) == (401, "webhook-timestamp is outside the accepted tolerance")
    assert handler.calls == []


def test_the_tolerance_can_be_widened() -> None:
    body = status_body()
    receiver = WebhookReceiver(SECRET, Recorder(), tolerance=3600)
    assert receiver.handle(signed(body, timestamp=int(time.time()) - 1800), body).status == 200


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b'{"status": "exploded", "request_id": "r"}', b'{"status": "completed"}']
)
def test_a_signed_body_that_is_not_a_job_status_is_400(body: bytes) -> None:
    handler = Recorder()
    reply = WebhookReceiver(SECRET, handler).handle(signed(body), body)
    assert reply.status == 400
    assert handler.calls == []


def test_a_body_over_the_limit_is_413_before_anything_else() -> None:
    handler = Recorder()
    body = status_body(padding="x" * 200)
    receiver = WebhookReceiver(SECRET, handler, max_body=len(body) - 1)
    assert receiver.handle(signed(body), body).status == 413
    assert receiver.handle({}, body).status == 413  # not even verified
    assert handler.calls == []
    assert WebhookReceiver(SECRET, handler, max_body=len(body)).handle(signed(body), body).status == 200


def test_a_handler_that_raises_is_500_and_the_event_is_handled_again_on_retry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handler = Recorder(failures=1)
    receiver = WebhookReceiver(SECRET, handler)
    body = status_body()
    with caplog.at_level(logging.ERROR, logger="higgsfield_client.webhooks"):
        failed = receiver.handle(signed(body), body)
    assert (failed.status, failed.reason) == (500, "the handler failed")
    assert "database is down" not in failed.reason  # the error text stays in the logs
    assert "the webhook handler raised for msg_1" in caplog.text
    retried = receiver.handle(signed(body), body)
    assert (retried.status, retried.reason) == (200, "handled")
    assert len(handler.calls) == 2
    assert receiver.handle(signed(body), body).reason == "duplicate"


def test_a_delivery_of_an_event_being_handled_is_409() -> None:
    body = status_body()
    inner: list[Any] = []

    def handler(event: WebhookEvent) -> None:
        # The API retried while this delivery is still being handled (a slow handler).
        inner.append(receiver.handle(signed(body), body))

    receiver = WebhookReceiver(SECRET, handler)
    assert receiver.handle(signed(body), body).status == 200
    assert [(reply.status, reply.reason) for reply in inner] == [(409, "this event is being handled")]


def test_a_cancelled_handler_releases_the_event() -> None:
    class Cancelled(BaseException):
        pass

    calls = []

    def handler(event: WebhookEvent) -> None:
        calls.append(event)
        if len(calls) == 1:
            raise Cancelled

    receiver = WebhookReceiver(SECRET, handler)
    body = status_body()
    with pytest.raises(Cancelled):
        receiver.handle(signed(body), body)
    assert receiver.handle(signed(body), body).reason == "handled"


def test_any_secret_of_a_rotation_verifies() -> None:
    handler = Recorder()
    receiver = WebhookReceiver([SECRET, OLD_SECRET], handler)
    body = status_body()
    assert receiver.handle(signed(body, secret=OLD_SECRET, webhook_id="a"), body).status == 200
    assert receiver.handle(signed(body, secret=SECRET, webhook_id="b"), body).status == 200
    assert receiver.handle(signed(body, secret=FORGER, webhook_id="c"), body).status == 401
    assert [event.webhook_id for event in handler.calls] == ["a", "b"]


@pytest.mark.parametrize("secret", [[], "whsec_***", ["whsec_" + "QUJD", "whsec_!!"]])
def test_a_receiver_refuses_missing_or_malformed_secrets(secret: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        WebhookReceiver(secret, Recorder())


SHORT = "whsec_" + base64.b64encode(b"twenty-three bytes long").decode()  # one byte short


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", [""], ["whsec_"], [SECRET, ""], [SECRET, "whsec_"], SHORT, [OLD_SECRET, SHORT]],
    ids=["empty", "prefix alone", "[empty]", "[prefix]", "good and empty", "good and prefix",
         "23 bytes", "good and 23 bytes"],
)
def test_a_receiver_refuses_an_empty_or_short_secret_when_it_is_made(secret: Any) -> None:
    # WebhookReceiver(os.getenv("HF_WEBHOOK_SECRET", ""), ...) with the variable unset: an
    # endpoint where anyone could forge "completed" events must not come up at all.
    with pytest.raises(WebhookSecretError) as raised:
        WebhookReceiver(secret, Recorder())
    assert isinstance(raised.value, InvalidArgumentError)
    assert SHORT[len("whsec_") :] not in str(raised.value)
    assert SECRET[len("whsec_") :] not in str(raised.value)


@pytest.mark.parametrize(
    "example", ["webhook_receiver", "webhooks_fastapi", "webhooks_flask", "webhooks_django"]
)
def test_the_example_apps_refuse_an_empty_or_short_secret(example: str) -> None:
    make_app = load(example)["make_app"]
    for secret in ("", "whsec_", [""], SHORT, ["whsec_", "whsec_"]):
        with pytest.raises(WebhookSecretError):
            make_app(secret, Recorder())


def test_a_delivery_signed_with_an_empty_key_finds_no_receiver_to_accept_it() -> None:
    body = status_body()
    now = str(int(time.time()))
    digest = hmac.new(b"", f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()
    forged = {
        "webhook-id": "msg_1",
        "webhook-timestamp": now,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    handler = Recorder()
    assert WebhookReceiver(SECRET, handler).handle(forged, body).status == 401
    for empty in ("", "whsec_"):
        with pytest.raises(WebhookSecretError):
            verify_webhook(empty, forged, body)
    assert handler.calls == []


def test_handle_refuses_a_coroutine_handler_without_leaking_the_coroutine() -> None:
    async def handler(event: WebhookEvent) -> None:
        raise AssertionError("never run")

    receiver = WebhookReceiver(SECRET, handler)
    body = status_body()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = receiver.handle(signed(body), body)
    assert reply.status == 500
    assert receiver.store.claim("msg_1", time.time()).value == "new"  # released


async def _deliver_twice(receiver: WebhookReceiver) -> list[tuple[int, str]]:
    body = status_body()
    replies = [await receiver.handle_async(signed(body), body) for _ in range(2)]
    return [(reply.status, reply.reason) for reply in replies]


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_handle_async_awaits_a_coroutine_handler_and_calls_a_plain_one(runner: str) -> None:
    seen: list[str] = []

    async def coroutine_handler(event: WebhookEvent) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(f"async {event.webhook_id}")

    def plain_handler(event: WebhookEvent) -> None:
        seen.append(f"plain {event.webhook_id}")

    for handler in (coroutine_handler, plain_handler):
        receiver = WebhookReceiver(SECRET, handler)
        if runner == "trio":
            replies = trio.run(_deliver_twice, receiver)
        else:
            replies = asyncio.run(_deliver_twice(receiver))
        assert replies == [(200, "handled"), (200, "duplicate")]
    assert seen == ["async msg_1", "plain msg_1"]


def test_handle_async_answers_500_when_a_coroutine_handler_raises() -> None:
    async def handler(event: WebhookEvent) -> None:
        raise RuntimeError("boom")

    body = status_body()
    reply = asyncio.run(WebhookReceiver(SECRET, handler).handle_async(signed(body), body))
    assert reply.status == 500


def test_verify_webhook_reads_the_wall_clock() -> None:
    body = status_body()
    assert verify_webhook(SECRET, signed(body), body).status.request_id == "req-1"
    assert verify_webhook([FORGER, SECRET], signed(body), body).webhook_id == "msg_1"
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(SECRET, signed(body, timestamp=int(time.time()) - 400), body)
    assert verify_webhook(SECRET, signed(body, timestamp=int(time.time()) - 400), body, tolerance=500)


def test_the_default_store_is_a_memory_store() -> None:
    assert isinstance(WebhookReceiver(SECRET, Recorder()).store, MemoryStore)


def test_a_receiver_never_shows_its_secrets() -> None:
    receiver = WebhookReceiver([SECRET, OLD_SECRET], Recorder())
    assert SECRET not in repr(receiver)
    assert OLD_SECRET not in repr(receiver)
    assert "WebhookReceiver(handler=" in repr(receiver)
