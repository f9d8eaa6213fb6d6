"""The journaled batch runner: reads items, moves each one through the journal's states, and
reports results as they finish. Runs under asyncio and trio (anyio).

Resume rules, applied to each item from its journal row:
- finished (completed with its outputs on disk, or ended without output): reported, not redone;
  ``retry_failed`` gives an item that ended without output a new key and submits it again;
- ``submitting`` (a key committed, the answer lost): submitted again with the same key;
- ``submitted``: re-attached by request id and waited for;
- ``completed`` with outputs missing (never downloaded, or deleted or cut short since: the disk
  is checked, name and size): only the missing outputs are downloaded; an output the storage no
  longer has (404) makes the item ``expired``.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import anyio

from higgsfield_proto import HiggsfieldError, NotFoundError, Retrying

from .._budget import JobPrice
from .._download import file_name_from_url, unique_names
from .._observe import item as item_span
from ._budget import BatchBudget
from ._items import BatchInputError, BatchItem
from ._journal import (
    COMPLETED,
    ENDED_WITHOUT_OUTPUT,
    EXPIRED,
    PENDING,
    SUBMITTED,
    SUBMITTING,
    Journal,
    Record,
    is_whole,
)
from ._work import (
    FATAL_SUBMIT_ERRORS,
    UNFINISHED,
    Gate,
    ItemWork,
    JobEnd,
    describe,
    part_files,
    submit_failure,
)

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream

    from .._async import AsyncClient
    from ..webhooks import WebhookWaiter

_REGISTER_CHUNK = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemResult:
    """Where one item of a batch stands at the end of a run.

    Attributes:
        id: the item id.
        status: ``completed`` (outputs on disk, or only recorded without downloads), ``failed``,
            ``nsfw``, ``canceled``, ``rejected`` (the API refused the submit), ``expired`` (the
            job completed, but its outputs were gone from the storage before they were all
            downloaded), ``unfinished`` (to be resumed by the next run; ``error`` says what
            stopped it) or ``pending`` (never started: the batch was stopped first).
        request_id: the job's id, once submitted.
        outputs: the downloaded files that are on disk, with the size recorded.
        urls: the job's output URLs.
        error: why it failed, or what stopped it.
        attempts: submits made with a new key for it, in every run.
        resumed: it had finished in an earlier run; nothing was done for it now.
        estimate: the credits it was priced at before its submit (under a budget).
        charge: what its job cost once ended (the estimate when completed, ``"0"`` otherwise).
    """

    id: str
    status: str
    request_id: Optional[str] = None
    outputs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    error: Optional[str] = None
    attempts: int = 0
    resumed: bool = False
    estimate: Optional[str] = None
    charge: Optional[str] = None

    def as_dict(self) -> dict[str, Any]:
        """The result as one line of ``results.jsonl``."""
        return {
            "id": self.id,
            "request_id": self.request_id,
            "status": self.status,
            "outputs": list(self.outputs),
            "urls": list(self.urls),
            "error": self.error,
            "attempts": self.attempts,
            "estimate": self.estimate,
            "charge": self.charge,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchProgress:
    """A snapshot of a running batch.

    Attributes:
        total: the items of the input: all of them when their number is known (a list, any
            sized input), else those read so far.
        total_known: ``total`` is final: the input's size was known, or it has been read whole.
        input_done: the whole input has been read (every item started or finished).
        completed, failed: items finished with outputs, and without (failed, nsfw, canceled,
            rejected), this run and earlier ones.
        expired: items whose job completed, but whose outputs were gone from the storage before
            they were all downloaded.
        unfinished: items this run gave up on for now (the next run resumes them).
        in_flight: items being submitted or waited for: each holds one of the ``concurrency``
            places.
        downloading: items whose outputs are being downloaded (downloads do not hold a place:
            they have a limit of their own, also ``concurrency``).
        window: the places there are now: ``concurrency``, less while the API says the account
            is full (see "Concurrency and a full account" in the docs).
        resumed: items finished by an earlier run.
        retries: requests repeated after a failure or a 429.
        capacity_waits: submits the API answered "full" (429), each followed by a pause.
        elapsed: seconds since the run started.
        rate: items this run submitted and finished, per second; None before the first. Items
            an earlier run had submitted are left out: their jobs may have ended long ago, and
            would make the rate and the ETA far too good.
        eta: seconds until the rest is finished at that rate, when it can be told.
    """

    total: int
    total_known: bool
    input_done: bool
    completed: int
    failed: int
    expired: int
    unfinished: int
    in_flight: int
    downloading: int
    window: int
    resumed: int
    retries: int
    capacity_waits: int
    elapsed: float
    rate: Optional[float]
    eta: Optional[float]

    @property
    def finished(self) -> int:
        """Items that reached a final state: completed, failed or expired."""
        return self.completed + self.failed + self.expired

    @property
    def pending(self) -> int:
        """Items not started (yet, or at all when the batch stopped first)."""
        return self.total - self.finished - self.unfinished - self.in_flight - self.downloading


def result_of(record: Record, out: Path, *, download: bool, resumed: bool = False) -> ItemResult:
    """What ``record`` says of its item now, its files checked on disk."""
    status = record.state
    on_disk = record.outputs_on_disk(out)
    if record.state in (SUBMITTING, SUBMITTED) or (
        record.state == COMPLETED and download and len(on_disk) < len(record.urls)
    ):
        status = UNFINISHED
    return ItemResult(
        id=record.id,
        status=status,
        request_id=record.request_id,
        outputs=tuple(str(out / path) for path in on_disk),
        urls=record.urls,
        error=record.error,
        attempts=record.attempts,
        resumed=resumed,
        estimate=record.estimate,
        charge=record.charge,
    )


def write_results(path: Path, results: Iterable[ItemResult]) -> None:
    """Write ``results.jsonl`` whole, replacing the old one only once the new one is complete."""
    part = path.with_name(f".{path.name}.part")
    with part.open("w", encoding="utf-8") as stream:
        for result in results:
            stream.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
    os.replace(part, path)


def _by_kind(statuses: Counter[str]) -> dict[str, int]:
    """The progress counts of the items whose results have ``statuses``."""
    failed = sum(statuses[state] for state in ENDED_WITHOUT_OUTPUT if state != EXPIRED)
    return {
        "completed": statuses[COMPLETED],
        "failed": failed,
        "expired": statuses[EXPIRED],
        "unfinished": statuses[UNFINISHED],
    }


def _chunks(items: Iterable[BatchItem], size: int) -> Iterator[list[tuple[int, BatchItem]]]:
    numbered = enumerate(items, start=1)
    while chunk := list(itertools.islice(numbered, size)):
        yield chunk


class BatchRunner:
    """Runs one pass over a batch's items against the API, recording every step in the journal.

    Args:
        client: the async client to use (not closed here).
        journal: the open journal.
        items: the checked items, read lazily.
        out: the outputs folder (``OUT/<item id>/<name>``, ``OUT/results.jsonl``).
        concurrency: the most items in flight at once.
        download: download outputs; otherwise only their URLs are recorded.
        retry_failed: submit items that ended without output again, with a new key.
        job_timeout: seconds to wait for one job in this run.
        new_key: makes a new Idempotency-Key.
        total: the number of items, when known in advance.
        webhook_url, waiter: as ``ItemWork``'s.
        budget: credits the whole batch may cost (see ``_budget``): items are priced and
            submitted in input order while charged plus in flight stays within it; None: no
            budget, nothing priced.
    """

    def __init__(
        self,
        client: AsyncClient,
        journal: Journal,
        items: Iterable[BatchItem],
        *,
        out: Path,
        concurrency: int,
        download: bool,
        retry_failed: bool,
        job_timeout: Optional[float],
        new_key: Callable[[], str],
        total: Optional[int] = None,
        webhook_url: Optional[str] = None,
        waiter: Optional[WebhookWaiter] = None,
        budget: Optional[Decimal] = None,
    ) -> None:
        self._journal = journal
        self._limit = budget
        self.budget: Optional[BatchBudget] = None
        self._items = items
        self._out = out
        self._download = download
        self._retry_failed = retry_failed
        self._new_key = new_key
        self._work = ItemWork(
            client,
            job_timeout=job_timeout,
            on_retry=self._count_retry,
            webhook_url=webhook_url,
            waiter=waiter,
        )
        self._stopping = False
        self._gate = Gate(self._work, concurrency, lambda: self._stopping)
        self._downloads = anyio.CapacityLimiter(concurrency)
        self._fatal: Optional[BaseException] = None
        self._input_error: Optional[BaseException] = None
        self._started = time.monotonic()
        self._total = total or 0
        self._known_total = total is not None
        self._input_done = False
        self._counts = dict.fromkeys(
            ("completed", "failed", "expired", "unfinished", "resumed", "submitted_and_finished"), 0
        )
        self._downloading = 0
        self._retries = 0
        self._ended: Optional[Counter[str]] = None  # results.jsonl's statuses of the run's items
        self.run_number: Optional[int] = None

    # -- public --------------------------------------------------------------------------------

    def stop(self) -> None:
        """Submit nothing more; items already submitted are still waited for. Thread-safe."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """True once ``stop()`` was called (or a fatal error stopped the batch)."""
        return self._stopping

    def progress(self) -> BatchProgress:
        """A snapshot of the counts, the rate and the ETA. Once the run has ended, the counts
        are those of ``results.jsonl`` for the items of the run."""
        elapsed = time.monotonic() - self._started
        done_now = self._counts["submitted_and_finished"]
        rate = done_now / elapsed if done_now and elapsed > 0 else None
        counts, total = self._counts, self._total
        if self._ended is not None:
            counts, total = {**counts, **_by_kind(self._ended)}, sum(self._ended.values())
        finished = counts["completed"] + counts["failed"] + counts["expired"]
        remaining = total - finished - counts["unfinished"]
        total_known = self._input_done or self._known_total or self._ended is not None
        eta = remaining / rate if rate and total_known else None
        return BatchProgress(
            total=total,
            total_known=total_known,
            input_done=self._input_done,
            completed=counts["completed"],
            failed=counts["failed"],
            expired=counts["expired"],
            unfinished=counts["unfinished"],
            in_flight=self._gate.window.in_flight,
            downloading=self._downloading,
            window=int(self._gate.window.size),
            resumed=counts["resumed"],
            retries=self._retries,
            capacity_waits=self._gate.capacity_waits,
            elapsed=elapsed,
            rate=rate,
            eta=eta,
        )

    async def run(self, results: MemoryObjectSendStream[ItemResult]) -> None:
        """Run the items, sending each one's result to ``results`` as it finishes; then write
        ``results.jsonl``.

        Raises:
            BatchInputError, BatchConflictError: the input is bad (items in flight finish first).
            AuthenticationError, InsufficientCreditsError, PermissionDeniedError: the API refused
                the account; the batch stopped submitting.
        """
        # The results stream ends however the run ends, even if it could not start (another
        # process runs a batch on the journal): its reader would otherwise wait for good. It ends
        # after the last checkpoint of the run: its reader may then cancel the run, which must
        # have raised by then.
        async with results:
            self.run_number = run = self._journal.start_run(self._out)
            if self._limit is not None:
                self.budget = BatchBudget.from_records(self._limit, self._journal.records())
            outcome = "failed"
            try:
                async with anyio.create_task_group() as flusher:
                    flusher.start_soon(self._flush_now_and_then)
                    try:
                        async with anyio.create_task_group() as group:
                            await self._feed(group, results)
                    finally:
                        flusher.cancel_scope.cancel()
                if self._input_error is not None:
                    raise self._input_error
                if self._fatal is not None:
                    raise self._fatal
                outcome = "stopped" if self._stopping else "finished"
                if outcome == "finished" and self.budget is not None and self.budget.reached:
                    outcome = "stopped at the budget"
            finally:
                if outcome == "failed" and self._stopping and not (self._fatal or self._input_error):
                    outcome = "stopped"  # cancelled after stop(): a second Ctrl-C
                # Plain calls, no checkpoint: a cancellation cannot interrupt them.
                self._journal.end_run(run, outcome)
                self._ended = Counter()
                write_results(self._out / "results.jsonl", self._results_of_all(run, self._ended))

    def _results_of_all(self, run: int, statuses: Counter[str]) -> Iterator[ItemResult]:
        """Every journaled item's result, counting those of run ``run`` in ``statuses``."""
        for record in self._journal.records():
            result = result_of(record, self._out, download=self._download)
            if record.run == run:
                statuses[result.status] += 1
            yield result

    async def _flush_now_and_then(self) -> None:
        # The journal commits its waiting steps on its next write after flush_after; this
        # commits them when no write comes (every job in flight waiting on the API).
        while True:
            await anyio.sleep(self._journal.flush_after)
            self._journal.flush()

    # -- feeding -------------------------------------------------------------------------------

    async def _feed(self, group: anyio.abc.TaskGroup, results: MemoryObjectSendStream[ItemResult]) -> None:
        assert self.run_number is not None
        try:
            if isinstance(self._items, Sequence):
                # Registered whole before the first submit, so that `batch status` counts every
                # item of the run from the start; the loop below finds them registered.
                for chunk in _chunks(self._items, _REGISTER_CHUNK):
                    self._journal.register(chunk, self.run_number)
            for chunk in _chunks(self._items, _REGISTER_CHUNK):
                if self._stopping:
                    return
                if not self._known_total:
                    self._total += len(chunk)
                records = self._journal.register(chunk, self.run_number)
                for (_, item), record in zip(chunk, records, strict=True):
                    if self.stopping:
                        return
                    if self._is_finished(record):
                        self._counts["resumed"] += 1
                        self._count(record)
                        done = result_of(record, self._out, download=self._download, resumed=True)
                        await results.send(done)
                        continue
                    price = None
                    if self.budget is not None and self._to_submit(record):
                        if self.budget.reached:
                            continue  # registered, and left pending for a run with more budget
                        price = await self._work.client.price(item.model, item.arguments)
                        if not self.budget.admit(item, price):
                            continue
                    needs_slot = record.state != COMPLETED
                    if needs_slot and not await self._gate.enter():
                        if price is not None and self.budget is not None:
                            self.budget.give_back(price)
                        return
                    group.start_soon(self._run_item, item, record, needs_slot, results.clone(), price)
            self._input_done = True
        except BatchInputError as exc:
            self._input_error = exc
            self._stopping = True

    def _to_submit(self, record: Record) -> bool:
        return record.state == PENDING or (record.state in ENDED_WITHOUT_OUTPUT and self._retry_failed)

    def _is_finished(self, record: Record) -> bool:
        if record.state in ENDED_WITHOUT_OUTPUT:
            return not self._retry_failed
        if record.state == COMPLETED:
            return not self._download or len(record.outputs_on_disk(self._out)) >= len(record.urls)
        return False

    # -- one item ------------------------------------------------------------------------------

    async def _run_item(
        self,
        item: BatchItem,
        record: Record,
        holds_slot: bool,
        results: MemoryObjectSendStream[ItemResult],
        price: Optional[JobPrice],
    ) -> None:
        async with results:
            # The item's span (when tracing): its job's span and its downloads' go under it.
            with item_span(item.id, price) as span:
                slot = [holds_slot]
                new_key = record.state == PENDING or record.state in ENDED_WITHOUT_OUTPUT
                try:
                    record = await self._through_the_api(item, record, slot, price)
                finally:
                    if slot[0]:
                        self._gate.leave()
                if record.state == PENDING:  # stopped before it began: not a result; the next run starts it
                    if price is not None and self.budget is not None:
                        self.budget.give_back(price)
                    return
                if record.state == COMPLETED and self._download:
                    self._downloading += 1
                    try:
                        async with self._downloads:
                            record = await self._fetch_outputs(record)
                    finally:
                        self._downloading -= 1
                result = result_of(record, self._out, download=self._download)
                if span is not None:
                    span.set_attribute("higgsfield.batch.item_status", result.status)
            self._count(record, unfinished=result.status == UNFINISHED)
            self._counts["submitted_and_finished"] += new_key and result.status != UNFINISHED
            await results.send(result)

    async def _through_the_api(
        self, item: BatchItem, record: Record, slot: list[bool], price: Optional[JobPrice]
    ) -> Record:
        journal = self._journal
        if self._to_submit(record):
            if self._stopping:
                return record
            # The key, and the estimate a budget counts, are committed before anything is sent.
            estimate = None if price is None else price.amount.credits
            record = journal.commit_key(record, self._new_key(), estimate)
        if record.state == SUBMITTING:
            record = await self._submit(item, record, slot)
        if record.state == SUBMITTED:
            assert record.request_id is not None
            return self._end(record, await self._work.settle(record.request_id))
        return record

    def _end(self, record: Record, end: JobEnd) -> Record:
        """Record where the item's job stands."""
        if end.state == COMPLETED:
            return self._journal.completed(record, end.urls)
        if end.state == UNFINISHED:
            return self._journal.note_error(record, end.error or UNFINISHED)
        record = self._journal.ended(record, end.state, end.error)
        if self.budget is not None:
            self.budget.ended(record)
        return record

    async def _submit(self, item: BatchItem, record: Record, slot: list[bool]) -> Record:
        assert record.idempotency_key is not None
        try:
            request_id = await self._gate.submit(item.model, dict(item.arguments), record.idempotency_key)
        except FATAL_SUBMIT_ERRORS as exc:
            self._fatal = self._fatal or exc
            self._stopping = True
            return self._journal.note_error(record, describe(exc))
        except HiggsfieldError as exc:
            return self._end(record, submit_failure(exc))
        if request_id is None:
            slot[0] = False  # stopped: the key stays committed, and the next run submits with it
            return record
        return self._journal.submitted(record, request_id)

    async def _fetch_outputs(self, record: Record) -> Record:
        """Download the outputs that are not on disk, whole; record each one as it comes."""
        folder = self._out / record.id
        names = unique_names(file_name_from_url(url) for url in record.urls)
        for part in part_files(folder, names):
            part.unlink(missing_ok=True)  # left by a run killed mid-download
        relatives = [f"{record.id}/{name}" for name in names]
        recorded = dict(record.files())
        on_disk = {
            relative: (self._out / relative).stat().st_size
            for relative in relatives
            if relative in recorded and is_whole(self._out / relative, recorded[relative])
        }

        def files() -> list[tuple[str, int]]:  # in the order of the outputs
            return [(relative, on_disk[relative]) for relative in relatives if relative in on_disk]

        for url, name, relative in zip(record.urls, names, relatives, strict=True):
            if relative in on_disk:
                continue
            # Never downloaded, deleted or cut short since, or there but not recorded (a run
            # killed between the file and its record, or an earlier job's file): a file there
            # is kept only if it has the output's size.
            folder.mkdir(parents=True, exist_ok=True)
            try:
                await self._work.save(url, folder / name)
            except NotFoundError as exc:
                record = self._journal.downloaded(record, files())
                return self._journal.expired(record, f"{name} is gone from the storage: {describe(exc)}")
            except (HiggsfieldError, OSError) as exc:
                record = self._journal.downloaded(record, files())
                return self._journal.note_error(record, f"download of {name}: {describe(exc)}")
            on_disk[relative] = (folder / name).stat().st_size
            record = self._journal.downloaded(record, files())
        return record

    # -- counting ------------------------------------------------------------------------------

    def _count(self, record: Record, *, unfinished: bool = False) -> None:
        if unfinished:
            self._counts["unfinished"] += 1
        elif record.state == COMPLETED:
            self._counts["completed"] += 1
        elif record.state == EXPIRED:
            self._counts["expired"] += 1
        elif record.state in ENDED_WITHOUT_OUTPUT:
            self._counts["failed"] += 1

    def _count_retry(self, event: Retrying) -> None:
        self._retries += 1
