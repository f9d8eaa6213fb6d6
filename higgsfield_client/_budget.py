"""Budgets and the ledger: what a client's jobs cost, priced before they are sent, and settled at
their end.

Theory of operation. While a budget is active (the client's ``budget=``, or a block of
``client.budget(...)``), each submit is priced first - by the account's own estimate (one
``POST /estimate`` per distinct model and arguments, cached by them: see ``price_key``), or by the model
catalog's price when the estimate cannot be had - and then reserved: the job's price joins the
ledger's in-flight total, unless charged plus in flight plus the price would pass a cap, in which
case ``BudgetExceededError`` is raised and nothing is sent. The reservation is a check and an
addition under one lock, with nothing awaited between them, so concurrent submits from threads,
asyncio tasks or trio tasks can never overspend together. A job then leaves the in-flight total
when the client sees its end (a status, a poll, a subscribe, a webhook wait): charged when
``completed``; refunded when ``failed`` or ``nsfw``, as the API refunds them; refunded when
``canceled`` before it started (charged if the client saw it in progress first). A submit the API
refused (a 4xx answer) is refunded at once; one whose answer was lost stays in flight, since the
job may exist. A job whose end the client never sees stays in flight: the budget errs on the
side of not spending.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, cast

from higgsfield_proto import APIError, Estimate, HiggsfieldError, InvalidArgumentError, JobState, JobStatus

if TYPE_CHECKING:
    from higgsfield_proto import Catalog, Flow

Number = Union[Decimal, int, float, str]
PriceSource = Literal["estimate", "catalog"]
_ZERO = Decimal(0)
_PRICES_KEPT = 4096


def non_negative(value: Number, name: str) -> Decimal:
    """``value`` as a Decimal (a float through its shortest text).

    Raises:
        InvalidArgumentError: it is negative, not finite, a bool or not a number.
    """
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite() or number < 0:
        raise InvalidArgumentError(f"{name} must be a non-negative number, not {value!r}")
    return number


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """A cap on what jobs may cost: ``max_credits``, ``max_usd``, or both.

    Each is given as a number (a ``Decimal``, an int, a decimal string, or a float, read through
    its shortest text: ``0.1`` is ``Decimal("0.1")``) and kept as a ``Decimal``.

    Raises:
        InvalidArgumentError: neither cap is given, or one is negative or not a number.
    """

    max_credits: Optional[Number] = None
    max_usd: Optional[Number] = None

    def __post_init__(self) -> None:
        if self.max_credits is None and self.max_usd is None:
            raise InvalidArgumentError("a Budget needs max_credits=, max_usd= or both")
        for name in ("max_credits", "max_usd"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, non_negative(value, name))


@dataclass(frozen=True, slots=True, kw_only=True)
class Amount:
    """Credits and US dollars, as exact decimals."""

    credits: Decimal = _ZERO
    usd: Decimal = _ZERO

    def __add__(self, other: Amount) -> Amount:
        return Amount(credits=self.credits + other.credits, usd=self.usd + other.usd)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(credits=self.credits - other.credits, usd=self.usd - other.usd)


NOTHING = Amount()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPrice:
    """What one job is expected to cost, and where the figure comes from: ``"estimate"`` (the
    account's own price, from the API) or ``"catalog"`` (the model catalog's price)."""

    amount: Amount
    source: PriceSource

    @classmethod
    def from_estimate(cls, estimate: Estimate) -> JobPrice:
        """The price the API's estimate gives."""
        return cls(amount=Amount(credits=estimate.credits, usd=estimate.usd), source="estimate")


def catalog_price(catalog: Catalog, model: str, arguments: Mapping[str, Any]) -> Optional[JobPrice]:
    """The model catalog's price of a job, or None when the catalog has none for the model."""
    entry = catalog.find(model)
    if entry is None or entry.price is None:
        return None
    estimate = entry.price.for_arguments(arguments)
    return JobPrice(amount=Amount(credits=estimate.credits, usd=estimate.usd), source="catalog")


