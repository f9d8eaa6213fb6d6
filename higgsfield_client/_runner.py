"""Runners: feed a flow's effects to a transport in plain Python, or under asyncio / trio.

A ``Call`` is one public operation ready to run: its flow, the callbacks that answer ``Notify``
and ``Ask``, the sink of a download, and what turns the flow's result into the caller's. The
sync and async clients build the same ``Call`` and hand it to ``run_sync`` or ``run_async``,
with the client's ``Observer``: it sees every answer and event, and may put a watching flow
around the call's own (spans, hooks, job logs) - one test per call when nothing watches.
"""

from __future__ import annotations

import inspect
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Generator,
    Generic,
    NamedTuple,
    NoReturn,
    Optional,
    Protocol,
    TypeVar,
    Union,
)

from higgsfield_proto import (
    Ask,
    Effect,
    FailureKind,
    Flow,
    Notify,
    Now,
    Outcome,
    Response,
    Send,
    Sleep,
    StreamedOutcome,
    StreamedResponse,
    StreamedSend,
    TransportFailure,
)

from ._logs import DEBUG, logger_at
from ._redact import redacted_url

if TYPE_CHECKING:
    import logging

    from higgsfield_transports import AsyncTransport, SyncTransport

    from ._budget import JobPrice

T = TypeVar("T")
R = TypeVar("R")
EventHandler = Callable[[object], Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Await:
    """An effect of the client's own, never of the core: await ``awaitable`` (what an async event
    hook returned); answered with its result. The sync runner refuses it."""

    awaitable: Awaitable[Any]


WatchedFlow = Generator[Union[Effect, Await], Any, T]
"""A flow as an observer may wrap it: the core's effects, and ``Await``."""


class Observer(Protocol):
    """What a client observes of the calls it runs (``higgsfield_client/_observe.py``)."""

    def watch(self, call: Call[T, Any]) -> Optional[WatchedFlow[T]]:
        """The call's flow wrapped to be watched, or None when nothing watches (the usual case)."""
        ...

    def saw(self, effect: Union[Send, StreamedSend], answer: StreamedOutcome) -> None:
        """Take note of the answer to ``effect`` (its rate-limit headers)."""
        ...

    def notified(self, event: object) -> None:
        """Take note of a Notify event (a retry)."""
        ...


class Sink(Protocol):
    """Where a streamed body goes: emptied before each attempt, written chunk by chunk."""

    def restart(self) -> None:
        """Begin an attempt with nothing written."""
        ...

    def head(self, response: Response) -> None:
        """Take the status and headers of a 2xx answer before its first chunk."""
        ...

    def write(self, chunk: bytes) -> None:
        """Append one chunk of the body."""
        ...

    def close(self) -> None:
        """Drop whatever the caller did not keep (a download's partial file)."""
        ...


class EndedBySink(Exception):
    """Raised by a sink's ``head`` that has what its call is for before the body arrives (a
    download whose file is on disk already, whole): the runner ends the call at once and returns
    ``value``; the body is not read, and the transport does not pool the connection.

    Args:
        value: what the call returns.
    """

    def __init__(self, value: Any) -> None:
        super().__init__("the sink ended the call")
        self.value = value


def _identity(value: Any) -> Any:
    return value


@dataclass(slots=True, kw_only=True)
class Call(Generic[T, R]):
    """One operation ready to run.

    Attributes:
        flow: the core flow.
        finish: turns the flow's result into what the caller gets (called only on success).
        on_event: receives each ``Notify`` event; its awaitable result is awaited.
        on_ask: answers each ``Ask``; a coroutine function is awaited, and under asyncio or trio
            a plain function runs in a worker thread, so that it cannot block the event loop.
        sink: receives a ``StreamedSend``'s body; closed when the call ends.
        action: what the call does to a job or a turn, for the observer: ``"submit"``,
            ``"subscribe"``, ``"status"``, ``"wait"``, ``"cancel"``, ``"turn"``, or empty.
        subject: what it does it to: the model of a submit, the request id of a job's call, the
            session id of a turn.
        price: the price a budget counted for the job a submit or subscribe makes, once known
            (read when the submit is answered); None when no budget prices it.
    """

    flow: Flow[T]
    finish: Callable[[T], R] = _identity
    on_event: Optional[EventHandler] = None
    on_ask: Optional[Callable[[Any], Any]] = None
    sink: Optional[Sink] = None
    action: str = ""
    subject: str = ""
    price: Optional[Callable[[], Optional[JobPrice]]] = None


def _log(
    logger: logging.Logger, effect: Union[Send, StreamedSend], outcome: StreamedOutcome, duration: float
) -> None:
    """One debug record per HTTP exchange, never with secrets (no headers, no query), to
    ``logger`` (from ``logger_at(DEBUG)``).

    Besides the message, each record carries the fields as attributes for structured handlers:
    ``http_method``, ``http_url``, ``http_status`` (None for a network failure), ``failure``
    (the failure kind, or None), ``attempt``, ``correlation_id`` and ``duration`` (seconds).
    """
    request = effect.request
    where = redacted_url(request.url)
    status: Optional[int] = None
    failure: Optional[str] = None
    correlation: Optional[str] = None
    if isinstance(outcome, TransportFailure):
        failure, result = outcome.kind.value, f"failed ({outcome.kind.value}: {outcome.detail})"
    else:
        status, result = outcome.status, str(outcome.status)
        correlation = outcome.header("X-Correlation-ID")
    fields = {
        "http_method": request.method,
        "http_url": where,
        "http_status": status,
        "failure": failure,
        "attempt": effect.attempt,
        "correlation_id": correlation,
        "duration": duration,
    }
    logger.debug(
        "%s %s -> %s (attempt %d, %.3f s, correlation id %s)",
        request.method,
        where,
        result,
        effect.attempt,
        duration,
        correlation,
        extra=fields,
    )


class _Attempt:
    """One attempt of a StreamedSend: passes the body to the sink and notes what arrived."""

    def __init__(self, sink: Optional[Sink]) -> None:
        if sink is None:
            raise RuntimeError("a flow asked for a streamed send, but the call has no sink")
        sink.restart()
        self._sink = sink
        self._head: Optional[Response] = None
        self._received = 0

    def head(self, response: Response) -> None:
        self._head = response
        self._sink.head(response)

    def write(self, chunk: bytes) -> None:
        self._received += len(chunk)
        self._sink.write(chunk)

    def whole(self, outcome: Outcome) -> None:
        """Write a 2xx body that arrived whole (from a transport that cannot stream)."""
        if isinstance(outcome, Response) and 200 <= outcome.status < 300:
            self.head(outcome)
            self.write(outcome.body)

    def answer(self, outcome: Outcome) -> StreamedOutcome:
        """The StreamedSend's answer: a 2xx that began is a StreamedResponse, cut short or not."""
        head = self._head
        if isinstance(outcome, Response) and 200 <= outcome.status < 300:
            head = outcome
        elif not (isinstance(outcome, TransportFailure) and head is not None):
            return outcome
        assert head is not None
        failure = outcome if isinstance(outcome, TransportFailure) else None
        return StreamedResponse(
            status=head.status, headers=head.headers, received=self._received, failure=failure
        )


# ------------------------------------------------------------------------------------------------
# Plain Python


def _send_sync(effect: Union[Send, StreamedSend], transport: SyncTransport, sink: Optional[Sink]) -> Any:
    started = time.perf_counter()
    answer: StreamedOutcome
    if isinstance(effect, Send):
        answer = transport.send(effect.request, timeout=effect.timeout)
    else:
        attempt = _Attempt(sink)
        stream = getattr(transport, "stream", None)
        if stream is not None:
            outcome = stream(effect.request, attempt.write, timeout=effect.timeout, head=attempt.head)
        else:  # a transport that cannot stream: the body arrives whole
            outcome = transport.send(effect.request, timeout=effect.timeout)
            attempt.whole(outcome)
        answer = attempt.answer(outcome)
    logger = logger_at(DEBUG)
    if logger is not None:
        _log(logger, effect, answer, time.perf_counter() - started)
    return answer


def _drive_sync(
    call: Call[T, Any], transport: SyncTransport, observer: Observer, result: list[T]
) -> Iterator[object]:
    """Perform the flow's effects in this thread, yield each Notify event, store the result."""
    flow: WatchedFlow[T] = observer.watch(call) or call.flow
    answer: Any = None
    try:
        while True:
            try:
                effect = flow.send(answer)
            except StopIteration as stop:
                result.append(stop.value)
                return
            if isinstance(effect, (Send, StreamedSend)):
                answer = _send_sync(effect, transport, call.sink)
                observer.saw(effect, answer)
            elif isinstance(effect, Sleep):
                if effect.seconds > 0:
                    time.sleep(effect.seconds)
                answer = time.monotonic()
            elif isinstance(effect, Now):
                answer = time.time() if effect.wall else time.monotonic()
            elif isinstance(effect, Notify):
                observer.notified(effect.event)
                yield effect.event
                answer = None
            else:
                answer = _answer_sync(effect, call.on_ask)
    finally:
        flow.close()


def _answer_sync(effect: Union[Ask, Await], on_ask: Optional[Callable[[Any], Any]]) -> Any:
    if isinstance(effect, Await):
        _refuse(effect.awaitable, "an event hook returned an awaitable in the sync client")
    if on_ask is None:
        raise RuntimeError("a flow asked a question, but the call has no answering function")
    answer = on_ask(effect.question)
    if inspect.isawaitable(answer):
        _refuse(answer, "a coroutine function cannot answer in the sync client")
    return answer


def _refuse(awaitable: Awaitable[Any], what: str) -> NoReturn:
    """Raise the sync client's TypeError about ``awaitable``, closed first: never awaited, it
    must not warn that it never was."""
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()
    raise TypeError(f"{what}; pass a plain function")


def iterate_sync(call: Call[Any, Any], transport: SyncTransport, observer: Observer) -> Iterator[object]:
    """Run ``call``'s flow, yielding its Notify events as they happen."""
    return _drive_sync(call, transport, observer, [])


def run_sync(call: Call[Any, R], transport: SyncTransport, observer: Observer) -> R:
    """Run ``call`` to its end in this thread; returns ``call.finish`` of the flow's result (or
    the value of a sink that ended the call: ``EndedBySink``)."""
    try:
        result: list[Any] = []
        for event in _drive_sync(call, transport, observer, result):
            if call.on_event is not None:
                call.on_event(event)
        return call.finish(result[0])
    except EndedBySink as ended:
        value: R = ended.value
        return value
    finally:
        if call.sink is not None:
            call.sink.close()


# ------------------------------------------------------------------------------------------------
# asyncio and trio


class Library(NamedTuple):
    """What the async runner takes from the running library: its monotonic clock and its sleep."""

    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[Any]]


