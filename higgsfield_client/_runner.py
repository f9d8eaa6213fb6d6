"""Runners: feed a flow's effects to a transport in plain Python, or under asyncio / trio."""

from __future__ import annotations

import inspect
import logging
import sys
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, List, Optional, TypeVar
from urllib.parse import urlsplit

import sniffio

from higgsfield_proto import (
    Effect,
    FailureKind,
    Flow,
    Notify,
    Outcome,
    Request,
    Response,
    Send,
    Sleep,
    TransportFailure,
)

if TYPE_CHECKING:
    from higgsfield_transports import AsyncTransport, SyncTransport

T = TypeVar("T")
EventHandler = Callable[[object], Any]

logger = logging.getLogger("higgsfield_client")


class _ExchangeLog:
    """Logs one debug record per HTTP exchange, never with secrets (no headers, no query).

    Besides the message, each record carries the fields as attributes for structured handlers:
    ``http_method``, ``http_url``, ``http_status`` (None for a network failure), ``failure``
    (the failure kind, or None), ``attempt``, ``correlation_id`` and ``duration`` (seconds).
    """

    # Class-level starting values: one log is made per call, and an __init__ costs a call.
    _last: Optional[Request] = None
    _attempt = 0

    def record(self, request: Request, outcome: Outcome, started: float, ended: float) -> None:
        # A retry sends the very same Request object again.
        self._attempt = self._attempt + 1 if request is self._last else 1
        self._last = request
        if not logger.isEnabledFor(logging.DEBUG):
            return
        parts = urlsplit(request.url)
        where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        status: Optional[int] = None
        failure: Optional[str] = None
        if isinstance(outcome, Response):
            status, result = outcome.status, str(outcome.status)
            correlation = outcome.header("X-Correlation-ID")
        else:
            failure, result = outcome.kind.value, f"failed ({outcome.kind.value})"
            correlation = None
        fields = {
            "http_method": request.method,
            "http_url": where,
            "http_status": status,
            "failure": failure,
            "attempt": self._attempt,
            "correlation_id": correlation,
            "duration": ended - started,
        }
        logger.debug(
            "%s %s -> %s (attempt %d, %.3f s, correlation id %s)",
            request.method,
            where,
            result,
            self._attempt,
            ended - started,
            correlation,
            extra=fields,
        )


def _drive_sync(flow: Flow[T], transport: SyncTransport, result: List[T]) -> Iterator[object]:
    """Perform the flow's effects in this thread, yield each Notify event, store the result."""
    log = _ExchangeLog()
    outcome: Any = None
    try:
        while True:
            try:
                effect = flow.send(outcome)
            except StopIteration as stop:
                result.append(stop.value)
                return
            if isinstance(effect, Send):
                started = time.perf_counter()
                outcome = transport.send(effect.request, timeout=effect.timeout)
                log.record(effect.request, outcome, started, time.perf_counter())
            elif isinstance(effect, Sleep):
                if effect.seconds > 0:
                    time.sleep(effect.seconds)
                outcome = time.monotonic()
            else:
                yield effect.event
                outcome = None
    finally:
        flow.close()


def iterate_sync(flow: Flow[Any], transport: SyncTransport) -> Iterator[object]:
    """Run ``flow``, yielding its Notify events as they happen."""
    return _drive_sync(flow, transport, [])


def run_sync(flow: Flow[T], transport: SyncTransport, on_event: Optional[EventHandler] = None) -> T:
    """Run ``flow`` to its end in this thread, handing Notify events to ``on_event``."""
    result: List[T] = []
    for event in _drive_sync(flow, transport, result):
        if on_event is not None:
            on_event(event)
    return result[0]


async def _perform(effect: Effect, transport: AsyncTransport, log: _ExchangeLog) -> Any:
    """Perform a Send or a Sleep under the running async library; return what the flow gets."""
    if isinstance(effect, Send):
        started = time.perf_counter()
        if effect.timeout is None:
            outcome = await transport.send(effect.request)
        else:
            outcome = await _send_within(transport, effect.request, effect.timeout)
        log.record(effect.request, outcome, started, time.perf_counter())
        return outcome
    import anyio

    assert isinstance(effect, Sleep)
    await anyio.sleep(effect.seconds)
    return async_now()


def run_clock(library: str) -> Callable[[], float]:
    """The running ``library``'s monotonic clock: trio's (which a test may have mocked), or the
    asyncio loop's (as ``anyio.current_time``)."""
    # Both are loaded, since one of them runs: a module lookup costs less than an import statement.
    if library == "trio":
        return sys.modules["trio"].current_time  # type: ignore[no-any-return]
    return sys.modules["asyncio"].get_running_loop().time  # type: ignore[no-any-return]


def async_now() -> float:
    """The running async library's clock reading."""
    return run_clock(sniffio.current_async_library())()


async def _drive_async(flow: Flow[Any], transport: AsyncTransport) -> AsyncIterator[object]:
    """Perform the flow's effects under the running async library, yield each Notify event."""
    log = _ExchangeLog()
    outcome: Any = None
    try:
        while True:
            try:
                effect = flow.send(outcome)
            except StopIteration:
                return
            if isinstance(effect, Notify):
                yield effect.event
                outcome = None
            else:
                outcome = await _perform(effect, transport, log)
    finally:
        flow.close()


async def _send_within(transport: AsyncTransport, request: Request, timeout: float) -> Outcome:
    """Send with the caller's deadline as a cancel scope; its expiry is a timeout failure."""
    import anyio

    with anyio.move_on_after(timeout):
        return await transport.send(request)
    return TransportFailure(kind=FailureKind.TIMEOUT, detail="deadline reached", request_sent=True)


def iterate_async(flow: Flow[Any], transport: AsyncTransport) -> AsyncIterator[object]:
    """Run ``flow`` under asyncio or trio, yielding its Notify events as they happen."""
    return _drive_async(flow, transport)


async def run_async(flow: Flow[T], transport: AsyncTransport, on_event: Optional[EventHandler] = None) -> T:
    """Run ``flow`` to its end under asyncio or trio; awaits ``on_event`` if it is async.

    A plain loop rather than ``iterate_async``: an async generator per call costs more than the
    rest of this runner (the event loop tracks each one until it is finalized).
    """
    log = _ExchangeLog()
    outcome: Any = None
    try:
        while True:
            try:
                effect = flow.send(outcome)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
            if isinstance(effect, Notify):
                outcome = None
                if on_event is not None:
                    returned = on_event(effect.event)
                    if inspect.isawaitable(returned):
                        await returned
            else:
                outcome = await _perform(effect, transport, log)
    finally:
        flow.close()
