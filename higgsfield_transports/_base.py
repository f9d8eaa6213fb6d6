"""The transport interfaces and the warning raised for unverified TLS.

A transport sends a request once and reports what happened: a ``Response``, or a
``TransportFailure`` stating whether any byte of the request was written, whether the connection
was a reused one and whether the answer had begun. It never repeats a request, never follows a
redirect and adds no credentials of its own; the core's ``RetryPolicy`` decides from those facts.
``timeout`` means the same on every transport: seconds for the answer to start and between
reads; connecting has a limit of its own (``connect_timeout``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional, Protocol, runtime_checkable

from higgsfield_proto import Outcome, Request, Response

__all__ = [
    "AsyncTransport",
    "HeadCallback",
    "InsecureTransportWarning",
    "Sink",
    "StreamingAsyncTransport",
    "StreamingSyncTransport",
    "SyncTransport",
]

Sink = Callable[[bytes], object]
"""Receives a streamed response body, one chunk at a time."""
HeadCallback = Callable[[Response], object]
"""Receives the status and headers of a 2xx answer (with an empty body) before its first chunk."""


class InsecureTransportWarning(UserWarning):
    """Issued when a transport is created with TLS certificate verification turned off."""


@runtime_checkable
class SyncTransport(Protocol):
    """Sends one request at a time from plain Python code.

    ``send`` returns a ``Response`` or, for a network fault, a ``TransportFailure``; it never raises
    for a network fault. ``timeout``, when given, bounds this one exchange in seconds (the time
    left before the caller's deadline). ``close`` releases the connections the transport owns.
    """

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` and return the response or the network failure."""
        ...

    def close(self) -> None:
        """Release the connections and sessions the transport owns."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """Sends requests from asyncio or trio code; same contract as ``SyncTransport``."""

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` and return the response or the network failure."""
        ...

    async def aclose(self) -> None:
        """Release the connections and sessions the transport owns."""
        ...


@runtime_checkable
class StreamingSyncTransport(SyncTransport, Protocol):
    """A ``SyncTransport`` that can also stream a response body to a sink (for downloads)."""

    def stream(
        self,
        request: Request,
        sink: Sink,
        *,
        timeout: Optional[float] = None,
        head: Optional[HeadCallback] = None,
    ) -> Outcome:
        """Send ``request``; hand a 2xx body to ``sink`` chunk by chunk instead of keeping it.

        ``head``, when given, is called with the answer's status and headers before the first
        chunk. A 2xx answer comes back with an empty body and no size limit applies to it; any
        other answer is read whole (within the transport's size limit) into the ``Response``, so
        that it can be parsed as an error, and ``sink`` is not called. An exception raised by
        ``sink`` or ``head`` propagates unchanged; it is never reported as a network failure.
        """
        ...


@runtime_checkable
class StreamingAsyncTransport(AsyncTransport, Protocol):
    """An ``AsyncTransport`` that can also stream a response body to a sink (for downloads)."""

    async def stream(self, request: Request, sink: Sink, *, head: Optional[HeadCallback] = None) -> Outcome:
        """As ``StreamingSyncTransport.stream``; ``sink`` and ``head`` are plain callables.

        Like ``send``, it takes no timeout: bound it with the running library's cancel scope.
        """
        ...
