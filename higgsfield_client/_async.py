"""AsyncClient and AsyncRequestController: the same API under asyncio or trio.

Each method builds its ``Call`` in ``_calls`` and runs it on the current run's transport; only
signatures and docstrings are written here (see ``_sync`` for the full docstrings).
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar, Union

import sniffio

from higgsfield_proto import Deletion, Estimate, PollPolicy, RetryPolicy

from ._budget import Budget, BudgetBlock, JobPrice, Number, Spent
from ._calls import Calls, output_urls
from ._checks import Validate
from ._connections import AsyncTransportChoice, RunContext, TransportsByRun, over_async_httpx_client
from ._download import Destination
from ._observe import EventHooks, Observer, RateLimits, check_hooks
from ._official import ClientBase
from ._outputs import WRONG_KIND_OF_CLIENT
from ._runner import Call, iterate_async, run_async, running_library
from ._settings import DEFAULT, Default, Verify, client_settings
from ._statuses import JobResult, Status
from ._uploads import Progress, UploadData

if TYPE_CHECKING:
    import httpx
    from PIL import Image

    from .agents import AsyncAgents
    from .http.retry import RetryStrategy
    from .models import AsyncModels

R = TypeVar("R")


class AsyncFetcher:
    """How an AsyncClient's results fetch their outputs: ``aread`` and ``asave``, with that client."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def aread(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory."""
        return await self._client._run(self._client._calls.read(url, max_size=max_size))

    async def asave(
        self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool
    ) -> list[Path]:
        """Download each of ``urls``, outputs of job ``request_id``, into ``folder``."""
        calls = self._client._calls.download_outputs(request_id, urls, folder, overwrite=overwrite)
        return [await self._client._run(call) for call in calls]

    def read(self, url: str, max_size: Optional[int]) -> bytes:
        """Refused: an async client's fetch must be awaited."""
        raise TypeError(WRONG_KIND_OF_CLIENT + "await its asave() / aread() instead")

    def save(self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool) -> list[Path]:
        """Refused: an async client's fetch must be awaited."""
        raise TypeError(WRONG_KIND_OF_CLIENT + "await its asave() / aread() instead")


