"""What the core gives code written for the official SDK: API errors chained from an answer that
reads like httpx's, a caller's retry schedule, a request of the caller's own sent with retries, the
upload slot alone, job states read on their own, and URLs on a base URL given as a string."""

from __future__ import annotations

import json
from typing import Any, List, Optional, Tuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from proto_support import (
    BASE_URL,
    CORRELATION_ID,
    KEY_ID,
    REQUEST_ID,
    SECRET,
    SUBMITTED,
    UPLOAD_SLOT,
    expect_error,
    json_response,
    run_flow,
    state_payload,
)

from higgsfield_proto import (
    ApiConfig,
    APIError,
    ErrorResponse,
    FailureKind,
    FlowEnv,
    GiveUp,
    HeaderView,
    HTTPStatusError,
    InvalidArgumentError,
    JobState,
    NotCancellableError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    Request,
    Response,
    Retry,
    RetryPolicy,
    ServerError,
    TransportError,
    TransportFailure,
    UnknownStatusError,
    UploadTarget,
    ValidationError,
    build_status_request,
    cancel_flow,
    cancel_url,
    error_from_response,
    parse_job_state,
    send_flow,
    status_flow,
    status_url,
    submit_flow,
    upload_slot_flow,
)

MODEL = "higgsfield-ai/soul/standard"


def _env(retry: Optional[RetryPolicy] = None) -> FlowEnv:
    return FlowEnv(retry=retry or RetryPolicy(max_attempts=3, backoff_base=0.5), jitter=lambda: 1.0)


def _cause(error: BaseException) -> HTTPStatusError:
    cause = error.__cause__
    assert isinstance(cause, HTTPStatusError), repr(cause)
    return cause


# -- the cause of an API error -----------------------------------------------------------------


def test_an_api_error_from_a_flow_is_chained_from_the_answer_and_the_request_it_answered(
    config: ApiConfig,
) -> None:
    answer = json_response(404, {"detail": "Request not found"}, [("X-Request-Trace", "t1")])
    error, _ = expect_error(status_flow(config, REQUEST_ID, _env()), [answer])
    assert isinstance(error, NotFoundError)
    cause = _cause(error)
    response = cause.response
    assert response.status_code == 404
    assert response.headers["x-correlation-id"] == CORRELATION_ID  # any case, as httpx reads it
    assert response.headers["X-CORRELATION-ID"] == CORRELATION_ID
    assert response.headers.get("x-request-trace") == "t1"
    assert response.json() == {"detail": "Request not found"}
    assert json.loads(response.text) == {"detail": "Request not found"}
    assert response.reason_phrase == "Not Found"
    assert (response.is_error, response.is_success) == (True, False)
    assert cause.request is response.request is not None
    assert cause.request.method == "GET"
    assert cause.request.url == response.url == f"{BASE_URL}/requests/{REQUEST_ID}/status"
    assert str(cause) == f"Client error '404 Not Found' for url '{BASE_URL}/requests/{REQUEST_ID}/status'"
    assert error.__suppress_context__


