"""The emulated account's balance and its ledger: credits held at submit, charged on completion,
refunded for failed, NSFW and canceled jobs.

As the API bills (only successful generations are charged; failed and NSFW ones are refunded; a
canceled queued request is refunded), a submit holds the job's price (its estimate) against the
balance, and the job's end either charges it or gives it back. A submit whose price is more than
the balance less what is held is refused: the generation API answers 403 for insufficient
credits (its docs, and the official JS SDK's ``NotEnoughCreditsError``); 402 is the Agent API's
code. Thread-safe: jobs end in whichever thread advanced the job book.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, List, Optional, Tuple

_ZERO = Decimal(0)


@dataclass(frozen=True)
class LedgerEntry:
    """One movement on the account: ``kind`` is "hold" (a submit accepted), "charge" (the job
    completed) or "refund" (it failed, was rejected as NSFW, or was canceled).

    ``balance`` is the balance after the movement (None when the account has no limit);
    ``time`` is the wall-clock time (``time.time()``).
    """

    time: float
    request_id: str
    model_id: str
    kind: str
    credits: Decimal
    balance: Optional[Decimal]


class Account:
    """The balance of the emulated account (None: no limit) and its ledger."""

    def __init__(self, balance: Optional[Decimal]) -> None:
        self._balance = balance
        self._held: Dict[str, Tuple[str, Decimal]] = {}
        self._entries: List[LedgerEntry] = []
        self._lock = threading.Lock()

    @property
    def balance(self) -> Optional[Decimal]:
        """Credits left: the balance less what completed jobs were charged (holds not counted)."""
        with self._lock:
            return self._balance

    @balance.setter
    def balance(self, value: Optional[Decimal]) -> None:
        with self._lock:
            self._balance = value

    @property
    def held(self) -> Decimal:
        """Credits held for jobs not finished yet."""
        with self._lock:
            return sum((price for _, price in self._held.values()), _ZERO)

    def entries(self) -> List[LedgerEntry]:
        """The ledger, oldest first."""
        with self._lock:
            return list(self._entries)

    def total(self, kind: str) -> Decimal:
        """The sum of the entries of one kind ("charge", "refund", "hold")."""
        with self._lock:
            return sum((entry.credits for entry in self._entries if entry.kind == kind), _ZERO)

    def covers(self, credits: Decimal) -> bool:
        """True when the balance less what is held covers a job of ``credits``."""
        with self._lock:
            if self._balance is None:
                return True
            return credits <= self._balance - sum((price for _, price in self._held.values()), _ZERO)

    def hold(self, request_id: str, model_id: str, credits: Decimal) -> None:
        """Hold ``credits`` for a job just created (``covers`` said they were there)."""
        with self._lock:
            self._held[request_id] = (model_id, credits)
            self._record(request_id, model_id, "hold", credits)

    def settle(self, request_id: str, state: str) -> None:
        """Charge a completed job's hold, or refund a failed, NSFW or canceled one's."""
        with self._lock:
            held = self._held.pop(request_id, None)
            if held is None:
                return
            model_id, credits = held
            if state == "completed":
                if self._balance is not None:
                    self._balance -= credits
                self._record(request_id, model_id, "charge", credits)
            else:
                self._record(request_id, model_id, "refund", credits)

    def shortfall(self, credits: Decimal) -> str:
        """Why a job of ``credits`` cannot be held, for the 403's detail."""
        with self._lock:
            held = sum((price for _, price in self._held.values()), _ZERO)
            return (
                f"Not enough credits: the job costs {credits} credits, the balance is "
                f"{self._balance} ({held} held for jobs in progress)"
            )

    def _record(self, request_id: str, model_id: str, kind: str, credits: Decimal) -> None:
        self._entries.append(LedgerEntry(time.time(), request_id, model_id, kind, credits, self._balance))