def running_library(library: str) -> Library:
    """The running ``library``'s clock and sleep: trio's (whose clock a test may have mocked), or
    the asyncio loop's clock (as ``anyio.current_time``) and ``asyncio.sleep``.

    The library's own, not anyio's portable ones: a job waiting in a sleep holds the frames of
    the sleep that it awaits, and anyio's adds two to the library's.
    """
    # Both are loaded, since one of them runs: a module lookup costs less than an import statement.
    if library == "trio":
        trio = sys.modules["trio"]
        return Library(trio.current_time, trio.sleep)
    asyncio = sys.modules["asyncio"]
    return Library(asyncio.get_running_loop().time, asyncio.sleep)


def _send_async(
    effect: Union[Send, StreamedSend], transport: AsyncTransport, sink: Optional[Sink]
) -> Awaitable[StreamedOutcome]:
    """The exchange of a Send or a StreamedSend, to be awaited.

    The usual case - a Send without a deadline, not logged - is the transport's own ``send``,
    without a detour: a job waiting for its answer holds no frame of the runner's around it.
    """
    if effect.timeout is None and isinstance(effect, Send) and logger_at(DEBUG) is None:
        return transport.send(effect.request)
    return _send_in_full(effect, transport, sink)


async def _send_in_full(
    effect: Union[Send, StreamedSend], transport: AsyncTransport, sink: Optional[Sink]
) -> StreamedOutcome:
    """Exchange within the effect's deadline, streamed if asked, logged at DEBUG."""
    started = time.perf_counter()
    answer: StreamedOutcome
    if effect.timeout is not None:
        import anyio

        answer = TransportFailure(kind=FailureKind.TIMEOUT, detail="deadline reached", request_written=True)
        with anyio.move_on_after(effect.timeout):
            answer = await _exchange_async(effect, transport, sink)
    elif isinstance(effect, Send):
        answer = await transport.send(effect.request)
    else:
        answer = await _stream_async(effect, transport, sink)
    logger = logger_at(DEBUG)
    if logger is not None:
        _log(logger, effect, answer, time.perf_counter() - started)
    return answer


