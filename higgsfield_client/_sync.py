"""SyncClient and SyncRequestController: the blocking API, run in the caller's thread.

Each method builds its ``Call`` in ``_calls`` and runs it; only signatures and docstrings are
written here (the async twins are in ``_async``).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar, Union

from higgsfield_proto import Deletion, Estimate, PollPolicy, RetryPolicy

from ._budget import Budget, BudgetBlock, JobPrice, Number, Spent
from ._calls import Calls, output_urls
from ._checks import Validate
from ._connections import make_sync_transport, over_httpx_client
from ._download import Destination
from ._observe import EventHooks, Observer, RateLimits, check_hooks
from ._official import ClientBase
from ._outputs import WRONG_KIND_OF_CLIENT
from ._runner import Call, iterate_sync, run_sync
from ._settings import DEFAULT, Default, Verify, client_settings
from ._statuses import JobResult, Status
from ._uploads import Progress, UploadData

if TYPE_CHECKING:
    import httpx
    from PIL import Image

    from higgsfield_transports import SyncTransport

    from .agents import SyncAgents
    from .http.retry import RetryStrategy
    from .models import SyncModels

R = TypeVar("R")


class SyncFetcher:
    """How a SyncClient's results fetch their outputs: ``read`` and ``save``, with that client."""

    def __init__(self, client: SyncClient) -> None:
        self._client = client

    def read(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory."""
        return self._client._run(self._client._calls.read(url, max_size=max_size))

    def save(self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool) -> list[Path]:
        """Download each of ``urls``, outputs of job ``request_id``, into ``folder``."""
        calls = self._client._calls.download_outputs(request_id, urls, folder, overwrite=overwrite)
        return [self._client._run(call) for call in calls]

    async def aread(self, url: str, max_size: Optional[int]) -> bytes:
        """Refused: the blocking client cannot be awaited."""
        raise TypeError(WRONG_KIND_OF_CLIENT + "call its save() / read() instead")

    async def asave(
        self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool
    ) -> list[Path]:
        """Refused: the blocking client cannot be awaited."""
        raise TypeError(WRONG_KIND_OF_CLIENT + "call its save() / read() instead")


class SyncRequestController:
    """Follows one submitted job: ``status()``, ``poll_request_status()``, ``get()``, ``cancel()``."""

    def __init__(self, request_id: str, client: SyncClient) -> None:
        if not isinstance(client, SyncClient):
            raise TypeError(
                f"SyncRequestController takes the SyncClient of the job, not {type(client).__name__}: "
                f"use client.get_request_controller(request_id)"
            )
        self._job = client._calls.job(request_id)
        self._client = client

    @property
    def request_id(self) -> str:
        """The job's id."""
        return self._job.request_id

    @property
    def status_url(self) -> str:
        """The job's status URL on the client's base URL."""
        return self._job.status_url

    response_url = status_url

    @property
    def cancel_url(self) -> str:
        """The job's cancel URL on the client's base URL."""
        return self._job.cancel_url

    @property
    def _transport(self) -> Any:
        """The client's official ``_transport`` (the same object), as the official controller
        holds it."""
        return self._client._transport

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
        call = self._job.updates(timeout=timeout, delay=delay)
        for event in iterate_sync(call, self._client._get_transport(), self._client._observer):
            status = self._job.observe(event)
            if status is not None:
                yield status

    def get(
        self,
        *,
        timeout: Optional[float] = None,
        cancel_on_timeout: bool = False,
        raise_on_failure: Optional[bool] = None,
    ) -> JobResult:
        """Wait for the job to finish and return its result.

        A job that ended failed, nsfw or canceled returns its result too, as the official SDK
        does: ``result["status"]`` (or ``result.status``) tells, ``result.error`` holds a
        failure's message, and there are no outputs. ``result.raise_for_status()`` raises its
        error.

        Args:
            timeout: raise WaitTimeoutError if the job is not finished after this many seconds.
            cancel_on_timeout: cancel a job still queued at the deadline.
            raise_on_failure: raise the job's error instead of returning such a result; None:
                as the client was built (``raise_on_failure=``, False by default).

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: with ``raise_on_failure``.
            WaitTimeoutError: ``timeout`` seconds passed first.
        """
        known = self._job.known_result(raise_on_failure)
        if known is not None:
            return known
        call = self._job.result(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout, raise_on_failure=raise_on_failure
        )
        return self._client._run(call)

    def cancel(self) -> None:
        """Cancel the job while it is queued. Raises NotCancellableError once it has started."""
        self._client._run(self._job.cancel())

    def __repr__(self) -> str:
        return f"SyncRequestController(request_id={self.request_id!r})"


class SyncClient(ClientBase):
    """The blocking Higgsfield client, a drop-in for the official ``SyncClient``.

    Args:
        base_url: the API root; default ``HIGGSFIELD_BASE_URL`` or ``https://api.higgsfield.ai``.
        timeout: seconds for an answer to start and between reads (90 by default); connecting
            has its own limit of 10 s.
        api_key: ``"<key_id>:<secret>"``; default ``HF_KEY``, else ``HF_API_KEY`` + ``HF_API_SECRET``.
        transport: a SyncTransport to use (yours to close, and built with the timeout, TLS and
            proxy options you want); default: a requests transport the client creates on first
            use and closes in ``close()``.
        http_client: an ``httpx.Client`` to send with (the ``httpx`` extra), with its proxies,
            mounts, TLS settings, HTTP/2, timeouts and event hooks; it stays yours to close.
        retry: the retry policy for every request: a ``RetryPolicy``, or an official strategy of
            ``higgsfield_client.http.retry`` (``NoRetry()``, ``ExponentialBackoffRetry(...)``...),
            asked at each call.
        poll: the poll policy for waiting calls (interval growth, overall timeout).
        verify: TLS verification: True, a CA bundle path or an ``ssl.SSLContext``.
        proxy: a proxy URL; by default HTTPS_PROXY / HTTP_PROXY / NO_PROXY are honoured.
        allow_insecure_http: allow a plain ``http://`` base URL on a non-loopback host.
        raise_on_failure: make ``subscribe``, ``result`` and ``get`` raise ``JobFailedError``,
            ``JobNSFWError`` or ``JobCancelledError`` for a job that ends without output,
            instead of returning its result as the official SDK does (each call can override it).
        validate: how ``submit`` and ``subscribe`` check arguments against the model catalog
            first: True (the default) warns about a problem with ``HiggsfieldArgumentWarning``
            and submits anyway; ``"strict"`` raises ``ValidationError`` and sends nothing, also
            for a field the model does not have; False checks nothing. A model the catalog does
            not know is submitted unchanged. Each call may choose otherwise.
        budget: a cap on what the client's jobs may cost (see ``budget()`` for a block of
            code): each submit is priced first (the account's estimate, else the catalog's
            price), and one that would take charged plus in flight past the cap raises
            ``BudgetExceededError`` and sends nothing. ``spent`` is the ledger.
        event_hooks: ``{"request": [...], "response": [...], "retry": [...]}``, plain functions
            called with a ``RequestInfo`` before each HTTP exchange, a ``ResponseInfo`` after it
            and the ``Retrying`` event before each repeat; every value is redacted (no
            credentials, no URL query). An exception a hook raises ends the call.

    Raises:
        InvalidArgumentError: ``timeout``, ``verify`` or ``proxy`` given with ``transport`` or
            ``http_client``, both of those given, a ``validate`` that is none of these, a
            ``budget`` that is no ``Budget``, or event hooks that are not lists of plain
            functions under the names ``request``, ``response`` and ``retry``.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: Union[float, Default, None] = DEFAULT,
        api_key: Optional[str] = None,
        transport: Optional[SyncTransport] = None,
        *,
        retry: Union[RetryPolicy, RetryStrategy, None] = None,
        poll: Optional[PollPolicy] = None,
        verify: Union[Verify, Default] = DEFAULT,
        proxy: Union[str, Default, None] = DEFAULT,
        allow_insecure_http: bool = False,
        raise_on_failure: bool = False,
        http_client: Optional[httpx.Client] = None,
        validate: Validate = True,
        budget: Optional[Budget] = None,
        event_hooks: Optional[EventHooks] = None,
    ) -> None:
        observer = Observer(check_hooks(event_hooks, blocking=True))
        settings = client_settings(
            base_url=base_url,
            api_key=api_key,
            transport=transport,
            http_client=http_client,
            timeout=timeout,
            verify=verify,
            proxy=proxy,
            retry=retry,
            poll=poll,
            allow_insecure_http=allow_insecure_http,
            raise_on_failure=raise_on_failure,
            validate=validate,
            budget=budget,
        )
        self._observer = observer
        self._fetcher = SyncFetcher(self)
        self._calls = Calls(settings, self._fetcher)
        # The caller's transport is used as it is, never replaced or closed; the client's own is
        # made on first use (again after ``close()``), over the caller's httpx client if given.
        # (``_transport`` is the official client's attribute: see ``ClientBase``.)
        self._own_transport = transport
        self._owns_transport = transport is None
        self._make_transport: Callable[[], SyncTransport] = (
            functools.partial(make_sync_transport, settings)
            if http_client is None
            else functools.partial(over_httpx_client, http_client)
        )
        self._lock = threading.Lock()
        self._start_official(http_client)

    @property
    def rate_limits(self) -> RateLimits:
        """The rate-limit facts (``x-ratelimit-*``, ``Retry-After``) of the last answer that
        carried any; empty until one did."""
        return self._observer.rate_limits

    @functools.cached_property
    def agents(self) -> SyncAgents:
        """The Agent API: ``agents.sessions`` and ``agents.media``.

        Made on first access, which looks the credentials up (CredentialsMissedError).
        """
        from .agents import SyncAgents  # the Agent API loads on first use

        return SyncAgents(self._calls.settings, self._run)

    @functools.cached_property
    def models(self) -> SyncModels:
        """The model catalog: ``models.list()``, ``get()``, ``validate()`` and ``refresh()``.

        Made on first access; the catalog itself loads on first use.
        """
        from .models import SyncModels  # the catalog's client side loads on first use

        return SyncModels(self._calls.check, self._fetcher.read)

    @property
    def spent(self) -> Spent:
        """The ledger of the jobs priced under a budget: charged (completed), refunded (failed,
        NSFW, canceled before starting, refused) and in flight, in credits and US dollars, per
        model too. Jobs submitted while no budget applies are not priced, and not counted."""
        return self._calls.ledger.spent()

    def budget(self, max_credits: Optional[Number] = None, max_usd: Optional[Number] = None) -> BudgetBlock:
        """A budget for a block of code: ``with client.budget(max_credits=100) as block:``.

        Every submit through this client while the block is open (from any thread) is priced
        and counted against it, as well as against the client's own budget; ``block.spent`` is
        its part of the ledger.

        Raises:
            InvalidArgumentError: neither cap is given, or one is not a non-negative number.
        """
        return BudgetBlock(self._calls.ledger, Budget(max_credits=max_credits, max_usd=max_usd))

    def price(self, application: str, arguments: Mapping[str, Any]) -> Optional[JobPrice]:
        """Price a job as a budget does, without submitting it: the account's estimate (asked
        once per distinct model and arguments), else the model catalog's price; None when
        neither can be had. ``source`` says which."""
        return self._run(self._calls.price(application, arguments))

    def _get_transport(self) -> SyncTransport:
        if self._touched():  # code reached the official _client, _upload_client or _transport
            route: SyncTransport = self._official_route()
            return route
        with self._lock:
            if self._own_transport is None:
                self._own_transport = self._make_transport()
            return self._own_transport

    def _run(self, call: Call[Any, R]) -> R:
        return run_sync(call, self._get_transport(), self._observer)

    def close(self) -> None:
        """Close the transport if this client created it (a caller's transport stays open, and
        in use: the client can still send with it), the httpx clients it made as ``_client`` and
        ``_upload_client`` (made anew if used again), and end the spans of the jobs it submitted
        and has not seen end."""
        self._observer.close()
        for made in self._forget_made():
            made.close()
        if not self._owns_transport:
            return
        with self._lock:
            transport, self._own_transport = self._own_transport, None
        if transport is not None:
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
        validate: Optional[Validate] = None,
    ) -> SyncRequestController:
        """Submit a generation and return a controller for it.

        Args:
            application: the model id, e.g. ``bytedance/seedream/v4/text-to-image``.
            arguments: the model's arguments.
            webhook_url: where the API POSTs the final result.
            idempotency_key: reuse one to make a repeated submit return the same job; default: a
                fresh UUID, so that the SDK's own retries never create a second job.
            expires_after: seconds to keep the job's data after it finishes (>= 3600).
            validate: the argument check of this call (see the class); None: the client's.

        Raises:
            ValidationError: ``validate="strict"`` and the arguments do not match the model's
                schema (``local`` is True: nothing was sent).
            UnknownModelError: ``validate="strict"`` and the id is one of another API plane.
        """
        call = self._calls.submit(
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
            validate=validate,
        )
        return SyncRequestController(self._run(call), self)

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
        raise_on_failure: Optional[bool] = None,
        validate: Optional[Validate] = None,
    ) -> JobResult:
        """Submit a generation, wait for it, and return its result.

        ``on_enqueue(request_id)`` runs once the job is accepted; ``on_queue_update(status)`` at
        each poll tick. ``timeout`` bounds the whole call (WaitTimeoutError): when the next check
        would come after it, one last check is made at the deadline. With ``cancel_on_timeout``
        a job still queued at the deadline is canceled. A job that ends failed, nsfw or canceled
        returns its result, as from ``SyncRequestController.get``, unless ``raise_on_failure``
        (None: as the client was built). ``validate`` is as for ``submit``.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: with ``raise_on_failure``.
            WaitTimeoutError: ``timeout`` passed first.
            ValidationError, UnknownModelError: as for ``submit``.
        """
        call = self._calls.subscribe(
            application,
            arguments,
            on_enqueue=on_enqueue,
            on_queue_update=on_queue_update,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
            timeout=timeout,
            cancel_on_timeout=cancel_on_timeout,
            raise_on_failure=raise_on_failure,
            validate=validate,
        )
        return self._run(call)

    def status(self, request_id: str) -> Status:
        """Check a job's state once."""
        return self._run(self._calls.status(request_id))

    def result(
        self,
        request_id: str,
        *,
        timeout: Optional[float] = None,
        cancel_on_timeout: bool = False,
        raise_on_failure: Optional[bool] = None,
    ) -> JobResult:
        """Wait for a job to finish and return its result (a failed, NSFW or canceled job's too:
        see ``SyncRequestController.get``)."""
        return self.get_request_controller(request_id).get(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout, raise_on_failure=raise_on_failure
        )

    def cancel(self, request_id: str) -> None:
        """Cancel a queued job. Raises NotCancellableError once it has started."""
        self._run(self._calls.cancel(request_id))

    def upload(self, data: UploadData, content_type: str, *, progress: Optional[Progress] = None) -> str:
        """Upload bytes, text (as UTF-8) or a binary file object; returns the public URL."""
        return self._run(self._calls.upload(data, content_type, progress))

    def _get_upload_url(self, content_type: str) -> Tuple[str, str, Dict[str, str]]:
        """Ask for an upload slot: the official ``(public_url, upload_url, upload_headers)``.

        ``upload_headers`` are the headers the PUT of the bytes to ``upload_url`` must carry
        (``Content-Type`` included); ``public_url`` is where the file can then be read.
        """
        return self._run(self._calls.upload_slot(content_type))

    def upload_file(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        content_type: Optional[str] = None,
        progress: Optional[Progress] = None,
    ) -> str:
        """Upload a file, streamed from disk, typed from its extension; returns the public URL."""
        return self._run(self._calls.upload_file(path, content_type, progress))

    def upload_image(
        self, image: Image.Image, format: str = "jpeg", *, progress: Optional[Progress] = None
    ) -> str:
        """Encode a Pillow image (jpeg, jpg, png, webp or gif) and upload it."""
        return self._run(self._calls.upload_image(image, format, progress))

    def download(
        self,
        url: str,
        destination: Destination,
        *,
        progress: Optional[Progress] = None,
        overwrite: bool = False,
    ) -> Path:
        """Download an output URL to ``destination``, streamed to disk; returns the file's path.

        No credentials are sent. ``destination`` is a folder (an existing one, or a path ending
        with a separator, created if missing), where the file is named after the URL's last path
        segment, or a file path used as is. The body goes to a ``*.part`` file beside it, which
        takes the file's name only when its size matches the Content-Length. Network failures
        and 408/429/5xx answers are retried from the start as the client's retry policy decides;
        redirects are followed.

        Args:
            url: an ``http(s)`` URL, e.g. ``result.images[0]``.
            destination: a folder or a file path.
            progress: called as ``progress(bytes_written, total_or_None)`` while writing.
            overwrite: replace the file if it exists (by default an existing file is an error).

        Raises:
            FileExistsError: the file exists and ``overwrite`` is off.
            DownloadError: the body ended incomplete (after the retries).
            TransportError: the network failed before the answer began.
            NotFoundError, APIError: the server answered an error (an expired output is 404).
            InvalidArgumentError: ``url`` is not an http(s) URL.
            OSError: the file cannot be written.
        """
        return self._run(self._calls.download(url, destination, progress=progress, overwrite=overwrite))

    def download_outputs(
        self, result: JobResult, folder: Destination, *, overwrite: bool = False
    ) -> list[Path]:
        """Download every output of a finished job into ``folder``; returns the files' paths.

        Files are named ``<request id>-<name from the URL>``, so that outputs of different jobs
        never collide in one folder. The outputs are saved one after the other; a file already
        there with the output's size is kept (its GET ends before the body: there is no HEAD in
        the protocol), so calling again after a failure fetches only what is missing. A file
        of another size is replaced only when ``overwrite`` is set.

        Raises:
            FileExistsError: a file of another size is there and ``overwrite`` is off.
            DownloadError, TransportError, APIError: as ``download``; the message names the
                output that was not saved (those before it are).
        """
        return self._fetcher.save(result.request_id, output_urls(result), folder, overwrite)

    def estimate(self, application: str, arguments: Mapping[str, Any]) -> Estimate:
        """Price a generation without submitting it."""
        return self._run(self._calls.estimate(application, arguments))

    def delete(self, request_id: str) -> Deletion:
        """Delete a finished job's inputs, outputs, prompt and parameters."""
        return self._run(self._calls.delete(request_id))
