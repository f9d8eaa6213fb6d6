"""SyncClient and SyncRequestController: the blocking API, run in the caller's thread."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Optional, Tuple, TypeVar, Union

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

from ._connections import make_sync_transport
from ._download import Destination, SyncDownloadTransport, prepare_download
from ._runner import EventHandler, iterate_sync, run_sync
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

    from higgsfield_transports import SyncTransport

T = TypeVar("T")


def _clock() -> Tuple[float, float]:
    return time.monotonic(), time.time()


class SyncRequestController:
    """Follows one submitted job: ``status()``, ``poll_request_status()``, ``get()``, ``cancel()``."""

    def __init__(self, request_id: str, client: SyncClient) -> None:
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

    def status(self) -> Status:
        """Check the job's state once."""
        return self._client.status(self.request_id)

    def poll_request_status(
        self, *, delay: Optional[float] = None, timeout: Optional[float] = None
    ) -> Iterator[Status]:
        """Yield the job's status at each poll tick, ending with its final status.

        Args:
            delay: a fixed interval between checks; default: the client's poll policy.
            timeout: raise WaitTimeoutError if the job is not finished after this many seconds.
        """
        flow = self._client._ops.wait(_clock(), self.request_id, timeout=timeout, delay=delay)
        for event in iterate_sync(flow, self._client._get_transport()):
            if isinstance(event, StatusUpdate):
                if event.status.is_terminal:
                    self._final = event.status
                yield status_from_job(event.status)

    def get(self, *, timeout: Optional[float] = None, cancel_on_timeout: bool = False) -> JobResult:
        """Wait for the job to finish and return its result.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: the job ended without output.
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        if self._final is None:
            flow = self._client._ops.wait(
                _clock(), self.request_id, timeout=timeout, cancel_on_timeout=cancel_on_timeout
            )
            self._final = self._client._run(flow)
        return JobResult(raise_for_job_outcome(self._final))

    def cancel(self) -> None:
        """Cancel the job while it is queued. Raises NotCancellableError once it has started."""
        self._client._run(self._client._ops.cancel(_clock(), self.request_id))

    def __repr__(self) -> str:
        return f"SyncRequestController(request_id={self.request_id!r})"


class SyncClient:
    """The blocking Higgsfield client, a drop-in for the official ``SyncClient``.

    Args:
        base_url: the API root; default ``HIGGSFIELD_BASE_URL`` or ``https://api.higgsfield.ai``.
        timeout: seconds allowed for each HTTP exchange.
        api_key: ``"<key_id>:<secret>"``; default ``HF_KEY``, else ``HF_API_KEY`` + ``HF_API_SECRET``.
        transport: a SyncTransport to use (yours to close); default: a requests transport the
            client creates on first use and closes in ``close()``.
        retry: the retry policy for every request.
        poll: the poll policy for waiting calls (interval growth, overall timeout).
        verify: TLS verification: True, a CA bundle path or an ``ssl.SSLContext``.
        proxy: a proxy URL; by default HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured.
        allow_insecure_http: allow a plain ``http://`` base URL on a non-loopback host.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        api_key: Optional[str] = None,
        transport: Optional[SyncTransport] = None,
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
        self._transport = transport
        self._owns_transport = transport is None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._settings.base_url

    def _get_transport(self) -> SyncTransport:
        with self._lock:
            if self._transport is None:
                self._transport = make_sync_transport(self._settings)
            return self._transport

    def _run(self, flow: Flow[T], on_event: Optional[EventHandler] = None) -> T:
        return run_sync(flow, self._get_transport(), on_event)

    def close(self) -> None:
        """Close the transport if this client created it."""
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None and self._owns_transport:
            transport.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SyncClient(base_url={self.base_url!r})"

    def get_request_controller(self, request_id: str) -> SyncRequestController:
        """A controller for an existing job."""
        return SyncRequestController(request_id, self)

    def submit(
        self,
        application: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        expires_after: Optional[int] = None,
    ) -> SyncRequestController:
        """Submit a generation and return a controller for it.

        Args:
            application: the model id, e.g. ``bytedance/seedream/v4/text-to-image``.
            arguments: the model's arguments.
            webhook_url: where the API POSTs the final result.
            idempotency_key: reuse one to make a repeated submit return the same job; default: a
                fresh UUID, so that the SDK's own retries never create a second job.
            expires_after: seconds to keep the job's data after it finishes (>= 3600).
        """
        flow = self._ops.submit(
            _clock(),
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
        )
        return SyncRequestController(self._run(flow).request_id, self)

    def subscribe(
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
        """Submit a generation, wait for it, and return its result.

        ``on_enqueue(request_id)`` runs once the job is accepted; ``on_queue_update(status)`` at
        each poll tick. ``timeout`` bounds the whole call (WaitTimeoutError), and with
        ``cancel_on_timeout`` a job still queued at the deadline is canceled.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: the job ended without output.
        """
        flow = self._ops.subscribe(
            _clock(),
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
        )
        job = self._run(flow, event_handler(on_enqueue, on_queue_update))
        return JobResult(raise_for_job_outcome(job))

    def status(self, request_id: str) -> Status:
        """Check a job's state once."""
        return status_from_job(self._run(self._ops.status(_clock(), request_id)))

    def result(
        self, request_id: str, *, timeout: Optional[float] = None, cancel_on_timeout: bool = False
    ) -> JobResult:
        """Wait for a job to finish and return its result (raises for failed/nsfw/canceled)."""
        return self.get_request_controller(request_id).get(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout
        )

    def cancel(self, request_id: str) -> None:
        """Cancel a queued job. Raises NotCancellableError once it has started."""
        self.get_request_controller(request_id).cancel()

    def upload(self, data: UploadData, content_type: str, *, progress: Optional[Progress] = None) -> str:
        """Upload bytes, text (as UTF-8) or a binary file object; returns the public URL."""
        flow = self._ops.upload(_clock(), body_from_data(data, progress), content_type)
        return self._run(flow).public_url

    def upload_file(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        content_type: Optional[str] = None,
        progress: Optional[Progress] = None,
    ) -> str:
        """Upload a file, streamed from disk, typed from its extension; returns the public URL."""
        content_type = content_type or guess_content_type(path)
        flow = self._ops.upload(_clock(), body_from_path(path, progress), content_type)
        return self._run(flow).public_url

    def upload_image(
        self, image: Image.Image, format: str = "jpeg", *, progress: Optional[Progress] = None
    ) -> str:
        """Encode a Pillow image (jpeg, jpg, png, webp or gif) and upload it."""
        data, content_type = image_to_bytes(image, format)
        return self.upload(data, content_type, progress=progress)

    def download(self, url: str, destination: Destination, *, progress: Optional[Progress] = None) -> Path:
        """Download an output URL to ``destination``, streamed to disk; returns the file's path.

        No credentials are sent. ``destination`` is a folder (an existing one, or a path ending
        with a separator, created if missing), where the file is named after the URL's last path
        segment, or a file path used as is; an existing file is replaced. The body goes to a
        ``*.part`` file beside it, renamed into place only when its size matches the
        Content-Length. Network failures and 408/429/5xx answers are retried from the start as
        the client's retry policy decides; redirects are followed.

        Args:
            url: an ``http(s)`` URL, e.g. ``result.images[0]``.
            destination: a folder or a file path.
            progress: called as ``progress(bytes_written, total_or_None)`` while writing.

        Raises:
            DownloadError: the body ended incomplete (after the retries).
            TransportError: the network failed before the answer began.
            NotFoundError, APIError: the server answered an error (an expired output is 404).
            InvalidArgumentError: ``url`` is not an http(s) URL.
            OSError: the file cannot be written.
        """
        flow, sink = prepare_download(url, destination, progress, self._settings.env(*_clock()))
        return run_sync(flow, SyncDownloadTransport(self._get_transport(), sink))

    def estimate(self, application: str, arguments: Mapping[str, Any]) -> Estimate:
        """Price a generation without submitting it."""
        return self._run(self._ops.estimate(_clock(), application, arguments))

    def delete(self, request_id: str) -> Deletion:
        """Delete a finished job's inputs, outputs, prompt and parameters."""
        return self._run(self._ops.delete(_clock(), request_id))
