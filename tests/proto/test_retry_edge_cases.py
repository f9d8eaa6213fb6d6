"""Retry edge cases: an oversized answer is final; a cancel retried after its answer was lost
reads a refusal as "already canceled" or "started" depending on the job's state."""

from __future__ import annotations

from typing import Any, List, Optional

import pytest
from proto_support import REQUEST_ID, Slow, expect_error, json_response, run_flow, state_payload

from higgsfield_proto import (
    ApiConfig,
    FailureKind,
    FlowEnv,
    NetworkTimeoutError,
    NotCancellableError,
    PollPolicy,
    Response,
    Retrying,
    RetryPolicy,
    StreamedResponse,
    TransportError,
    TransportFailure,
    WaitTimeoutError,
    cancel_flow,
    download_flow,
    status_flow,
    subscribe_flow,
)

MODEL = "higgsfield-ai/soul/standard"
ARGS = {"prompt": "a lake"}

ENV = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.1, backoff_cap=0.1))
REFUSED = json_response(400, {"detail": "Request is already being processed and can no longer be canceled"})
LOST = [
    TransportFailure(kind=FailureKind.READ, detail="truncated", request_written=True),
    TransportFailure(kind=FailureKind.TIMEOUT, detail="slow", request_written=True),
    Response(status=500),
    Response(status=504),
    Response(status=408),
]


@pytest.mark.parametrize("lost", LOST)
def test_a_refused_retry_of_a_cancel_that_took_effect_succeeds(config: ApiConfig, lost: Any) -> None:
    result, runner = run_flow(
        cancel_flow(config, REQUEST_ID, ENV), [lost, REFUSED, json_response(200, state_payload("canceled"))]
    )
    assert result is None
    assert runner.kinds() == ["send:POST", "notify:Retrying", "sleep", "send:POST", "send:GET"]


@pytest.mark.parametrize("state", ["in_progress", "completed", "queued"])
def test_a_refused_retry_of_a_job_that_started_is_not_cancellable(config: ApiConfig, state: str) -> None:
    error, runner = expect_error(
        cancel_flow(config, REQUEST_ID, ENV), [LOST[0], REFUSED, json_response(200, state_payload(state))]
    )
    assert isinstance(error, NotCancellableError)
    assert error.status_code == 400
    assert runner.kinds() == ["send:POST", "notify:Retrying", "sleep", "send:POST", "send:GET"]


def test_when_the_state_cannot_be_read_the_refusal_stands(config: ApiConfig) -> None:
    script: List[Any] = [LOST[2], REFUSED, json_response(404, {"detail": "Request not found"})]
    error, _ = expect_error(cancel_flow(config, REQUEST_ID, ENV), script)
    assert isinstance(error, NotCancellableError)


@pytest.mark.parametrize(
    "earlier",
    [
        TransportFailure(kind=FailureKind.CONNECT, detail="refused", request_written=False),
        Response(status=429, headers=(("Retry-After", "0"),)),
    ],
)
def test_a_refusal_after_failures_that_never_reached_the_job_is_final(
    config: ApiConfig, earlier: Any
) -> None:
    error, runner = expect_error(cancel_flow(config, REQUEST_ID, ENV), [earlier, REFUSED])
    assert isinstance(error, NotCancellableError)
    assert runner.kinds() == ["send:POST", "notify:Retrying", "sleep", "send:POST"]


def test_an_answer_over_the_size_limit_is_not_asked_for_again(config: ApiConfig) -> None:
    too_large = TransportFailure(kind=FailureKind.TOO_LARGE, detail="over 64 MiB", request_written=True)
    decision = ENV.retry.decide(1, too_large, repeatable=True, now=0.0, jitter=0.5)
    assert "larger" in getattr(decision, "reason", "")
    error, runner = expect_error(status_flow(config, REQUEST_ID, ENV), [too_large])
    assert isinstance(error, TransportError)
    assert error.kind == "too_large"
    assert runner.kinds() == ["send:GET"]


