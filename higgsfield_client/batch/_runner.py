"""The journaled batch runner: reads items, moves each one through the journal's states, and
reports results as they finish. Runs under asyncio and trio (anyio).

Resume rules, applied to each item from its journal row:
- finished (completed with its outputs on disk, or ended without output): reported, not redone;
  ``retry_failed`` gives an item that ended without output a new key and submits it again;
- ``submitting`` (a key committed, the answer lost): submitted again with the same key;
- ``submitted``: re-attached by request id and waited for;
- ``completed`` with outputs missing: only the missing outputs are downloaded.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import anyio

from higgsfield_proto import HiggsfieldError, Retrying

from .._download import file_name_from_url, unique_names
from .._observe import item as item_span
from ._items import BatchInputError, BatchItem
from ._journal import (
    COMPLETED,
    ENDED_WITHOUT_OUTPUT,
    PENDING,
    SUBMITTED,
    SUBMITTING,
    Journal,
    Record,
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
            ``nsfw``, ``canceled``, ``rejected`` (the API refused the submit), ``unfinished``
            (to be resumed by the next run; ``error`` says what stopped it) or ``pending``
            (never started: the batch was stopped first).
        request_id: the job's id, once submitted.
        outputs: the downloaded files.
        urls: the job's output URLs.
        error: why it failed, or what stopped it.
        attempts: submits made with a new key for it, in every run.
        resumed: it had finished in an earlier run; nothing was done for it now.
    """

    id: str
    status: str
    request_id: Optional[str] = None
    outputs: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    error: Optional[str] = None
    attempts: int = 0
    resumed: bool = False

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
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchProgress:
    """A snapshot of a running batch.

    Attributes:
        total: items read from the input so far (final once ``input_done``).
        input_done: the whole input has been read.
        completed, failed: items finished with outputs, and without (failed, nsfw, canceled,
            rejected), this run and earlier ones.
        unfinished: items this run gave up on for now (the next run resumes them).
        in_flight: items being submitted, waited for or downloaded.
        resumed: items finished by an earlier run.
        retries: requests repeated after a failure or a 429.
        capacity_waits: submits the API answered "full" (429), each followed by a pause.
        elapsed: seconds since the run started.
        rate: items finished per second by this run, or None before the first.
        eta: seconds until the rest is finished at that rate, when it can be told.
    """

    total: int
    input_done: bool
    completed: int
    failed: int
    unfinished: int
    in_flight: int
    resumed: int
    retries: int
    capacity_waits: int
    elapsed: float
    rate: Optional[float]
    eta: Optional[float]

    @property
    def finished(self) -> int:
        """Items completed or failed."""
        return self.completed + self.failed


def result_of(record: Record, out: Path, *, download: bool, resumed: bool = False) -> ItemResult:
    """What ``record`` says of its item now."""
    status = record.state
    if record.state in (SUBMITTING, SUBMITTED) or (
        record.state == COMPLETED and download and len(record.paths) < len(record.urls)
    ):
        status = "unfinished"
    return ItemResult(
        id=record.id,
        status=status,
        request_id=record.request_id,
        outputs=tuple(str(out / path) for path in record.paths),
        urls=record.urls,
        error=record.error,
        attempts=record.attempts,
        resumed=resumed,
    )


