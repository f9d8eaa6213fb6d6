"""Property tests: parsers never leak foreign exceptions; flows keep their promises on any script."""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import Any, Callable, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from proto_support import KEY_ID, REQUEST_ID, SECRET, UPLOAD_SLOT

from higgsfield_proto import (
    ApiConfig,
    Credentials,
    FailureKind,
    Flow,
    FlowEnv,
    HiggsfieldError,
    JobState,
    JobStatus,
    Notify,
    Now,
    PollPolicy,
    ProtocolError,
    Request,
    Response,
    RetryPolicy,
    Send,
    Sleep,
    StatusUpdate,
    StreamedBody,
    TransportFailure,
    WebhookVerificationError,
    cancel_flow,
    delete_flow,
    error_from_response,
    estimate_flow,
    job_status_from_payload,
    parse_cancel_response,
    parse_delete_response,
    parse_estimate_response,
    parse_status_response,
    parse_submit_response,
    parse_upload_put_response,
    parse_upload_slot_response,
    parse_webhook,
    retry_after_seconds,
    sign_webhook,
    status_flow,
    submit_flow,
    subscribe_flow,
    upload_flow,
    verify_webhook,
    wait_flow,
)

PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = ApiConfig(credentials=Credentials(key_id=KEY_ID, secret=SECRET))
STATES = [state.value for state in JobState] + ["cancelled"]
INTERESTING_KEYS = [
    "status", "request_id", "id", "images", "video", "zip", "mov", "jsx", "fbx", "ply", "error",
    "expires_at", "status_url", "cancel_url", "detail", "details", "message", "code", "limit",
    "credits", "usd", "public_url", "upload_url", "upload_headers", "content_type", "url",
    "image_url", "loc", "msg", "type", "payload",
]  # fmt: skip
WALL_START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()

# -- strategies for wire input -----------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(STATES)
    | st.sampled_from(
        ["https://cdn.example/x.png", "http://s/p", REQUEST_ID, "1.500", "NaN", "account_queue_full"]
    )
)
keys = st.sampled_from(INTERESTING_KEYS) | st.text(max_size=6)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=6),
    max_leaves=20,
)
urlish = st.sampled_from(["https://c/1.png", {"url": "https://c/2.png"}, {"image_url": "https://c/3"}])


@st.composite
def status_like(draw: st.DrawFn) -> dict[str, Any]:
    """Objects that look like status payloads, so that parsing gets past the first checks."""
    payload: dict[str, Any] = draw(st.dictionaries(keys, json_values, max_size=4))
    payload["status"] = draw(st.sampled_from(STATES) | json_values)
    if draw(st.booleans()):
        payload["request_id"] = draw(st.sampled_from([REQUEST_ID, "other", ""]) | json_values)
    for key in ("images", "video", "zip", "ply"):
        if draw(st.booleans()):
            payload[key] = draw(urlish | st.lists(urlish | json_values, max_size=3) | json_values)
    return payload