async def _exchange_async(
    effect: Union[Send, StreamedSend], transport: AsyncTransport, sink: Optional[Sink]
) -> StreamedOutcome:
    if isinstance(effect, Send):
        return await transport.send(effect.request)
    return await _stream_async(effect, transport, sink)


async def _stream_async(
    effect: StreamedSend, transport: AsyncTransport, sink: Optional[Sink]
) -> StreamedOutcome:
    attempt = _Attempt(sink)
    stream = getattr(transport, "stream", None)
    if stream is not None:
        outcome: Outcome = await stream(effect.request, attempt.write, head=attempt.head)
    else:  # a transport that cannot stream: the body arrives whole
        outcome = await transport.send(effect.request)
        attempt.whole(outcome)
    return attempt.answer(outcome)


async def _answer_async(effect: Ask, on_ask: Optional[Callable[[Any], Any]]) -> Any:
    if on_ask is None:
        raise RuntimeError("a flow asked a question, but the call has no answering function")
    if inspect.iscoroutinefunction(on_ask):
        return await on_ask(effect.question)
    import anyio.to_thread

    # A plain function may block (input(), a database): it runs in a worker thread.
    return await anyio.to_thread.run_sync(on_ask, effect.question)


async def _perform(effect: Union[Effect, Await], call: Call[Any, Any], clock: Callable[[], float]) -> Any:
    """Perform a Now, an Ask or an Await under the running async library; return its answer.

    (The runners sleep in their own loop: a job waits there, with one frame less.)
    """
    if isinstance(effect, Now):
        return time.time() if effect.wall else clock()
    if isinstance(effect, Await):
        return await effect.awaitable
    assert isinstance(effect, Ask), effect
    return await _answer_async(effect, call.on_ask)