def test_the_cause_never_shows_a_credential_a_query_or_user_info() -> None:
    request = Request(
        method="PUT",
        url="https://user:pw@storage.example:8443/up?X-Amz-Signature=s3cr3t#frag",
        headers=(("Authorization", f"Key {KEY_ID}:{SECRET}"),),
    )
    answer = Response(status=403, body=b"AccessDenied", request=request)
    cause = _cause(error_from_response(answer))
    shown = " ".join([str(cause), repr(cause.request), repr(cause.response), cause.response.url or ""])
    for secret in ("s3cr3t", "X-Amz", SECRET, KEY_ID, "user", "pw@", "frag"):
        assert secret not in shown
    assert cause.request is not None
    assert cause.request.url == "https://storage.example:8443/up"
    assert not hasattr(cause.request, "headers")


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind"),
    [
        (422, {"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]}, ValidationError, "Client"),
        (429, {"detail": "slow down"}, RateLimitError, "Client"),
        (503, b"<html>busy</html>", ServerError, "Server"),
        (599, b"", ServerError, "Server"),
    ],
)
def test_every_kind_of_api_error_gets_a_cause(status: int, body: Any, cls: type, kind: str) -> None:
    answer = (
        Response(status=status, body=body)
        if isinstance(body, bytes)
        else json_response(status, body, [("Retry-After", "3")])
    )
    error = error_from_response(answer)
    assert isinstance(error, cls)
    cause = _cause(error)
    assert cause.response.status_code == status
    assert cause.response.content == answer.body
    assert cause.request is None  # parsed without the exchange: no request is known
    assert str(cause).startswith(f"{kind} error '{status}")
    if status == 599:
        assert cause.response.reason_phrase == ""
        assert repr(cause.response) == "<ErrorResponse [599]>"
    if isinstance(body, bytes):
        with pytest.raises(json.JSONDecodeError):
            cause.response.json()


def test_a_redirect_answer_is_a_protocol_error_without_a_cause() -> None:
    error = error_from_response(Response(status=302, headers=(("Location", "/x"),)))
    assert isinstance(error, ProtocolError)
    assert error.__cause__ is None


def test_a_refused_cancel_keeps_its_cause_after_the_check_that_it_was_not_canceled(config: ApiConfig) -> None:
    # The first cancel's answer was lost (a 503); the repeat is refused; a status check shows the
    # job running: the refusal is raised, chained from its answer.
    refused = json_response(400, {"detail": "Request cannot be cancelled"})
    error, runner = expect_error(
        cancel_flow(config, REQUEST_ID, _env()),
        [Response(status=503), refused, json_response(200, state_payload("in_progress"))],
    )
    assert isinstance(error, NotCancellableError)
    assert _cause(error).response.status_code == 400
    assert [send.request.method for send in runner.sends] == ["POST", "POST", "GET"]


def test_a_submit_error_names_the_submit_url_without_the_webhook_query(config: ApiConfig) -> None:
    flow = submit_flow(config, MODEL, {"prompt": "p"}, _env(), webhook_url="https://hook.example/x?token=t0k")
    error, runner = expect_error(flow, [json_response(401, {"detail": "Invalid credentials"})])
    cause = _cause(error)
    assert cause.request is not None
    assert cause.request.method == "POST"
    assert cause.request.url == f"{BASE_URL}/{MODEL}"
    assert "t0k" in runner.sends[0].request.url
    assert "t0k" not in str(cause)


def test_header_view_reads_without_regard_to_case_and_joins_repeated_names() -> None:
    view = HeaderView((("Set-Thing", "a"), ("set-thing", "b"), ("X-One", "1")))
    assert view["SET-THING"] == "a, b"
    assert list(view) == ["Set-Thing", "X-One"]
    assert len(view) == 2
    assert "x-one" in view
    assert "x-two" not in view
    assert view.get("x-two") is None
    with pytest.raises(KeyError):
        view["x-two"]
    assert repr(view) == "HeaderView({'Set-Thing': 'a, b', 'X-One': '1'})"


def test_an_error_response_is_a_frozen_value() -> None:
    response = ErrorResponse(status_code=500, headers=HeaderView(()), content=b"{}")
    assert response.url is None
    assert response.text == "{}"
    assert response.json() == {}
    with pytest.raises(AttributeError):
        response.status_code = 200  # type: ignore[misc]


@given(st.text(max_size=40), st.integers(min_value=400, max_value=599))
def test_the_cause_of_any_error_answer_reads_its_status_and_body(text: str, status: int) -> None:
    body = text.encode("utf-8")
    cause = _cause(error_from_response(Response(status=status, body=body)))
    assert cause.response.status_code == status
    assert cause.response.text == text
    assert isinstance(error_from_response(Response(status=status, body=body)), APIError)


# -- a caller's retry schedule ------------------------------------------------------------------

Calls = List[Tuple[int, Optional[int]]]


def _recording(delays: dict[Optional[int], Optional[float]], calls: Calls) -> Any:
    def schedule(attempt: int, status: Optional[int]) -> Optional[float]:
        calls.append((attempt, status))
        return delays.get(status)

    return schedule


def test_a_schedule_decides_which_statuses_are_repeated_and_after_how_long() -> None:
    calls: Calls = []
    policy = RetryPolicy(max_attempts=10, schedule=_recording({503: 0.2, 404: 1.5}, calls))
    assert policy.decide(1, Response(status=503), repeatable=True, jitter=0.0) == Retry(delay=0.2)
    # 404 is no status of the default policy's; the schedule may still repeat it.
    assert policy.decide(2, Response(status=404), repeatable=True, jitter=0.0) == Retry(delay=1.5)
    assert isinstance(policy.decide(3, Response(status=500), repeatable=True, jitter=0.0), GiveUp)
    assert calls == [(1, 503), (2, 404), (3, 500)]


def test_a_schedule_sees_network_failures_with_no_status() -> None:
    calls: Calls = []
    failure = TransportFailure(kind=FailureKind.CONNECT)
    repeats = RetryPolicy(schedule=_recording({None: 0.0}, calls))
    stops = RetryPolicy(schedule=_recording({}, calls))
    assert repeats.decide(1, failure, repeatable=False, jitter=0.9) == Retry(delay=0.0)
    decision = stops.decide(1, failure, repeatable=False, jitter=0.9)
    assert isinstance(decision, GiveUp)
    assert "network" in decision.reason
    assert calls == [(1, None), (1, None)]


def test_with_a_schedule_the_safety_rules_retry_after_and_the_limits_still_hold() -> None:
    policy = RetryPolicy(max_attempts=3, max_retry_after=5.0, schedule=lambda attempt, status: 0.1)
    written = TransportFailure(kind=FailureKind.READ, request_written=True)
    # never a repeat of a request that may have been acted on and is not safe to repeat
    assert isinstance(policy.decide(1, written, repeatable=False, jitter=0.0), GiveUp)
    assert isinstance(policy.decide(1, Response(status=503), repeatable=False, jitter=0.0), GiveUp)
    assert policy.decide(1, Response(status=429), repeatable=False, jitter=0.0) == Retry(delay=0.1)
    told = Response(status=503, headers=(("Retry-After", "2"),))
    assert policy.decide(1, told, repeatable=True, jitter=0.0) == Retry(delay=2.0)
    too_long = Response(status=503, headers=(("Retry-After", "9"),))
    assert isinstance(policy.decide(1, too_long, repeatable=True, jitter=0.0), GiveUp)
    assert isinstance(policy.decide(3, Response(status=503), repeatable=True, jitter=0.0), GiveUp)
    late = policy.decide(1, Response(status=503), repeatable=True, jitter=0.0, remaining=0.05)
    assert isinstance(late, GiveUp)
    too_large = TransportFailure(kind=FailureKind.TOO_LARGE)
    assert isinstance(policy.decide(1, too_large, repeatable=True, jitter=0.0), GiveUp)


def test_a_negative_wait_from_a_schedule_is_no_wait_and_a_non_finite_one_is_refused() -> None:
    answer = Response(status=503)
    negative = RetryPolicy(schedule=lambda attempt, status: -3)
    assert negative.decide(1, answer, repeatable=True, jitter=0) == Retry(delay=0.0)
    endless = RetryPolicy(schedule=lambda attempt, status: float("inf"))
    with pytest.raises(InvalidArgumentError, match="retry schedule"):
        endless.decide(1, answer, repeatable=True, jitter=0)


@given(st.integers(min_value=1, max_value=8), st.floats(min_value=0, max_value=30))
def test_a_schedule_waits_exactly_what_it_says_without_jitter(attempt: int, delay: float) -> None:
    policy = RetryPolicy(max_attempts=9, schedule=lambda a, s: delay)
    assert policy.decide(attempt, Response(status=502), repeatable=True, jitter=0.37) == Retry(delay=delay)


# -- a request of the caller's own --------------------------------------------------------------


def _request(method: str, *, key: Optional[str] = None) -> Request:
    headers: Tuple[Tuple[str, str], ...] = (("Authorization", f"Key {KEY_ID}:{SECRET}"),)
    if key is not None:
        headers += (("Idempotency-Key", key),)
    return Request(method=method, url=f"{BASE_URL}/estimate/{MODEL}", headers=headers, body=b"{}")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"])
def test_send_flow_repeats_a_safe_method_after_a_5xx_and_returns_the_answer(method: str) -> None:
    answer, runner = run_flow(
        send_flow(_request(method), _env()), [Response(status=503), json_response(200, {"ok": True})]
    )
    assert answer.status == 200
    assert json.loads(answer.body) == {"ok": True}
    assert len(runner.sends) == 2
    assert runner.sleeps == [0.5]


def test_send_flow_never_resends_a_post_without_an_idempotency_key_after_a_5xx() -> None:
    answer, runner = run_flow(send_flow(_request("POST"), _env()), [Response(status=503)])
    assert answer.status == 503
    assert answer.request is not None
    assert answer.request.url.endswith(MODEL)
    assert len(runner.sends) == 1


def test_send_flow_repeats_a_keyed_post_with_the_same_request() -> None:
    request = _request("POST", key="k-1")
    answer, runner = run_flow(send_flow(request, _env()), [Response(status=503), Response(status=201)])
    assert answer.status == 201
    assert [send.request for send in runner.sends] == [request, request]


def test_send_flow_gives_up_at_its_timeout() -> None:
    env = _env(RetryPolicy(max_attempts=5, backoff_base=2.0))
    failure = TransportFailure(kind=FailureKind.CONNECT)
    error, runner = expect_error(send_flow(_request("GET"), env, timeout=3.0), [failure, failure, failure])
    assert isinstance(error, TransportError)
    assert sum(runner.sleeps) < 3.0
    assert next(send.timeout for send in runner.sends) == 3.0


# -- the upload slot alone, job states, URLs on a base URL -------------------------------------


def test_upload_slot_flow_asks_for_a_slot_and_puts_nothing(config: ApiConfig) -> None:
    target, runner = run_flow(
        upload_slot_flow(config, "image/jpeg", _env()), [json_response(200, UPLOAD_SLOT)]
    )
    assert isinstance(target, UploadTarget)
    assert (target.public_url, target.upload_url) == (UPLOAD_SLOT["public_url"], UPLOAD_SLOT["upload_url"])
    assert dict(target.upload_headers) == UPLOAD_SLOT["upload_headers"]
    assert [send.request.method for send in runner.sends] == ["POST"]


@pytest.mark.parametrize("value", [state.value for state in JobState] + ["cancelled"])
def test_parse_job_state_reads_the_six_states_and_the_british_spelling(value: str) -> None:
    state = parse_job_state(value)
    assert state.value == ("canceled" if value == "cancelled" else value)


@pytest.mark.parametrize("value", ["done", "", None, 1, ["queued"]])
def test_parse_job_state_refuses_anything_else_as_a_value_error(value: Any) -> None:
    with pytest.raises(UnknownStatusError) as info:
        parse_job_state(value, request_id="r-9")
    assert isinstance(info.value, ValueError)
    assert info.value.request_id == "r-9"


def test_job_urls_on_a_base_url_given_as_a_string(config: ApiConfig) -> None:
    assert status_url("https://other.example/", "a b") == "https://other.example/requests/a%20b/status"
    assert (
        cancel_url("https://other.example", REQUEST_ID)
        == f"https://other.example/requests/{REQUEST_ID}/cancel"
    )
    assert status_url(config, REQUEST_ID) == status_url(BASE_URL, REQUEST_ID)
    assert build_status_request(config, REQUEST_ID).url == status_url(BASE_URL, REQUEST_ID)
    with pytest.raises(InvalidArgumentError):
        status_url(BASE_URL, "..")
    assert SUBMITTED["status_url"] == status_url(BASE_URL, REQUEST_ID)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://[::1]:8443/x?sig=1", "https://[::1]:8443/x"),
        ("http://u:p@host/x#f", "http://host/x"),
        ("https://host:99999/x?sig=1", "https://host:99999/x"),  # an unreadable port: cut by hand
        ("https://u:p@host:bad/x?sig=1#f", "https://host:bad/x"),
        ("//u@[::1:9/x?sig=1", "//[::1:9/x"),
    ],
)
def test_the_cause_names_a_url_without_query_or_user_info_even_a_malformed_one(url: str, shown: str) -> None:
    answer = Response(status=500, request=Request(method="GET", url=url))
    cause = _cause(error_from_response(answer))
    assert cause.request is not None
    assert cause.request.url == shown
