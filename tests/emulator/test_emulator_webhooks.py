"""Webhooks: delivery bodies, Standard Webhooks signatures, retries and their record."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests
from emu_helpers import Receiver, submit, wait_status, wait_until

from higgsfield_client.testing import Emulator

SECRET = "whsec_" + base64.b64encode(b"emulator-test-key-0123456789abcd").decode()


def verify(secret: str, headers: Dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written independently of the emulator."""
    key = base64.b64decode(secret.split("_", 1)[1])
    lower = {name.lower(): value for name, value in headers.items()}
    signed = f"{lower['webhook-id']}.{lower['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [part.split(",", 1)[1] for part in lower["webhook-signature"].split(" ")]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _session(emu: Emulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Key {emu.api_key}"
    return session


def _run(emu: Emulator, receiver: Receiver, prompt: str = "x") -> Tuple[str, Dict[str, Any]]:
    with _session(emu) as http:
        response = submit(http, emu, {"prompt": prompt}, params={"hf_webhook": receiver.url})
        assert response.status_code == 200
        rid = response.json()["request_id"]
        status = wait_status(http, emu, rid)
        return rid, status


def test_signed_delivery_of_a_completed_job_is_retried_until_2xx(receiver_factory: Any) -> None:
    receiver = receiver_factory(failures=2)
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET,
                  webhook_retry_delay=0.05) as emu:
        rid, status = _run(emu, receiver)
        record = wait_until(
            lambda: next((d for d in emu.webhook_deliveries if d.finished), None)
        )
    got = receiver.deliveries()
    assert len(got) == 3
    assert [a.status for a in record.attempts] == [500, 500, 204]
    assert record.delivered
    assert record.request_id == rid
    assert record.url == receiver.url
    ids = {headers["webhook-id"] for headers, _ in got}
    assert ids == {record.webhook_id}
    for headers, body in got:
        assert headers["Content-Type"] == "application/json"
        assert verify(SECRET, headers, body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
        assert json.loads(body) == status
    assert not verify(SECRET, got[0][0], got[0][1] + b" ")


def test_a_delivery_that_times_out_is_retried(receiver_factory: Any) -> None:
    receiver = receiver_factory(stalls=1, stall=1.0)
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET,
                  webhook_retry_delay=0.05, webhook_timeout=0.2) as emu:
        _run(emu, receiver)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
    first, second = record.attempts
    assert first.status is None
    assert first.error is not None
    assert "Timeout" in first.error
    assert second.status == 204
    assert record.delivered


@pytest.mark.parametrize(("prompt", "status"), [("[fail]", "failed"), ("[nsfw]", "nsfw")])
def test_failed_and_nsfw_jobs_deliver_their_status_body(
    receiver_factory: Any, prompt: str, status: str
) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05) as emu:
        _, payload = _run(emu, receiver, prompt)
        wait_until(lambda: receiver.deliveries() or None)
    headers, body = receiver.deliveries()[0]
    assert json.loads(body) == payload
    assert json.loads(body)["status"] == status
    assert "webhook-signature" not in {name.lower() for name in headers}


def test_deliveries_can_hold_their_results_under_payload_per_emulator_and_per_job(
    receiver_factory: Any,
) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET, webhook_body="nested") as emu:
        _, completed = _run(emu, receiver)
        _, failed = _run(emu, receiver, "[fail]")
        emu.webhook_body = "flat"  # the next job's delivery is flat again
        _, flat = _run(emu, receiver)
        wait_until(lambda: True if len(receiver.deliveries()) == 3 else None)
    bodies = {json.loads(body)["request_id"]: json.loads(body) for _, body in receiver.deliveries()}
    assert bodies[completed["request_id"]] == {
        "request_id": completed["request_id"],
        "status": "completed",
        "error": None,
        "payload": {key: value for key, value in completed.items() if key not in ("request_id", "status")},
    }
    assert "images" in bodies[completed["request_id"]]["payload"]
    assert bodies[failed["request_id"]] == {
        "request_id": failed["request_id"],
        "status": "failed",
        "error": failed["error"],
        "payload": {"expires_at": failed["expires_at"]},
    }
    assert bodies[flat["request_id"]] == flat
    assert all(verify(SECRET, headers, body) for headers, body in receiver.deliveries())


