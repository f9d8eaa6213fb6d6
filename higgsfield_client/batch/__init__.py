"""Durable batches: many generations that survive a crash without paying twice.

``Batch(items, out="out")`` submits every item, waits for its job, downloads its outputs to
``out/<item id>/`` and records each step in an SQLite journal (``out/journal.sqlite3``). Run it
again after a crash, a Ctrl-C or a network outage and it resumes: finished items are skipped,
submitted jobs are waited for by request id, and a submit whose answer was lost is repeated
with the same Idempotency-Key, so that the API answers with the same job. See the "Batches"
page of the docs.

    for result in Batch(items, out="out").run():              # plain Python
        print(result.id, result.status, result.outputs)

    async with Batch(items, out="out").stream() as results:   # asyncio or trio
        async for result in results:
            print(result.id, result.status)
"""

from ._batch import DEFAULT_JOURNAL_NAME, Batch, journal_summary
from ._items import BatchConflictError, BatchInputError, BatchItem, read_jsonl
from ._journal import JournalSummary
from ._runner import BatchProgress, ItemResult

__all__ = [
    "Batch",
    "BatchItem",
    "ItemResult",
    "BatchProgress",
    "JournalSummary",
    "BatchInputError",
    "BatchConflictError",
    "read_jsonl",
    "journal_summary",
    "DEFAULT_JOURNAL_NAME",
]