class BudgetExceededError(HiggsfieldError):
    """A job would take a budget past its cap, or its price is unknown: nothing was sent.

    A ``HiggsfieldClientError``.

    Attributes:
        model: the model of the job refused.
        price: its price (the amount, and whether the account's estimate or the catalog gave
            it), None when unknown.
        committed: what the budget counted already: charged plus in flight.
        budget: the budget the job did not fit.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str,
        price: Optional[JobPrice] = None,
        committed: Optional[Amount] = None,
        budget: Optional[Budget] = None,
    ) -> None:
        super().__init__(message)
        self.model = model
        self.price = price
        self.committed = committed
        self.budget = budget


def price_key(model: str, arguments: Mapping[str, Any]) -> Hashable:
    """What identifies a job's price: its model and arguments, whatever the order of the keys.

    Flat arguments (text, numbers, booleans) make a set of (name, type, value), cheap to build:
    the type keeps ``True`` and ``1`` apart, as the JSON sent does. Arguments holding lists or
    objects are keyed by their canonical JSON text (keys sorted).
    """
    try:
        return (model, frozenset((name, value.__class__, value) for name, value in arguments.items()))
    except TypeError:  # a list or a dict among the values
        return (model, json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpent:
    """One model's part of a ledger."""

    charged: Amount = NOTHING
    refunded: Amount = NOTHING
    in_flight: Amount = NOTHING
    jobs: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Spent:
    """A ledger at one moment: what completed jobs were charged, what failed ones were refunded,
    what the jobs not seen to end yet may cost, per model too.

    Attributes:
        charged: the prices of completed jobs.
        refunded: the prices of jobs that ended without charge (failed, nsfw, canceled before
            starting, refused by the API).
        in_flight: the prices of jobs not seen to end.
        jobs: jobs priced and submitted.
        by_model: the same per model id.
        by_source: how many jobs were priced by the account's estimate and by the catalog.
    """

    charged: Amount = NOTHING
    refunded: Amount = NOTHING
    in_flight: Amount = NOTHING
    jobs: int = 0
    by_model: Mapping[str, ModelSpent] = field(default_factory=dict)
    by_source: Mapping[str, int] = field(default_factory=dict)

    @property
    def committed(self) -> Amount:
        """Charged plus in flight: what a budget counts."""
        return self.charged + self.in_flight


_IN_FLIGHT, _CHARGED, _REFUNDED = "in_flight", "charged", "refunded"
_SAME_JOB = "same_job"  # a reservation withdrawn: its submit was answered with a job counted already
_ENDED_KEPT = 10_000
"""How many settled request ids a ledger remembers, so that a repeated submit is not counted again."""


class _Tally:
    """The running totals of one ledger scope (the client's, or a block's).

    Plain decimals, [credits, usd] per model and state, so that a job's bookkeeping makes no
    object but the job's own; ``snapshot`` makes the values.
    """

    def __init__(self, budget: Optional[Budget]) -> None:
        self.budget = budget
        self.caps = (
            None if budget is None or budget.max_credits is None else cast(Decimal, budget.max_credits),
            None if budget is None or budget.max_usd is None else cast(Decimal, budget.max_usd),
        )
        self.totals: dict[tuple[str, str], list[Decimal]] = {}
        self.jobs: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.credits = _ZERO  # charged plus in flight
        self.usd = _ZERO

    @property
    def committed(self) -> Amount:
        """Charged plus in flight."""
        return Amount(credits=self.credits, usd=self.usd)

    def excess(self, price: Amount) -> Optional[str]:
        """What ``price`` would take this scope past its budget, in words; None when it fits."""
        credits_cap, usd_cap = self.caps
        if credits_cap is not None and self.credits + price.credits > credits_cap:
            return f"{self.credits + price.credits} credits, over the budget of {credits_cap} credits"
        if usd_cap is not None and self.usd + price.usd > usd_cap:
            return f"${self.usd + price.usd}, over the budget of ${usd_cap}"
        return None

    def add(self, model: str, price: JobPrice) -> None:
        amount = price.amount
        self._move(model, _IN_FLIGHT, amount.credits, amount.usd)
        self.credits += amount.credits
        self.usd += amount.usd
        self.jobs[model] = self.jobs.get(model, 0) + 1
        self.sources[price.source] = self.sources.get(price.source, 0) + 1

    def withdraw(self, model: str, price: JobPrice) -> None:
        """Take back an ``add``: the job was one already counted (the same request id)."""
        amount = price.amount
        self._move(model, _IN_FLIGHT, -amount.credits, -amount.usd)
        self.credits -= amount.credits
        self.usd -= amount.usd
        for counts, key in ((self.jobs, model), (self.sources, price.source)):
            counts[key] -= 1
            if not counts[key]:
                del counts[key]

    def settle(self, model: str, state: str, amount: Amount) -> None:
        self._move(model, _IN_FLIGHT, -amount.credits, -amount.usd)
        self._move(model, state, amount.credits, amount.usd)
        if state == _REFUNDED:
            self.credits -= amount.credits
            self.usd -= amount.usd

    def _move(self, model: str, state: str, credits: Decimal, usd: Decimal) -> None:
        total = self.totals.get((model, state))
        if total is None:
            self.totals[(model, state)] = [credits, usd]
        else:
            total[0] += credits
            total[1] += usd

    def snapshot(self) -> Spent:
        def amount(model: str, state: str) -> Amount:
            credits, usd = self.totals.get((model, state), (_ZERO, _ZERO))
            return Amount(credits=credits, usd=usd)

        by_model = {
            model: ModelSpent(
                charged=amount(model, _CHARGED),
                refunded=amount(model, _REFUNDED),
                in_flight=amount(model, _IN_FLIGHT),
                jobs=count,
            )
            for model, count in self.jobs.items()
        }
        parts = list(by_model.values())
        return Spent(
            charged=sum((part.charged for part in parts), NOTHING),
            refunded=sum((part.refunded for part in parts), NOTHING),
            in_flight=sum((part.in_flight for part in parts), NOTHING),
            jobs=sum(part.jobs for part in parts),
            by_model=by_model,
            by_source=dict(self.sources),
        )