@pytest.mark.parametrize("shape", ["", "Nested", "payload"])
def test_an_unknown_body_shape_is_refused(shape: str) -> None:
    with pytest.raises(ValueError, match="webhook_body must be one of"):
        Emulator(webhook_body=shape)
    emu = Emulator()
    with pytest.raises(ValueError, match="webhook_body must be one of"):
        emu.webhook_body = shape
    assert emu.webhook_body == "flat"


def test_canceled_jobs_send_no_webhook(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=30) as emu, _session(emu) as http:
        body = submit(http, emu, params={"hf_webhook": receiver.url}).json()
        assert http.post(body["cancel_url"], timeout=10).status_code == 202
        time.sleep(0.3)
        assert emu.webhook_deliveries == []
    assert receiver.deliveries() == []


def test_delivery_gives_up_after_the_retry_window(receiver_factory: Any) -> None:
    receiver = receiver_factory(failures=10_000)
    with Emulator(queue_time=0, run_time=0, webhook_retry_window=0.3,
                  webhook_retry_delay=0.05) as emu:
        _run(emu, receiver)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
        assert not record.delivered
        assert len(record.attempts) >= 2
        assert all(attempt.status == 500 for attempt in record.attempts)
        time.sleep(0.2)
        assert len(emu.webhook_deliveries[0].attempts) == len(record.attempts)


def test_deleting_the_request_s_data_ends_the_retries(receiver_factory: Any) -> None:
    # As when the data expires: the API stops retrying once the request's data is deleted.
    receiver = receiver_factory(failures=10_000)
    with Emulator(queue_time=0, run_time=0, webhook_retry_delay=0.05) as emu, _session(emu) as http:
        rid, _ = _run(emu, receiver)
        wait_until(lambda: len(receiver.deliveries()) >= 2 or None)
        assert http.delete(f"{emu.base_url}/requests/{rid}", timeout=10).status_code == 200
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
        assert not record.delivered
        time.sleep(0.3)  # several retry delays
        assert emu.webhook_deliveries[0].attempts == record.attempts
        assert len(receiver.deliveries()) == len(record.attempts)


def test_unreachable_receiver_is_recorded_as_connection_errors() -> None:
    with Emulator(queue_time=0, run_time=0, webhook_retry_window=0.2,
                  webhook_retry_delay=0.05) as emu, _session(emu) as http:
        url = "http://127.0.0.1:9/hook"  # discard port: nothing listens
        rid = submit(http, emu, params={"hf_webhook": url}).json()["request_id"]
        wait_status(http, emu, rid)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
        attempt: Optional[Any] = record.attempts[0]
        assert attempt is not None
        assert attempt.status is None
        assert attempt.error


@pytest.mark.parametrize("url", ["ftp://example.test/hook", "not a url", "https://"])
def test_invalid_webhook_urls_are_422(emu: Emulator, http: requests.Session, url: str) -> None:
    response = submit(http, emu, params={"hf_webhook": url})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "hf_webhook"]


@pytest.mark.parametrize(
    "secret", ["nope", "whsec_!!!", "", "whsec_", "whsec_" + base64.b64encode(b"k" * 23).decode()]
)
def test_malformed_empty_or_short_secret_is_refused(secret: str) -> None:
    with pytest.raises(ValueError, match="webhook_secret") as raised:
        Emulator(webhook_secret=secret)
    encoded = secret.removeprefix("whsec_")
    assert not encoded or encoded not in str(raised.value)


def test_the_shortest_standard_webhooks_secret_signs() -> None:
    Emulator(webhook_secret="whsec_" + base64.b64encode(b"k" * 24).decode())


# -- scripted delivery faults and the journal ---------------------------------------------------


def _all_finished(emu: Emulator, count: int) -> Optional[List[Any]]:
    """The ``count`` deliveries, once each is finished, else None."""
    deliveries = emu.webhook_deliveries
    return deliveries if len(deliveries) == count and all(d.finished for d in deliveries) else None


def test_each_delivery_attempt_is_a_journal_entry(receiver_factory: Any) -> None:
    receiver = receiver_factory(failures=1)
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET,
                  webhook_retry_delay=0.05) as emu:
        _run(emu, receiver)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
        entries = [entry for entry in emu.journal if entry.route == "webhook"]
    assert [(entry.method, entry.status, entry.fault) for entry in entries] == [
        ("POST", 500, None), ("POST", 204, None)
    ]
    for entry, (headers, body) in zip(entries, receiver.deliveries(), strict=True):
        assert entry.path == "/hook"
        assert entry.query["tenant"] == "1"
        assert entry.headers["webhook-id"] == record.webhook_id
        assert entry.headers["Webhook-Signature"] == headers["webhook-signature"]
        assert entry.body_length == len(body)
        assert entry.time == pytest.approx(time.time(), abs=60)
    assert [attempt.time for attempt in record.attempts] == [entry.time for entry in entries]


