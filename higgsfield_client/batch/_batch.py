"""``Batch``: the public face of a durable batch, sync (``run``) and async (``stream``)."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence, Sized
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

import anyio
from anyio.from_thread import start_blocking_portal

from .._async import AsyncClient
from .._budget import non_negative
from .._observe import current_context, span
from .._settings import new_idempotency_key
from ._budget import BatchBudget
from ._items import (
    BatchInputError,
    BatchItem,
    ItemLike,
    to_items,
)
from ._journal import Journal, JournalSummary
from ._runner import BatchProgress, BatchRunner, ItemResult

if TYPE_CHECKING:
    from ..webhooks import WebhookWaiter


DEFAULT_JOURNAL_NAME = "journal.sqlite3"
"""The journal's file name in the outputs folder, unless ``journal=`` names another file."""

PathLike = Union[str, "os.PathLike[str]"]


class Batch:
    """A durable batch of generations.

    Args:
        items: ``BatchItem`` objects, or mappings with ``model``, ``arguments`` and an optional
            ``id`` (default: the item's position, from 1); read lazily, so a generator of
            millions is fine.
        out: the outputs folder: ``out/<item id>/<file>``, ``out/results.jsonl`` and, by
            default, the journal.
        journal: the journal file; default ``out/journal.sqlite3``. An existing journal is
            resumed.
        model: the model of items that name none.
        concurrency: the most items in flight at once. The batch halves its window when the API
            says the account is full (429) and grows back one item at a time.
        download: download the outputs; False only records their URLs.
        retry_failed: submit items that ended without output (failed, nsfw, canceled, rejected,
            expired) again, with a new Idempotency-Key (the old key would only return the old
            failure).
        job_timeout: seconds to wait for one job in this run (None: no limit); a job still
            running then is left ``unfinished`` and waited for by the next run.
        client: the AsyncClient to use (yours to close); default: one made from ``api_key``
            and ``base_url`` and closed at the end.
        api_key: the credentials of the client the batch makes.
        base_url: the API root of the client the batch makes.
        webhook_url: sent with every submit, for the API to notify when each job ends.
        waiter: a ``WebhookWaiter`` that receives those notifications (its receiver serves
            ``webhook_url``): the batch then waits for each job by its webhook, after one status
            check, and the waiter's slow polling finds the jobs whose webhook is lost. Only with
            ``stream()``, in the event loop that serves the receiver.
        budget: credits the whole batch may cost, over every run of its journal: each item is
            priced before its submit (the account's estimate, else the model catalog's price),
            and items are submitted in input order while charged plus in flight stays within
            it; then the run submits no more, and the rest stay pending for a run with a larger
            budget. The journal records each item's estimate and charge, so a resumed run
            counts from where the last one stopped.

    Raises:
        BatchInputError: ``concurrency`` below 1, ``job_timeout`` not positive, or a ``waiter``
            without a ``webhook_url``.
        InvalidArgumentError: a ``budget`` that is not a non-negative number.
    """

    def __init__(
        self,
        items: Iterable[ItemLike],
        *,
        out: PathLike,
        journal: Optional[PathLike] = None,
        model: Optional[str] = None,
        concurrency: int = 8,
        download: bool = True,
        retry_failed: bool = False,
        job_timeout: Optional[float] = 3600.0,
        client: Optional[AsyncClient] = None,
        api_key: Optional[str] = None,
        base_url: Optional[str] = None,
        webhook_url: Optional[str] = None,
        waiter: Optional[WebhookWaiter] = None,
        budget: Union[Decimal, int, str, None] = None,
    ) -> None:
        if concurrency < 1:
            raise BatchInputError("concurrency must be at least 1")
        if job_timeout is not None and not (job_timeout > 0 and math.isfinite(job_timeout)):
            raise BatchInputError("job_timeout must be a positive number of seconds, or None")
        if waiter is not None and webhook_url is None:
            raise BatchInputError("a waiter needs webhook_url=, the URL its receiver serves")
        self._budget = None if budget is None else non_negative(budget, "budget")
        self.out = Path(out)
        self.journal_path = Path(journal) if journal is not None else self.out / DEFAULT_JOURNAL_NAME
        self._items = items
        self._total = len(items) if isinstance(items, Sized) else None
        self._model = model
        self._concurrency = concurrency
        self._download = download
        self._retry_failed = retry_failed
        self._job_timeout = job_timeout
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._webhook_url = webhook_url
        self._waiter = waiter
        self._runner: Optional[BatchRunner] = None
        self._stop_requested = False

    def stop(self) -> None:
        """Submit nothing more; jobs already submitted are still waited for and downloaded.

        Safe to call from any thread, or from a signal handler.
        """
        self._stop_requested = True
        if self._runner is not None:
            self._runner.stop()

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop_requested

    def progress(self) -> Optional[BatchProgress]:
        """Counts, rate and ETA of the running batch; None before it starts."""
        return None if self._runner is None else self._runner.progress()

    @property
    def spending(self) -> Optional[BatchBudget]:
        """The budget of the running (or last) run: its limit, what is charged or in flight,
        and whether it was reached; None without a budget or before the run starts."""
        return None if self._runner is None else self._runner.budget

    @property
    def run_number(self) -> Optional[int]:
        """The journal's number for the current (or last) run."""
        return None if self._runner is None else self._runner.run_number

    def stream(self) -> contextlib.AbstractAsyncContextManager[AsyncIterator[ItemResult]]:
        """Run the batch under asyncio or trio; yields an async iterator of results as they finish.

        Leaving the block early cancels what is in flight; the journal keeps it for the next run.
        When tracing, the batch's span (``higgsfield.batch``) is a child of the current span.

        Raises:
            BatchInputError, BatchConflictError: the input is bad (items in flight finish first).
            HiggsfieldClientError: the API refused the account (authentication, credits); the
                batch stopped submitting.
        """
        return self._stream(current_context())

    @contextlib.asynccontextmanager
    async def _stream(self, parent: object) -> AsyncIterator[AsyncIterator[ItemResult]]:
        """``stream()``, its span a child of ``parent`` (an OpenTelemetry context, or None)."""
        journal = self._open_journal()
        owned = self._client is None
        client = self._client or AsyncClient(base_url=self._base_url, api_key=self._api_key)
        try:
            items: Iterable[BatchItem] = to_items(self._items, self._model)
            if isinstance(self._items, Sequence):
                items = list(items)
                journal.check(items)  # a bad list is refused before anything is sent
            runner = BatchRunner(
                client,
                journal,
                items,
                out=self.out,
                concurrency=self._concurrency,
                download=self._download,
                retry_failed=self._retry_failed,
                job_timeout=self._job_timeout,
                new_key=new_idempotency_key,
                total=self._total,
                webhook_url=self._webhook_url,
                waiter=self._waiter,
                budget=self._budget,
            )
            self._runner = runner
            if self._stop_requested:
                runner.stop()
            send, receive = anyio.create_memory_object_stream[ItemResult](max_buffer_size=1024)
            failures: list[Exception] = []

            async def drive() -> None:
                try:
                    with span("higgsfield.batch", {"higgsfield.batch.concurrency": self._concurrency},
                              parent=parent) as made:  # fmt: skip
                        try:
                            await runner.run(send)
                        finally:
                            if made is not None:
                                made.set_attributes(_counts(runner))
                except Exception as exc:  # raised below, unwrapped from the task group
                    failures.append(exc)

            left_with: Optional[BaseException] = None
            with receive:
                async with anyio.create_task_group() as group:
                    group.start_soon(drive)
                    try:
                        yield receive
                    except BaseException as exc:  # re-raised below as itself, not in a group
                        left_with = exc
                    finally:
                        group.cancel_scope.cancel()  # a no-op once the run has ended by itself
            if left_with is not None:
                raise left_with
            if failures:
                raise failures[0]
        finally:
            journal.close()
            if owned:
                with anyio.CancelScope(shield=True):
                    await client.aclose()

    def _open_journal(self) -> Journal:
        """Make the outputs folder and open the journal.

        Raises:
            BatchInputError: the outputs folder is a file, or it or the journal cannot be made
                or opened.
        """
        if self.out.exists() and not self.out.is_dir():
            raise BatchInputError(f"the outputs folder {self.out} is a file: give the batch a folder")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            return Journal(self.journal_path)
        except OSError as exc:
            where = exc.filename if exc.filename is not None else self.journal_path
            reason = exc.strerror or exc
            raise BatchInputError(f"cannot make the batch's files at {where}: {reason}") from None

    def run(self) -> Iterator[ItemResult]:
        """Run the batch from plain Python; yields results as they finish.

        The batch runs on an event loop in a worker thread; leaving the loop early (``break``)
        cancels what is in flight, and the journal keeps it for the next run.

        Raises:
            BatchInputError, BatchConflictError: the input is bad (items in flight finish first).
            HiggsfieldClientError: the API refused the account (authentication, credits).
            BatchInputError: the batch has a ``waiter`` (it needs the loop of its receiver:
                use ``stream()`` there).
        """
        if self._waiter is not None:
            raise BatchInputError("a batch with a waiter runs in its receiver's loop: use Batch.stream()")
        stream = self._stream(current_context())  # the caller's span, from this thread
        with start_blocking_portal() as portal, portal.wrap_async_context_manager(stream) as results:
            while True:
                try:
                    result = portal.call(_next_result, results)
                except StopAsyncIteration:
                    return
                try:
                    yield result
                except GeneratorExit:
                    return  # the caller left early: the block's end cancels what is in flight

    def results(self) -> list[ItemResult]:
        """Run the batch to its end from plain Python; returns every item's result."""
        return list(self.run())


