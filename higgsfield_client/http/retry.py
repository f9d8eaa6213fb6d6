"""The official retry strategies (``higgsfield_client.http.retry``), mapped onto the core's ``RetryPolicy``.

A strategy given to a client (``SyncClient(retry=NoRetry())``) or to
``HttpTransport(client, strategy)`` takes effect: ``strategy.retry_policy()`` is the
``RetryPolicy`` the request then runs with, which asks the strategy's ``should_retry`` and
``get_delay`` at each failed attempt. Three things stay as this SDK does them, whatever the
strategy says: a request that is not safe to repeat (a POST without an ``Idempotency-Key``, once
the server may have acted on it) is never sent again; a ``Retry-After`` header replaces the
strategy's wait; and a network failure is repeated too (the official client never does), within
the strategy's attempts and with its waits.
"""

from __future__ import annotations

import abc
import math
from typing import Any, Optional, Set

from higgsfield_proto import RETRYABLE_STATUSES, InvalidArgumentError, RetryPolicy

__all__ = [
    "DEFAULT_RETRYABLE_STATUS_CODES",
    "ExponentialBackoffRetry",
    "LinearRetry",
    "NoRetry",
    "PolicyRetry",
    "RetryStrategy",
    "create_default_retry_strategy",
    "retry_policy_of",
]

DEFAULT_RETRYABLE_STATUS_CODES: Set[int] = set(RETRYABLE_STATUSES)
"""The statuses the official strategies repeat by default: 408, 429, 500, 502, 503 and 504."""


def _attempts(strategy: Any) -> int:
    """The strategy's ``max_retries``: the attempts a request may take in all.

    Raises:
        InvalidArgumentError: it is missing, or not a whole number of at least 0.
    """
    attempts = getattr(strategy, "max_retries", None)
    if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
        raise InvalidArgumentError(
            f"{type(strategy).__name__}.max_retries must be a whole number >= 0 (the attempts a "
            f"request may take), not {attempts!r}"
        )
    return attempts


def _policy_of_methods(strategy: Any) -> RetryPolicy:
    """A policy whose schedule asks ``strategy``'s ``should_retry`` and ``get_delay``."""
    attempts = _attempts(strategy)

    def schedule(attempt: int, status: Optional[int]) -> Optional[float]:
        if status is None:  # a network failure: repeated within the same attempts
            repeat = attempt < strategy.max_retries
        else:
            repeat = bool(strategy.should_retry(attempt, status))
        return float(strategy.get_delay(attempt)) if repeat else None

    # The schedule stops first; the cap only bounds a strategy whose should_retry never says no.
    return RetryPolicy(max_attempts=attempts + 1, schedule=schedule)


def retry_policy_of(strategy: Any) -> RetryPolicy:
    """The ``RetryPolicy`` a client runs a request with, for a retry setting.

    Args:
        strategy: a ``RetryPolicy`` (used as it is), a ``RetryStrategy`` (its ``retry_policy()``),
            or any object with ``should_retry(attempt, status_code)``, ``get_delay(attempt)`` and
            ``max_retries``, as the official client accepts.

    Raises:
        TypeError: ``strategy`` is none of these.
        InvalidArgumentError: its ``max_retries`` is not a whole number >= 0.
    """
    if isinstance(strategy, RetryPolicy):
        return strategy
    if isinstance(strategy, RetryStrategy):
        return strategy.retry_policy()
    if callable(getattr(strategy, "should_retry", None)) and callable(getattr(strategy, "get_delay", None)):
        return _policy_of_methods(strategy)
    raise TypeError(
        f"a retry setting is a RetryPolicy or a RetryStrategy (higgsfield_client.http.retry), not "
        f"{type(strategy).__name__}"
    )