def _deadline_env(timeout: float) -> FlowEnv:
    return FlowEnv(
        retry=RetryPolicy(max_attempts=3, backoff_base=0.1, backoff_cap=0.1),
        poll=PollPolicy(initial_delay=1.0, multiplier=1.0, max_delay=1.0, jitter=0.0, timeout=timeout),
    )


def test_a_submit_unanswered_at_the_deadline_is_a_wait_timeout(config: ApiConfig) -> None:
    cut = TransportFailure(kind=FailureKind.TIMEOUT, detail="deadline reached", request_written=True)
    error, runner = expect_error(
        subscribe_flow(config, MODEL, ARGS, _deadline_env(5.0), idempotency_key="k-1"), [Slow(cut, 5.0)]
    )
    assert isinstance(error, WaitTimeoutError)
    assert error.request_id is None
    assert isinstance(error.__cause__, NetworkTimeoutError)
    assert "may have been created" in str(error)
    assert runner.kinds() == ["send:POST"]  # the clock, read after the failure, says: no time left


@pytest.mark.parametrize("timeout", [None, 30.0])
def test_a_submit_failing_before_the_deadline_is_a_transport_error(
    config: ApiConfig, timeout: Optional[float]
) -> None:
    refused = TransportFailure(kind=FailureKind.CONNECT, detail="refused")
    env = _deadline_env(timeout) if timeout is not None else FlowEnv(retry=RetryPolicy.never())
    error, _ = expect_error(subscribe_flow(config, MODEL, ARGS, env, idempotency_key="k-1"), [refused] * 3)
    assert type(error) is TransportError
    assert error.kind == "connect"



def test_each_repeat_is_announced_with_its_cause_and_wait(config: ApiConfig) -> None:
    busy = json_response(429, {"detail": "busy"}, headers=[("Retry-After", "7")])
    lost = TransportFailure(kind=FailureKind.CONNECT, detail="refused", request_written=False)
    env = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.25, backoff_cap=0.25))
    answers = [busy, lost, json_response(200, state_payload("queued"))]
    _, runner = run_flow(status_flow(config, REQUEST_ID, env), answers)
    url = runner.sends[0].request.url
    announced = [event for event in runner.notified if isinstance(event, Retrying)]
    assert announced == [
        Retrying(method="GET", url=url, attempt=1, delay=7.0, status=429, retry_after=7.0),
        Retrying(method="GET", url=url, attempt=2, delay=0.125, failure="connect"),
    ]
    assert [event.reason for event in announced] == ["HTTP 429", "connect failure"]
    assert runner.sleeps == [7.0, 0.125]


def test_a_repeat_after_a_retry_after_date_carries_the_seconds_it_asked_for(config: ApiConfig) -> None:
    # No Date header: the date is measured against the wall clock the flow read (the runner's).
    busy = json_response(503, {"detail": "busy"}, headers=[("Retry-After", "Thu, 01 Jan 1970 00:00:03 GMT")])
    backoff = json_response(503, {"detail": "busy"})
    env = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.25, backoff_cap=0.25))
    answers = [busy, backoff, json_response(200, state_payload("queued"))]
    _, runner = run_flow(status_flow(config, REQUEST_ID, env), answers, wall_offset=0.0)
    announced = [event for event in runner.notified if isinstance(event, Retrying)]
    assert [(event.retry_after, event.delay) for event in announced] == [(3.0, 3.0), (None, 0.125)]


def test_an_announced_repeat_leaves_the_query_of_a_signed_url_out() -> None:
    url = "https://cdn.example/outputs/r1/0.png?X-Amz-Signature=s3cr3t"
    lost = TransportFailure(kind=FailureKind.READ, detail="reset", request_written=True)
    body = StreamedResponse(status=200, headers=(("Content-Length", "3"),), received=3)
    _, runner = run_flow(download_flow(url, ENV), [lost, body])
    (event,) = [event for event in runner.notified if isinstance(event, Retrying)]
    assert event.url == "https://cdn.example/outputs/r1/0.png"
    assert "s3cr3t" not in repr(event)
