"""Which injected fault, if any, answers a request: scripted faults first, then ``fault_rate``."""

from __future__ import annotations

import random
import threading
from collections import deque
from typing import Deque, Dict, Optional

# Kinds that ``fault_rate`` draws from, in a fixed order so that a seed gives the same sequence.
RATE_KINDS = ("429", "500", "502", "503", "504", "html", "drop", "slow", "truncate")
# Scripted only: they test redirect handling, which random injection would only make noisy.
# "stall" too: it holds a connection for ``slow_seconds`` in the middle of a body.
SCRIPT_ONLY_KINDS = ("redirect_samehost", "redirect_offhost", "stall")
FAULT_KINDS = RATE_KINDS + SCRIPT_ONLY_KINDS
"""The faults ``script_fault`` injects (``fault_rate`` draws from all but the scripted-only ones)."""
# Kinds applied after the handler ran: the request took effect but its answer is damaged or late.
AFTER_HANDLER_KINDS = frozenset({"slow", "truncate", "stall"})
FAULT_ROUTES = (
    "submit", "status", "cancel", "delete", "upload-url", "put", "estimate",
    "agent-sessions", "agent-message", "agent-messages", "agent-interrupt", "agent-media",
    "agent-media-confirm",
)
"""The routes a fault can be scripted on (``"*"``: any of them)."""
# Faultable only when scripted by name: neither ``fault_rate`` nor "*" touches output downloads
# (the generated files, and the images agent answers link) or the published OpenAPI document.
SCRIPT_ONLY_ROUTES = ("output", "agent-output", "openapi")
ANY_ROUTE = "*"
# The deliveries the emulator makes, with faults of their own; scripted by name only.
WEBHOOK_ROUTE = "webhook"
WEBHOOK_FAULT_KINDS = ("drop", "duplicate", "out_of_order")


class FaultPlan:
    """Decides the fault for each request of a faultable route. Thread-safe.

    Scripted faults for the request's route are used first (FIFO), then those scripted for any
    route (``"*"``), then one draw of the seeded generator against ``rate``. A script-only route
    (``"output"``, ``"agent-output"``, and ``"webhook"`` for the deliveries the emulator makes)
    gets only the faults scripted for it by name.
    """

    def __init__(self, rate: float, seed: Optional[int]) -> None:
        self.rate = rate
        self._rng = random.Random(None if seed is None else f"faults:{seed}")
        self._scripted: Dict[str, Deque[str]] = {}
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        """Share of requests answered with a random fault, 0.0 to 1.0."""
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"fault_rate must be between 0.0 and 1.0, not {value!r}")
        self._rate = value

    def script(self, route: str, kind: str, count: int) -> None:
        """Queue ``count`` faults of ``kind`` for the next requests of ``route`` (or the next
        webhook events, for ``"webhook"``)."""
        expected = FAULT_ROUTES + SCRIPT_ONLY_ROUTES + (WEBHOOK_ROUTE,)
        if route != ANY_ROUTE and route not in expected:
            raise ValueError(f"unknown route {route!r}; expected one of {expected} or '*'")
        kinds = WEBHOOK_FAULT_KINDS if route == WEBHOOK_ROUTE else FAULT_KINDS
        if kind not in kinds:
            raise ValueError(f"unknown fault kind {kind!r} for {route!r}; expected one of {kinds}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._scripted.setdefault(route, deque()).extend([kind] * count)

    def clear(self) -> None:
        """Drop every scripted fault not yet used."""
        with self._lock:
            self._scripted.clear()

    def pick(self, route: str) -> Optional[str]:
        """Return the fault kind for one request of ``route``, or None to answer normally."""
        by_name_only = route in SCRIPT_ONLY_ROUTES or route == WEBHOOK_ROUTE
        with self._lock:
            for key in (route,) if by_name_only else (route, ANY_ROUTE):
                pending = self._scripted.get(key)
                if pending:
                    return pending.popleft()
            if by_name_only:
                return None  # no draw: a seed gives the same sequence with or without them
            # Draw for every request, faulted or not, so a seed fixes the whole sequence.
            roll = self._rng.random()
            kind = self._rng.choice(RATE_KINDS)
            return kind if roll < self._rate else None
