"""The emulator's job book: the queue, the concurrency limit and each job's state over time.

Theory of operation: no timer or task runs per job. A job is submitted with the earliest moment it
may start (``ready_at``: submit time plus its queue time) and its run time. It starts at the later of
``ready_at`` and the moment a concurrency slot frees up, in order of ``ready_at``, and finishes
``run_time`` after it started. `JobBook.advance` replays those events up to "now" whenever anyone
looks, so states are exact whatever the polling rate, and the cost is one heap operation per state
change. A job queued behind a full concurrency limit therefore waits longer than its queue time.
The emulator also arms one loop timer at the next event so that webhooks fire on time.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from ._catalog import ModelSpec

TERMINAL = frozenset({"completed", "failed", "nsfw", "canceled"})
OUTCOMES = ("completed", "failed", "nsfw")


@dataclass(frozen=True)
class JobScript:
    """A scripted outcome for the next accepted submit (see `Emulator.script_next_job`)."""

    outcome: str
    queue_time: Optional[float]
    run_time: Optional[float]
    error: Optional[str]
    request_id: Optional[str] = None


@dataclass(frozen=True)
class JobInfo:
    """A snapshot of one job, for tests. Times are wall-clock (``time.time()``) or None."""

    request_id: str
    model_id: str
    kind: str
    arguments: Dict[str, Any]
    status: str
    outcome: str
    error: Optional[str]
    batch_size: int
    webhook_url: Optional[str]
    idempotency_key: Optional[str]
    expires_after: float
    submitted_at: float
    started_at: Optional[float]
    finished_at: Optional[float]
    expires_at: Optional[float]
    deleted: bool


class Job:
    """One request's mutable state, owned by a `JobBook` and changed only under its lock."""

    __slots__ = (
        "arguments", "batch_size", "deleted", "error", "expires_after", "finished",
        "idempotency_key", "model", "outcome", "ready_at", "request_id", "run_time", "seq",
        "started", "status", "submitted", "submitted_wall", "webhook_url",
    )

    def __init__(
        self,
        *,
        request_id: str,
        model: ModelSpec,
        arguments: Dict[str, Any],
        outcome: str,
        error: Optional[str],
        batch_size: int,
        submitted: float,
        submitted_wall: float,
        queue_time: float,
        run_time: float,
        expires_after: int,
        webhook_url: Optional[str],
        idempotency_key: Optional[str],
    ) -> None:
        self.request_id = request_id
        self.model = model
        self.arguments = arguments
        self.outcome = outcome
        self.error = error
        self.batch_size = batch_size
        self.submitted = submitted
        self.submitted_wall = submitted_wall
        self.ready_at = submitted + queue_time
        self.run_time = run_time
        self.expires_after = float(expires_after)
        self.webhook_url = webhook_url
        self.idempotency_key = idempotency_key
        self.status = "queued"
        self.started: Optional[float] = None
        self.finished: Optional[float] = None
        self.deleted = False
        self.seq = 0

    def wall(self, moment: float) -> float:
        """Convert a monotonic moment of this job to wall-clock time."""
        return self.submitted_wall + (moment - self.submitted)

    def expires_at(self) -> Optional[float]:
        """Wall-clock time its data is deleted, once it has finished."""
        if self.finished is None:
            return None
        return self.wall(self.finished) + self.expires_after

    def info(self) -> JobInfo:
        """Snapshot the job."""
        return JobInfo(
            request_id=self.request_id,
            model_id=self.model.model_id,
            kind=self.model.kind,
            arguments=dict(self.arguments),
            status=self.status,
            outcome=self.outcome,
            error=self.error,
            batch_size=self.batch_size,
            webhook_url=self.webhook_url,
            idempotency_key=self.idempotency_key,
            expires_after=self.expires_after,
            submitted_at=self.submitted_wall,
            started_at=None if self.started is None else self.wall(self.started),
            finished_at=None if self.finished is None else self.wall(self.finished),
            expires_at=self.expires_at(),
            deleted=self.deleted,
        )


class QueueFull(Exception):
    """Raised by `JobBook.add` when the account queue cannot take the job."""


