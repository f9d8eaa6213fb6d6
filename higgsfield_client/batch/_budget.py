"""A batch's budget: items priced before they are sent, submitted in input order while charged
plus in flight stays within the budget, counted from the journal so that a crash never resets it.

Each item is priced as a client prices a job (``client.price``: the account's estimate, cached by
the digest of model and arguments, else the model catalog's price). An item's estimate is written
to the journal in the same step as its Idempotency-Key, before its submit is sent; its charge
when its job ends: the estimate when completed, nothing when failed, NSFW, canceled or refused.
What the budget counts is therefore always in the journal: the charges of the ended items and
the estimates of those in flight (``submitting`` or ``submitted``, in any run). A run killed with
SIGKILL and resumed counts them again from there, and spends at most what is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Optional

import anyio

from .._budget import JobPrice
from ._items import BatchItem
from ._journal import ENDED_WITHOUT_OUTPUT, PENDING, SUBMITTED, SUBMITTING, Record

if TYPE_CHECKING:
    from .._async import AsyncClient

_ZERO = Decimal(0)
_PRICING_CONCURRENCY = 16


def committed_of(record: Record) -> Decimal:
    """What the budget counts for one journaled item: its charge once ended, its estimate while
    in flight, nothing before it was sent."""
    if record.estimate is None or record.state == PENDING:
        return _ZERO
    if record.state in (SUBMITTING, SUBMITTED):
        return Decimal(record.estimate)
    return Decimal(record.charge) if record.charge is not None else _ZERO


class BatchBudget:
    """The budget of one run: ``limit`` credits for the whole batch, ``committed`` of them
    already charged or in flight (from the journal). Used from the run's event loop only."""

    def __init__(self, limit: Decimal, committed: Decimal) -> None:
        self.limit = limit
        self.committed = committed
        self.reached = False
        self.refused: Optional[BatchItem] = None

    @classmethod
    def from_records(cls, limit: Decimal, records: Iterable[Record]) -> BatchBudget:
        """The budget as the journal leaves it."""
        return cls(limit, sum((committed_of(record) for record in records), _ZERO))

    def admit(self, item: BatchItem, price: Optional[JobPrice]) -> bool:
        """Count ``item`` in if its price fits (then it is to be submitted); otherwise the budget
        is reached and no later item is admitted in this run."""
        if not self.reached and price is not None and self.committed + price.amount.credits <= self.limit:
            self.committed += price.amount.credits
            return True
        self.reached = True
        self.refused = self.refused or item
        return False

    def give_back(self, price: JobPrice) -> None:
        """An admitted item was not sent after all (the run stopped first)."""
        self.committed -= price.amount.credits

    def ended(self, record: Record) -> None:
        """The item of ``record`` just ended: refund its estimate unless it completed."""
        if record.estimate is not None and record.state in ENDED_WITHOUT_OUTPUT:
            self.committed -= Decimal(record.estimate)


async def price_items(client: AsyncClient, items: Sequence[BatchItem]) -> list[Optional[JobPrice]]:
    """Each item's price, in input order, priced 16 at a time (one estimate per distinct model
    and arguments); None for an item whose price neither the API nor the catalog gives."""
    prices: list[Optional[JobPrice]] = [None] * len(items)
    limiter = anyio.CapacityLimiter(_PRICING_CONCURRENCY)

    async def one(index: int, item: BatchItem) -> None:
        async with limiter:
            prices[index] = await client.price(item.model, item.arguments)

    async with anyio.create_task_group() as group:
        for index, item in enumerate(items):
            group.start_soon(one, index, item)
    return prices


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetPlan:
    """How a batch's prices meet its budget, before anything is sent.

    Attributes:
        total: the items' prices added up (credits and dollars), unknown ones left out.
        by_model: per model, (items, credits).
        unknown: the ids of the items whose price is unknown.
        committed: credits already charged or in flight, from the journal.
        to_submit: the items still to submit, in input order.
        covered: how many of them the budget covers, in input order up to the first it does
            not (or whose price is unknown); all of them without a budget.
        needed: the credits the items still to submit need in all (unknown ones left out).
    """

    total: Decimal
    total_usd: Decimal
    by_model: Mapping[str, tuple[int, Decimal]] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()
    committed: Decimal = _ZERO
    to_submit: int = 0
    covered: int = 0
    needed: Decimal = _ZERO


def plan(
    items: Sequence[BatchItem],
    prices: Sequence[Optional[JobPrice]],
    records: Mapping[str, Record],
    limit: Optional[Decimal],
    *,
    retry_failed: bool = False,
) -> BudgetPlan:
    """Add up ``items``' ``prices`` and tell how far ``limit`` goes, given the journal's
    ``records`` (by item id, lower-cased: an item finished or in flight is not submitted again).
    """
    by_model: dict[str, tuple[int, Decimal]] = {}
    total = total_usd = needed = _ZERO
    unknown: list[str] = []
    committed = sum((committed_of(record) for record in records.values()), _ZERO)
    room = None if limit is None else limit - committed
    to_submit = covered = 0
    open_ended = False
    for item, price in zip(items, prices, strict=True):
        if price is None:
            unknown.append(item.id)
        else:
            count, credits = by_model.get(item.model, (0, _ZERO))
            by_model[item.model] = (count + 1, credits + price.amount.credits)
            total += price.amount.credits
            total_usd += price.amount.usd
        record = records.get(item.id.lower())
        if record is not None and not _to_submit(record, retry_failed):
            continue
        to_submit += 1
        needed += price.amount.credits if price is not None else _ZERO
        if room is None:
            covered += 1  # without a budget, every item is submitted
        elif not open_ended and price is not None and price.amount.credits <= room:
            covered += 1
            room -= price.amount.credits
        else:
            open_ended = True
    return BudgetPlan(
        total=total, total_usd=total_usd, by_model=by_model, unknown=tuple(unknown),
        committed=committed, to_submit=to_submit, covered=covered, needed=needed,
    )  # fmt: skip


def _to_submit(record: Record, retry_failed: bool) -> bool:
    return record.state == PENDING or (retry_failed and record.state in ENDED_WITHOUT_OUTPUT)