json_documents = json_values | status_like() | st.dictionaries(keys, json_values, max_size=8)
bodies = (
    st.binary(max_size=200)
    | json_documents.map(lambda value: json.dumps(value).encode("utf-8"))
    | st.sampled_from([b"", b"null", b"<html>502</html>", b"[" * 5000, b"\xef\xbb\xbf{}", b"NaN"])
)
header_names = st.sampled_from(["Retry-After", "Date", "X-Correlation-ID", "Content-Type"]) | st.text(
    max_size=8
)
header_values = (
    st.text(max_size=40)
    | st.sampled_from(
        ["5", "-1", "1e999", "nan", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed Oct 21 07:28:00 2015"]
    )
    | st.floats(allow_nan=True).map(str)
)
headers = st.lists(st.tuples(header_names, header_values), max_size=5).map(tuple)
statuses = st.integers(min_value=100, max_value=599) | st.sampled_from(
    [200, 201, 202, 204, 400, 401, 402, 403, 404, 408, 422, 423, 429, 500, 502, 503]
)
responses = st.builds(Response, status=statuses, headers=headers, body=bodies)

ParserCall = Callable[[Response], object]
PARSERS: List[Tuple[str, ParserCall]] = [
    ("submit", parse_submit_response),
    ("status", lambda r: parse_status_response(r, REQUEST_ID)),
    ("status-no-id", parse_status_response),
    ("cancel", lambda r: parse_cancel_response(r, REQUEST_ID)),
    ("delete", lambda r: parse_delete_response(r, REQUEST_ID)),
    ("estimate", parse_estimate_response),
    ("slot", lambda r: parse_upload_slot_response(r, "image/jpeg")),
    ("put", parse_upload_put_response),
]


@PROPERTY
@given(response=responses, now=st.none() | st.floats(min_value=0, max_value=4e9))
def test_any_answer_gives_every_parser_a_value_or_a_higgsfield_error(
    response: Response, now: Optional[float]
) -> None:
    for name, parse in PARSERS:
        try:
            parse(response)
        except HiggsfieldError:
            pass
        except Exception as exc:  # pragma: no cover - the failure report
            raise AssertionError(f"{name} leaked {exc!r}") from exc
    error = error_from_response(response, request_id=REQUEST_ID, now=now)
    assert isinstance(error, HiggsfieldError)
    assert str(error)
    delay = retry_after_seconds(response, now=now)
    assert delay is None or (math.isfinite(delay) and delay >= 0)


@PROPERTY
@given(payload=json_documents, request_id=st.none() | st.sampled_from([REQUEST_ID, "other"]))
def test_any_payload_gives_a_status_or_a_higgsfield_error(payload: Any, request_id: Optional[str]) -> None:
    try:
        status = job_status_from_payload(payload, request_id=request_id)
    except HiggsfieldError:
        return
    assert isinstance(status, JobStatus)
    assert status.request_id
    assert request_id is None or status.request_id == request_id
    assert all(isinstance(url, str) for url in status.images)


webhook_headers = st.lists(
    st.tuples(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "Webhook-Signature"])
        | st.text(max_size=8),
        st.text(max_size=60) | st.integers(min_value=0, max_value=2 * 10**9).map(str),
    ),
    max_size=4,
)


def _nested(payload: dict[str, Any]) -> dict[str, Any]:
    """A flat status payload in the other delivery shape: the results under ``payload``."""
    top = {key: payload[key] for key in ("request_id", "status", "error") if key in payload}
    return {**top, "payload": {key: value for key, value in payload.items() if key not in top}}


@PROPERTY
@given(payload=status_like())
def test_a_delivery_reads_the_same_flat_or_with_its_results_under_payload(payload: dict[str, Any]) -> None:
    payload.pop("payload", None)
    outcomes = []
    for shape in (payload, _nested(payload)):
        try:
            outcomes.append(parse_webhook(json.dumps(shape).encode()).status)
        except HiggsfieldError as exc:
            outcomes.append(type(exc))
    flat, nested = outcomes
    assert nested == flat
    if isinstance(flat, JobStatus):
        assert isinstance(nested, JobStatus)
        assert dict(nested.payload) == payload


@PROPERTY
@given(
    body=bodies,
    headers=webhook_headers,
    secret=st.text(max_size=20) | st.just("whsec_" + "QUJD" * 8),
    now=st.floats(min_value=0, max_value=4e9),
)
def test_any_delivery_verifies_parses_or_raises_a_higgsfield_error(
    body: bytes, headers: list[tuple[str, str]], secret: str, now: float
) -> None:
    attempts: List[Callable[[], object]] = [
        lambda: parse_webhook(body, headers),
        lambda: parse_webhook(body, dict(headers)),
        lambda: verify_webhook(secret, headers, body, now=now),
    ]
    for attempt in attempts:
        with contextlib.suppress(HiggsfieldError):
            attempt()


@PROPERTY
@given(
    body=bodies,
    msg_id=st.text(min_size=1, max_size=20).filter(str.strip),
    timestamp=st.integers(0, 2 * 10**9),
)
def test_any_correctly_signed_body_gets_past_verification(body: bytes, msg_id: str, timestamp: int) -> None:
    secret = "whsec_" + "QUJD" * 8
    signed = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": ""}
    signed["webhook-signature"] = sign_webhook(secret, msg_id, timestamp, body)
    try:
        event = verify_webhook(secret, signed, body, now=timestamp)
    except WebhookVerificationError as exc:
        raise AssertionError(f"a correctly signed delivery was refused: {exc}") from exc
    except ProtocolError:
        return  # signed, but not a status payload
    assert event.timestamp == timestamp
    assert event.webhook_id == msg_id