def write_results(path: Path, results: Iterable[ItemResult]) -> None:
    """Write ``results.jsonl`` whole, replacing the old one only once the new one is complete."""
    part = path.with_name(f".{path.name}.part")
    with part.open("w", encoding="utf-8") as stream:
        for result in results:
            stream.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
    os.replace(part, path)


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
    ) -> None:
        self._journal = journal
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
        self._counts = {"completed": 0, "failed": 0, "unfinished": 0, "resumed": 0, "finished_now": 0}
        self._in_flight = 0
        self._retries = 0
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
        """A snapshot of the counts, the rate and the ETA."""
        elapsed = time.monotonic() - self._started
        done_now = self._counts["finished_now"]
        rate = done_now / elapsed if done_now and elapsed > 0 else None
        finished = self._counts["completed"] + self._counts["failed"]
        remaining = self._total - finished - self._counts["unfinished"]
        eta = remaining / rate if rate and (self._input_done or self._known_total) else None
        return BatchProgress(
            total=self._total,
            input_done=self._input_done,
            completed=self._counts["completed"],
            failed=self._counts["failed"],
            unfinished=self._counts["unfinished"],
            in_flight=self._in_flight,
            resumed=self._counts["resumed"],
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
        self._out.mkdir(parents=True, exist_ok=True)
        self.run_number = run = self._journal.start_run()
        outcome = "failed"
        try:
            # The results stream ends only after the last checkpoint of the run: its reader may
            # then cancel the run, which must have raised by then.
            async with results:
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
        finally:
            if outcome == "failed" and self._stopping and self._fatal is None and self._input_error is None:
                outcome = "stopped"  # cancelled after stop(): a second Ctrl-C
            # Plain calls, no checkpoint: a cancellation cannot interrupt them.
            self._journal.end_run(run, outcome)
            records = self._journal.records(run)
            write_results(
                self._out / "results.jsonl",
                (result_of(record, self._out, download=self._download) for record in records),
            )

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
            for chunk in _chunks(self._items, _REGISTER_CHUNK):
                if self._stopping:
                    return
                if not self._known_total:
                    self._total += len(chunk)
                records = self._journal.register([(n, item) for n, item in chunk], self.run_number)
                for (_, item), record in zip(chunk, records, strict=True):
                    if self.stopping:
                        return
                    if self._is_finished(record):
                        self._counts["resumed"] += 1
                        self._count(record)
                        done = result_of(record, self._out, download=self._download, resumed=True)
                        await results.send(done)
                        continue
                    needs_slot = record.state != COMPLETED
                    if needs_slot and not await self._gate.enter():
                        return
                    self._in_flight += 1
                    group.start_soon(self._run_item, item, record, needs_slot, results.clone())
            self._input_done = True
        except BatchInputError as exc:
            self._input_error = exc
            self._stopping = True

    def _is_finished(self, record: Record) -> bool:
        if record.state in ENDED_WITHOUT_OUTPUT:
            return not self._retry_failed
        if record.state == COMPLETED:
            return not self._download or len(record.paths) >= len(record.urls)
        return False

    # -- one item ------------------------------------------------------------------------------

    async def _run_item(
        self, item: BatchItem, record: Record, holds_slot: bool, results: MemoryObjectSendStream[ItemResult]
    ) -> None:
        async with results:
            # The item's span (when tracing): its job's span and its downloads' go under it.
            with item_span(item.id) as span:
                slot = [holds_slot]
                try:
                    record = await self._through_the_api(item, record, slot)
                finally:
                    if slot[0]:
                        self._gate.leave()
                if record.state == PENDING:  # stopped before it began: not a result; the next run starts it
                    self._in_flight -= 1
                    return
                if record.state == COMPLETED and self._download:
                    async with self._downloads:
                        record = await self._fetch_outputs(record)
                self._in_flight -= 1
                result = result_of(record, self._out, download=self._download)
                if span is not None:
                    span.set_attribute("higgsfield.batch.item_status", result.status)
            self._count(record, unfinished=result.status == "unfinished")
            self._counts["finished_now"] += result.status != "unfinished"
            await results.send(result)

    async def _through_the_api(self, item: BatchItem, record: Record, slot: list[bool]) -> Record:
        journal = self._journal
        if record.state == PENDING or (record.state in ENDED_WITHOUT_OUTPUT and self._retry_failed):
            if self._stopping:
                return record
            record = journal.commit_key(record, self._new_key())  # before anything is sent
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
        return self._journal.ended(record, end.state, end.error)

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
        folder = self._out / record.id
        names = unique_names(file_name_from_url(url) for url in record.urls)
        for part in part_files(folder, names):
            part.unlink(missing_ok=True)  # left by a run killed mid-download
        paths = list(record.paths)
        for url, name in zip(record.urls, names, strict=True):
            relative = f"{record.id}/{name}"
            if relative in paths:
                continue
            target = folder / name
            if not target.exists():  # an existing one is a download committed before a kill
                folder.mkdir(parents=True, exist_ok=True)
                try:
                    await self._work.download(url, target)
                except FileExistsError:
                    pass
                except (HiggsfieldError, OSError) as exc:
                    return self._journal.note_error(record, f"download of {name}: {describe(exc)}")
            paths.append(relative)
            record = self._journal.downloaded(record, paths)
        return record

    # -- counting ------------------------------------------------------------------------------

    def _count(self, record: Record, *, unfinished: bool = False) -> None:
        if unfinished:
            self._counts["unfinished"] += 1
        elif record.state == COMPLETED:
            self._counts["completed"] += 1
        elif record.state in ENDED_WITHOUT_OUTPUT:
            self._counts["failed"] += 1

    def _count_retry(self, event: Retrying) -> None:
        self._retries += 1
