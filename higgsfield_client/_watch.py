"""Watching one call: its spans, event hooks and job logs, told by its flow's effects and events.

Loaded on the first call that something watches (``Observer.watch``). ``watched`` wraps the
call's flow in a generator that hands every effect and answer through unchanged and, on the way,
starts and ends spans, calls the event hooks (what an async hook returns goes to the runner to
be awaited, as an ``Await``) and logs a job's state changes at INFO. It reads the clock - the
client may, the core may not - to time a job's queue and run, and its exchanges.

A job's span (``higgsfield.job``) starts with the call that submits it. A ``subscribe`` ends it;
after a ``submit`` it stays open in the client's ``JobBook``, and the client's later calls for
that request id (status checks, waits, a cancel) put their exchanges under it and end it when
they see the job end. The book keeps at most ``JobBook.LIMIT`` open jobs (the oldest is ended
first) and ends them all when the client is closed.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
import time
from collections.abc import Generator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, TypeVar, Union
from urllib.parse import parse_qs, urlsplit

from higgsfield_proto import (
    Ask,
    Effect,
    Enqueued,
    JobState,
    JobStatus,
    Notify,
    Now,
    Retrying,
    Send,
    StatusUpdate,
    StreamedOutcome,
    StreamedSend,
    TransportFailure,
    WaitTimeoutError,
)

from ._observe import (
    ITEM,
    Hook,
    Observer,
    RequestInfo,
    ResponseInfo,
    is_rate_limit_answer,
    rate_limits_of,
)
from ._redact import redacted_headers, redacted_url
from ._runner import Await, WatchedFlow

if TYPE_CHECKING:
    import logging

    from opentelemetry.trace import Span, Tracer

    from ._budget import JobPrice
    from ._runner import Call

T = TypeVar("T")
_JOB_ACTIONS = ("submit", "subscribe")
_FOLLOW_ACTIONS = ("status", "wait", "cancel")
_FAILED_STATES = (JobState.FAILED.value, JobState.NSFW.value)


class JobRecord:
    """What the client knows of one job it follows; changed as the job is polled."""

    __slots__ = ("checks", "ended", "item_id", "model", "price", "request_id", "span", "started", "state",
                 "submitted", "webhook")  # fmt: skip

    def __init__(
        self,
        *,
        model: str = "",
        request_id: Optional[str] = None,
        item_id: Optional[str] = None,
        price: Optional[JobPrice] = None,
    ) -> None:
        self.model = model
        self.request_id = request_id
        self.item_id = item_id
        self.price = price  # what a budget counted for the job, when one priced it
        self.webhook = False
        self.submitted: Optional[float] = None  # monotonic, when the submit was answered
        self.started: Optional[float] = None  # first seen in progress
        self.ended: Optional[float] = None  # first seen in a final state
        self.state: Optional[str] = None
        self.checks = 0
        self.span: Optional[Span] = None

    def see(self, state: str) -> bool:
        """Note ``state``, seen now; True when it is not the one seen last."""
        now = time.monotonic()
        if state == JobState.IN_PROGRESS.value and self.started is None:
            self.started = now
        if JobState(state).is_terminal and self.ended is None:
            self.ended = now
        changed, self.state = state != self.state, state
        return changed

    def end_span(self, error: Optional[BaseException] = None) -> None:
        """End the job's span, with what is known of the job (no-op without a span)."""
        span, self.span = self.span, None
        if span is None:
            return
        if self.request_id is not None:
            span.set_attribute("higgsfield.request_id", self.request_id)
        if self.state is not None:
            span.set_attribute("higgsfield.job.status", self.state)
        span.set_attribute("higgsfield.job.status_checks", self.checks)
        span.set_attribute("higgsfield.job.webhook", self.webhook)
        if self.submitted is not None:
            queued_until = self.started if self.started is not None else self.ended
            if queued_until is not None:
                span.set_attribute("higgsfield.job.queued_seconds", max(0.0, queued_until - self.submitted))
            if self.started is not None and self.ended is not None:
                span.set_attribute("higgsfield.job.running_seconds", max(0.0, self.ended - self.started))
        if self.price is not None:
            span.set_attributes({
                "higgsfield.job.cost.credits": float(self.price.amount.credits),
                "higgsfield.job.cost.usd": float(self.price.amount.usd),
                "higgsfield.job.cost.source": self.price.source,
            })  # fmt: skip
        if error is not None:
            _tracing().fail(span, error)
        elif self.state in _FAILED_STATES:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, f"the job ended {self.state}"))
        span.end()