# -- random outcome scripts fed to every flow ---------------------------------------------------


@dataclass(frozen=True)
class Ok:
    state: str


@dataclass(frozen=True)
class Http:
    status: int
    retry_after: Optional[int]
    as_date: bool


@dataclass(frozen=True)
class Fail:
    kind: FailureKind
    request_written: bool


@dataclass(frozen=True)
class Junk:
    """A 200 whose body is not what the endpoint promises."""


fails = st.builds(Fail, st.sampled_from(list(FailureKind)), st.booleans())
specs = st.one_of(
    st.builds(Ok, st.sampled_from(STATES)),
    st.builds(Ok, st.sampled_from(["queued", "in_progress"])),
    st.builds(
        Http,
        st.sampled_from([400, 401, 403, 404, 408, 409, 422, 423, 429, 429, 500, 502, 503, 504]),
        st.none() | st.integers(min_value=0, max_value=90),
        st.booleans(),
    ),
    fails,
    fails,  # twice: network failures are where the retry rules differ most
    st.just(Junk()),
)


def kind_of(request: Request) -> str:
    path = request.url.split("?")[0]
    if request.method == "PUT":
        return "put"
    if request.method == "DELETE":
        return "delete"
    if request.method == "GET":
        return "status"
    if path.endswith("/files/generate-upload-url"):
        return "slot"
    if "/estimate/" in path:
        return "estimate"
    if path.endswith("/cancel"):
        return "cancel"
    return "submit"


def ok_response(request: Request, state: str) -> Response:
    kind = kind_of(request)
    payload: Any
    if kind in ("put", "cancel"):
        return Response(status=202 if kind == "cancel" else 200)
    if kind == "slot":
        payload = UPLOAD_SLOT
    elif kind == "estimate":
        payload = {"credits": "1.5", "usd": "0.09"}
    elif kind == "delete":
        payload = {}
    else:
        payload = {"status": state, "request_id": REQUEST_ID}
    return Response(
        status=200, headers=(("Content-Type", "application/json"),), body=json.dumps(payload).encode()
    )


@dataclass
class Record:
    now: float
    effect: object
    outcome: object = None


@dataclass
class FakeServer:
    """Answers Sends from a script of specs, then with ``default``; advances a fake clock on Sleep."""

    script: List[Any]
    now: float
    wall_offset: float
    default: Any = Ok("completed")
    records: List[Record] = field(default_factory=list)

    def answer(self, request: Request) -> Any:
        spec = self.script.pop(0) if self.script else self.default
        if isinstance(spec, Ok):
            return ok_response(request, spec.state)
        if isinstance(spec, Junk):
            return Response(status=200, body=b"<html>captive portal</html>")
        if isinstance(spec, Fail):
            return TransportFailure(kind=spec.kind, detail="scripted", request_written=spec.request_written)
        headers: Tuple[Tuple[str, str], ...] = (("Content-Type", "application/json"),)
        if spec.retry_after is not None:
            if spec.as_date:
                wall = self.now + self.wall_offset
                headers += (
                    ("Date", format_datetime(datetime.fromtimestamp(int(wall), timezone.utc), usegmt=True)),
                    (
                        "Retry-After",
                        format_datetime(
                            datetime.fromtimestamp(int(wall) + spec.retry_after, timezone.utc), usegmt=True
                        ),
                    ),
                )
            else:
                headers += (("Retry-After", str(spec.retry_after)),)
        body = {"detail": "scripted", "code": "account_queue_full", "limit": 4}
        return Response(status=spec.status, headers=headers, body=json.dumps(body).encode())

    def run(self, flow: Flow[Any]) -> Any:
        try:
            effect = next(flow)
            while True:
                assert len(self.records) < 5000, "the flow does not terminate"
                if isinstance(effect, Now):  # a clock reading changes nothing: not recorded
                    effect = flow.send(self.now + self.wall_offset if effect.wall else self.now)
                    continue
                record = Record(self.now, effect)
                self.records.append(record)
                if isinstance(effect, Send):
                    record.outcome = self.answer(effect.request)
                elif isinstance(effect, Sleep):
                    assert effect.seconds >= 0, effect
                    assert math.isfinite(effect.seconds), effect
                    self.now += effect.seconds
                    record.outcome = self.now
                else:
                    assert isinstance(effect, Notify)
                effect = flow.send(record.outcome)
        except StopIteration as stop:
            return stop.value
        finally:
            flow.close()


