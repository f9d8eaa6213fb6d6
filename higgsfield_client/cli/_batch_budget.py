"""``higgsfield batch --dry-run`` and ``--budget N``: price a batch before anything is sent, say how
far a budget goes, and how to go on once it is spent."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import anyio

from .._async import AsyncClient
from .._budget import JobPrice
from ..batch._budget import BudgetPlan, plan, price_items
from ..batch._items import BatchItem
from ..batch._journal import Journal, Record
from ._commands import credits
from ._output import Console, write_json

if TYPE_CHECKING:
    from rich.console import Console as Screen


def add_budget_options(batch: argparse.ArgumentParser) -> None:
    """``--budget`` and ``--dry-run``."""
    batch.add_argument(
        "--budget",
        type=credits,
        metavar="CREDITS",
        help="the most the whole batch may cost, over all its runs: items are priced first and "
        "submitted in input order while charged plus in flight stays within it",
    )
    batch.add_argument(
        "--dry-run",
        action="store_true",
        help="price every item (the account's estimate, else the catalog's price), print the "
        "total per model and how far --budget goes, submit nothing",
    )


class BudgetedRun:
    """A batch run's prices, and what they say before and after it."""

    def __init__(
        self, client: AsyncClient, items: Sequence[BatchItem], journal: Path, options: argparse.Namespace
    ) -> None:
        self.items = items
        self.limit: Optional[Decimal] = options.budget
        self._journal = journal
        self._retry_failed: bool = options.retry_failed
        self.prices: List[Optional[JobPrice]] = anyio.run(price_items, client, items)

    def plan(self) -> BudgetPlan:
        """The prices against the budget, as the journal stands now."""
        records = _records(self._journal)
        return plan(self.items, self.prices, records, self.limit, retry_failed=self._retry_failed)

    def dry_run(self, console: Console) -> int:
        """Print the prices and how far the budget goes; submit nothing. Exit code 0."""
        found = self.plan()
        if console.json:
            write_json(console.out, _plan_document(found, self.limit))
            return 0
        console.line(
            f"{len(self.items)} items: {found.total} credits (${found.total_usd}) in all"
            + (f", {len(found.unknown)} of unknown price" if found.unknown else "")
        )
        if console.out_screen is not None:
            _table(console.out_screen, found)
        else:
            for model, (count, model_credits) in found.by_model.items():
                console.line(f"  {model}: {count} items, {model_credits} credits")
        if found.unknown:
            console.line(f"price unknown (not counted): {', '.join(found.unknown)}")
        if found.committed:
            console.line(f"already charged or in flight (journal): {found.committed} credits")
        if self.limit is not None:
            console.line(
                f"a budget of {self.limit} credits covers {found.covered} of the {found.to_submit} "
                "items to submit"
            )
        return 0

    def announce(self, console: Console) -> None:
        """Before the first submit: say how many items the budget covers, when not all."""
        found = self.plan()
        if self.limit is not None and found.covered < found.to_submit:
            console.note(
                f"batch: the budget of {self.limit} credits covers {found.covered} of the "
                f"{found.to_submit} items to submit (they are estimated at {found.needed} credits"
                + (f"; {found.committed} are charged or in flight already" if found.committed else "")
                + "); the batch stops submitting there"
            )

    def resume_hint(self) -> str:
        """After a run stopped at the budget: how to go on with a larger one."""
        found = self.plan()
        larger = found.committed + found.needed
        return (
            f"batch: stopped submitting at the budget of {self.limit} credits ({found.committed} "
            f"charged or in flight); {found.to_submit} items are pending. To go on, run the same "
            f"command with a larger budget: --budget {larger} covers them all"
            + (f" but the {len(found.unknown)} of unknown price" if found.unknown else "")
        )


def _records(path: Path) -> Dict[str, Record]:
    """The journal's records by item id (lower-cased), read without writing; none if it is absent."""
    if not path.is_file():
        return {}
    journal = Journal(path, read_only=True)
    try:
        return {record.id.lower(): record for record in journal.records()}
    finally:
        journal.close()


def _plan_document(found: BudgetPlan, limit: Optional[Decimal]) -> Dict[str, Any]:
    return {
        "credits": str(found.total),
        "usd": str(found.total_usd),
        "models": [
            {"model": model, "items": count, "credits": str(model_credits)}
            for model, (count, model_credits) in found.by_model.items()
        ],
        "unknown": list(found.unknown),
        "committed": str(found.committed),
        "to_submit": found.to_submit,
        "budget": None if limit is None else str(limit),
        "covered": found.covered,
    }


def _table(screen: Screen, found: BudgetPlan) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table()
    table.add_column("model")
    table.add_column("items", justify="right")
    table.add_column("credits", justify="right")
    for model, (count, model_credits) in found.by_model.items():
        table.add_row(Text(model), str(count), str(model_credits))
    screen.print(table)
