"""The MCP server's money rules: prices, the per-call cap, the server's budget, confirmations.

Theory of operation. A ``generate`` that would bill is priced first (`Quote`: the API's own
estimate, else the catalog's price). Then, in this order:

1. the per-call cap and the budget (`Ledger.charge`): a price above the cap, or one that does not
   fit in what is left of the budget, is refused; so is any call when a limit is set and no price
   is known. A charge is *reserved* before the submit is sent and *settled* with the job's request
   id once it is accepted, so that two calls in flight cannot both spend the last credits. It is
   given back only when the API refused the submit for certain (nothing was created); after an
   ambiguous failure (the network) it stays spent, since the job may exist;
2. the confirmation (`Confirmations`): above ``--confirm-above`` the call is not submitted but
   answered ``confirmation_required`` with the price and a token. The token is single-use, expires,
   and is bound to the exact model and arguments (key order aside, as the API's idempotency
   fingerprint): the repeated call with it goes through; a token shown with anything else is
   spent and refused.

A retried call with an idempotency key this server has settled already, for the same model and
arguments, bills nothing new (the API answers with the same job): it is not charged again.

Where the budgets of the SDK (issue 25, ``Budget``) are available, they replace `Ledger` behind the
`Spending` interface; nothing else here changes.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Optional, Protocol, Tuple

CONFIRMATION_TTL = 600.0
"""Seconds a confirmation token stays valid."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """What one generation costs: ``credits`` (and ``usd`` when known), and where the figure
    comes from (``api``: the API's estimate for these arguments; ``catalog``: the catalog's
    price, ``per`` one unit, used when the API could not be asked)."""

    credits: Decimal
    usd: Optional[Decimal]
    source: str
    per: str = ""

    def describe(self) -> Dict[str, Any]:
        """The quote as JSON values (decimals as strings, as the API writes them)."""
        described: Dict[str, Any] = {"credits": str(self.credits), "source": self.source}
        if self.usd is not None:
            described["usd"] = str(self.usd)
        if self.per:
            described["per"] = self.per
        return described


class MoneyRefusal(Exception):
    """A generation refused by the money rules; ``kind`` names the rule, ``details`` the figures.

    Kinds: ``price_unknown``, ``over_per_call_limit``, ``budget_exceeded``,
    ``confirmation_invalid``.
    """

    def __init__(self, kind: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


def fingerprint(model_id: str, arguments: Mapping[str, Any]) -> str:
    """A digest of a generation's model and arguments; the order of object keys does not count."""
    canonical = json.dumps(
        {"model": model_id.strip("/"), "arguments": arguments},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Charge(Protocol):
    """One generation's share of the spending, reserved until the submit's outcome is known."""

    def settle(self, request_id: str) -> None:
        """The submit was accepted as job ``request_id``: the charge stays."""
        ...

    def release(self) -> None:
        """The API refused the submit for certain: the reserved credits come back."""
        ...


class Spending(Protocol):
    """What the server asks of a budget; `Ledger` here, the SDK's ``Budget`` once it exists."""

    @property
    def limited(self) -> bool:
        """True when a limit applies, so that every generation must be priced."""
        ...

    def charge(self, key: str, digest: str, quote: Optional[Quote]) -> Optional[Charge]:
        """Reserve ``quote`` for the generation with idempotency key ``key`` and fingerprint
        ``digest``; None when that generation was settled already (a retry bills nothing)."""
        ...

    def describe(self) -> Dict[str, Any]:
        """The limits and what was spent, as JSON values."""
        ...


class _Reserved:
    def __init__(self, ledger: Ledger, key: str, digest: str, credits: Decimal) -> None:
        self._ledger = ledger
        self._key = key
        self._print = digest
        self.credits = credits
        self._open = True

    def settle(self, request_id: str) -> None:
        if self._open:
            self._open = False
            self._ledger._settle(self, self._key, self._print, request_id)

    def release(self) -> None:
        if self._open:
            self._open = False
            self._ledger._release(self)


class Ledger:
    """The server's spending for its life: a per-call cap and a budget, in credits.

    Args:
        budget: the most credits all generations of this server may cost together; None: no
            budget.
        max_per_call: the most one generation may cost; None: no cap.
    """

    def __init__(self, *, budget: Optional[Decimal] = None, max_per_call: Optional[Decimal] = None) -> None:
        self.budget = budget
        self.max_per_call = max_per_call
        self.settled = Decimal(0)
        self.reserved = Decimal(0)
        self._jobs: Dict[str, Decimal] = {}
        self._keys: Dict[Tuple[str, str], str] = {}

    @property
    def limited(self) -> bool:
        """True when the budget or the cap is set."""
        return self.budget is not None or self.max_per_call is not None

    @property
    def remaining(self) -> Optional[Decimal]:
        """Credits left in the budget (reserved ones counted as spent); None without a budget."""
        if self.budget is None:
            return None
        return self.budget - self.settled - self.reserved

    def charge(self, key: str, digest: str, quote: Optional[Quote]) -> Optional[Charge]:
        """Reserve the price of one generation.

        Returns:
            The reservation, or None when this key and fingerprint were settled already.

        Raises:
            MoneyRefusal: ``price_unknown`` (a limit is set and ``quote`` is None),
                ``over_per_call_limit`` or ``budget_exceeded``.
        """
        if (key, digest) in self._keys:
            return None
        if quote is None:
            if self.limited:
                raise MoneyRefusal(
                    "price_unknown",
                    "the price of this generation is not known (the API's estimate failed and the "
                    "catalog has no price for the model), so the server's spending limits cannot "
                    "be checked: nothing was submitted",
                    **self.describe(),
                )
            return _Reserved(self, key, digest, Decimal(0))
        if self.max_per_call is not None and quote.credits > self.max_per_call:
            raise MoneyRefusal(
                "over_per_call_limit",
                f"this generation costs {quote.credits} credits, more than the {self.max_per_call} "
                "one call may cost on this server (--max-credits-per-call): nothing was submitted",
                price=quote.describe(),
                **self.describe(),
            )
        remaining = self.remaining
        if remaining is not None and quote.credits > remaining:
            raise MoneyRefusal(
                "budget_exceeded",
                f"this generation costs {quote.credits} credits and {remaining} are left of this "
                f"server's budget of {self.budget} (--budget): nothing was submitted",
                price=quote.describe(),
                **self.describe(),
            )
        self.reserved += quote.credits
        return _Reserved(self, key, digest, quote.credits)

    def _settle(self, charge: _Reserved, key: str, digest: str, request_id: str) -> None:
        self.reserved -= charge.credits
        self._keys[(key, digest)] = request_id
        if request_id not in self._jobs:  # two calls with one key are one job, billed once
            self._jobs[request_id] = charge.credits
            self.settled += charge.credits

    def _release(self, charge: _Reserved) -> None:
        self.reserved -= charge.credits

    def describe(self) -> Dict[str, Any]:
        """The limits and the spending so far, as JSON values (decimals as strings)."""
        described: Dict[str, Any] = {"spent_credits": str(self.settled + self.reserved)}
        if self.budget is not None:
            described["budget_credits"] = str(self.budget)
            described["remaining_credits"] = str(self.remaining)
        if self.max_per_call is not None:
            described["max_credits_per_call"] = str(self.max_per_call)
        return described


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pending:
    digest: str
    quote: Quote
    expires: float


class Confirmations:
    """Single-use tokens that let a generation above a threshold through once.

    Args:
        threshold: credits above which a generation needs a token.
        ttl: seconds a token stays valid.
        clock: the monotonic clock (a parameter so that expiry can be tested).
    """

    def __init__(
        self,
        threshold: Decimal,
        *,
        ttl: float = CONFIRMATION_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.ttl = ttl
        self._clock = clock
        self._pending: Dict[str, _Pending] = {}

    def required(self, quote: Quote) -> bool:
        """True when ``quote`` is above the threshold."""
        return quote.credits > self.threshold

    def issue(self, digest: str, quote: Quote) -> str:
        """A new token for the generation of fingerprint ``digest`` at price ``quote``."""
        now = self._clock()
        for token in [token for token, pending in self._pending.items() if pending.expires <= now]:
            del self._pending[token]
        token = "confirm-" + secrets.token_urlsafe(18)
        self._pending[token] = _Pending(digest=digest, quote=quote, expires=now + self.ttl)
        return token

    def redeem(self, token: str, digest: str) -> Quote:
        """Use ``token`` up for the generation of fingerprint ``digest``; returns the confirmed
        price.

        Raises:
            MoneyRefusal: ``confirmation_invalid``: unknown, used, expired, or issued for other
                arguments (the token is spent either way).
        """
        pending = self._pending.pop(token, None)
        if pending is None or pending.expires <= self._clock():
            raise MoneyRefusal(
                "confirmation_invalid",
                "this confirmation token is unknown, used already or expired: call generate again "
                "without it to get a new price and token",
            )
        if pending.digest != digest:
            raise MoneyRefusal(
                "confirmation_invalid",
                "this confirmation token was issued for other arguments (or another model) and is "
                "now spent: call generate again without a token to price these arguments",
            )
        return pending.quote
