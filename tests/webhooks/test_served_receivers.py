"""The receivers under real servers: FastAPI on uvicorn (ASGI), Flask and Django on waitress (WSGI),
aiohttp.

Jobs are submitted against the emulator with the receiver's URL as their ``webhook_url``; the
emulator delivers, retries and plays duplicate deliveries as the API does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Callable, Optional, TypeVar

import pytest
import requests

from higgsfield_client import SyncClient
from higgsfield_client.testing import Emulator, WebhookDelivery
from higgsfield_proto import JobState, WebhookEvent

from .servers import SERVERS
from .support import FORGER, OLD_SECRET, SECRET, signed, status_body

T = TypeVar("T")
MODEL = "higgsfield-ai/soul/standard"


class Events:
    """A handler for any server's threads: records events, raises for the first ``failures``."""

    def __init__(self) -> None:
        self.failures = 0
        self.calls: list[WebhookEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: WebhookEvent) -> None:
        with self._lock:
            self.calls.append(event)
            if len(self.calls) <= self.failures:
                raise RuntimeError("the handler fails this time")

    def snapshot(self) -> list[WebhookEvent]:
        with self._lock:
            return list(self.calls)


def wait_for(probe: Callable[[], Optional[T]], timeout: float = 15.0) -> T:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError("not seen before the deadline")
        time.sleep(0.02)
    return value


@pytest.fixture
def emulator(receiver_url: str) -> Iterator[Emulator]:
    """Made after the receiver's server and stopped before it, which then has no client left."""
    with Emulator(
        queue_time=0, run_time=0.05, webhook_secret=SECRET, webhook_retry_delay=0.05, seed=3
    ) as emu:
        yield emu


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture(params=sorted(SERVERS))
def receiver_url(request: pytest.FixtureRequest, events: Events) -> Iterator[str]:
    """The receiver's URL, served by each kind of server; it accepts the old and the new secret."""
    with SERVERS[request.param]([SECRET, OLD_SECRET], events) as url:
        yield url


def _submit(emulator: Emulator, url: str, prompt: str = "a kite") -> str:
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
        return client.submit(MODEL, {"prompt": prompt}, webhook_url=url).request_id


def _finished(emulator: Emulator, request_id: str) -> Callable[[], Optional[WebhookDelivery]]:
    def probe() -> Optional[WebhookDelivery]:
        return next(
            (d for d in emulator.webhook_deliveries if d.request_id == request_id and d.finished), None
        )

    return probe


def test_jobs_submitted_with_the_receivers_url_are_delivered_and_verified(
    emulator: Emulator, receiver_url: str, events: Events
) -> None:
    ids = {_submit(emulator, receiver_url, f"kite {n}") for n in range(3)}
    deliveries = [wait_for(_finished(emulator, request_id)) for request_id in ids]
    assert all(delivery.delivered for delivery in deliveries)
    assert [attempt.status for d in deliveries for attempt in d.attempts] == [200] * 3
    handled = events.snapshot()
    assert {event.status.request_id for event in handled} == ids
    assert {event.webhook_id for event in handled} == {d.webhook_id for d in deliveries}
    assert all(event.status.state is JobState.COMPLETED and event.status.images for event in handled)
    journal = [entry for entry in emulator.journal if entry.route == "webhook"]
    assert [entry.status for entry in journal] == [200] * 3


def test_forged_stale_and_malformed_deliveries_are_refused(receiver_url: str, events: Events) -> None:
    body = status_body("job-1")
    stale = int(time.time()) - 600
    cases = [
        (signed(body, secret=FORGER), body, 401),
        ({**signed(body), "webhook-signature": "v1,AAAA v1,BBBB v2," + signed(body)["webhook-signature"][3:]},
         body, 401),
        ({**signed(body), "webhook-id": "msg_swapped"}, body, 401),
        ({"content-type": "application/json"}, body, 401),
        (signed(body, timestamp=stale), body, 401),
        (signed(b"not json"), b"not json", 400),
        (signed(status_body(status="exploded")), status_body(status="exploded"), 400),
        (signed(b"x" * (1024 * 1024 + 1)), b"x" * (1024 * 1024 + 1), 413),
    ]
    with requests.Session() as http:
        answers = [
            http.post(receiver_url, data=data, headers=headers, timeout=10) for headers, data, _ in cases
        ]
        wrong_method = http.get(receiver_url, timeout=10)
        rotated = http.post(receiver_url, data=body, headers=signed(body, secret=OLD_SECRET), timeout=10)
    assert [answer.status_code for answer in answers] == [expected for _, _, expected in cases]
    assert answers[4].text == "webhook-timestamp is outside the accepted tolerance\n"
    assert answers[0].headers["Content-Type"].startswith("text/plain")
    assert wrong_method.status_code == 405
    assert (rotated.status_code, rotated.text) == (200, "handled\n")
    assert [event.status.request_id for event in events.snapshot()] == ["job-1"]


def test_a_duplicate_delivery_is_answered_2xx_and_handled_once(
    emulator: Emulator, receiver_url: str, events: Events
) -> None:
    emulator.script_fault("webhook", "duplicate")
    request_id = _submit(emulator, receiver_url)
    delivery = wait_for(
        lambda: next((d for d in emulator.webhook_deliveries if len(d.attempts) == 2), None)
    )
    assert delivery.request_id == request_id
    assert [(a.status, a.fault) for a in delivery.attempts] == [(200, None), (200, "duplicate")]
    assert [event.webhook_id for event in events.snapshot()] == [delivery.webhook_id]


def test_a_handler_that_fails_once_gets_the_delivery_again(
    emulator: Emulator, receiver_url: str, events: Events
) -> None:
    events.failures = 1
    request_id = _submit(emulator, receiver_url)
    delivery = wait_for(_finished(emulator, request_id))
    assert delivery.delivered
    assert [attempt.status for attempt in delivery.attempts] == [500, 200]
    calls = events.snapshot()
    assert [event.webhook_id for event in calls] == [delivery.webhook_id] * 2
    assert {event.status.request_id for event in calls} == {request_id}


def test_a_handler_error_is_logged_not_answered(receiver_url: str, events: Events) -> None:
    events.failures = 1
    body = status_body()
    answer = requests.post(receiver_url, data=body, headers=signed(body), timeout=10)
    assert (answer.status_code, answer.text) == (500, "the handler failed\n")


