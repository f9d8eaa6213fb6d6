"""PollPolicy: when to check a job's status, and the overall deadline. No I/O, no clock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from ._errors import InvalidArgumentError


@dataclass(frozen=True, slots=True, kw_only=True)
class PollPolicy:
    """The schedule of status checks while waiting for a job.

    The n-th check (0-based) waits ``min(max_delay, initial_delay * multiplier**n)`` seconds,
    shortened by up to ``jitter`` of itself so that many clients do not poll in lock-step.
    The API's docs suggest 2 s growing by 1.5x up to 10 s; the default cap of 3 s keeps
    the delay between a job finishing and the client noticing under about 3 s, at roughly a sixth
    of the requests of the official SDK's fixed 0.5 s.

    Args:
        initial_delay: the wait before the first check.
        multiplier: growth of the wait per check.
        max_delay: the longest wait between two checks.
        jitter: the largest share of a wait removed at random (0 disables jitter).
        timeout: the overall deadline in seconds from the start of waiting, or None.
    """

    initial_delay: float = 2.0
    multiplier: float = 1.5
    max_delay: float = 3.0
    jitter: float = 0.1
    timeout: Optional[float] = None

    def __post_init__(self) -> None:
        numbers = (self.initial_delay, self.max_delay, self.multiplier, self.jitter, self.timeout or 1.0)
        if not all(math.isfinite(number) for number in numbers):
            raise InvalidArgumentError("poll policy values must be finite numbers")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise InvalidArgumentError("delays must not be negative and multiplier must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise InvalidArgumentError("jitter must be between 0 and 1")
        if self.timeout is not None and self.timeout <= 0:
            raise InvalidArgumentError("timeout must be positive")

    def delay(self, check: int, jitter: float) -> float:
        """The wait before check number ``check`` (0-based); ``jitter`` is uniform in [0, 1)."""
        try:
            grown = self.initial_delay * self.multiplier ** min(check, 200)
        except OverflowError:
            # A steep multiplier overflows a float long after the cap was reached.
            grown = self.max_delay
        base = min(self.max_delay, grown)
        return base * (1.0 - self.jitter * min(max(jitter, 0.0), 1.0))

