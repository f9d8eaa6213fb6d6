"""Broken or hostile servers, for every transport: each case ends in the right typed error, never
a hang and never a KeyError, ValueError, JSONDecodeError or a library's own exception."""

from __future__ import annotations

import json
import time
from email.utils import formatdate
from typing import Any, Dict, List, Optional, Type

import pytest

from higgsfield_client import (
    AuthenticationError,
    HiggsfieldClientError,
    JobCancelledError,
    NetworkTimeoutError,
    NotFoundError,
    ProtocolError,
    RetryPolicy,
    ServerError,
    TransportError,
    UnknownStatusError,
    WaitTimeoutError,
)

from .support import (
    IMAGE_MODEL,
    REQUEST_ID,
    Answer,
    Received,
    ScriptServer,
    answers_by_route,
    harness_for,
    on_every_transport,
)

QUICK_RETRY = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02, max_retry_after=5.0)
SUBMITTED = {"status": "queued", "request_id": REQUEST_ID}
HTML = Answer(200, b"<!DOCTYPE html><html><body>Sign in to the hotel Wi-Fi</body></html>",
              (("Content-Type", "text/html"),))  # fmt: skip


def status_json(payload: Any) -> Dict[str, Answer]:
    return {"submit": Answer.json(SUBMITTED), "status": Answer.json(payload)}


# (what the server answers, the error expected from subscribe, a fragment of its message)
CASES: Dict[str, Any] = {
    "submit-without-request-id": ({"submit": Answer.json({"status": "queued"})}, ProtocolError, "request_id"),
    "submit-request-id-a-number": (
        {"submit": Answer.json({"status": "queued", "request_id": 12345})}, ProtocolError, "request_id"),
    "submit-request-id-a-dot-segment": (
        {"submit": Answer.json({"status": "queued", "request_id": ".."})}, ProtocolError, "id"),
    "submit-request-id-infinite": (
        {"submit": Answer(200, b'{"status": "queued", "request_id": 1e999}')}, ProtocolError, "request_id"),
    "submit-a-list": ({"submit": Answer.json([SUBMITTED])}, ProtocolError, "JSON list"),
    "submit-truncated-json": ({"submit": Answer(200, b'{"status": "queu')}, ProtocolError, "no JSON"),
    "submit-html": ({"submit": HTML}, ProtocolError, "no JSON"),
    "submit-not-utf8": ({"submit": Answer(200, b'{"status": "\xff\xfe"}')}, ProtocolError, "no JSON"),
    "submit-deep-nesting": ({"submit": Answer(200, b"[" * 100_000 + b"]" * 100_000)}, ProtocolError, "JSON"),
    "status-misspelled": (status_json({"status": "complete", "request_id": REQUEST_ID}),
                          UnknownStatusError, "'complete'"),
    "status-capitalised": (status_json({"status": "Completed", "request_id": REQUEST_ID}),
                           UnknownStatusError, "'Completed'"),
    "status-a-number": (status_json({"status": 3, "request_id": REQUEST_ID}), UnknownStatusError, "3"),
    "status-missing": (status_json({"request_id": REQUEST_ID}), UnknownStatusError, "None"),
    "status-about-another-job": (status_json({"status": "queued", "request_id": "another-id"}),
                                 ProtocolError, "another-id"),
    "images-of-numbers": (
        status_json({"status": "completed", "request_id": REQUEST_ID, "images": [{"url": 5}]}),
        ProtocolError, "malformed outputs"),
    "video-a-number": (status_json({"status": "completed", "request_id": REQUEST_ID, "video": 7}),
                       ProtocolError, "malformed outputs"),
    "cancelled-with-two-ls": (status_json({"status": "cancelled", "request_id": REQUEST_ID}),
                              JobCancelledError, "canceled"),
    "not-found-in-plain-text": ({"submit": Answer(404, b"no such model")}, NotFoundError, "non-JSON answer"),
    "unauthorized-html": ({"submit": Answer(401, HTML.body, HTML.headers)}, AuthenticationError, "text/html"),
    "server-error-empty": ({"submit": Answer(500)}, ServerError, "HTTP 500"),
}  # fmt: skip


