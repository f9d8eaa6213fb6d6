"""The MCP server's money rules on the client's ledger: the per-call cap, the server's budget,
confirmations.

Theory of operation. A ``generate`` that would bill is priced first, as the client's budgets price
a job (``AsyncClient.price``: the account's estimate, cached per model and arguments, else the
catalog's price). Then, in this order:

1. the per-call cap (`Limits.check`): a price above ``--max-credits-per-call`` is refused; so is
   any call when a limit is set and no price is known;
2. the budget: ``--budget`` is a budget block of the client (``client.budget(max_credits=...)``)
   held open for the server's life, so the one ledger is the client's. `Limits.check` refuses a
   price that does not fit in what is left (so that no confirmation is asked for a call the
   budget would refuse); the reservation itself is the client's, under its lock, at the submit:
   two calls in flight cannot both spend the last credits (``BudgetExceededError``, answered as
   `Limits.refusal`). A job counts from its submit until the client sees it end: charged when
   completed, refunded when it failed or was canceled while queued (see ``_budget``);
3. the confirmation (`Confirmations`): above ``--confirm-above`` the call is not submitted but
   answered ``confirmation_required`` with the price and a token. The token is single-use, expires,
   and is bound to the exact model and arguments (key order aside, as the API's idempotency
   fingerprint): the repeated call with it goes through; a token shown with anything else is
   spent and refused.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, Optional

from .._async import AsyncClient
from .._budget import BudgetExceededError, JobPrice

CONFIRMATION_TTL = 600.0
"""Seconds a confirmation token stays valid."""


def describe_price(price: JobPrice) -> Dict[str, Any]:
    """A job's price as JSON values (decimals as strings, as the API writes them), with where it
    comes from: ``api`` (the account's estimate for these arguments) or the catalog."""
    source = "api" if price.source == "estimate" else "catalog (the API's estimate was unavailable)"
    return {"credits": str(price.amount.credits), "usd": str(price.amount.usd), "source": source}


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


class Limits:
    """The server's spending limits: a per-call cap, and a budget for the server's life kept by
    ``client``'s ledger (a budget block, open until `close`).

    Args:
        client: the client every generation is submitted through.
        budget: the most credits the jobs of this server may cost together; None: no budget.
        max_per_call: the most one generation may cost; None: no cap.
    """

    def __init__(
        self, client: AsyncClient, *, budget: Optional[Decimal], max_per_call: Optional[Decimal]
    ) -> None:
        self.budget = budget
        self.max_per_call = max_per_call
        self._block = None if budget is None else client.budget(max_credits=budget).__enter__()

    @property
    def limited(self) -> bool:
        """True when the budget or the cap is set, so that every generation must be priced."""
        return self.budget is not None or self.max_per_call is not None

    def close(self) -> None:
        """Stop counting new jobs against the budget (the server is closing)."""
        if self._block is not None:
            self._block.__exit__(None, None, None)

    def check(self, price: Optional[JobPrice]) -> None:
        """Refuse a generation at ``price`` before anything is sent.

        Raises:
            MoneyRefusal: ``price_unknown`` (a limit is set and ``price`` is None),
                ``over_per_call_limit``, or ``budget_exceeded`` (it does not fit in what is left).
        """
        if not self.limited:
            return
        if price is None:
            raise MoneyRefusal(
                "price_unknown",
                "the price of this generation is not known (the API's estimate failed and the "
                "catalog has no price for the model), so the server's spending limits cannot "
                "be checked: nothing was submitted",
                **self.describe(),
            )
        credits = price.amount.credits
        if self.max_per_call is not None and credits > self.max_per_call:
            raise MoneyRefusal(
                "over_per_call_limit",
                f"this generation costs {credits} credits, more than the {self.max_per_call} "
                "one call may cost on this server (--max-credits-per-call): nothing was submitted",
                price=describe_price(price),
                **self.describe(),
            )
        remaining = self._remaining()
        if remaining is not None and credits > remaining:
            raise self._over_budget(price, remaining)

    def refusal(self, error: BudgetExceededError) -> MoneyRefusal:
        """The tool error for a submit a budget of the client refused: a call in flight took the
        last credits between `check` and the reservation, or the client has a budget of its own.
        The SDK's message names the cap it would have passed."""
        if error.price is None:
            return MoneyRefusal("price_unknown", str(error), **self.describe())
        return MoneyRefusal(
            "budget_exceeded", str(error), price=describe_price(error.price), **self.describe()
        )

    def _over_budget(self, price: JobPrice, remaining: Decimal) -> MoneyRefusal:
        return MoneyRefusal(
            "budget_exceeded",
            f"this generation costs {price.amount.credits} credits and {remaining} are left of this "
            f"server's budget of {self.budget} credits (--budget): nothing was submitted",
            price=describe_price(price),
            **self.describe(),
        )

    def _remaining(self) -> Optional[Decimal]:
        if self._block is None or self.budget is None:
            return None
        return self.budget - self._block.spent.committed.credits

    def describe(self) -> Dict[str, Any]:
        """The limits and, with a budget, the client's ledger of this server's jobs, as JSON
        values (decimals as strings): ``spent_credits`` is charged plus in flight."""
        described: Dict[str, Any] = {}
        if self._block is not None:
            spent = self._block.spent
            described.update(
                spent_credits=str(spent.committed.credits),
                charged_credits=str(spent.charged.credits),
                in_flight_credits=str(spent.in_flight.credits),
                budget_credits=str(self.budget),
                remaining_credits=str(self._remaining()),
            )
        if self.max_per_call is not None:
            described["max_credits_per_call"] = str(self.max_per_call)
        return described


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pending:
    digest: str
    price: JobPrice
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

    def required(self, price: JobPrice) -> bool:
        """True when ``price`` is above the threshold."""
        return price.amount.credits > self.threshold

    def issue(self, digest: str, price: JobPrice) -> str:
        """A new token for the generation of fingerprint ``digest`` at ``price``."""
        now = self._clock()
        for token in [token for token, pending in self._pending.items() if pending.expires <= now]:
            del self._pending[token]
        token = "confirm-" + secrets.token_urlsafe(18)
        self._pending[token] = _Pending(digest=digest, price=price, expires=now + self.ttl)
        return token

    def redeem(self, token: str, digest: str) -> JobPrice:
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
        return pending.price
