"""One batch item's work against the API: submit with a given key, wait, download an output.

Both the journaled batch runner and the Ray callable do an item's work through ``ItemWork``;
they differ only in where they keep what happened. A capacity answer to a submit is not retried
here: it is raised to the caller, whose window decides when the item tries again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from higgsfield_proto import (
    APIError,
    AuthenticationError,
    FlowEnv,
    InsufficientCreditsError,
    JobState,
    JobStatus,
    PermissionDeniedError,
    RateLimitError,
    Retrying,
    submit_flow,
    wait_flow,
)

from ._calls import output_urls
from ._runner import Call, Sink
from ._statuses import JobResult

if TYPE_CHECKING:
    from ._async import AsyncClient

# Errors that every other submit of the batch would meet too: the batch stops submitting.
FATAL_SUBMIT_ERRORS = (AuthenticationError, InsufficientCreditsError, PermissionDeniedError)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEnd:
    """How a job ended: its state (``completed``, ``failed``, ``nsfw``, ``canceled``), its output
    URLs when completed, and the failure text otherwise."""

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
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        job_timeout: Optional[float],
        on_retry: Optional[Callable[[Retrying], None]] = None,
    ) -> None:
        self.client = client
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
        flow = submit_flow(config, model, arguments, self._submit_env, idempotency_key=key)
        job: JobStatus = await self.client._run(Call(flow=flow, on_event=self._observe))
        return job.request_id

    async def wait(self, request_id: str) -> JobEnd:
        """Wait for the job to end (checking at once: it may have ended long ago).

        Raises:
            WaitTimeoutError: ``job_timeout`` passed first.
            HiggsfieldClientError: the status checks failed for good, typed.
        """
        config = self.client._calls.settings.config
        flow = wait_flow(config, request_id, self._wait_env, check_first=True)
        job: JobStatus = await self.client._run(Call(flow=flow, on_event=self._observe))
        return job_end(job)

    async def download(self, url: str, target: Path) -> Path:
        """Download ``url`` to ``target`` through a part file; never replaces a file.

        Raises:
            FileExistsError: ``target`` exists (a finished download: nothing is fetched).
            TransportError: the download failed for good (the part file is removed).
        """
        call = self.client._calls.download(url, target, progress=None, overwrite=False)
        call.on_event = self._observe
        return await self.client._run(call)

    async def fetch(self, url: str, sink: Sink, finish: Callable[[Any], Any]) -> Any:
        """Stream ``url`` into ``sink`` with the download flow; returns ``finish(Downloaded)``."""
        call = self.client._calls.stream(url, sink, finish)
        call.on_event = self._observe
        return await self.client._run(call)


def part_files(folder: Path, names: Sequence[str]) -> list[Path]:
    """The part files a killed download of ``names`` may have left in ``folder``."""
    if not folder.is_dir():
        return []
    return [part for name in names for part in folder.glob(f"{_glob_escape(name)}.*.part")]


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