def test_every_hostile_answer_to_subscribe_is_a_typed_error(transport: str) -> None:
    current: Dict[str, Answer] = {}
    with ScriptServer(answers_by_route(current)) as server:

        async def scenario(client: Any) -> List[str]:
            wrong: List[str] = []
            for case, (answers, expected, fragment) in CASES.items():
                current.clear()
                current.update(answers)
                try:
                    # raise_on_failure: a canceled job is an error here, as the cases expect
                    await client.subscribe(IMAGE_MODEL, {"prompt": "x"}, timeout=10.0, raise_on_failure=True)
                except HiggsfieldClientError as error:
                    if type(error) is not expected or fragment not in str(error):
                        wrong.append(f"{case}: {error!r}")
                    if server.api_key.split(":")[1] in str(error):
                        wrong.append(f"{case}: the secret is in {error!r}")
                else:
                    wrong.append(f"{case}: no error")
            return wrong

        wrong = harness_for(transport, server).run(scenario, retry=QUICK_RETRY)
    # Anything but a HiggsfieldClientError escaped the scenario and failed the test already.
    assert wrong == []


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (Answer.json({"credits": "lots", "usd": None}), "credits"),
        (Answer.json({"credits": [], "usd": "0.1"}), "credits"),
        (Answer(200, b""), "no JSON"),
    ],
)
def test_a_hostile_estimate_is_a_protocol_error(transport: str, answer: Answer, fragment: str) -> None:
    with ScriptServer(answers_by_route({"estimate": answer})) as server:

        async def scenario(client: Any) -> BaseException:
            with pytest.raises(ProtocolError) as caught:
                await client.estimate(IMAGE_MODEL, {"prompt": "x"})
            return caught.value

        error = harness_for(transport, server).run(scenario)
    assert fragment in str(error)


@pytest.mark.parametrize(
    "slot",
    [
        {"public_url": 5, "upload_url": "http://127.0.0.1:1/put"},
        {"public_url": "http://127.0.0.1:1/a", "upload_url": "file:///etc/passwd"},
        {"public_url": "http://127.0.0.1:1/a", "upload_url": "http://127.0.0.1:1/p", "upload_headers": [1]},
    ],
)
def test_a_hostile_upload_slot_is_a_protocol_error_and_nothing_is_put(
    transport: str, slot: Dict[str, Any]
) -> None:
    with ScriptServer(answers_by_route({"upload-url": Answer.json(slot)})) as server:

        async def scenario(client: Any) -> None:
            with pytest.raises(ProtocolError):
                await client.upload(b"bytes", "image/png")

        harness_for(transport, server).run(scenario)
        assert [received.method for received in server.received] == ["POST"]


def hang(received: Received) -> Answer:
    return Answer(mode="hang")


def test_a_server_that_never_answers_is_a_network_timeout() -> None:
    on_every_transport(check_never_answers)


def check_never_answers(transport: str) -> None:
    with ScriptServer(hang) as server:

        async def scenario(client: Any) -> BaseException:
            with pytest.raises(NetworkTimeoutError) as caught:
                await client.status(REQUEST_ID)
            return caught.value

        error = harness_for(transport, server).run(scenario, timeout=0.2, retry=QUICK_RETRY)
        assert len(server.received) == 2  # the first attempt and one retry
    assert error.kind == "timeout"


@pytest.mark.parametrize("call", ["subscribe", "result"])
def test_the_overall_timeout_bounds_a_server_that_never_answers(call: str) -> None:
    on_every_transport(lambda transport: check_overall_timeout(transport, call))


