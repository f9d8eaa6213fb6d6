"""AsyncClient and AsyncRequestController: the same API under asyncio or trio."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Optional, TypeVar, Union

from higgsfield_proto import (
    Deletion,
    Estimate,
    Flow,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    StatusUpdate,
    raise_for_job_outcome,
)

from ._connections import AsyncTransportChoice, TransportsByRun
from ._download import AsyncDownloadTransport, Destination, prepare_download
from ._runner import EventHandler, iterate_async, run_async
from ._settings import (
    DEFAULT_TIMEOUT,
    Operations,
    Settings,
    Verify,
    default_base_url,
    event_handler,
)
from ._statuses import JobResult, Status, status_from_job
from ._uploads import (
    Progress,
    UploadData,
    body_from_data,
    body_from_path,
    guess_content_type,
    image_to_bytes,
)

if TYPE_CHECKING:
    from PIL import Image

T = TypeVar("T")


class AsyncRequestController:
    """Follows one submitted job from async code (asyncio or trio)."""

    def __init__(self, request_id: str, client: AsyncClient) -> None:
        self.request_id = request_id
        self._client = client
        self._final: Optional[JobStatus] = None

    @property
    def status_url(self) -> str:
        """The job's status URL on the client's base URL."""
        return self._client._settings.config.url(f"requests/{self.request_id}/status")

    response_url = status_url

    @property
    def cancel_url(self) -> str:
        """The job's cancel URL on the client's base URL."""
        return self._client._settings.config.url(f"requests/{self.request_id}/cancel")

    async def status(self) -> Status:
        """Check the job's state once."""
        return await self._client.status(self.request_id)

    async def poll_request_status(
        self, *, delay: Optional[float] = None, timeout: Optional[float] = None
    ) -> AsyncIterator[Status]:
        """Yield the job's status at each poll tick, ending with its final status.

        Args:
            delay: a fixed interval between checks; default: the client's poll policy.
            timeout: raise WaitTimeoutError if the job is not finished after this many seconds.
        """
        run = await self._client._transports.current()
        flow = self._client._ops.wait(run.clock(), self.request_id, timeout=timeout, delay=delay)
        events = iterate_async(flow, run.transport)
        try:
            async for event in events:
                if isinstance(event, StatusUpdate):
                    if event.status.is_terminal:
                        self._final = event.status
                    yield status_from_job(event.status)
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def get(self, *, timeout: Optional[float] = None, cancel_on_timeout: bool = False) -> JobResult:
        """Wait for the job to finish and return its result.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: the job ended without output.
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        if self._final is None:
            self._final = await self._client._run(
                self._client._ops.wait, self.request_id, timeout=timeout, cancel_on_timeout=cancel_on_timeout
            )
        return JobResult(raise_for_job_outcome(self._final))

    async def cancel(self) -> None:
        """Cancel the job while it is queued. Raises NotCancellableError once it has started."""
        await self._client._run(self._client._ops.cancel, self.request_id)

    def __repr__(self) -> str:
        return f"AsyncRequestController(request_id={self.request_id!r})"


class AsyncClient:
    """The async Higgsfield client for asyncio and trio, a drop-in for the official ``AsyncClient``.

    It is not bound to an event loop: it can be created anywhere and used from several
    ``asyncio.run`` / ``trio.run`` calls, with one transport per run. ``base_url``, ``timeout``,
    ``api_key``, ``retry``, ``poll``, ``verify``, ``proxy`` and ``allow_insecure_http`` are as for
    ``SyncClient``.

    Args:
        transport: an AsyncTransport (yours to close), or ``"aiohttp"`` / ``"trio"`` to choose the
            kind the client creates; default: aiohttp under asyncio, the h11 transport under trio.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        api_key: Optional[str] = None,
        transport: AsyncTransportChoice = None,
        *,
        retry: Optional[RetryPolicy] = None,
        poll: Optional[PollPolicy] = None,
        verify: Verify = True,
        proxy: Optional[str] = None,
        allow_insecure_http: bool = False,
    ) -> None:
        self._settings = Settings(
            base_url=base_url or default_base_url(os.environ),
            timeout=timeout,
            api_key=api_key,
            retry=retry or RetryPolicy(),
            poll=poll or PollPolicy(),
            verify=verify,
            proxy=proxy,
            allow_insecure_http=allow_insecure_http,
        )
        self._ops = Operations(self._settings)
        self._transports = TransportsByRun(transport, self._settings)

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._settings.base_url

    async def _run(
        self,
        operation: Callable[..., Flow[T]],
        *args: Any,
        on_event: Optional[EventHandler] = None,
        **kwargs: Any,
    ) -> T:
        """Run ``operation(clock, *args, **kwargs)``'s flow on the current run's transport."""
        run = await self._transports.current()
        return await run_async(operation(run.clock(), *args, **kwargs), run.transport, on_event)

    async def aclose(self) -> None:
        """Close the transport this client created for the current event loop or run."""
        await self._transports.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"

    def get_request_controller(self, request_id: str) -> AsyncRequestController:
        """A controller for an existing job."""
        return AsyncRequestController(request_id, self)

    async def submit(
        self,
        application: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        expires_after: Optional[int] = None,
    ) -> AsyncRequestController:
        """Submit a generation and return a controller for it (see ``SyncClient.submit``)."""
        job = await self._run(
            self._ops.submit,
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
        )
        return AsyncRequestController(job.request_id, self)

    async def subscribe(
        self,
        application: str,
        arguments: Mapping[str, Any],
        *,
        on_enqueue: Optional[Callable[[str], Any]] = None,
        on_queue_update: Optional[Callable[[Status], Any]] = None,
        webhook_url: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        expires_after: Optional[int] = None,
        timeout: Optional[float] = None,
        cancel_on_timeout: bool = False,
    ) -> JobResult:
        """Submit, wait and return the result (see ``SyncClient.subscribe``).

        The callbacks may be plain functions or coroutine functions; coroutines are awaited.
        """
        job = await self._run(
            self._ops.subscribe,
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            on_event=event_handler(on_enqueue, on_queue_update),
        )
        return JobResult(raise_for_job_outcome(job))

    async def status(self, request_id: str) -> Status:
        """Check a job's state once."""
        return status_from_job(await self._run(self._ops.status, request_id))

    async def result(
        self, request_id: str, *, timeout: Optional[float] = None, cancel_on_timeout: bool = False
    ) -> JobResult:
        """Wait for a job to finish and return its result (raises for failed/nsfw/canceled)."""
        return await self.get_request_controller(request_id).get(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout
        )

    async def cancel(self, request_id: str) -> None:
        """Cancel a queued job. Raises NotCancellableError once it has started."""
        await self.get_request_controller(request_id).cancel()

    async def upload(
        self, data: UploadData, content_type: str, *, progress: Optional[Progress] = None
    ) -> str:
        """Upload bytes, text (as UTF-8) or a binary file object; returns the public URL."""
        return (await self._run(self._ops.upload, body_from_data(data, progress), content_type)).public_url

    async def upload_file(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        content_type: Optional[str] = None,
        progress: Optional[Progress] = None,
    ) -> str:
        """Upload a file, streamed from disk, typed from its extension; returns the public URL."""
        content_type = content_type or guess_content_type(path)
        return (await self._run(self._ops.upload, body_from_path(path, progress), content_type)).public_url

    async def upload_image(
        self, image: Image.Image, format: str = "jpeg", *, progress: Optional[Progress] = None
    ) -> str:
        """Encode a Pillow image (jpeg, jpg, png, webp or gif) and upload it."""
        data, content_type = image_to_bytes(image, format)
        return await self.upload(data, content_type, progress=progress)

    async def download(
        self, url: str, destination: Destination, *, progress: Optional[Progress] = None
    ) -> Path:
        """Download an output URL to ``destination``, streamed to disk (see ``SyncClient.download``).

        ``progress`` is a plain function, called from the transport's read loop.
        """
        run = await self._transports.current()
        flow, sink = prepare_download(url, destination, progress, self._settings.env(*run.clock()))
        return await run_async(flow, AsyncDownloadTransport(run.transport, sink))

    async def estimate(self, application: str, arguments: Mapping[str, Any]) -> Estimate:
        """Price a generation without submitting it."""
        return await self._run(self._ops.estimate, application, arguments)

    async def delete(self, request_id: str) -> Deletion:
        """Delete a finished job's inputs, outputs, prompt and parameters."""
        return await self._run(self._ops.delete, request_id)