FLOW_NAMES = ["submit", "submit-key", "status", "cancel", "estimate", "delete", "upload", "upload-stream",
              "wait", "wait-check-first", "subscribe", "subscribe-key"]  # fmt: skip
WAITING = ("wait", "wait-check-first", "subscribe", "subscribe-key")


def _never_read() -> List[bytes]:
    raise AssertionError("a flow read the streamed body")


STREAM = StreamedBody(open=_never_read, length=3)
RAW = b"abc"


def make_flow(name: str, env: FlowEnv, cancel_on_timeout: bool) -> Flow[Any]:
    model, args = "higgsfield-ai/soul/standard", {"prompt": "p"}
    if name == "submit":
        return submit_flow(CONFIG, model, args, env)
    if name == "submit-key":
        return submit_flow(CONFIG, model, args, env, idempotency_key="key-1")
    if name == "status":
        return status_flow(CONFIG, REQUEST_ID, env)
    if name == "cancel":
        return cancel_flow(CONFIG, REQUEST_ID, env)
    if name == "estimate":
        return estimate_flow(CONFIG, model, args, env)
    if name == "delete":
        return delete_flow(CONFIG, REQUEST_ID, env)
    if name == "upload":
        return upload_flow(CONFIG, "image/jpeg", RAW, env)
    if name == "upload-stream":
        return upload_flow(CONFIG, "image/jpeg", STREAM, env)
    if name.startswith("wait"):
        check_first = name == "wait-check-first"
        return wait_flow(
            CONFIG, REQUEST_ID, env, cancel_on_timeout=cancel_on_timeout, check_first=check_first
        )
    key = "key-1" if name == "subscribe-key" else None
    return subscribe_flow(CONFIG, model, args, env, idempotency_key=key, cancel_on_timeout=cancel_on_timeout)


retry_policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(min_value=1, max_value=4),
    backoff_base=st.floats(min_value=0, max_value=2),
    backoff_cap=st.floats(min_value=0, max_value=5),
    max_retry_after=st.floats(min_value=0, max_value=60),
)
poll_policies = st.builds(
    PollPolicy,
    initial_delay=st.floats(min_value=0.2, max_value=3),
    multiplier=st.floats(min_value=1, max_value=3),
    max_delay=st.floats(min_value=0.2, max_value=6),
    jitter=st.floats(min_value=0, max_value=0.5),
    timeout=st.none() | st.floats(min_value=0.5, max_value=15),
)


def _is_ambiguous(outcome: object) -> bool:
    if isinstance(outcome, TransportFailure):
        return outcome.request_written
    assert isinstance(outcome, Response)
    return outcome.status >= 500 or outcome.status == 408


def _terminal_answer(outcome: object) -> bool:
    if not isinstance(outcome, Response) or outcome.status != 200:
        return False
    try:
        return json.loads(outcome.body).get("status") in (
            "completed",
            "failed",
            "nsfw",
            "canceled",
            "cancelled",
        )
    except (ValueError, AttributeError):
        return False