class AsyncRequestController:
    """Follows one submitted job from async code (asyncio or trio)."""

    def __init__(self, request_id: str, client: AsyncClient) -> None:
        if not isinstance(client, AsyncClient):
            raise TypeError(
                f"AsyncRequestController takes the AsyncClient of the job, not {type(client).__name__}: "
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
        run = await self._client._context()
        call = self._job.updates(timeout=timeout, delay=delay)
        events = iterate_async(call, run.transport, run.library, self._client._observer)
        try:
            async for event in events:
                status = self._job.observe(event)
                if status is not None:
                    yield status
        finally:
            await events.aclose()  # type: ignore[attr-defined]

    async def get(
        self,
        *,
        timeout: Optional[float] = None,
        cancel_on_timeout: bool = False,
        raise_on_failure: Optional[bool] = None,
    ) -> JobResult:
        """Wait for the job to finish and return its result (see ``SyncRequestController.get``:
        a failed, NSFW or canceled job's result too, unless ``raise_on_failure``)."""
        known = self._job.known_result(raise_on_failure)
        if known is not None:
            return known
        call = self._job.result(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout, raise_on_failure=raise_on_failure
        )
        return await self._client._run(call)

    async def cancel(self) -> None:
        """Cancel the job while it is queued. Raises NotCancellableError once it has started."""
        await self._client._run(self._job.cancel())

    def __repr__(self) -> str:
        return f"AsyncRequestController(request_id={self.request_id!r})"


class AsyncClient(ClientBase):
    """The async Higgsfield client for asyncio and trio, a drop-in for the official ``AsyncClient``.

    It is not bound to an event loop: it can be created anywhere and used from several
    ``asyncio.run`` / ``trio.run`` calls, with one transport per run. ``base_url``, ``timeout``,
    ``api_key``, ``retry``, ``poll``, ``verify``, ``proxy``, ``allow_insecure_http``,
    ``raise_on_failure``, ``validate`` and ``budget`` are as for ``SyncClient``.

    Args:
        transport: an AsyncTransport (yours to close, built with the options you want), or
            ``"aiohttp"`` / ``"trio"`` to choose the kind the client creates; default: aiohttp
            under asyncio, the h11 transport under trio.
        http_client: an ``httpx.AsyncClient`` to send with (the ``httpx`` extra; under asyncio
            or trio, in the run it belongs to), with all its settings; it stays yours to close.
        event_hooks: as for ``SyncClient``; a hook may also be a coroutine function, awaited.

    Raises:
        InvalidArgumentError: ``timeout``, ``verify`` or ``proxy`` given with a transport object
            or ``http_client``, both of those given, or a bad ``validate``; event hooks that are not
            lists of functions under the names ``request``, ``response`` and ``retry``.
    """

    _asynchronous = True

    def __init__(
        self,
        base_url: Optional[str] = None,
        timeout: Union[float, Default, None] = DEFAULT,
        api_key: Optional[str] = None,
        transport: AsyncTransportChoice = None,
        *,
        retry: Union[RetryPolicy, RetryStrategy, None] = None,
        poll: Optional[PollPolicy] = None,
        verify: Union[Verify, Default] = DEFAULT,
        proxy: Union[str, Default, None] = DEFAULT,
        allow_insecure_http: bool = False,
        raise_on_failure: bool = False,
        http_client: Optional[httpx.AsyncClient] = None,
        validate: Validate = True,
        budget: Optional[Budget] = None,
        event_hooks: Optional[EventHooks] = None,
    ) -> None:
        observer = Observer(check_hooks(event_hooks, blocking=False))
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
        self._fetcher = AsyncFetcher(self)
        self._calls = Calls(settings, self._fetcher)
        if http_client is not None:
            transport = over_async_httpx_client(http_client)
        self._transports = TransportsByRun(transport, settings)
        self._start_official(http_client)

    @property
    def rate_limits(self) -> RateLimits:
        """The rate-limit facts of the last answer that carried any (see ``SyncClient``)."""
        return self._observer.rate_limits

    @functools.cached_property
    def agents(self) -> AsyncAgents:
        """The Agent API: ``agents.sessions`` and ``agents.media``.

        Made on first access, which looks the credentials up (CredentialsMissedError).
        """
        from .agents import AsyncAgents  # the Agent API loads on first use

        return AsyncAgents(self._calls.settings, self._run)

    async def _context(self) -> RunContext:
        """The transport, clock and sleep of a call in the running loop or trio run."""
        if self._touched():  # code reached the official _client, _upload_client or _transport
            library = running_library(sniffio.current_async_library())
            return RunContext(self._official_route(), library)
        return await self._transports.current()

    @functools.cached_property
    def models(self) -> AsyncModels:
        """The model catalog: ``models.list()``, ``get()`` and ``validate()`` (plain methods:
        they do no I/O), and ``await models.refresh()``.
        """
        from .models import AsyncModels  # the catalog's client side loads on first use

        return AsyncModels(self._calls.check, self._fetcher.aread)

    @property
    def spent(self) -> Spent:
        """The ledger of the jobs priced under a budget (see ``SyncClient.spent``)."""
        return self._calls.ledger.spent()

    def budget(self, max_credits: Optional[Number] = None, max_usd: Optional[Number] = None) -> BudgetBlock:
        """A budget for a block of code: ``async with client.budget(max_credits=100) as block:``
        (a plain ``with`` works too); see ``SyncClient.budget``."""
        return BudgetBlock(self._calls.ledger, Budget(max_credits=max_credits, max_usd=max_usd))

    async def price(self, application: str, arguments: Mapping[str, Any]) -> Optional[JobPrice]:
        """Price a job as a budget does, without submitting it (see ``SyncClient.price``)."""
        return await self._run(self._calls.price(application, arguments))

    async def _run(self, call: Call[Any, R]) -> R:
        run = await self._context()
        return await run_async(call, run.transport, run.library, self._observer)

    async def aclose(self) -> None:
        """Close the transport this client created for the current event loop or run, the httpx
        clients it made as ``_client`` and ``_upload_client`` (made anew if used again), and end
        the spans of the jobs it submitted and has not seen end."""
        self._observer.close()
        for made in self._forget_made():
            await made.aclose()
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
        validate: Optional[Validate] = None,
    ) -> AsyncRequestController:
        """Submit a generation and return a controller for it (see ``SyncClient.submit``)."""
        call = self._calls.submit(
            application,
            arguments,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
            validate=validate,
        )
        return AsyncRequestController(await self._run(call), self)

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
        raise_on_failure: Optional[bool] = None,
        validate: Optional[Validate] = None,
    ) -> JobResult:
        """Submit, wait and return the result (see ``SyncClient.subscribe``).

        The callbacks may be plain functions or coroutine functions; coroutines are awaited.
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
        return await self._run(call)

    async def status(self, request_id: str) -> Status:
        """Check a job's state once."""
        return await self._run(self._calls.status(request_id))

    async def result(
        self,
        request_id: str,
        *,
        timeout: Optional[float] = None,
        cancel_on_timeout: bool = False,
        raise_on_failure: Optional[bool] = None,
    ) -> JobResult:
        """Wait for a job to finish and return its result (a failed, NSFW or canceled job's too:
        see ``SyncRequestController.get``)."""
        return await self.get_request_controller(request_id).get(
            timeout=timeout, cancel_on_timeout=cancel_on_timeout, raise_on_failure=raise_on_failure
        )

    async def cancel(self, request_id: str) -> None:
        """Cancel a queued job. Raises NotCancellableError once it has started."""
        await self._run(self._calls.cancel(request_id))

    async def upload(
        self, data: UploadData, content_type: str, *, progress: Optional[Progress] = None
    ) -> str:
        """Upload bytes, text (as UTF-8) or a binary file object; returns the public URL."""
        return await self._run(self._calls.upload(data, content_type, progress))

    async def _get_upload_url(self, content_type: str) -> Tuple[str, str, Dict[str, str]]:
        """Ask for an upload slot (see ``SyncClient._get_upload_url``)."""
        return await self._run(self._calls.upload_slot(content_type))

    async def upload_file(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        content_type: Optional[str] = None,
        progress: Optional[Progress] = None,
    ) -> str:
        """Upload a file, streamed from disk, typed from its extension; returns the public URL."""
        return await self._run(self._calls.upload_file(path, content_type, progress))

    async def upload_image(
        self, image: Image.Image, format: str = "jpeg", *, progress: Optional[Progress] = None
    ) -> str:
        """Encode a Pillow image (jpeg, jpg, png, webp or gif) and upload it."""
        return await self._run(self._calls.upload_image(image, format, progress))

    async def download(
        self,
        url: str,
        destination: Destination,
        *,
        progress: Optional[Progress] = None,
        overwrite: bool = False,
    ) -> Path:
        """Download an output URL to ``destination``, streamed to disk (see ``SyncClient.download``).

        ``progress`` is a plain function, called from the transport's read loop.
        """
        return await self._run(self._calls.download(url, destination, progress=progress, overwrite=overwrite))

    async def download_outputs(
        self, result: JobResult, folder: Destination, *, overwrite: bool = False
    ) -> list[Path]:
        """Download every output of a finished job into ``folder`` (see ``SyncClient.download_outputs``)."""
        return await self._fetcher.asave(result.request_id, output_urls(result), folder, overwrite)

    async def estimate(self, application: str, arguments: Mapping[str, Any]) -> Estimate:
        """Price a generation without submitting it."""
        return await self._run(self._calls.estimate(application, arguments))

    async def delete(self, request_id: str) -> Deletion:
        """Delete a finished job's inputs, outputs, prompt and parameters."""
        return await self._run(self._calls.delete(request_id))