def _counts(runner: BatchRunner) -> dict[str, object]:
    """The batch span's attributes at its end: the run's number and its counts."""
    progress = runner.progress()
    return {
        "higgsfield.batch.run": runner.run_number or 0,
        "higgsfield.batch.items": progress.total,
        "higgsfield.batch.completed": progress.completed,
        "higgsfield.batch.failed": progress.failed,
        "higgsfield.batch.unfinished": progress.unfinished,
        "higgsfield.batch.resumed": progress.resumed,
        "higgsfield.batch.retries": progress.retries,
    }


async def _next_result(results: AsyncIterator[ItemResult]) -> ItemResult:
    return await results.__anext__()


def journal_summary(path: PathLike, *, out: Optional[PathLike] = None) -> JournalSummary:
    """Summarise a batch journal without writing to it, even while a batch is running.

    Args:
        path: the journal file.
        out: the outputs folder whose files to check (``downloads_pending`` counts the
            completed items whose files are not all there); default: the folder the latest run
            wrote to, if it still exists.

    Raises:
        FileNotFoundError: there is no journal at ``path``.
        BatchInputError: the file is not a batch journal.
    """
    journal = Journal(path, read_only=True)
    try:
        return journal.summary(None if out is None else Path(out))
    finally:
        journal.close()