def check_overall_timeout(transport: str, call: str) -> None:
    # No per-request timeout at all: only the caller's deadline can end the wait.
    with ScriptServer(hang) as server:

        async def scenario(client: Any) -> BaseException:
            if call == "subscribe":
                waiting = client.subscribe(IMAGE_MODEL, {"prompt": "x"}, timeout=0.4)
            else:
                waiting = client.result(REQUEST_ID, timeout=0.4)
            with pytest.raises(WaitTimeoutError) as caught:
                await waiting
            return caught.value

        error = harness_for(transport, server).run(scenario, timeout=None)
    assert isinstance(error, TimeoutError)
    assert error.request_id == (REQUEST_ID if call == "result" else None)


def test_an_answer_over_the_size_limit_is_refused_without_reading_it(transport: str) -> None:
    with ScriptServer(lambda received: Answer(mode="huge", declared=100 * 2**20)) as server:

        async def scenario(client: Any) -> BaseException:
            with pytest.raises(TransportError) as caught:
                await client.status(REQUEST_ID)
            return caught.value

        error = harness_for(transport, server).run(scenario)
        assert len(server.received) == 1  # a repeat would not make it smaller
    assert error.kind == "too_large"
    assert "larger than" in str(error)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    on_every_transport(check_retry_after_date)


def check_retry_after_date(transport: str) -> None:
    def script(received: Received) -> Answer:
        if len(server.received) == 1:
            now = time.time()
            date = (("Date", formatdate(now, usegmt=True)), ("Retry-After", formatdate(now + 1, usegmt=True)))
            return Answer.json({"detail": "busy"}, 503, *date)
        return Answer.json({"status": "queued", "request_id": REQUEST_ID})

    with ScriptServer(script) as server:
        status = harness_for(transport, server).run(lambda client: client.status(REQUEST_ID))
        first, second = server.received
    assert status.request_id == REQUEST_ID
    assert second.time - first.time >= 0.95


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/moved/status", None),
        ("http://localhost:{port}/x", ProtocolError),
        ("http://[::1]:{port}/x", ProtocolError),
    ],
)
def test_redirects_are_followed_within_the_api_host_only(
    transport: str, location: str, expected: Optional[Type[BaseException]]
) -> None:
    def script(received: Received) -> Answer:
        if received.path.startswith("/moved/"):
            return Answer.json({"status": "queued", "request_id": REQUEST_ID})
        port = server.base_url.rsplit(":", 1)[1]
        return Answer(302, headers=(("Location", location.format(port=port)),))

    with ScriptServer(script) as server:

        async def scenario(client: Any) -> Any:
            if expected is None:
                return await client.status(REQUEST_ID)
            with pytest.raises(expected) as caught:
                await client.status(REQUEST_ID)
            return caught.value

        outcome = harness_for(transport, server).run(scenario)
        received: List[Received] = server.received
    if expected is None:
        assert outcome.request_id == REQUEST_ID
        assert [r.path for r in received] == [f"/requests/{REQUEST_ID}/status", "/moved/status"]
        assert received[1].headers["authorization"] == f"Key {server.api_key}"
    else:
        assert "refused to follow a redirect to another host" in str(outcome)
        assert len(received) == 1


def test_junk_in_every_field_never_leaks_a_raw_exception(transport: str) -> None:
    """A status answer whose every field has the wrong type: one typed error, whatever it is."""
    junk = {key: {"nested": [1, None]} for key in ("status", "request_id", "images", "video", "error")}
    with ScriptServer(answers_by_route({"status": Answer.json(junk)})) as server:

        async def scenario(client: Any) -> BaseException:
            with pytest.raises(HiggsfieldClientError) as caught:
                await client.result(REQUEST_ID, timeout=5.0)
            return caught.value

        error = harness_for(transport, server).run(scenario)
    assert isinstance(error, ProtocolError)
    assert json.dumps({"nested": [1, None]}) not in str(error) or "status" in str(error)
