"""One batch item's work against the API: submit with a given key, wait, download an output.

Both the journaled batch runner and the Ray callable do an item's work through ``ItemWork`` and
admit items through a ``Gate``; they differ only in where they keep what happened. A capacity
answer to a submit is not retried by the client: the gate's window decides when the item tries
again, with the same key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import anyio

from higgsfield_proto import (
    APIError,
    AuthenticationError,
    FlowEnv,
    HiggsfieldError,
    InsufficientCreditsError,
    JobState,
    JobStatus,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Retrying,
    WaitTimeoutError,
    submit_flow,
    wait_flow,
)

from .._calls import output_urls
from .._runner import Call, Sink
from .._statuses import JobResult
from ._window import Window

if TYPE_CHECKING:
    from .._async import AsyncClient
    from ..webhooks import WebhookWaiter

# Errors that every other submit of the batch would meet too: the batch stops submitting.
FATAL_SUBMIT_ERRORS = (AuthenticationError, InsufficientCreditsError, PermissionDeniedError)
# The state of an item this run gave up on for now; a later run goes on with it.
UNFINISHED = "unfinished"
# How often an item waiting for a place looks at the stop flag (stop() may come from another thread).
_STOP_CHECK = 0.25


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEnd:
    """Where an item's job stands: its state (``completed``, ``failed``, ``nsfw``, ``canceled``;
    ``rejected`` when the API refused its submit; ``unfinished`` when this run gave up on it and
    a later one may go on), its output URLs when completed, and the failure text otherwise."""

    state: str
    urls: tuple[str, ...] = ()
    error: Optional[str] = None


def job_end(job: JobStatus) -> JobEnd:
    """The ``JobEnd`` of a terminal status."""
    if job.state is JobState.COMPLETED:
        return JobEnd(state="completed", urls=tuple(output_urls(JobResult(job))))
    if job.state is JobState.FAILED:
        return JobEnd(state="failed", error=job.error or "the job failed (no reason given)")
    if job.state is JobState.NSFW:
        return JobEnd(state="nsfw", error="rejected by moderation (nsfw)")
    return JobEnd(state="canceled", error="the job was canceled")


def is_capacity_answer(error: BaseException) -> bool:
    """True for a 429 or the older 400 "concurrent requests": the account is full for now."""
    return isinstance(error, RateLimitError)


def describe(error: BaseException) -> str:
    """An error as an item's failure text: its type and message."""
    return f"{type(error).__name__}: {error}"


def submit_failure(error: HiggsfieldError) -> JobEnd:
    """Where a submit that failed for good (not for capacity, nor for the account) leaves its
    item: ``rejected`` when the API refused the item itself, else ``unfinished``."""
    return JobEnd(state="rejected" if is_refusal(error) else UNFINISHED, error=describe(error))


def is_refusal(error: BaseException) -> bool:
    """True for a final 4xx answer to a submit: the item itself was refused (bad arguments,
    unknown model); its key was not used, and repeating the same submit would not help."""
    return (
        isinstance(error, APIError)
        and error.status_code is not None
        and 400 <= error.status_code < 500
        and not isinstance(error, (RateLimitError, *FATAL_SUBMIT_ERRORS))
    )


