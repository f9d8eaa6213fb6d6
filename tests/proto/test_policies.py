"""RetryPolicy, PollPolicy and Retry-After reading: pure decisions, time and jitter passed in."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import pytest

from higgsfield_proto import (
    RETRYABLE_STATUSES,
    FailureKind,
    GiveUp,
    InvalidArgumentError,
    PollPolicy,
    Response,
    Retry,
    RetryPolicy,
    TransportFailure,
    retry_after_seconds,
)

DATE = "Wed, 21 Oct 2015 07:28:00 GMT"
DATE_TS = datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc).timestamp()


def _response(status: int, *headers: tuple[str, str]) -> Response:
    return Response(status=status, headers=headers)


# -- retry_after_seconds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("2.5", 2.5), ("-3", 0.0), ("1e2", 100.0)],
)
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    assert retry_after_seconds(_response(429, ("Retry-After", value))) == expected


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "soon", "", "Wed, 99 Oct 2015 07:28:00 GMT"])
def test_unreadable_retry_after_is_none(value: str) -> None:
    assert retry_after_seconds(_response(429, ("Retry-After", value)), now=DATE_TS) is None


def test_missing_retry_after_is_none() -> None:
    assert retry_after_seconds(_response(429), now=DATE_TS) is None


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Oct 2015 07:28:45 GMT",  # IMF-fixdate
        "Wednesday, 21-Oct-15 07:28:45 GMT",  # obsolete RFC 850
        "Wed Oct 21 07:28:45 2015",  # asctime
    ],
)
def test_retry_after_http_date_is_measured_against_the_date_header(value: str) -> None:
    response = _response(429, ("Retry-After", value), ("Date", DATE))
    # The Date header wins over the caller's clock, which may be skewed.
    assert retry_after_seconds(response, now=DATE_TS + 1000) == 45.0


def test_retry_after_http_date_without_date_header_uses_now() -> None:
    response = _response(503, ("Retry-After", "Wed, 21 Oct 2015 07:28:45 GMT"))
    assert retry_after_seconds(response, now=DATE_TS + 5) == 40.0
    assert retry_after_seconds(response) is None


def test_retry_after_http_date_with_an_unreadable_date_header_uses_now() -> None:
    response = _response(429, ("Retry-After", "Wed, 21 Oct 2015 07:28:45 GMT"), ("Date", "yesterday"))
    assert retry_after_seconds(response, now=DATE_TS) == 45.0
    assert retry_after_seconds(response) is None


def test_retry_after_http_date_in_the_past_is_zero() -> None:
    response = _response(429, ("Retry-After", "Wed, 21 Oct 2015 07:27:00 GMT"), ("Date", DATE))
    assert retry_after_seconds(response) == 0.0


@pytest.mark.parametrize(
    ("value", "year"),
    [("Thursday, 01-Jan-70 00:00:10 GMT", 1970), ("Friday, 01-Jan-49 00:00:10 GMT", 2049)],
)
def test_rfc850_two_digit_years(value: str, year: int) -> None:
    start = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp()
    assert retry_after_seconds(_response(429, ("Retry-After", value)), now=start) == 10.0


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 21 Foo 2015 07:28:45 GMT",
        "Wed Foo 21 07:28:45 2015",
        "Wed, 21 Oct 2015 07:28:45 +0100",
        "Wed, 21 Oct 2015 25:28:45 GMT",
        "Wed, 21 Oct 0000 07:28:45 GMT",
        "Wed, ٢١ Oct 2015 07:28:45 GMT",
    ],
)
def test_malformed_http_dates_are_ignored(value: str) -> None:
    assert retry_after_seconds(_response(429, ("Retry-After", value)), now=DATE_TS) is None


# -- RetryPolicy -------------------------------------------------------------------------------


def test_backoff_grows_exponentially_up_to_the_cap_with_full_jitter() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=8.0)
    assert [policy.backoff(n, 1.0) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.backoff(3, 0.0) == 0.0
    assert policy.backoff(3, 0.25) == 0.5
    assert policy.backoff(3, 7.0) == 2.0  # jitter is clamped into [0, 1]
    assert policy.backoff(3, -1.0) == 0.0
    assert policy.backoff(10_000, 1.0) == 8.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 10, 70])
@pytest.mark.parametrize("jitter", [0.0, 0.3, 0.999])
def test_backoff_stays_within_full_jitter_bounds(attempt: int, jitter: float) -> None:
    policy = RetryPolicy(backoff_base=0.2, backoff_cap=5.0)
    ceiling = min(5.0, 0.2 * 2 ** (attempt - 1))
    assert 0.0 <= policy.backoff(attempt, jitter) <= ceiling
    assert policy.backoff(attempt, jitter) == pytest.approx(ceiling * jitter)


def _decide(
    policy: RetryPolicy,
    outcome: Response | TransportFailure,
    *,
    attempt: int = 1,
    repeatable: bool = True,
    remaining: Optional[float] = None,
    jitter: float = 1.0,
) -> Retry | GiveUp:
    return policy.decide(
        attempt, outcome, repeatable=repeatable, now=DATE_TS, jitter=jitter, remaining=remaining
    )


@pytest.mark.parametrize("status", [200, 201, 202, 204, 301, 304])
def test_an_answer_below_400_is_never_retried(status: int) -> None:
    assert _decide(RetryPolicy(), _response(status)) == GiveUp(reason="answered")


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_retryable_statuses_are_retried_with_backoff(status: int) -> None:
    assert frozenset({408, 429, 500, 502, 503, 504}) == RETRYABLE_STATUSES
    assert _decide(RetryPolicy(backoff_base=0.5), _response(status), attempt=2) == Retry(delay=1.0)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 423, 501])
def test_final_statuses_are_not_retried(status: int) -> None:
    decision = _decide(RetryPolicy(), _response(status))
    assert isinstance(decision, GiveUp)
    assert str(status) in decision.reason


def test_custom_retry_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({409}))
    assert isinstance(_decide(policy, _response(409)), Retry)
    assert isinstance(_decide(policy, _response(503)), GiveUp)


@pytest.mark.parametrize("kind", [kind for kind in FailureKind if kind is not FailureKind.TOO_LARGE])
def test_transport_failures_are_retried(kind: FailureKind) -> None:
    failure = TransportFailure(kind=kind, detail="x", request_written=True)
    assert _decide(RetryPolicy(backoff_base=0.5), failure, attempt=3) == Retry(delay=2.0)


def test_max_attempts_counts_the_first_attempt() -> None:
    policy = RetryPolicy(max_attempts=3)
    failure = TransportFailure(kind=FailureKind.CONNECT)
    assert isinstance(_decide(policy, failure, attempt=1), Retry)
    assert isinstance(_decide(policy, failure, attempt=2), Retry)
    assert _decide(policy, failure, attempt=3) == GiveUp(reason="3 attempts made")
    assert isinstance(_decide(RetryPolicy.never(), _response(503)), GiveUp)


def test_non_repeatable_request_is_retried_only_when_provably_not_acted_on() -> None:
    policy = RetryPolicy()
    before = TransportFailure(kind=FailureKind.CONNECT, request_written=False)
    after = TransportFailure(kind=FailureKind.READ, request_written=True)
    assert isinstance(_decide(policy, before, repeatable=False), Retry)
    assert isinstance(_decide(policy, after, repeatable=False), GiveUp)
    assert isinstance(_decide(policy, after, repeatable=True), Retry)
    for status in (408, 500, 502, 503, 504):
        assert isinstance(_decide(policy, _response(status), repeatable=False), GiveUp)
        assert isinstance(_decide(policy, _response(status), repeatable=True), Retry)
    # A 429 is a refusal: nothing was created, so even a submit without a key may repeat.
    assert isinstance(_decide(policy, _response(429), repeatable=False), Retry)


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ((("Retry-After", "7"),), 7.0),
        ((("Retry-After", "Wed, 21 Oct 2015 07:28:20 GMT"), ("Date", DATE)), 20.0),
        ((("Retry-After", "Wed, 21 Oct 2015 07:28:09 GMT"),), 9.0),  # measured against `now`
    ],
)
def test_retry_after_replaces_the_backoff(headers: tuple[tuple[str, str], ...], delay: float) -> None:
    policy = RetryPolicy(backoff_cap=1.0)
    assert _decide(policy, _response(429, *headers), repeatable=False) == Retry(delay=delay)
    assert _decide(policy, _response(503, *headers)) == Retry(delay=delay)


def test_retry_after_beyond_max_retry_after_gives_up() -> None:
    policy = RetryPolicy(max_retry_after=60.0)
    assert _decide(policy, _response(429, ("Retry-After", "60"))) == Retry(delay=60.0)
    decision = _decide(policy, _response(429, ("Retry-After", "61")))
    assert isinstance(decision, GiveUp)
    assert "Retry-After" in decision.reason


def test_retry_never_waits_past_the_deadline() -> None:
    policy = RetryPolicy(backoff_base=4.0)
    failure = TransportFailure(kind=FailureKind.TIMEOUT)
    assert _decide(policy, failure, remaining=4.5) == Retry(delay=4.0)
    assert isinstance(_decide(policy, failure, remaining=4.0), GiveUp)
    assert isinstance(_decide(policy, _response(429, ("Retry-After", "10")), remaining=9.0), GiveUp)
    assert _decide(policy, _response(429, ("Retry-After", "10")), remaining=10.5) == Retry(delay=10.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"backoff_base": -1.0},
        {"backoff_cap": -0.1},
        {"max_retry_after": -5.0},
        {"backoff_base": float("nan")},
        {"max_retry_after": float("inf")},
    ],
)
def test_retry_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- PollPolicy --------------------------------------------------------------------------------


def test_poll_delay_grows_by_the_multiplier_up_to_the_cap() -> None:
    policy = PollPolicy(initial_delay=2.0, multiplier=1.5, max_delay=10.0, jitter=0.0)
    assert [policy.delay(n, 0.7) for n in range(6)] == [2.0, 3.0, 4.5, 6.75, 10.0, 10.0]


def test_poll_defaults_start_at_two_seconds_and_cap_at_three() -> None:
    policy = PollPolicy(jitter=0.0)
    assert [policy.delay(n, 0.0) for n in range(4)] == [2.0, 3.0, 3.0, 3.0]
    assert policy.timeout is None


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999, 5.0, -1.0])
def test_poll_jitter_only_shortens_the_wait_by_at_most_its_share(jitter: float) -> None:
    policy = PollPolicy(initial_delay=4.0, max_delay=4.0, jitter=0.25)
    delay = policy.delay(3, jitter)
    assert 3.0 <= delay <= 4.0
    assert delay == pytest.approx(4.0 * (1 - 0.25 * min(max(jitter, 0.0), 1.0)))


def test_poll_delay_after_very_many_checks_stays_at_the_cap() -> None:
    assert PollPolicy(jitter=0.0).delay(10**9, 0.0) == 3.0
    steep = PollPolicy(initial_delay=1.0, multiplier=1000.0, max_delay=30.0, jitter=0.0)
    assert [steep.delay(n, 0.0) for n in (0, 1, 2, 500)] == [1.0, 30.0, 30.0, 30.0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_delay": -1.0},
        {"max_delay": -1.0},
        {"multiplier": 0.5},
        {"jitter": 1.5},
        {"jitter": -0.1},
        {"timeout": 0.0},
        {"timeout": -3.0},
        {"timeout": float("nan")},
        {"max_delay": float("inf")},
    ],
)
def test_poll_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(InvalidArgumentError):
        PollPolicy(**kwargs)