class JobBook:
    """All jobs of the emulated account, with its concurrency limit and queue cap. Thread-safe.

    ``on_finish`` is called (outside the lock, in whichever thread advanced the book) with a snapshot
    of each job that reached completed, failed or nsfw.
    """

    def __init__(
        self, concurrency_limit: int, queue_limit: int, on_finish: Callable[[JobInfo], None]
    ) -> None:
        if concurrency_limit < 1 or queue_limit < 1:
            raise ValueError("concurrency_limit and queue_limit must be at least 1")
        self.concurrency_limit = concurrency_limit
        self.queue_limit = queue_limit
        self._on_finish = on_finish
        self._jobs: Dict[str, Job] = {}
        self._waiting: List[Tuple[float, int, Job]] = []
        self._running: List[Tuple[float, int, Job]] = []
        self._queued_units = 0
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, job: Job, now: float) -> None:
        """Queue a new job.

        Raises:
            QueueFull: the queued jobs' outputs plus this job's would exceed ``queue_limit``.
        """
        with self._lock:
            finished = self._advance(now)
            full = self._queued_units + job.batch_size > self.queue_limit
            if not full:
                self._seq += 1
                job.seq = self._seq
                self._jobs[job.request_id] = job
                self._queued_units += job.batch_size
                heapq.heappush(self._waiting, (job.ready_at, job.seq, job))
        self._notify(finished)
        if full:
            raise QueueFull

    def peek(self, request_id: str, now: float) -> Optional[JobInfo]:
        """Bring the book up to ``now`` and snapshot one job, or None when unknown."""
        with self._lock:
            finished = self._advance(now)
            job = self._jobs.get(request_id)
            info = None if job is None else job.info()
        self._notify(finished)
        return info

    def peek_all(self, now: float) -> List[JobInfo]:
        """Bring the book up to ``now`` and snapshot every job, in submit order."""
        with self._lock:
            finished = self._advance(now)
            infos = [job.info() for job in self._jobs.values()]
        self._notify(finished)
        return infos

    def cancel(self, request_id: str, now: float) -> str:
        """Cancel a queued job. Returns "canceled", "started" (too late) or "missing"."""
        with self._lock:
            finished = self._advance(now)
            job = self._jobs.get(request_id)
            if job is None:
                result = "missing"
            elif job.status != "queued":
                result = "started"
            else:
                # The heap entry stays and is skipped when it surfaces.
                job.status = "canceled"
                job.finished = now
                self._queued_units -= job.batch_size
                result = "canceled"
        self._notify(finished)
        return result

    def delete(self, request_id: str, now: float) -> str:
        """Mark a finished job's data deleted. Returns "deleted", "unfinished" or "missing"."""
        with self._lock:
            finished = self._advance(now)
            job = self._jobs.get(request_id)
            if job is None:
                result = "missing"
            elif job.status not in TERMINAL:
                result = "unfinished"
            else:
                job.deleted = True
                result = "deleted"
        self._notify(finished)
        return result

    def expire(self, request_id: str, now: float) -> bool:
        """Shorten a finished job's retention so that its data expires at ``now``.

        Returns:
            False when the job is unknown or not finished.
        """
        with self._lock:
            finished = self._advance(now)
            job = self._jobs.get(request_id)
            done = job is not None and job.finished is not None
            if job is not None and job.finished is not None:
                job.expires_after = min(job.expires_after, now - job.finished)
        self._notify(finished)
        return done

    def advance(self, now: float) -> None:
        """Apply every start and finish due by ``now``."""
        with self._lock:
            finished = self._advance(now)
        self._notify(finished)

    def next_event(self) -> Optional[float]:
        """Monotonic time of the next start or finish, or None when nothing is pending."""
        with self._lock:
            self._drop_canceled()
            ends = self._running[0][0] if self._running else None
            if not self._waiting:
                return ends
            start = self._waiting[0][0]
            if len(self._running) >= self.concurrency_limit:
                return ends
            return start if ends is None else min(start, ends)

    def _drop_canceled(self) -> None:
        while self._waiting and self._waiting[0][2].status == "canceled":
            heapq.heappop(self._waiting)

    def _advance(self, now: float) -> List[JobInfo]:
        finished: List[JobInfo] = []
        while True:
            self._drop_canceled()
            if not self._waiting:
                break
            ready = self._waiting[0][0]
            if len(self._running) >= self.concurrency_limit:
                ready = max(ready, self._running[0][0])
            start = ready
            if start > now:
                break
            self._finish_until(start, finished)
            _, _, job = heapq.heappop(self._waiting)
            job.status = "in_progress"
            job.started = start
            self._queued_units -= job.batch_size
            heapq.heappush(self._running, (start + job.run_time, job.seq, job))
        self._finish_until(now, finished)
        return finished

    def _finish_until(self, moment: float, finished: List[JobInfo]) -> None:
        while self._running and self._running[0][0] <= moment:
            end, _, job = heapq.heappop(self._running)
            job.status = job.outcome
            job.finished = end
            finished.append(job.info())

    def _notify(self, finished: List[JobInfo]) -> None:
        for job in finished:
            self._on_finish(job)