class ItemWork:
    """Submits, waits for and downloads batch items through one ``AsyncClient``.

    Args:
        client: the client; its retry policy applies, except that a submit's 429 comes back at
            once as RateLimitError (the caller's window backs off instead).
        job_timeout: seconds to wait for one job before giving up on it for this run; None waits
            without a limit.
        on_retry: called with each ``Retrying`` event (a request about to be repeated).
        webhook_url: sent with every submit.
        waiter: waits for jobs by their webhooks (which must reach it, through ``webhook_url``)
            after one status check, instead of polling.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        job_timeout: Optional[float],
        on_retry: Optional[Callable[[Retrying], None]] = None,
        webhook_url: Optional[str] = None,
        waiter: Optional[WebhookWaiter] = None,
    ) -> None:
        self.client = client
        self._webhook_url = webhook_url
        self._waiter = waiter
        self._job_timeout = job_timeout
        settings = client._calls.settings
        retry = settings.retry
        self._submit_env = FlowEnv(
            retry=replace(retry, retry_statuses=retry.retry_statuses - {429}),
            poll=settings.poll,
            jitter=settings.env().jitter,
        )
        self._wait_env = settings.env(timeout=job_timeout)
        self._on_retry = on_retry

    def _observe(self, event: object) -> None:
        if isinstance(event, Retrying) and self._on_retry is not None:
            self._on_retry(event)

    async def submit(self, model: str, arguments: dict[str, Any], key: str) -> str:
        """Submit with Idempotency-Key ``key``; returns the request id (the same job for the
        same key and content).

        Raises:
            RateLimitError: the account is full (429, or 400 "concurrent"); try again later with
                the same key.
            HiggsfieldClientError: any other refusal or failure, typed.
        """
        config = self.client._calls.settings.config
        flow = submit_flow(
            config, model, arguments, self._submit_env, webhook_url=self._webhook_url, idempotency_key=key
        )
        job: JobStatus = await self.client._run(
            Call(flow=flow, on_event=self._observe, action="submit", subject=model)
        )
        return job.request_id

    async def wait(self, request_id: str) -> JobEnd:
        """Wait for the job to end (checking at once: it may have ended long ago).

        Raises:
            WaitTimeoutError: ``job_timeout`` passed first.
            HiggsfieldClientError: the status checks failed for good, typed.
        """
        config = self.client._calls.settings.config
        if self._waiter is None:
            flow = wait_flow(config, request_id, self._wait_env, check_first=True)
            job: JobStatus = await self.client._run(
                Call(flow=flow, on_event=self._observe, action="wait", subject=request_id)
            )
            return job_end(job)
        # The waiter checks once at once (a resumed item's job may have ended long ago, and its
        # webhook with it), then waits for the delivery.
        job = await self._waiter.final_status(request_id, timeout=self._job_timeout)
        return job_end(job)

    async def settle(self, request_id: str) -> JobEnd:
        """``wait``, with its failures as ends: ``unfinished`` when the wait timed out or failed
        for good (a later run waits again), ``failed`` when the API no longer knows the job."""
        try:
            return await self.wait(request_id)
        except WaitTimeoutError as exc:
            return JobEnd(state=UNFINISHED, error=f"{exc}; run the batch again to keep waiting")
        except NotFoundError as exc:
            return JobEnd(state="failed", error=f"the API no longer knows the job: {exc}")
        except HiggsfieldError as exc:
            return JobEnd(state=UNFINISHED, error=describe(exc))

    async def save(self, url: str, target: Path) -> Path:
        """Download ``url`` to ``target`` through a part file, unless a file there has the
        output's size already (it is then kept; a file of another size is replaced).

        Raises:
            NotFoundError: the storage no longer has the output (it expired, or was deleted).
            TransportError: the download failed for good (the part file is removed).
        """
        call = self.client._calls.save(url, target, overwrite=True)
        call.on_event = self._observe
        return await self.client._run(call)

    async def fetch(self, url: str, sink: Sink, finish: Callable[[Any], Any]) -> Any:
        """Stream ``url`` into ``sink`` with the download flow; returns ``finish(Downloaded)``."""
        call = self.client._calls.stream(url, sink, finish)
        call.on_event = self._observe
        return await self.client._run(call)


def _never() -> bool:
    return False


class Gate:
    """Admits a batch's items into a ``Window`` and submits them, waiting out capacity answers.

    Create it in the event loop that uses it.

    Args:
        work: does the submits.
        ceiling: the most items in flight at once.
        stopping: True once the batch submits nothing more; looked at while waiting.

    Attributes:
        window: the window's arithmetic.
        capacity_waits: submits the API answered "full", each followed by a pause.
    """

    def __init__(self, work: ItemWork, ceiling: int, stopping: Callable[[], bool] = _never) -> None:
        self.window = Window(ceiling)
        self.capacity_waits = 0
        self._work = work
        self._stopping = stopping
        self._changed = anyio.Event()

    async def enter(self) -> bool:
        """Wait for a place in the window; False if the batch stops first."""
        while not self._stopping():
            wait = self.window.wait_before_next(anyio.current_time())
            if wait is None:
                self.window.start()
                return True
            changed = self._changed
            with anyio.move_on_after(min(wait or _STOP_CHECK, _STOP_CHECK)):
                await changed.wait()
        return False

    def leave(self) -> None:
        """Give a place back."""
        self.window.end()
        self._changed.set()
        self._changed = anyio.Event()

    async def submit(self, model: str, arguments: dict[str, Any], key: str) -> Optional[str]:
        """Submit with ``key`` from a place the caller holds. A capacity answer gives the place
        up, waits for another and submits again with the same key.

        Returns:
            The request id; None if the batch stopped first (the place is then given up).

        Raises:
            HiggsfieldClientError: any other failure, typed (the place is still held).
        """
        while True:
            if self._stopping():
                self.leave()
                return None
            sent_after = self.window.cuts
            try:
                request_id = await self._work.submit(model, arguments, key)
            except HiggsfieldError as exc:
                if not is_capacity_answer(exc):
                    raise
                self.capacity_waits += 1
                retry_after = getattr(exc, "retry_after", None)
                self.window.capacity_reached(anyio.current_time(), retry_after, sent_after)
                self.leave()
                if not await self.enter():
                    return None
                continue
            self.window.accepted()
            return request_id


def part_files(folder: Path, names: Sequence[str]) -> list[Path]:
    """The part files a killed download of ``names`` may have left in ``folder``."""
    if not folder.is_dir():
        return []
    return [part for name in names for part in folder.glob(f"{_glob_escape(name)}.*.part")]


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