class JobBook:
    """The jobs a client has seen, by request id, the latest last: those it submitted keep their
    span open until it sees them end, and each keeps the last state seen, so that a state is
    logged once, when it changes. Thread-safe.

    At most ``LIMIT`` jobs are kept: the oldest goes first, its span ended if still open.
    """

    LIMIT = 1024

    def __init__(self) -> None:
        self._jobs: dict[str, JobRecord] = {}
        self._lock = threading.Lock()

    def keep(self, record: JobRecord) -> JobRecord:
        """Keep ``record`` (its request id known), as the latest; returns it."""
        assert record.request_id is not None
        with self._lock:
            self._jobs.pop(record.request_id, None)
            self._jobs[record.request_id] = record
            evicted = [self._jobs.pop(next(iter(self._jobs)))] if len(self._jobs) > self.LIMIT else []
        for old in evicted:
            old.end_span()
        return record

    def find(self, request_id: str) -> JobRecord:
        """The record of ``request_id``; a new one (kept) for a job not seen yet."""
        found = self._jobs.get(request_id)
        return found if found is not None else self.keep(JobRecord(request_id=request_id))

    def ended(self, status: JobStatus) -> None:
        """The job of ``status``, a final one, ended: end its span, if it has one open."""
        record = self._jobs.get(status.request_id)
        if record is not None:
            record.see(status.state.value)
            record.end_span()

    def close(self) -> None:
        """End every open job's span, and forget every job (the client is closed)."""
        with self._lock:
            records, self._jobs = list(self._jobs.values()), {}
        for record in records:
            record.end_span()


_book_lock = threading.Lock()


def _book(observer: Observer) -> JobBook:
    """The client's book of jobs, made by the first watched call that needs it."""
    with _book_lock:
        if observer.jobs is None:
            observer.jobs = JobBook()
    jobs = observer.jobs
    assert isinstance(jobs, JobBook)
    return jobs


def _tracing() -> ModuleType:
    from . import _tracing as module  # loaded already: spans exist only while tracing

    return module


def watched(call: Call[T, Any], observer: Observer, tracer: Optional[Tracer],
            logger: Optional[logging.Logger]) -> WatchedFlow[T]:  # fmt: skip
    """``call``'s flow, watched: spans (with ``tracer``), event hooks, job logs (to ``logger``)."""
    return Watch(call, observer, tracer, logger).run(call.flow)


def _call_hook(hook: Hook, value: object) -> Generator[Await, Any, None]:
    returned = hook(value)
    if inspect.isawaitable(returned):
        yield Await(awaitable=returned)