def _non_negative(name: str, value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise InvalidArgumentError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
    return value


class RetryStrategy(abc.ABC):
    """The official strategy interface: which failed attempts to repeat, and after how long.

    ``max_retries`` is the number of attempts a request may take in all (the official client's
    meaning, whatever the name says); ``attempt`` counts from 1. A subclass of your own is asked
    at each failed attempt, as the official client asks it.
    """

    max_retries: int

    @abc.abstractmethod
    def should_retry(self, attempt: int, status_code: int) -> bool:
        """Whether to repeat attempt number ``attempt``, answered with ``status_code``."""

    @abc.abstractmethod
    def get_delay(self, attempt: int) -> float:
        """The seconds to wait before repeating attempt number ``attempt``."""

    def retry_policy(self) -> RetryPolicy:
        """The core ``RetryPolicy`` this strategy stands for, made anew at each request.

        Its schedule asks ``should_retry`` and ``get_delay`` at each failed attempt (network
        failures are repeated while ``attempt < max_retries``), with no jitter.

        Raises:
            InvalidArgumentError: ``max_retries`` is not a whole number >= 0.
        """
        return _policy_of_methods(self)


class _StatusRetry(RetryStrategy):
    """What the official exponential and linear strategies share: the statuses repeated, and
    ``max_retries`` attempts in all."""

    def __init__(self, max_retries: int, retryable_status_codes: Optional[Set[int]]) -> None:
        self.max_retries = max_retries
        self.retryable_status_codes = (
            set(DEFAULT_RETRYABLE_STATUS_CODES) if retryable_status_codes is None else retryable_status_codes
        )
        _attempts(self)

    def should_retry(self, attempt: int, status_code: int) -> bool:
        """True for a status of ``retryable_status_codes`` before the last attempt."""
        return attempt < self.max_retries and status_code in self.retryable_status_codes


class ExponentialBackoffRetry(_StatusRetry):
    """Repeats a 408, 429 or 5xx after ``initial_delay * backoff_factor ** (attempt - 1)`` seconds,
    at most ``max_delay``, up to ``max_retries`` attempts in all (the official default: 0.2 s,
    then 0.4 s, three attempts).

    Args:
        max_retries: attempts in all, the first included.
        initial_delay: the wait before the second attempt.
        max_delay: the longest wait.
        backoff_factor: how much each wait grows.
        retryable_status_codes: the statuses repeated; default ``DEFAULT_RETRYABLE_STATUS_CODES``.

    Raises:
        InvalidArgumentError: a negative or non-finite number.
    """

    def __init__(
        self,
        max_retries: int = 3,
        initial_delay: float = 0.2,
        max_delay: float = 60.0,
        backoff_factor: float = 2.0,
        retryable_status_codes: Optional[Set[int]] = None,
    ) -> None:
        super().__init__(max_retries, retryable_status_codes)
        self.initial_delay = _non_negative("initial_delay", initial_delay)
        self.max_delay = _non_negative("max_delay", max_delay)
        self.backoff_factor = _non_negative("backoff_factor", backoff_factor)

    def get_delay(self, attempt: int) -> float:
        """``initial_delay * backoff_factor ** (attempt - 1)``, at most ``max_delay``."""
        try:
            delay = self.initial_delay * self.backoff_factor ** (attempt - 1)
        except OverflowError:
            return self.max_delay
        return min(delay, self.max_delay)

    def __repr__(self) -> str:
        return (
            f"ExponentialBackoffRetry(max_retries={self.max_retries}, initial_delay={self.initial_delay}, "
            f"max_delay={self.max_delay}, backoff_factor={self.backoff_factor})"
        )


class LinearRetry(_StatusRetry):
    """Repeats a 408, 429 or 5xx after ``delay`` seconds each time, up to ``max_retries`` attempts.

    Args:
        max_retries: attempts in all, the first included.
        delay: the wait before each repeat.
        retryable_status_codes: the statuses repeated; default ``DEFAULT_RETRYABLE_STATUS_CODES``.

    Raises:
        InvalidArgumentError: a negative or non-finite number.
    """

    def __init__(
        self, max_retries: int = 3, delay: float = 1.0, retryable_status_codes: Optional[Set[int]] = None
    ) -> None:
        super().__init__(max_retries, retryable_status_codes)
        self.delay = _non_negative("delay", delay)

    def get_delay(self, attempt: int) -> float:
        """``delay``, whatever the attempt."""
        return self.delay

    def __repr__(self) -> str:
        return f"LinearRetry(max_retries={self.max_retries}, delay={self.delay})"


class NoRetry(RetryStrategy):
    """Sends every request once, network failures included: a policy of one attempt."""

    max_retries: int = 0

    def should_retry(self, attempt: int, status_code: int) -> bool:
        """Never."""
        return False

    def get_delay(self, attempt: int) -> float:
        """No wait (never used)."""
        return 0.0

    def __repr__(self) -> str:
        return "NoRetry()"


class PolicyRetry(RetryStrategy):
    """A strategy standing for a core ``RetryPolicy``: what ``client._transport._retry_strategy``
    is until code sets another, so that reading the official attribute changes nothing.

    Args:
        policy: the policy (a client's own, by default five attempts with backoff and jitter).
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.max_retries = policy.max_attempts

    def should_retry(self, attempt: int, status_code: int) -> bool:
        """True for a status of the policy's ``retry_statuses`` before its last attempt."""
        return attempt < self.policy.max_attempts and status_code in self.policy.retry_statuses

    def get_delay(self, attempt: int) -> float:
        """The policy's backoff before jitter (the wait is a random share of it)."""
        return self.policy.backoff(attempt, 1.0)

    def retry_policy(self) -> RetryPolicy:
        """The policy itself, jitter, ``Retry-After`` and all."""
        return self.policy

    def __repr__(self) -> str:
        return f"PolicyRetry({self.policy!r})"


def create_default_retry_strategy() -> RetryStrategy:
    """The official client's default: ``ExponentialBackoffRetry(max_retries=3, initial_delay=0.2,
    backoff_factor=2.0)``.

    (A client of this SDK built without ``retry=`` uses its own ``RetryPolicy`` instead: five
    attempts, backoff with jitter, ``Retry-After`` honoured; see Configuration.)
    """
    return ExponentialBackoffRetry(max_retries=3, initial_delay=0.2, backoff_factor=2.0)
