"""How many items of a batch may be in flight: additive increase, multiplicative decrease.

The caller's concurrency is a ceiling. A capacity answer (429 ``account_queue_full``, or the
older 400 "concurrent requests") halves the window and holds new submits back until its
Retry-After has passed; each accepted submit then grows the window by ``1 / window``, about one
item per window's worth of successes, back up to the ceiling. A burst of refusals to submits
sent before the last cut is one signal, not many: it cuts once (as TCP cuts once per window).
The arithmetic here is pure (time is passed in); the batch runner does the waiting.
"""

from __future__ import annotations

from typing import Optional

# Without a Retry-After, a capacity answer pauses new submits this long.
DEFAULT_PAUSE = 1.0


class Window:
    """The in-flight window of a batch.

    Args:
        ceiling: the most items in flight at once (the caller's concurrency), at least 1.
    """

    def __init__(self, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError("the concurrency must be at least 1")
        self.ceiling = ceiling
        self.size = float(ceiling)
        self.in_flight = 0
        self.paused_until = 0.0
        self.cuts = 0

    def wait_before_next(self, now: float) -> Optional[float]:
        """Seconds to wait before another item may start, or None if one may start now.

        ``0.0`` means: not before an item in flight ends.
        """
        if now < self.paused_until:
            return self.paused_until - now
        if self.in_flight >= int(self.size):
            return 0.0
        return None

    def start(self) -> None:
        """An item takes a place in the window."""
        self.in_flight += 1

    def end(self) -> None:
        """An item leaves the window."""
        self.in_flight -= 1

    def accepted(self) -> None:
        """A submit was accepted: grow slowly towards the ceiling."""
        self.size = min(float(self.ceiling), self.size + 1.0 / self.size)

    def capacity_reached(self, now: float, retry_after: Optional[float], sent_after: int) -> None:
        """The API said it is full: halve the window and pause new submits.

        Args:
            now: the current time.
            retry_after: the answer's Retry-After in seconds, if it had one.
            sent_after: ``cuts`` when the refused submit was sent; a refusal of a submit sent
                before the latest cut was already answered by it, and cuts nothing more.
        """
        pause = DEFAULT_PAUSE if retry_after is None else max(retry_after, 0.0)
        if sent_after >= self.cuts:
            self.size = max(1.0, self.size / 2.0)
            self.cuts += 1
        self.paused_until = max(self.paused_until, now + pause)
