"""Flows driven by a scripted runner: effects out, outcomes in, a fake monotonic clock."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from proto_support import (
    BASE_URL,
    ESTIMATE,
    KEY_ID,
    REQUEST_ID,
    SECRET,
    SUBMITTED,
    UPLOAD_SLOT,
    ScriptedRunner,
    Slow,
    json_response,
    secret_free,
    state_payload,
)
from proto_support import (
    expect_error as _expect_error,
)
from proto_support import (
    run_flow as _run_flow,
)

from higgsfield_proto import (
    ApiConfig,
    APIError,
    AuthenticationError,
    Enqueued,
    FailureKind,
    Flow,
    FlowEnv,
    InvalidArgumentError,
    JobState,
    JobStatus,
    NetworkTimeoutError,
    NotCancellableError,
    Now,
    PollPolicy,
    RateLimitError,
    Request,
    Response,
    RetryPolicy,
    Send,
    Sleep,
    StatusUpdate,
    StreamedBody,
    TransportError,
    TransportFailure,
    UploadRejectedError,
    UploadTarget,
    WaitTimeoutError,
    build_cancel_request,
    build_status_request,
    build_submit_request,
    cancel_flow,
    delete_flow,
    estimate_flow,
    status_flow,
    submit_flow,
    subscribe_flow,
    upload_flow,
    wait_flow,
)

MODEL = "higgsfield-ai/soul/standard"
ARGS = {"prompt": "A quiet alpine lake at sunrise, editorial photography"}
START = 1000.0
T = TypeVar("T")


def _env(
    *,
    timeout: float | None = None,
    initial: float = 2.0,
    multiplier: float = 1.5,
    cap: float = 3.0,
    retry: RetryPolicy | None = None,
    jitter: float = 1.0,
) -> FlowEnv:
    return FlowEnv(
        jitter=lambda: jitter,
        retry=retry or RetryPolicy(max_attempts=3, backoff_base=0.5, backoff_cap=4.0),
        poll=PollPolicy(
            initial_delay=initial, multiplier=multiplier, max_delay=cap, jitter=0.0, timeout=timeout
        ),
    )


def run_flow(flow: Flow[T], script: list[Any]) -> tuple[T, ScriptedRunner]:
    """Run ``flow`` on a fake clock that starts at ``START``."""
    return _run_flow(flow, script, start=START)


def expect_error(flow: Flow[Any], script: list[Any]) -> tuple[BaseException, ScriptedRunner]:
    return _expect_error(flow, script, start=START)


def _status(state: str, **extra: Any) -> Response:
    return json_response(200, state_payload(state, **extra))


def _failure(kind: FailureKind = FailureKind.CONNECT, *, sent: bool = False) -> TransportFailure:
    return TransportFailure(kind=kind, detail="boom", request_written=sent)


# -- single-request flows ----------------------------------------------------------------------


def test_submit_flow_sends_one_submit_and_returns_the_queued_job(config: ApiConfig) -> None:
    job, runner = run_flow(submit_flow(config, MODEL, ARGS, _env()), [json_response(200, SUBMITTED)])
    assert job.state is JobState.QUEUED
    assert job.request_id == REQUEST_ID
    assert runner.kinds() == ["send:POST"]
    send = runner.sends[0]
    assert send.request == build_submit_request(config, MODEL, ARGS)
    assert send.timeout is None
    assert send.request.header("Authorization") == f"Key {KEY_ID}:{SECRET}"


def test_submit_flow_passes_webhook_key_and_retention(config: ApiConfig) -> None:
    flow = submit_flow(
        config,
        MODEL,
        ARGS,
        _env(),
        webhook_url="https://hooks.example/h",
        idempotency_key="k-1",
        expires_after=3600,
    )
    _, runner = run_flow(flow, [json_response(200, SUBMITTED)])
    request = runner.sends[0].request
    assert "hf_webhook=https%3A%2F%2Fhooks.example%2Fh" in request.url
    assert request.header("Idempotency-Key") == "k-1"
    assert request.header("Hf-Expires-After") == "3600"


def test_status_flow_checks_once(config: ApiConfig) -> None:
    status, runner = run_flow(status_flow(config, REQUEST_ID, _env()), [_status("in_progress")])
    assert status.state is JobState.IN_PROGRESS
    assert [s.request for s in runner.sends] == [build_status_request(config, REQUEST_ID)]
    assert runner.notified == []


def test_cancel_flow_accepts_202_and_raises_on_400(config: ApiConfig) -> None:
    result, runner = run_flow(cancel_flow(config, REQUEST_ID, _env()), [Response(status=202)])
    assert result is None
    assert runner.sends[0].request == build_cancel_request(config, REQUEST_ID)
    error, _ = expect_error(
        cancel_flow(config, REQUEST_ID, _env()), [json_response(400, {"detail": "already started"})]
    )
    assert isinstance(error, NotCancellableError)
    assert error.request_id == REQUEST_ID


def test_estimate_flow(config: ApiConfig) -> None:
    estimate, runner = run_flow(estimate_flow(config, MODEL, ARGS, _env()), [json_response(200, ESTIMATE)])
    assert str(estimate.credits) == "1.500"
    assert str(estimate.usd) == "0.094"
    assert runner.sends[0].request.url == f"https://api.higgsfield.ai/estimate/{MODEL}"


def test_delete_flow(config: ApiConfig) -> None:
    deletion, runner = run_flow(delete_flow(config, REQUEST_ID, _env()), [Response(status=200, body=b"{}")])
    assert deletion.request_id == REQUEST_ID
    assert runner.sends[0].request.method == "DELETE"


# -- upload ------------------------------------------------------------------------------------


def _never_read() -> list[bytes]:
    raise AssertionError("the flow must not read a streamed body")


def test_upload_flow_asks_for_a_slot_then_puts_without_credentials(config: ApiConfig) -> None:
    body = StreamedBody(open=_never_read, length=1234)
    target, runner = run_flow(
        upload_flow(config, "image/jpeg", body, _env()),
        [json_response(200, UPLOAD_SLOT), Response(status=200)],
    )
    assert isinstance(target, UploadTarget)
    assert target.public_url == "https://cdn.example/input/abc.jpeg"
    slot, put = (send.request for send in runner.sends)
    assert slot.method == "POST"
    assert slot.url.endswith("/files/generate-upload-url")
    assert slot.header("Authorization") == f"Key {KEY_ID}:{SECRET}"
    assert put.method == "PUT"
    assert put.url == UPLOAD_SLOT["upload_url"]
    assert put.headers == (("Content-Type", "image/jpeg"), ("x-amz-tagging", "retention=temporary"))
    assert put.body is body
    assert put.header("Authorization") is None
    assert secret_free(put, SECRET, KEY_ID)


def test_upload_flow_falls_back_to_the_content_type_when_the_slot_has_no_headers(config: ApiConfig) -> None:
    slot = {**UPLOAD_SLOT, "upload_headers": None, "content_type": "image/png"}
    _, runner = run_flow(
        upload_flow(config, "image/png", b"png", _env()), [json_response(200, slot), Response(status=200)]
    )
    put = runner.sends[1].request
    assert put.headers == (("Content-Type", "image/png"),)
    assert put.body == b"png"


def test_upload_flow_never_puts_when_the_slot_request_fails(config: ApiConfig) -> None:
    error, runner = expect_error(
        upload_flow(config, "image/jpeg", b"x", _env()),
        [json_response(401, {"detail": "Invalid credentials"})],
    )
    assert isinstance(error, AuthenticationError)
    assert [s.request.method for s in runner.sends] == ["POST"]


def test_upload_flow_retries_the_put_with_the_same_streamed_body(config: ApiConfig) -> None:
    body = StreamedBody(open=_never_read)
    _, runner = run_flow(
        upload_flow(config, "image/jpeg", body, _env()),
        [
            json_response(200, UPLOAD_SLOT),
            Response(status=503),
            _failure(FailureKind.WRITE, sent=True),
            Response(status=200),
        ],
    )
    puts = [s.request for s in runner.sends if s.request.method == "PUT"]
    assert len(puts) == 3
    assert all(put is puts[0] and put.body is body for put in puts)
    repeat = ["notify:Retrying", "sleep", "send:PUT"]
    assert runner.kinds() == ["send:POST", "send:PUT", *repeat, *repeat]


def test_upload_flow_rejected_put(config: ApiConfig) -> None:
    error, _ = expect_error(
        upload_flow(config, "image/jpeg", b"x", _env()),
        [json_response(200, UPLOAD_SLOT), Response(status=403, body=b"<Error>SignatureDoesNotMatch</Error>")],
    )
    assert isinstance(error, UploadRejectedError)
    assert error.status_code == 403


# -- wait --------------------------------------------------------------------------------------


def test_wait_polls_once_per_tick_and_returns_the_terminal_status_without_another_request(
    config: ApiConfig,
) -> None:
    script = [_status("queued"), _status("in_progress"), _status("in_progress"), _status("completed")]
    status, runner = run_flow(wait_flow(config, REQUEST_ID, _env(cap=10.0)), script)
    assert status.state is JobState.COMPLETED
    assert status.images == ("https://cdn.example/out-1.png",)
    assert runner.kinds() == ["sleep", "send:GET", "notify:StatusUpdate"] * 4
    assert runner.sleeps == [2.0, 3.0, 4.5, 6.75]
    assert all(s.request == build_status_request(config, REQUEST_ID) for s in runner.sends)
    updates = [u for u in runner.notified if isinstance(u, StatusUpdate)]
    assert len(updates) == len(runner.notified) == 4
    assert [u.status.state.value for u in updates] == ["queued", "in_progress", "in_progress", "completed"]
    assert runner.now == START + sum(runner.sleeps)


def test_wait_with_check_first_asks_at_once_then_follows_the_schedule(config: ApiConfig) -> None:
    script = [_status("queued"), _status("in_progress"), _status("completed")]
    env = _env(timeout=60.0, cap=10.0)
    status, runner = run_flow(wait_flow(config, REQUEST_ID, env, check_first=True), script)
    assert status.state is JobState.COMPLETED
    assert (
        runner.kinds()
        == ["send:GET", "notify:StatusUpdate"] + ["sleep", "send:GET", "notify:StatusUpdate"] * 2
    )
    assert runner.sleeps == [2.0, 3.0]
    assert runner.sends[0].timeout == 60.0


def test_wait_with_check_first_returns_a_long_finished_job_after_one_request(config: ApiConfig) -> None:
    status, runner = run_flow(wait_flow(config, REQUEST_ID, _env(), check_first=True), [_status("failed")])
    assert status.state is JobState.FAILED
    assert runner.kinds() == ["send:GET", "notify:StatusUpdate"]


@pytest.mark.parametrize("state", ["failed", "nsfw", "canceled", "cancelled"])
def test_wait_returns_unsuccessful_terminal_states_too(config: ApiConfig, state: str) -> None:
    status, runner = run_flow(wait_flow(config, REQUEST_ID, _env()), [_status("queued"), _status(state)])
    assert status.is_terminal
    assert len(runner.sends) == 2


def test_wait_retries_a_failed_status_check_within_one_tick(config: ApiConfig) -> None:
    script = [Response(status=503), _failure(FailureKind.READ, sent=True), _status("completed")]
    status, runner = run_flow(wait_flow(config, REQUEST_ID, _env()), script)
    assert status.state is JobState.COMPLETED
    assert runner.kinds() == [
        "sleep",
        "send:GET",
        "notify:Retrying",
        "sleep",
        "send:GET",
        "notify:Retrying",
        "sleep",
        "send:GET",
        "notify:StatusUpdate",
    ]
    assert runner.sleeps == [2.0, 0.5, 1.0]


def test_wait_without_deadline_raises_transport_errors(config: ApiConfig) -> None:
    script = [
        _failure(FailureKind.CONNECT),
        _failure(FailureKind.CONNECT),
        _failure(FailureKind.TIMEOUT, sent=True),
    ]
    error, runner = expect_error(wait_flow(config, REQUEST_ID, _env()), script)
    assert isinstance(error, NetworkTimeoutError)
    assert isinstance(error, TransportError)
    assert error.kind == "timeout"
    assert error.request_written is True
    assert len(runner.sends) == 3


def test_wait_error_answers_propagate(config: ApiConfig) -> None:
    error, _ = expect_error(
        wait_flow(config, REQUEST_ID, _env()), [json_response(404, {"detail": "Not found"})]
    )
    assert type(error).__name__ == "NotFoundError"


def test_wait_times_out_with_the_request_id_and_never_sleeps_past_the_deadline(config: ApiConfig) -> None:
    env = _env(timeout=5.0, initial=2.0, multiplier=1.0, cap=2.0)
    script = [_status("queued"), _status("in_progress"), _status("in_progress")]
    error, runner = expect_error(wait_flow(config, REQUEST_ID, env), script)
    assert isinstance(error, WaitTimeoutError)
    assert isinstance(error, TimeoutError)
    assert error.request_id == REQUEST_ID
    assert error.last_status == "in_progress"
    assert error.cancelled is False
    assert runner.sleeps == [2.0, 2.0, 1.0]
    assert runner.now == START + 5.0
    # One last check at the deadline, sent once and bounded by the transport's own timeout.
    sends = [(when, effect.timeout) for when, effect in runner.effects if isinstance(effect, Send)]
    assert sends == [(START + 2.0, 3.0), (START + 4.0, 1.0), (START + 5.0, None)]


def test_a_job_that_finished_by_the_deadline_is_returned_by_the_last_check(config: ApiConfig) -> None:
    env = _env(timeout=5.0, initial=2.0, multiplier=1.0, cap=2.0)
    script = [_status("queued"), _status("in_progress"), _status("completed")]
    status, runner = run_flow(wait_flow(config, REQUEST_ID, env), script)
    assert status.state is JobState.COMPLETED
    assert runner.now == START + 5.0
    assert runner.kinds()[-3:] == ["sleep", "send:GET", "notify:StatusUpdate"]


@pytest.mark.parametrize("answer", [_failure(FailureKind.TIMEOUT, sent=True), Response(status=503)])
def test_a_failed_last_check_leaves_the_last_status_seen(config: ApiConfig, answer: Any) -> None:
    env = _env(timeout=3.0, initial=2.0, multiplier=1.0, cap=2.0)
    error, runner = expect_error(wait_flow(config, REQUEST_ID, env), [_status("in_progress"), answer])
    assert isinstance(error, WaitTimeoutError)
    assert error.last_status == "in_progress"
    assert len(runner.sends) == 2  # the last check is never repeated


def test_wait_send_timeout_is_the_time_left_before_the_deadline(config: ApiConfig) -> None:
    env = _env(timeout=10.0, initial=2.0, multiplier=1.0, cap=2.0)
    script = [Response(status=502), _status("queued"), _status("completed")]
    _, runner = run_flow(wait_flow(config, REQUEST_ID, env), script)
    timeouts = [(when, effect.timeout) for when, effect in runner.effects if isinstance(effect, Send)]
    assert timeouts == [(START + 2.0, 8.0), (START + 2.5, 7.5), (START + 4.5, 5.5)]


def test_cancel_on_timeout_cancels_a_job_that_is_still_queued(config: ApiConfig) -> None:
    env = _env(timeout=3.0, initial=2.0, multiplier=1.0, cap=2.0)
    flow = wait_flow(config, REQUEST_ID, env, cancel_on_timeout=True)
    error, runner = expect_error(flow, [_status("queued"), _status("queued"), Response(status=202)])
    assert isinstance(error, WaitTimeoutError)
    assert error.cancelled is True
    assert error.last_status == "queued"
    assert "canceled" in str(error)
    cancel = runner.sends[-1]
    assert cancel.request == build_cancel_request(config, REQUEST_ID)
    assert runner.kinds()[-4:] == ["sleep", "send:GET", "notify:StatusUpdate", "send:POST"]


def test_cancel_on_timeout_leaves_a_running_job_alone(config: ApiConfig) -> None:
    env = _env(timeout=3.0, initial=2.0, multiplier=1.0, cap=2.0)
    flow = wait_flow(config, REQUEST_ID, env, cancel_on_timeout=True)
    error, runner = expect_error(flow, [_status("queued"), _status("in_progress")])
    assert isinstance(error, WaitTimeoutError)
    assert error.cancelled is False
    assert error.last_status == "in_progress"
    assert [s.request.method for s in runner.sends] == ["GET", "GET"]


def test_cancel_on_timeout_before_any_status_was_seen(config: ApiConfig) -> None:
    env = _env(timeout=1.0, initial=2.0)
    error, runner = expect_error(
        wait_flow(config, REQUEST_ID, env, cancel_on_timeout=True), [_failure(), Response(status=202)]
    )
    assert isinstance(error, WaitTimeoutError)
    assert error.cancelled
    assert error.last_status is None
    assert runner.kinds() == ["sleep", "send:GET", "send:POST"]
    assert runner.sleeps == [1.0]


@pytest.mark.parametrize(
    "answer",
    [json_response(400, {"detail": "already processing"}), _failure(FailureKind.CONNECT)],
)
def test_a_failed_cancel_on_timeout_is_reported_in_the_timeout_error(config: ApiConfig, answer: Any) -> None:
    env = _env(timeout=1.0, initial=2.0)
    flow = wait_flow(config, REQUEST_ID, env, cancel_on_timeout=True)
    error, runner = expect_error(flow, [_failure(), answer])
    assert isinstance(error, WaitTimeoutError)
    assert error.cancelled is False
    assert "canceling it failed" in str(error)
    assert len(runner.sends) == 2


def test_a_status_check_cut_short_by_the_deadline_is_a_wait_timeout(config: ApiConfig) -> None:
    env = _env(timeout=10.0, initial=2.0, multiplier=1.0, cap=2.0, retry=RetryPolicy.never())
    # The transport gives up exactly when Send.timeout runs out.
    script = [_status("queued"), Slow(_failure(FailureKind.TIMEOUT, sent=True), 6.0)]
    error, runner = expect_error(wait_flow(config, REQUEST_ID, env), script)
    assert isinstance(error, WaitTimeoutError)
    assert error.last_status == "queued"
    assert runner.sleeps == [2.0, 2.0]  # the flow reads the clock (Now) instead of guessing
    assert runner.now == START + 10.0


def test_a_network_failure_well_before_the_deadline_is_a_transport_error(config: ApiConfig) -> None:
    env = _env(timeout=100.0, retry=RetryPolicy(max_attempts=2, backoff_base=0.5))
    error, runner = expect_error(wait_flow(config, REQUEST_ID, env), [_failure(), _failure()])
    assert type(error) is TransportError
    assert error.kind == "connect"
    assert runner.sleeps == [2.0, 0.5]


# -- subscribe ---------------------------------------------------------------------------------


def test_subscribe_submits_notifies_enqueued_then_polls(config: ApiConfig) -> None:
    script = [json_response(200, SUBMITTED), _status("queued"), _status("in_progress"), _status("completed")]
    status, runner = run_flow(subscribe_flow(config, MODEL, ARGS, _env()), script)
    assert status.state is JobState.COMPLETED
    assert (
        runner.kinds() == ["send:POST", "notify:Enqueued"] + ["sleep", "send:GET", "notify:StatusUpdate"] * 3
    )
    assert runner.notified[0] == Enqueued(request_id=REQUEST_ID)
    assert all(s.request == build_status_request(config, REQUEST_ID) for s in runner.sends[1:])


def test_subscribe_sleeping_between_checks_holds_no_request_answer_or_status(config: ApiConfig) -> None:
    # Thousands of jobs may wait at once: between two checks a wait keeps what it polls with
    # (ids, policy, the last state), not the submit's request, an answer or a status payload.
    flow = subscribe_flow(config, MODEL, ARGS, _env())
    effect = flow.send(None)
    answers = iter([json_response(200, SUBMITTED), _status("queued"), _status("in_progress")])
    sleeps = 0
    while sleeps < 3:
        if isinstance(effect, Sleep):
            sleeps += 1
            if sleeps == 3:
                break
        effect = flow.send(next(answers) if isinstance(effect, Send) else 0.0)
    frames: list[Any] = []
    generator: Any = flow
    while generator is not None:
        frames.append(generator.gi_frame)
        generator = generator.gi_yieldfrom
    held = [value for frame in frames for value in frame.f_locals.values()]
    assert [type(value).__name__ for value in held if isinstance(value, (Request, Response, JobStatus))] == []
    assert JobState.IN_PROGRESS in held
    flow.close()


def test_subscribe_returns_a_finished_idempotent_replay_without_polling(config: ApiConfig) -> None:
    answer = json_response(200, state_payload("completed"))
    status, runner = run_flow(subscribe_flow(config, MODEL, ARGS, _env(), idempotency_key="k"), [answer])
    assert status.state is JobState.COMPLETED
    assert runner.kinds() == ["send:POST", "notify:Enqueued", "notify:StatusUpdate"]


def test_subscribe_deadline_covers_submit_and_wait(config: ApiConfig) -> None:
    env = _env(timeout=5.0, initial=2.0, multiplier=1.0, cap=2.0)
    script = [
        Response(status=429, headers=(("Retry-After", "1"),)),
        json_response(200, SUBMITTED),
        _status("queued"),
        _status("queued"),
        Response(status=202),
    ]
    error, runner = expect_error(subscribe_flow(config, MODEL, ARGS, env, cancel_on_timeout=True), script)
    assert isinstance(error, WaitTimeoutError)
    assert error.cancelled
    assert runner.sleeps == [1.0, 2.0, 2.0]
    assert runner.now == START + 5.0
    sends = [(when, effect.timeout) for when, effect in runner.effects if isinstance(effect, Send)]
    assert sends[:3] == [(START, 5.0), (START + 1.0, 4.0), (START + 3.0, 2.0)]
    # The last check and the cancel after the deadline: the transport's own timeout only.
    assert sends[3:] == [(START + 5.0, None), (START + 5.0, None)]


def test_subscribe_error_on_submit_does_not_poll(config: ApiConfig) -> None:
    error, runner = expect_error(
        subscribe_flow(config, MODEL, ARGS, _env()), [json_response(401, {"detail": "Invalid credentials"})]
    )
    assert isinstance(error, AuthenticationError)
    assert runner.notified == []


# -- retries and submits -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "ambiguous",
    [
        _failure(FailureKind.READ, sent=True),
        _failure(FailureKind.TIMEOUT, sent=True),
        Response(status=500),
        Response(status=502),
        Response(status=503),
        Response(status=504),
        Response(status=408),
    ],
)
def test_a_submit_without_idempotency_key_is_never_repeated_after_an_ambiguous_failure(
    config: ApiConfig, ambiguous: Any
) -> None:
    error, runner = expect_error(submit_flow(config, MODEL, ARGS, _env()), [ambiguous])
    assert isinstance(error, (TransportError, APIError))
    assert len(runner.sends) == 1


@pytest.mark.parametrize(
    "first",
    [
        _failure(FailureKind.CONNECT, sent=False),
        _failure(FailureKind.TLS, sent=False),
        Response(status=429, headers=(("Retry-After", "2"),)),
    ],
)
def test_a_submit_without_key_is_repeated_when_the_server_provably_did_not_act(
    config: ApiConfig, first: Any
) -> None:
    job, runner = run_flow(submit_flow(config, MODEL, ARGS, _env()), [first, json_response(200, SUBMITTED)])
    assert job.request_id == REQUEST_ID
    assert runner.sends[0].request is runner.sends[1].request


def test_a_submit_with_idempotency_key_is_repeated_after_ambiguous_failures(config: ApiConfig) -> None:
    script = [_failure(FailureKind.READ, sent=True), Response(status=503), json_response(200, SUBMITTED)]
    job, runner = run_flow(submit_flow(config, MODEL, ARGS, _env(), idempotency_key="k-9"), script)
    assert job.request_id == REQUEST_ID
    assert len({id(s.request) for s in runner.sends}) == 1
    assert all(s.request.header("Idempotency-Key") == "k-9" for s in runner.sends)


def test_429_retry_after_is_honoured_then_the_limit_is_raised(config: ApiConfig) -> None:
    full = json_response(429, {"code": "account_queue_full", "limit": 4}, headers=[("Retry-After", "3")])
    error, runner = expect_error(
        submit_flow(config, MODEL, ARGS, _env(), idempotency_key="k"), [full, full, full]
    )
    assert isinstance(error, RateLimitError)
    assert (error.code, error.limit, error.retry_after) == ("account_queue_full", 4, 3.0)
    assert runner.sleeps == [3.0, 3.0]
    assert len(runner.sends) == 3


def test_retry_after_http_date_uses_the_wall_clock_offset(config: ApiConfig) -> None:
    wall = datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc).timestamp()
    answer = Response(status=503, headers=(("Retry-After", "Wed, 21 Oct 2015 07:28:07 GMT"),))
    flow = status_flow(config, REQUEST_ID, _env())
    _, runner = _run_flow(flow, [answer, _status("queued")], start=START, wall_offset=wall - START)
    assert runner.sleeps == [7.0]


def test_backoff_uses_the_jitter_source(config: ApiConfig) -> None:
    draws = iter([0.25, 0.5, 0.0])
    env = FlowEnv(jitter=lambda: next(draws), retry=RetryPolicy(backoff_base=4.0, backoff_cap=100.0))
    _, runner = run_flow(
        status_flow(config, REQUEST_ID, env), [Response(status=500), Response(status=500), _status("queued")]
    )
    assert runner.sleeps == [1.0, 4.0]


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        (FailureKind.CONNECT, TransportError),
        (FailureKind.TLS, TransportError),
        (FailureKind.READ, TransportError),
        (FailureKind.TOO_LARGE, TransportError),
        (FailureKind.TIMEOUT, NetworkTimeoutError),
    ],
)
def test_exhausted_transport_failures_become_transport_errors(
    config: ApiConfig, kind: FailureKind, cls: type[TransportError]
) -> None:
    error, runner = expect_error(status_flow(config, REQUEST_ID, _env()), [_failure(kind)] * 3)
    assert type(error) is cls
    assert error.kind == kind.value
    assert error.request_written is False
    assert "boom" in str(error)
    assert kind.value in str(error)
    # An answer over the size limit would not shrink on a repeat: it is final at once.
    assert len(runner.sends) == (1 if kind is FailureKind.TOO_LARGE else 3)
    assert runner.sleeps == ([] if kind is FailureKind.TOO_LARGE else [0.5, 1.0])


def test_transport_error_message_without_detail(config: ApiConfig) -> None:
    env = FlowEnv(retry=RetryPolicy.never())
    error, _ = expect_error(
        status_flow(config, REQUEST_ID, env), [TransportFailure(kind=FailureKind.CONNECT)]
    )
    assert str(error) == f"network failure reaching {urlsplit(BASE_URL).hostname} after 1 attempt (connect)"


def test_default_env_is_usable(config: ApiConfig) -> None:
    env = FlowEnv()
    assert env.jitter() == 0.5
    _, runner = run_flow(status_flow(config, REQUEST_ID, env), [Response(status=503), _status("queued")])
    assert runner.sleeps == [0.25]


def test_a_flow_abandoned_mid_way_closes_cleanly(config: ApiConfig) -> None:
    flow = wait_flow(config, REQUEST_ID, _env())
    assert isinstance(next(flow), Sleep)
    assert isinstance(flow.send(START + 2.0), Send)
    flow.close()
    with pytest.raises(StopIteration):
        next(flow)


def test_flows_ask_nothing_until_started(config: ApiConfig) -> None:
    # Building a flow performs no work: bad arguments surface on the first step.
    flow = submit_flow(config, "bad model", ARGS, _env())
    with pytest.raises(InvalidArgumentError, match="invalid model id"):
        next(flow)


def test_payload_is_the_decoded_json(config: ApiConfig) -> None:
    status, _ = run_flow(status_flow(config, REQUEST_ID, _env()), [_status("queued", extra="x")])
    assert json.loads(json.dumps(dict(status.payload))) == state_payload("queued", extra="x")


def test_a_deadline_starts_when_the_runner_says_not_at_zero(config: ApiConfig) -> None:
    # On a machine up for months the monotonic clock reads far more than any timeout: a flow
    # that assumed it started at 0 would time out at once, after billing a submit.
    env = FlowEnv(poll=PollPolicy(timeout=600.0))
    script = [json_response(200, SUBMITTED), _status("queued"), _status("completed")]
    status, runner = _run_flow(subscribe_flow(config, MODEL, ARGS, env), script, start=9_000_000.0)
    assert status.state is JobState.COMPLETED
    assert isinstance(runner.effects[0][1], Now)  # the first thing a deadline-bearing flow does
    assert runner.sends[0].timeout == 600.0
