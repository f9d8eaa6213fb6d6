"""RetryPolicy: when to repeat a request and how long to wait first. No I/O, no clock, no random."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

from ._errors import InvalidArgumentError
from ._http import FailureKind, Outcome, Response, TransportFailure
from ._retry_after import retry_after_seconds

RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})
"""The HTTP statuses a request is sent again after (when repeating it is safe)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """Send the same request again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GiveUp:
    """Do not repeat: ``reason`` says why (success, a final error, limits reached, unsafe)."""

    reason: str


Decision = Union[Retry, GiveUp]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Decides whether a request is repeated after an outcome.

    Network failures (except an answer over the size limit, which a repeat would not shrink) and
    408/429/5xx answers are retried when the request is safe to repeat, with
    exponential backoff and full jitter (``delay = jitter * min(backoff_cap, backoff_base * 2**n)``).
    A ``Retry-After`` header replaces the backoff; when it asks for more than ``max_retry_after``
    seconds, or more than the time left before the caller's deadline, the policy gives up.

    Args:
        max_attempts: attempts in all, the first included (1 disables retries).
        backoff_base: the backoff before the second attempt, before jitter.
        backoff_cap: the largest backoff, before jitter.
        max_retry_after: the longest server-requested wait that is honoured.
        retry_statuses: the HTTP statuses worth repeating.
    """

    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if not all(math.isfinite(n) for n in (self.backoff_base, self.backoff_cap, self.max_retry_after)):
            raise InvalidArgumentError("backoff_base, backoff_cap and max_retry_after must be finite")
        if self.max_attempts < 1:
            raise InvalidArgumentError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_cap < 0 or self.max_retry_after < 0:
            raise InvalidArgumentError(
                "backoff_base, backoff_cap and max_retry_after must not be negative"
            )

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that sends every request once."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int, jitter: float) -> float:
        """The jittered wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(attempt - 1, 62))
        return ceiling * min(max(jitter, 0.0), 1.0)

    def decide(
        self,
        attempt: int,
        outcome: Outcome,
        *,
        repeatable: bool,
        jitter: float,
        now: Optional[float] = None,
        remaining: Optional[float] = None,
    ) -> Decision:
        """Decide what follows attempt number ``attempt`` (1-based) that ended with ``outcome``.

        Args:
            attempt: how many times the request has been sent.
            outcome: what that attempt produced.
            repeatable: the request is safe to repeat even if the server may have acted on it
                (GET, PUT, DELETE, cancel, or a submit carrying an Idempotency-Key). When False,
                it is repeated only after a failure that left it unwritten, or after a 429 (a
                refusal: nothing was created).
            jitter: a uniform random number in [0, 1), supplied by the caller.
            now: the current wall-clock time (Unix seconds), for a Retry-After date when the
                answer has no Date header; None when unknown (such a date is then ignored).
            remaining: seconds left before the caller's deadline, or None for no deadline.
        """
        if isinstance(outcome, Response) and outcome.status < 400:
            return GiveUp(reason="answered")
        if attempt >= self.max_attempts:
            return GiveUp(reason=f"{attempt} attempts made")
        if isinstance(outcome, TransportFailure):
            if outcome.kind is FailureKind.TOO_LARGE:
                return GiveUp(reason="the answer is larger than the transport accepts")
            if outcome.request_written and not repeatable:
                return GiveUp(reason="the request may have been acted on and is not safe to repeat")
            delay = self.backoff(attempt, jitter)
        else:
            if outcome.status not in self.retry_statuses:
                return GiveUp(reason=f"HTTP {outcome.status} is final")
            if not (repeatable or _rejected_before_acting(outcome)):
                return GiveUp(reason=f"HTTP {outcome.status} may hide an accepted request")
            told = retry_after_seconds(outcome, now=now)
            if told is not None and told > self.max_retry_after:
                return GiveUp(reason=f"Retry-After {told:.0f}s exceeds {self.max_retry_after:.0f}s")
            delay = told if told is not None else self.backoff(attempt, jitter)
        if remaining is not None and delay >= remaining:
            return GiveUp(reason="the deadline would pass before the next attempt")
        return Retry(delay=delay)


def _rejected_before_acting(response: Response) -> bool:
    # A 429 is a refusal: the API documents that nothing is created or charged.
    return response.status == 429