async def _drive_async(
    call: Call[Any, Any], transport: AsyncTransport, library: Library, observer: Observer
) -> AsyncIterator[object]:
    """Perform the flow's effects under the running async library, yield each Notify event."""
    flow: WatchedFlow[Any] = observer.watch(call) or call.flow
    answer: Any = None
    try:
        while True:
            try:
                effect = flow.send(answer)
            except StopIteration:
                return
            if isinstance(effect, Notify):
                observer.notified(effect.event)
                yield effect.event
                answer = None
            elif isinstance(effect, (Send, StreamedSend)):
                answer = await _send_async(effect, transport, call.sink)
                observer.saw(effect, answer)
            elif isinstance(effect, Sleep):
                await library.sleep(effect.seconds)
                answer = library.clock()
            else:
                answer = await _perform(effect, call, library.clock)
    finally:
        flow.close()


def iterate_async(
    call: Call[Any, Any], transport: AsyncTransport, library: Library, observer: Observer
) -> AsyncIterator[object]:
    """Run ``call``'s flow under asyncio or trio, yielding its Notify events as they happen."""
    return _drive_async(call, transport, library, observer)


async def run_async(
    call: Call[Any, R], transport: AsyncTransport, library: Library, observer: Observer
) -> R:
    """Run ``call`` to its end under asyncio or trio; returns ``call.finish`` of the result (or
    the value of a sink that ended the call: ``EndedBySink``).

    ``library`` is the running library's clock and sleep (``running_library``). A plain loop
    rather than ``iterate_async``: an async generator per call costs more than the rest of this
    runner (the event loop tracks each one until it is finalized).
    """
    flow: WatchedFlow[Any] = observer.watch(call) or call.flow
    answer: Any = None
    try:
        while True:
            try:
                effect = flow.send(answer)
            except StopIteration as stop:
                return call.finish(stop.value)
            if isinstance(effect, (Send, StreamedSend)):
                answer = await _send_async(effect, transport, call.sink)
                observer.saw(effect, answer)
            elif isinstance(effect, Notify):
                answer = None
                observer.notified(effect.event)
                if call.on_event is not None:
                    returned = call.on_event(effect.event)
                    if inspect.isawaitable(returned):
                        await returned
            elif isinstance(effect, Sleep):
                await library.sleep(effect.seconds)
                answer = library.clock()
            else:
                answer = await _perform(effect, call, library.clock)
    except EndedBySink as ended:
        value: R = ended.value
        return value
    finally:
        flow.close()
        if call.sink is not None:
            call.sink.close()
