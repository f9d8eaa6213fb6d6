"""Every public operation of the generation API, written once as a ``Call`` for either runner.

The sync and async clients repeat signatures and docstrings only: each of their methods builds
the same ``Call`` here and runs it. What happens around a flow - final statuses kept, status
events filtered, failed jobs returned or raised, uploads typed, downloads named - happens here,
once.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple, TypeVar, Union

from higgsfield_proto import (
    Deletion,
    Downloaded,
    Enqueued,
    Estimate,
    Flow,
    HiggsfieldError,
    JobStatus,
    PollPolicy,
    StatusUpdate,
    UploadTarget,
    build_download_request,
    cancel_flow,
    cancel_url,
    delete_flow,
    download_flow,
    estimate_flow,
    raise_for_job_outcome,
    status_flow,
    status_url,
    submit_flow,
    subscribe_flow,
    upload_flow,
    upload_slot_flow,
    wait_flow,
)

from ._budget import JobPrice, Ledger, LedgerJob, price_key
from ._checks import ArgumentCheck, Validate, validate_mode
from ._download import (
    Destination,
    DownloadSink,
    MemorySink,
    output_file_names,
    refuse_existing,
    resolve_destination,
)
from ._outputs import Fetcher
from ._runner import Call, EventHandler, Sink
from ._settings import Settings, new_idempotency_key
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

R = TypeVar("R")


def _public_url(target: UploadTarget) -> str:
    return target.public_url


def _slot(target: UploadTarget) -> Tuple[str, str, Dict[str, str]]:
    return target.public_url, target.upload_url, dict(target.upload_headers)


def event_handler(
    on_enqueue: Optional[Callable[[str], Any]], on_queue_update: Optional[Callable[[Status], Any]]
) -> Optional[EventHandler]:
    """Route a flow's Notify events to the official callbacks; returns what they return.

    None without callbacks: then there is nothing to route.
    """
    if on_enqueue is None and on_queue_update is None:
        return None

    def handle(event: object) -> Any:
        if isinstance(event, Enqueued) and on_enqueue is not None:
            return on_enqueue(event.request_id)
        if isinstance(event, StatusUpdate) and on_queue_update is not None:
            return on_queue_update(status_from_job(event.status))
        return None

    return handle


class Job:
    """What a request controller knows of one job: its id, and its final status once seen.

    Both controllers delegate here, so that a final status is kept, and status events are
    turned into status objects, in one place.
    """

    def __init__(self, request_id: str, calls: Calls) -> None:
        self.request_id = request_id
        self.final: Optional[JobStatus] = None
        self._calls = calls

    @property
    def status_url(self) -> str:
        """The job's status URL on the client's base URL (the id percent-encoded)."""
        return status_url(self._calls.settings.config, self.request_id)

    @property
    def cancel_url(self) -> str:
        """The job's cancel URL on the client's base URL (the id percent-encoded)."""
        return cancel_url(self._calls.settings.config, self.request_id)

    def updates(self, *, timeout: Optional[float], delay: Optional[float]) -> Call[JobStatus, JobStatus]:
        """The wait whose status events ``observe`` turns into the statuses to yield."""
        flow = wait_flow(
            self._calls.settings.config,
            self.request_id,
            self._calls.settings.env(timeout=timeout, delay=delay),
            check_first=True,
        )
        return Call(flow=flow, action="wait", subject=self.request_id)

    def observe(self, event: object) -> Optional[Status]:
        """The status object of a status event (kept if final), or None for any other event."""
        if not isinstance(event, StatusUpdate):
            return None
        self._calls.ledger.observe(event.status)
        if event.status.is_terminal:
            self.final = event.status
        return status_from_job(event.status)

    def known_result(self, raise_on_failure: Optional[bool]) -> Optional[JobResult]:
        """The result, if the final status was seen already (see ``Calls.result``)."""
        return None if self.final is None else self._calls.result(self.final, raise_on_failure)

    def final_status(
        self, *, timeout: Optional[float], cancel_on_timeout: bool, poll: Optional[PollPolicy] = None
    ) -> Call[JobStatus, JobStatus]:
        """Wait for the final status and return it as it is (a failed job is a status here).

        The first check is made at once (the job may have ended long ago), the next ones on
        ``poll``'s schedule (a webhook waiter's slow fallback), else the client's.
        """
        flow = wait_flow(
            self._calls.settings.config,
            self.request_id,
            self._calls.settings.env(timeout=timeout, poll=poll),
            cancel_on_timeout=cancel_on_timeout,
            check_first=True,
        )
        return Call(flow=flow, finish=self._calls.seen, action="wait", subject=self.request_id)

    def result(
        self, *, timeout: Optional[float], cancel_on_timeout: bool, raise_on_failure: Optional[bool]
    ) -> Call[JobStatus, JobResult]:
        """Wait for the final status, keep it, and return the result (see ``Calls.result``)."""
        waiting = self.final_status(timeout=timeout, cancel_on_timeout=cancel_on_timeout)
        finish = functools.partial(self.keep, raise_on_failure=raise_on_failure)
        return Call(flow=waiting.flow, finish=finish, action="wait", subject=self.request_id)

    def keep(self, job: JobStatus, *, raise_on_failure: Optional[bool] = None) -> JobResult:
        """Keep ``job``, a final status however learnt, and return its result (see
        ``Calls.result``)."""
        self.final = job
        return self._calls.result(job, raise_on_failure)

    def cancel(self) -> Call[None, None]:
        """Cancel the job while it is queued."""
        return self._calls.cancel(self.request_id)


class Calls:
    """Builds the ``Call`` of every public operation from a client's settings.

    Nothing here performs I/O: a runner runs what these methods return.
    """

    def __init__(self, settings: Settings, fetcher: Optional[Fetcher] = None) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.check = ArgumentCheck()
        self.ledger = Ledger(settings.budget)

    def seen(self, job: JobStatus) -> JobStatus:
        """``job``, once the ledger has seen it (a job's end settles its price)."""
        self.ledger.observe(job)
        return job

    def check_arguments(self, model: str, arguments: Mapping[str, Any], validate: Optional[Validate]) -> None:
        """Check a submit's arguments against the model catalog, in the call's mode (None: the
        client's); see ``ArgumentCheck.check``.

        Raises:
            InvalidArgumentError: ``validate`` is not a mode.
            ValidationError, UnknownModelError: strict mode, and the check failed.
        """
        mode = self.settings.validate if validate is None else validate_mode(validate)
        self.check.check(model, arguments, mode)

    def result(self, job: JobStatus, raise_on_failure: Optional[bool] = None) -> JobResult:
        """The result of a final status, which fetches its outputs with ``fetcher``.

        A failed, NSFW or canceled job's result holds its ``status``, ``error`` and ``payload``
        and no outputs, as the official SDK returns the payload.

        Args:
            job: a final status.
            raise_on_failure: raise instead for such a job; None: as the client was built.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: with ``raise_on_failure``.
        """
        self.ledger.observe(job)
        if self.settings.raise_on_failure if raise_on_failure is None else raise_on_failure:
            raise_for_job_outcome(job)
        return JobResult(job, fetcher=self.fetcher)

    def job(self, request_id: str) -> Job:
        """The state a controller of ``request_id`` keeps."""
        return Job(request_id, self)

    def submit(
        self,
        model: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: Optional[str],
        idempotency_key: Optional[str],
        expires_after: Optional[int],
        validate: Optional[Validate],
    ) -> Call[JobStatus, str]:
        """Submit a job, its arguments checked first; the call returns its request id.

        Raises:
            ValidationError, UnknownModelError: strict mode, and the check failed.
        """
        self.check_arguments(model, arguments, validate)
        flow = submit_flow(
            self.settings.config,
            model,
            arguments,
            self.settings.env(),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key or new_idempotency_key(),
            expires_after=expires_after,
        )
        if not self.ledger.active:
            return Call(flow=flow, finish=_request_id, action="submit", subject=model)
        spending: list[LedgerJob] = []
        flow = self._spend(model, arguments, flow, spending)
        return Call(flow=flow, finish=_request_id, action="submit", subject=model, price=_priced(spending))

    def subscribe(
        self,
        model: str,
        arguments: Mapping[str, Any],
        *,
        on_enqueue: Optional[Callable[[str], Any]],
        on_queue_update: Optional[Callable[[Status], Any]],
        webhook_url: Optional[str],
        idempotency_key: Optional[str],
        expires_after: Optional[int],
        timeout: Optional[float],
        cancel_on_timeout: bool,
        raise_on_failure: Optional[bool],
        validate: Optional[Validate],
    ) -> Call[JobStatus, JobResult]:
        """Submit (the arguments checked first), wait and return the result (see ``result``).

        Raises:
            ValidationError, UnknownModelError: strict mode, and the check failed.
        """
        self.check_arguments(model, arguments, validate)
        flow = subscribe_flow(
            self.settings.config,
            model,
            arguments,
            self.settings.env(timeout=timeout),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key or new_idempotency_key(),
            expires_after=expires_after,
            cancel_on_timeout=cancel_on_timeout,
        )
        handler = event_handler(on_enqueue, on_queue_update)
        finish = functools.partial(self.result, raise_on_failure=raise_on_failure)
        if not self.ledger.active:
            return Call(flow=flow, finish=finish, on_event=handler, action="subscribe", subject=model)
        spending: list[LedgerJob] = []
        flow = self._spend(model, arguments, flow, spending)
        handler = self._ledger_events(spending, handler)
        return Call(
            flow=flow,
            finish=finish,
            on_event=handler,
            action="subscribe",
            subject=model,
            price=_priced(spending),
        )

    def price(self, model: str, arguments: Mapping[str, Any]) -> Call[Optional[JobPrice], Optional[JobPrice]]:
        """Price a job as a budget does: the account's estimate (once per distinct model and
        arguments), else the model catalog's price; the call returns None when neither is had."""
        return Call(flow=self._price(model, arguments))

    def _price(self, model: str, arguments: Mapping[str, Any]) -> Flow[Optional[JobPrice]]:
        key = price_key(model, arguments)
        known = self.ledger.known_price(key)
        if known is not None:
            return known
        return (yield from self._estimated(key, model, arguments))

    def _estimated(self, key: Hashable, model: str, arguments: Mapping[str, Any]) -> Flow[Optional[JobPrice]]:
        def estimate() -> Flow[Estimate]:
            return estimate_flow(self.settings.config, model, arguments, self.settings.env())

        return self.ledger.price(key, model, arguments, estimate, lambda: self.check.catalog)

    def _spend(
        self, model: str, arguments: Mapping[str, Any], submit: Flow[JobStatus], spending: list[LedgerJob]
    ) -> Flow[JobStatus]:
        """``submit``, priced and reserved in the ledger first (see ``_budget``); ``spending``
        receives the job's ledger entry, for the events that follow."""
        key = price_key(model, arguments)
        price = self.ledger.known_price(key)  # most jobs of a loop: no flow to run for it
        if price is None:
            price = yield from self._estimated(key, model, arguments)
        job = self.ledger.reserve(model, price)
        spending.append(job)
        try:
            status = yield from submit
        except HiggsfieldError as exc:
            self.ledger.refused(job, exc)
            raise
        # A subscribe's final status is seen by ``result``; a submit's is queued.
        self.ledger.bind(job, status.request_id)
        return status

    def _ledger_events(self, spending: list[LedgerJob], handler: Optional[EventHandler]) -> EventHandler:
        """``handler``, with the ledger told of the job's request id and statuses first."""

        def handle(event: object) -> Any:
            if isinstance(event, Enqueued):
                self.ledger.bind(spending[0], event.request_id)
            elif isinstance(event, StatusUpdate):
                self.ledger.observe(event.status)
            return None if handler is None else handler(event)

        return handle

    def status(self, request_id: str) -> Call[JobStatus, Status]:
        """Check a job's state once."""
        flow = status_flow(self.settings.config, request_id, self.settings.env())
        return Call(flow=flow, finish=self._status, action="status", subject=request_id)

    def _status(self, job: JobStatus) -> Status:
        return status_from_job(self.seen(job))

    def cancel(self, request_id: str) -> Call[None, None]:
        """Cancel a queued job (a job the ledger holds is refunded: it never started)."""

        def canceled(_: None) -> None:
            self.ledger.canceled(request_id)

        flow = cancel_flow(self.settings.config, request_id, self.settings.env())
        return Call(flow=flow, finish=canceled, action="cancel", subject=request_id)

    def upload(
        self, data: UploadData, content_type: str, progress: Optional[Progress]
    ) -> Call[UploadTarget, str]:
        """Upload bytes, text or a binary file object; the call returns the public URL."""
        body = body_from_data(data, progress)
        flow = upload_flow(self.settings.config, content_type, body, self.settings.env())
        return Call(flow=flow, finish=_public_url)

    def upload_slot(self, content_type: str) -> Call[UploadTarget, Tuple[str, str, Dict[str, str]]]:
        """Ask for an upload slot; the call returns the official ``_get_upload_url``'s
        ``(public_url, upload_url, upload_headers)``."""
        flow = upload_slot_flow(self.settings.config, content_type, self.settings.env())
        return Call(flow=flow, finish=_slot)

    def upload_file(
        self,
        path: Union[str, os.PathLike[str]],
        content_type: Optional[str],
        progress: Optional[Progress],
    ) -> Call[UploadTarget, str]:
        """Upload a file streamed from disk; the call returns the public URL."""
        content_type = content_type or guess_content_type(path)
        body = body_from_path(path, progress)
        flow = upload_flow(self.settings.config, content_type, body, self.settings.env())
        return Call(flow=flow, finish=_public_url)

    def upload_image(
        self, image: Image.Image, format: str, progress: Optional[Progress]
    ) -> Call[UploadTarget, str]:
        """Encode a Pillow image and upload it; the call returns the public URL."""
        data, content_type = image_to_bytes(image, format)
        return self.upload(data, content_type, progress)

    def estimate(self, model: str, arguments: Mapping[str, Any]) -> Call[Estimate, Estimate]:
        """Price a generation without submitting it."""
        return Call(flow=estimate_flow(self.settings.config, model, arguments, self.settings.env()))

    def delete(self, request_id: str) -> Call[Deletion, Deletion]:
        """Delete a finished job's data."""
        return Call(flow=delete_flow(self.settings.config, request_id, self.settings.env()))

    def download(
        self,
        url: str,
        destination: Destination,
        *,
        progress: Optional[Progress],
        overwrite: bool,
    ) -> Call[Downloaded, Path]:
        """Download ``url`` to ``destination``; the call returns the file's path.

        Raises:
            InvalidArgumentError: ``url`` is not an http(s) URL.
            FileExistsError: the file exists and ``overwrite`` is off (checked before and after).
        """
        build_download_request(url)  # refuses a bad URL before a folder is made for it
        target = resolve_destination(url, destination)
        if not overwrite:
            refuse_existing(target)
        sink = DownloadSink(target, progress, overwrite=overwrite)
        return self.stream(url, sink, sink.commit)

    def stream(self, url: str, sink: Sink, finish: Callable[[Downloaded], R]) -> Call[Downloaded, R]:
        """Stream ``url``'s body into ``sink`` (restarted on each attempt); the call returns
        ``finish(Downloaded)``.

        Raises:
            InvalidArgumentError: ``url`` is not an http(s) URL.
        """
        flow = download_flow(url, self.settings.env(), user_agent=self.settings.user_agent)
        return Call(flow=flow, finish=finish, sink=sink)

    def read(self, url: str, *, max_size: Optional[int]) -> Call[Downloaded, bytes]:
        """Download ``url`` into memory; the call returns its bytes.

        Raises:
            InvalidArgumentError: ``url`` is not an http(s) URL.
            DownloadError: the body is over ``max_size`` (or incomplete, as for ``download``).
        """
        sink = MemorySink(url, max_size)
        return self.stream(url, sink, sink.value)

    def save(self, url: str, target: Path, *, overwrite: bool) -> Call[Downloaded, Path]:
        """Download ``url`` to the file ``target``, unless a file there has the output's size
        already (its GET then ends with the head; see ``higgsfield_client._download``).

        The call returns ``target``; it raises FileExistsError for a file of another size unless
        ``overwrite`` is set.
        """
        sink = DownloadSink(target, None, overwrite=overwrite, keep_whole=True)
        return self.stream(url, sink, sink.commit)

    def download_outputs(
        self, request_id: str, urls: Sequence[str], folder: Destination, *, overwrite: bool
    ) -> list[Call[Downloaded, Path]]:
        """One ``save`` per output URL of job ``request_id`` into ``folder``, named
        ``<request id>-<name>``. Run one after the other, they go on where an earlier save of the
        same outputs stopped: files already whole stay, and only the others are fetched. A call
        that fails names its output in its error.

        Raises:
            InvalidArgumentError: a URL is not an http(s) URL (before the folder is made).
        """
        for url in urls:
            build_download_request(url)
        directory = Path(folder)
        directory.mkdir(parents=True, exist_ok=True)
        names = output_file_names(request_id, urls)
        calls = []
        for number, (url, name) in enumerate(zip(urls, names, strict=True), start=1):
            call = self.save(url, directory / name, overwrite=overwrite)
            call.flow = _naming(call.flow, f"{name} (output {number} of {len(urls)})")
            calls.append(call)
        return calls


def _naming(flow: Flow[R], output: str) -> Flow[R]:
    """``flow``, whose errors name ``output`` (a job's outputs are saved one after the other,
    and the user must learn which one failed)."""
    try:
        return (yield from flow)
    except HiggsfieldError as exc:
        # The error keeps its type and attributes, for the caller's except clauses.
        exc.args = (f"{output} not saved: {exc}", *exc.args[1:])
        raise


def output_urls(result: JobResult) -> list[str]:
    """Every output URL of a result: images, the video, then any artifacts."""
    return [output.url for output in result.outputs]


def _request_id(job: JobStatus) -> str:
    return job.request_id


def _priced(spending: list[LedgerJob]) -> Callable[[], Optional[JobPrice]]:
    """The price of the job ``_spend`` reserved into ``spending``, once it has (for its span)."""

    def price() -> Optional[JobPrice]:
        return spending[0].price if spending else None

    return price