@pytest.mark.parametrize("name", FLOW_NAMES)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(specs, max_size=25),
    retry=retry_policies,
    poll=poll_policies,
    jitters=st.lists(st.floats(min_value=0, max_value=1, exclude_max=True), min_size=1, max_size=8),
    cancel_on_timeout=st.booleans(),
    start=st.floats(min_value=0, max_value=1e6),
)
def test_every_flow_keeps_its_promises_on_any_script(
    name: str,
    script: List[Any],
    retry: RetryPolicy,
    poll: PollPolicy,
    jitters: List[float],
    cancel_on_timeout: bool,
    start: float,
) -> None:
    draws = iter(jitters * 1000)
    env = FlowEnv(jitter=lambda: next(draws), retry=retry, poll=poll)
    has_deadline = name in WAITING and poll.timeout is not None
    # With a deadline, a job that never finishes makes the flow meet it; else the job completes.
    default = Ok("queued") if has_deadline else Ok("completed")
    server = FakeServer(list(script), now=start, wall_offset=WALL_START - start, default=default)
    try:
        result = server.run(make_flow(name, env, cancel_on_timeout))
    except HiggsfieldError:
        result = None
    # Anything else (a KeyError, an AssertionError of the fake server...) fails the test here.

    deadline = start + poll.timeout if has_deadline and poll.timeout is not None else math.inf
    records = server.records
    sends = [(i, r) for i, r in enumerate(records) if isinstance(r.effect, Send)]

    # Attempts: consecutive Sends of one request separated only by Sleeps form one exchange.
    run_length = 0
    previous: Optional[int] = None
    for i, record in enumerate(records):
        effect = record.effect
        if isinstance(effect, Send):
            before = records[previous] if previous is not None else None
            if (
                before is not None
                and isinstance(before.effect, Send)
                and before.effect.request == effect.request
            ):
                run_length += 1
                assert previous is not None
                between = [r.effect for r in records[previous + 1 : i]]
                assert between
                assert all(isinstance(e, Sleep) for e in between)
                backoff = sum(e.seconds for e in between if isinstance(e, Sleep))
                told = (
                    retry_after_seconds(before.outcome, now=before.now + WALL_START - start)
                    if isinstance(before.outcome, Response)
                    else None
                )
                if told is not None:
                    assert backoff == told <= retry.max_retry_after
                else:
                    assert 0 <= backoff <= retry.backoff_cap + 1e-9
                # Never a repeat of a submit without Idempotency-Key after an ambiguous failure.
                if kind_of(effect.request) == "submit" and effect.request.header("Idempotency-Key") is None:
                    assert not _is_ambiguous(before.outcome), before.outcome
            else:
                run_length = 1
            assert run_length <= retry.max_attempts
            previous = i
        elif isinstance(effect, Notify):
            previous = None

    for record in records:
        effect = record.effect
        if isinstance(effect, Sleep):
            assert record.now + effect.seconds <= deadline + 1e-6, "slept past the deadline"
        if isinstance(effect, Send):
            if not has_deadline:
                assert effect.timeout is None
            elif effect.timeout is None:
                # The last status check and a cancel happen at the deadline, sent once: the
                # transport's own timeout bounds them.
                assert kind_of(effect.request) in ("status", "cancel")
                assert record.now >= deadline - 1e-6
            else:
                assert effect.timeout is not None
                assert math.isclose(effect.timeout, max(0.0, deadline - record.now), abs_tol=1e-6)

    # Uploads: no PUT before a successful slot answer; the PUT carries no credential.
    slot_ok = False
    for _, record in sends:
        assert isinstance(record.effect, Send)
        request = record.effect.request
        kind = kind_of(request)
        if kind == "put":
            assert slot_ok, "PUT before the upload slot was granted"
            assert request.header("Authorization") is None
            assert not any(KEY_ID in v or SECRET in v for _, v in request.headers)
            if name == "upload-stream":
                assert request.body is STREAM
            else:
                assert request.body == RAW
        else:
            assert request.header("Authorization") == f"Key {KEY_ID}:{SECRET}"
        if kind == "slot" and isinstance(record.outcome, Response) and 200 <= record.outcome.status < 300:
            slot_ok = True

    # Waiting: no status request after a terminal answer; a returned status is terminal.
    if name in WAITING:
        terminal_seen = False
        for _, record in sends:
            assert isinstance(record.effect, Send)
            if kind_of(record.effect.request) == "status":
                assert not terminal_seen, "status requested after a terminal answer"
                terminal_seen = _terminal_answer(record.outcome)
        if result is not None:
            assert isinstance(result, JobStatus)
            assert result.is_terminal
            assert isinstance(records[-1].effect, Notify)
            assert records[-1].effect.event == StatusUpdate(status=result)