def test_a_duplicate_fault_sends_the_event_again_after_its_2xx(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET) as emu:
        emu.script_fault("webhook", "duplicate")
        _run(emu, receiver)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if len(d.attempts) == 2), None))
        faults = [entry.fault for entry in emu.journal if entry.route == "webhook"]
        _run(emu, receiver, "the next event is not duplicated")
        wait_until(lambda: len(receiver.deliveries()) == 3 or None)
    assert record.fault == "duplicate"
    assert record.delivered
    assert record.finished
    assert [(a.status, a.fault) for a in record.attempts] == [(204, None), (204, "duplicate")]
    assert faults == [None, "duplicate"]
    first, second, third = receiver.deliveries()
    assert first[0]["webhook-id"] == second[0]["webhook-id"] == record.webhook_id
    assert first[1] == second[1]
    assert verify(SECRET, *first)
    assert verify(SECRET, *second)
    assert third[0]["webhook-id"] != record.webhook_id


def test_an_out_of_order_fault_holds_the_event_until_the_next_one_went_out(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET, slow_seconds=60) as emu:
        emu.script_fault("webhook", "out_of_order")
        first_id, _ = _run(emu, receiver, "finishes first")
        wait_until(lambda: emu.webhook_deliveries or None)
        # The first job is finished and its event held back; the second overtakes it.
        second_id, _ = _run(emu, receiver, "finishes second")
        # Recorded once the receiver's answer is back, which may be just after it got the POST.
        held, overtaking = wait_until(lambda: _all_finished(emu, 2))
        entries = [entry for entry in emu.journal if entry.route == "webhook"]
    order = [json.loads(body)["request_id"] for _, body in receiver.deliveries()]
    assert order == [second_id, first_id]
    assert (held.request_id, held.fault) == (first_id, "out_of_order")
    assert [a.fault for a in held.attempts] == ["out_of_order"]
    assert overtaking.fault is None
    assert [entry.fault for entry in entries] == [None, "out_of_order"]
    assert all(verify(SECRET, headers, body) for headers, body in receiver.deliveries())


def test_an_event_held_out_of_order_goes_out_alone_after_slow_seconds(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05, slow_seconds=0.2) as emu:
        emu.script_fault("webhook", "out_of_order")
        _run(emu, receiver)
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
    assert record.delivered
    assert len(receiver.deliveries()) == 1


def test_a_drop_fault_loses_the_event(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05, webhook_secret=SECRET) as emu:
        emu.script_fault("webhook", "drop")
        dropped_id, _ = _run(emu, receiver)
        kept_id, _ = _run(emu, receiver)
        dropped, kept = wait_until(lambda: _all_finished(emu, 2))
        entries = [entry for entry in emu.journal if entry.route == "webhook"]
    assert (dropped.request_id, dropped.fault, dropped.attempts) == (dropped_id, "drop", ())
    assert dropped.finished
    assert not dropped.delivered
    assert kept.request_id == kept_id
    assert kept.delivered
    assert [json.loads(body)["request_id"] for _, body in receiver.deliveries()] == [kept_id]
    assert len(entries) == 1


@pytest.mark.parametrize(
    ("route", "kind"), [("webhook", "500"), ("webhook", "slow"), ("status", "duplicate")]
)
def test_webhook_fault_kinds_belong_to_the_webhook_route(route: str, kind: str) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Emulator().script_fault(route, kind)


def test_random_and_any_route_faults_never_touch_webhooks(receiver_factory: Any) -> None:
    receiver = receiver_factory()
    with Emulator(queue_time=0, run_time=0.05) as emu, _session(emu) as http:
        rid = submit(http, emu, params={"hf_webhook": receiver.url}).json()["request_id"]
        emu.fault_rate = 1.0
        emu.script_fault("*", "drop")
        record = wait_until(lambda: next((d for d in emu.webhook_deliveries if d.finished), None))
        emu.fault_rate = 0.0
        emu.clear_faults()
    assert record.request_id == rid
    assert record.delivered
    assert record.fault is None