class Watch:
    """One watched call (see the module docstring)."""

    def __init__(
        self,
        call: Call[Any, Any],
        observer: Observer,
        tracer: Optional[Tracer],
        logger: Optional[logging.Logger],
    ) -> None:
        self._action = call.action
        self._subject = call.subject
        self._price = call.price
        self._observer = observer
        self._hooks = observer.hooks or {}
        self._logger = logger
        self._spans = _tracing().Spans(tracer) if tracer is not None else None
        self._job: Optional[JobRecord] = None
        self._owns_job = self._action in _JOB_ACTIONS
        self._turn: Optional[Span] = None
        self._polls = self._questions = 0
        self._request: Optional[RequestInfo] = None
        self._sent_at = 0.0
        self._exchange: Optional[Span] = None
        self._pending: Optional[tuple[Span, int]] = None  # an exchange's span, ended at the next effect

    # -- the flow around the flow ----------------------------------------------------------------

    def run(self, flow: Generator[Effect, Any, T]) -> WatchedFlow[T]:
        """Hand ``flow``'s effects and answers through, watching them."""
        answer: Any = None
        try:
            self._begin()
            first = True
            while True:
                try:
                    effect = flow.send(answer)
                except StopIteration as stop:
                    self._settle()
                    self._returned(stop.value)
                    return stop.value  # type: ignore[no-any-return]
                if isinstance(effect, Now):
                    answer = yield effect
                    continue
                if isinstance(effect, Notify):
                    yield from self._notified(effect.event)
                    self._settle()
                    answer = yield effect
                    continue
                self._settle()
                if isinstance(effect, (Send, StreamedSend)):
                    yield from self._sending(effect, first)
                    first = False
                    answer = yield effect
                    yield from self._answered(effect, answer)
                else:
                    if isinstance(effect, Ask):
                        self._asked()
                    answer = yield effect
        except BaseException as error:
            self._settle()
            self._failed(error)
            raise
        finally:
            flow.close()

    # -- the call's own span -----------------------------------------------------------------------

    def _begin(self) -> None:
        if self._owns_job:
            item_id, price = ITEM.get()
            self._job = JobRecord(model=self._subject, item_id=item_id, price=price)
            if self._spans is not None:
                attributes: dict[str, Any] = {"higgsfield.model": self._subject}
                if self._job.item_id is not None:
                    attributes["higgsfield.batch.item_id"] = self._job.item_id
                self._job.span = self._spans.start("higgsfield.job", attributes)
        elif self._action in _FOLLOW_ACTIONS:
            self._job = _book(self._observer).find(self._subject)
        elif self._action == "turn" and self._spans is not None:
            self._turn = self._spans.start(
                "higgsfield.agent.turn", {"higgsfield.agent.session_id": self._subject}
            )

    def _under(self) -> Optional[Span]:
        """The span the call's exchanges go under: its turn's or its job's, if either is open."""
        if self._turn is not None:
            return self._turn
        return self._job.span if self._job is not None else None

    # -- exchanges -------------------------------------------------------------------------------

    def _sending(self, effect: Union[Send, StreamedSend], first: bool) -> Generator[Await, Any, None]:
        request = effect.request
        if first and self._owns_job and self._job is not None:
            self._job.webhook = "hf_webhook" in parse_qs(urlsplit(request.url).query)
        self._request = None
        if self._hooks:
            self._request = RequestInfo(
                method=request.method,
                url=redacted_url(request.url),
                headers=redacted_headers(request.headers),
                attempt=effect.attempt,
            )
            for hook in self._hooks.get("request", ()):
                yield from _call_hook(hook, self._request)
        if self._spans is not None:
            self._exchange = self._spans.exchange(effect, self._under())
        self._sent_at = time.perf_counter()

    def _answered(
        self, effect: Union[Send, StreamedSend], answer: StreamedOutcome
    ) -> Generator[Await, Any, None]:
        elapsed = time.perf_counter() - self._sent_at
        span, self._exchange = self._exchange, None
        if span is not None:
            tracing = _tracing()
            limits = (
                None if isinstance(answer, TransportFailure) else rate_limits_of(answer, effect.request.url)
            )
            tracing.answered(span, answer, limits, limits is not None and is_rate_limit_answer(limits))
            self._pending = (span, tracing.now_ns())
        if self._request is not None and "response" in self._hooks:
            info = ResponseInfo(
                request=self._request,
                status=None if isinstance(answer, TransportFailure) else answer.status,
                headers=() if isinstance(answer, TransportFailure) else redacted_headers(answer.headers),
                elapsed=elapsed,
                failure=answer.kind.value if isinstance(answer, TransportFailure) else None,
            )
            for hook in self._hooks["response"]:
                yield from _call_hook(hook, info)

    def _settle(self) -> None:
        """End the last exchange's span (kept open until now for its retry event)."""
        if self._pending is not None:
            span, ended = self._pending
            self._pending = None
            span.end(end_time=ended)

    # -- events ----------------------------------------------------------------------------------

    def _notified(self, event: object) -> Generator[Await, Any, None]:
        if isinstance(event, Retrying):
            if self._pending is not None:
                _tracing().retried(self._pending[0], event)
            hooks = self._hooks.get("retry", ())
            if hooks:
                redacted = dataclasses.replace(event, url=redacted_url(event.url))  # no user info
                for hook in hooks:
                    yield from _call_hook(hook, redacted)
        elif isinstance(event, Enqueued):
            self._submitted(event.request_id)
        elif isinstance(event, StatusUpdate):
            self._saw(event.status)
        elif self._action == "turn":
            self._polls += 1  # a turn notifies its polls (TurnUpdate) and its retries only

    def _asked(self) -> None:
        self._questions += 1
        if self._turn is not None:
            self._turn.add_event(
                "higgsfield.agent.question", {"higgsfield.agent.question.number": self._questions}
            )

    def _submitted(self, request_id: str) -> None:
        job = self._job
        assert job is not None, "a submit is watched with its job"
        job.request_id = request_id
        job.submitted = time.monotonic()
        if job.price is None and self._price is not None:
            job.price = self._price()
        _book(self._observer).keep(job)
        self._became(job, JobState.QUEUED.value, f"submitted (model {job.model})")

    def _saw(self, status: JobStatus) -> None:
        """A status check answered ``status``: count it, and note the job's state."""
        job = self._job
        assert job is not None, "a job's calls are watched with its record"
        job.checks += 1
        self._became(job, status.state.value)

    def _became(self, job: JobRecord, state: str, detail: Optional[str] = None) -> None:
        """Note ``state``; if it changed, a span event on the job's span and an INFO record
        (``job <request id> <detail, else the state>``)."""
        if not job.see(state):
            return
        if job.span is not None:
            job.span.add_event("higgsfield.job.status", {"higgsfield.job.status": state})
        if self._logger is not None:
            self._logger.info(
                "job %s %s",
                job.request_id,
                detail or state,
                extra={"request_id": job.request_id, "model": job.model or None, "job_status": state},
            )

    # -- the end ---------------------------------------------------------------------------------

    def _returned(self, value: object) -> None:
        if self._turn is not None:
            self._end_turn(value)
            return
        job = self._job
        if job is None:
            return  # not a job's call
        if self._action == "submit":
            assert isinstance(value, JobStatus)
            self._submitted(value.request_id)
            if value.is_terminal:  # an idempotent replay of a finished job
                self._saw(value)
        elif self._action == "status":
            assert isinstance(value, JobStatus)
            self._saw(value)
        elif self._action == "cancel":
            self._canceled()
        # A job's span ends with the call that submitted it, or with the call that saw it end.
        if self._action == "subscribe" or (job.state is not None and JobState(job.state).is_terminal):
            job.end_span()

    def _canceled(self, error: Optional[BaseException] = None) -> None:
        """The job was canceled: log it and end its span (with ``error``, a wait's timeout that
        canceled it)."""
        job = self._job
        assert job is not None, "a cancel is watched with its job's record"
        self._became(job, JobState.CANCELED.value)
        job.end_span(error)

    def _failed(self, error: BaseException) -> None:
        job = self._job
        if isinstance(error, WaitTimeoutError) and error.cancelled and job is not None:
            self._canceled(error)  # a wait that timed out canceled the job
        elif self._owns_job and job is not None:
            job.end_span(error)  # the job may go on: a later call follows it without a span
        if self._turn is not None:
            self._end_turn(None, error)

    def _end_turn(self, result: object, error: Optional[BaseException] = None) -> None:
        span, self._turn = self._turn, None
        assert span is not None
        span.set_attribute("higgsfield.agent.turn.polls", self._polls)
        span.set_attribute("higgsfield.agent.turn.questions", self._questions)
        if result is not None:
            span.set_attribute("higgsfield.agent.turn.status", str(getattr(result, "status", "")))
            message_id = getattr(result, "message_id", None)
            if message_id:
                span.set_attribute("higgsfield.agent.message_id", message_id)
            cost = getattr(result, "cost_usd", None)
            if cost is not None:
                span.set_attribute("higgsfield.agent.turn.cost_usd", float(cost))
            if getattr(result, "failed", False):
                from opentelemetry.trace import Status, StatusCode

                span.set_status(Status(StatusCode.ERROR, "the turn failed"))
        if error is not None:
            _tracing().fail(span, error)
        span.end()