class LedgerJob:
    """One job the ledger holds: its model, price, request id once known, and state."""

    __slots__ = ("model", "price", "request_id", "started", "state", "tallies")

    def __init__(self, model: str, price: JobPrice, tallies: tuple[_Tally, ...]) -> None:
        self.model = model
        self.price = price
        self.tallies = tallies
        self.request_id: Optional[str] = None
        self.state = _IN_FLIGHT
        self.started = False


class Ledger:
    """One client's budgets and the jobs priced under them. Thread-safe.

    Args:
        budget: the client's own budget, or None (then only blocks of ``client.budget(...)``
            make it price and count jobs).
    """

    def __init__(self, budget: Optional[Budget]) -> None:
        self._lock = threading.Lock()
        self._root = _Tally(budget)
        self._blocks: list[_Tally] = []
        self._jobs: dict[str, LedgerJob] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()  # request ids settled, newest last
        self._prices: dict[Hashable, JobPrice] = {}

    @property
    def active(self) -> bool:
        """True when a budget applies to the next submit."""
        return self._root.budget is not None or bool(self._blocks)

    def spent(self) -> Spent:
        """The client's ledger now."""
        with self._lock:
            return self._root.snapshot()

    # -- pricing -------------------------------------------------------------------------------

    def known_price(self, key: Hashable) -> Optional[JobPrice]:
        """The account's estimate of the job of ``key`` (see ``price_key``), if asked already."""
        return self._prices.get(key)

    def price(
        self,
        key: Hashable,
        model: str,
        arguments: Mapping[str, Any],
        estimate: Callable[[], Flow[Estimate]],
        catalog: Callable[[], Catalog],
    ) -> Flow[Optional[JobPrice]]:
        """Price a job whose price is not known yet: the account's estimate (``estimate()``'s
        flow; kept under ``key``), else the catalog's price; None when neither is to be had."""
        try:
            found = JobPrice.from_estimate((yield from estimate()))
        except HiggsfieldError:
            return catalog_price(catalog(), model, arguments)  # not kept: the estimate may come back
        with self._lock:
            if len(self._prices) >= _PRICES_KEPT:
                del self._prices[next(iter(self._prices))]
            self._prices[key] = found
        return found

    # -- the ledger ----------------------------------------------------------------------------

    def reserve(self, model: str, price: Optional[JobPrice]) -> LedgerJob:
        """Add a job about to be submitted to the in-flight totals of every active budget.

        Raises:
            BudgetExceededError: its price is unknown, or it would take charged plus in flight
                past a cap; nothing was added.
        """
        with self._lock:
            tallies = (self._root, *self._blocks)
            if price is None:
                raise BudgetExceededError(
                    f"the price of a job of {model!r} is unknown (no estimate from the API, no "
                    "price in the model catalog), so a budget cannot cover it; nothing was sent",
                    model=model,
                )
            for tally in tallies:
                over = tally.excess(price.amount)
                if over is not None:
                    raise BudgetExceededError(
                        f"a job of {model!r} ({price.amount.credits} credits, ${price.amount.usd} by the "
                        f"{'account' if price.source == 'estimate' else 'catalog'}'s price) would take "
                        f"charged plus in flight ({tally.credits} credits) to {over}; nothing "
                        "was sent",
                        model=model,
                        price=price,
                        committed=tally.committed,
                        budget=tally.budget,
                    )
            job = LedgerJob(model, price, tallies)
            for tally in tallies:
                tally.add(model, price)
            return job

    def bind(self, job: LedgerJob, request_id: str) -> None:
        """Know ``job`` by its request id from now on (its submit was answered)."""
        with self._lock:
            if job.request_id is not None or job.state != _IN_FLIGHT:
                return
            if request_id in self._jobs or request_id in self._ended:
                # The API answered with a job this ledger counts already (a submit repeated with
                # its idempotency key): one job, counted once.
                job.state = _SAME_JOB
                for tally in job.tallies:
                    tally.withdraw(job.model, job.price)
                return
            job.request_id = request_id
            self._jobs[request_id] = job

    def refused(self, job: LedgerJob, error: BaseException) -> None:
        """The call that submitted ``job`` failed: refund it when the API refused the submit (a
        4xx answer before any request id: no job was made); otherwise it stays in flight, since
        the job may exist."""
        refusal = isinstance(error, APIError) and error.status_code is not None and error.status_code < 500
        if refusal and job.request_id is None:
            with self._lock:
                self._settle(job, _REFUNDED)

    def observe(self, status: JobStatus) -> None:
        """Settle the job of ``status`` when it ended (charge or refund); note that it started."""
        if not self._jobs:
            return  # nothing priced: the common case, kept cheap
        with self._lock:
            job = self._jobs.get(status.request_id)
            if job is None:
                return
            state = status.state
            if state is JobState.IN_PROGRESS:
                job.started = True
            elif state is JobState.COMPLETED:
                self._settle(job, _CHARGED)
            elif state in (JobState.FAILED, JobState.NSFW):
                self._settle(job, _REFUNDED)
            elif state is JobState.CANCELED:
                self._settle(job, _CHARGED if job.started else _REFUNDED)

    def canceled(self, request_id: str) -> None:
        """The API accepted a cancel of ``request_id``: it never started, so it is refunded."""
        if not self._jobs:
            return
        with self._lock:
            job = self._jobs.get(request_id)
            if job is not None:
                self._settle(job, _REFUNDED)

    def _settle(self, job: LedgerJob, state: str) -> None:
        if job.state != _IN_FLIGHT:
            return
        job.state = state
        for tally in job.tallies:
            tally.settle(job.model, state, job.price.amount)
        if job.request_id is not None:
            del self._jobs[job.request_id]
            self._ended[job.request_id] = None
            if len(self._ended) > _ENDED_KEPT:
                self._ended.popitem(last=False)

    # -- blocks --------------------------------------------------------------------------------

    def open_block(self, budget: Budget) -> _Tally:
        """Start counting the jobs submitted from now on against ``budget`` too."""
        tally = _Tally(budget)
        with self._lock:
            self._blocks.append(tally)
        return tally

    def close_block(self, tally: _Tally) -> None:
        """Stop counting new jobs against a block's budget (its jobs settle as before)."""
        with self._lock:
            self._blocks.remove(tally)

    def block_spent(self, tally: _Tally) -> Spent:
        """A block's part of the ledger now."""
        with self._lock:
            return tally.snapshot()


class BudgetBlock:
    """A budget for a block of code: ``with client.budget(max_credits=100) as block:`` (or
    ``async with``). Every submit through the client while the block is open, from any thread
    or task, counts against it as well as against the client's own budget; ``block.spent`` is
    its part of the ledger. Jobs still in flight when it closes go on counting in the client's
    ledger.
    """

    def __init__(self, ledger: Ledger, budget: Budget) -> None:
        self.budget = budget
        self._ledger = ledger
        self._tally: Optional[_Tally] = None
        self._open = False

    @property
    def spent(self) -> Spent:
        """The jobs submitted in this block: charged, refunded and in flight (those still in
        flight settle here too after the block closed)."""
        if self._tally is None:
            return Spent()
        return self._ledger.block_spent(self._tally)

    def __enter__(self) -> BudgetBlock:
        if self._tally is not None:
            raise RuntimeError("a budget block is entered once; make another with client.budget()")
        self._tally = self._ledger.open_block(self.budget)
        self._open = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._tally is not None and self._open:
            self._ledger.close_block(self._tally)
            self._open = False

    async def __aenter__(self) -> BudgetBlock:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__(*exc_info)
