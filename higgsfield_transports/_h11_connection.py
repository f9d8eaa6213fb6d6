"""One HTTP/1.1 connection of the h11 transport, and one request/response exchanged on it.

Theory of operation: before each wait - a write of the request, a read of the answer - an
exchange sets its deadline to ``timeout`` seconds from now, so that ``timeout`` means the same as
on the other transports: seconds for the answer to start and between reads (and between writes).
The run's watchdog (``_watchdog``) has an exchange past its deadline close its connection;
the exchange is then a ``TIMEOUT`` failure. The exchange reports its facts in a ``Progress`` (was
a byte written, did a byte of the answer arrive); it never repeats anything.
"""

from __future__ import annotations

import math
import select
from collections.abc import Callable
from typing import Optional
from urllib.parse import SplitResult

import anyio
import anyio.abc
import h11

from higgsfield_proto import FailureKind, Outcome, Request, header_value

from ._bodies import AnswerReader, BodySource
from ._checks import READ_CHUNK, decode_headers, without_framing
from ._failures import Progress, describe
from ._h11_heads import HeadKey, SentHeads
from ._h11_tunnel import Route
from ._watchdog import Watchdog

NETWORK_ERRORS = (
    OSError,  # includes TimeoutError, ssl.SSLError and socket.gaierror
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    h11.ProtocolError,
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ServerClosed(Exception):
    """The server closed the connection before a complete response."""


class Connection:
    """An open connection: its byte stream, its h11 state, and whether it was used before."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.reused = False
        # Looked up once: building the stream's extra attributes costs more than the check.
        self._sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    def looks_alive(self) -> bool:
        """False when the idle socket is closed or readable (end-of-file or stray bytes)."""
        sock = self._sock
        if sock is None:
            return True
        try:
            if sock.fileno() < 0:
                return False
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    @property
    def finished_cleanly(self) -> bool:
        """True when both sides completed the exchange, so that the connection may be reused."""
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE


class Exchange:
    """One request and its answer on a ``Connection``, with a per-wait timeout.

    Args:
        connection: where to exchange.
        route: the route (for the request target and proxy credentials).
        heads: the heads sent on the route, which this request's head may be built on.
        watchdog: the run's watchdog, which ends a wait past its deadline; None without a timeout.
        clock: the running library's clock.
        timeout: seconds allowed for each wait, or None.
        reader: where the answer's body goes.
        progress: the facts, recorded as the exchange goes.
    """

    def __init__(
        self,
        connection: Connection,
        route: Route,
        heads: SentHeads,
        watchdog: Optional[Watchdog],
        clock: Callable[[], float],
        timeout: Optional[float],
        reader: AnswerReader,
        progress: Progress,
    ) -> None:
        self.connection = connection
        self.stream = connection.stream
        self.route = route
        self.heads = heads
        self.watchdog = watchdog
        self.clock = clock
        self.timeout = timeout
        self.reader = reader
        self.progress = progress
        self.deadline = math.inf
        self.expired = False
        self._closed_by_server = False

    async def expire(self) -> None:
        """Called by the watchdog when a wait passed its deadline: close the connection, so
        that the wait fails (and the exchange reports a ``TIMEOUT``)."""
        self.expired = True
        await anyio.aclose_forcefully(self.stream)

    def _arm(self) -> None:
        """Before a wait: allow it ``timeout`` seconds from now."""
        if self.timeout is not None:
            self.deadline = self.clock() + self.timeout

    async def run(self, request: Request, parts: SplitResult, source: Optional[BodySource]) -> Outcome:
        """Write ``request``, read its answer; a network fault becomes a ``TransportFailure``.

        A wait that outlives ``timeout`` is a ``TIMEOUT`` failure (``expired`` is then set).

        Raises:
            Exception: the ``StreamedBody`` source's own exception, or the stream target's.
        """
        watchdog = self.watchdog
        if watchdog is not None:
            watchdog.watch(self)
        try:
            await self._write(request, parts, source)
            return await self._read()
        except (*NETWORK_ERRORS, ServerClosed) as exc:
            if source is not None:
                source.raise_if_failed()
            if self.expired:
                return self.progress.failure(FailureKind.TIMEOUT, f"no data for {self.timeout}s")
            writing = not self.progress.response_started and source is not None and not source.finished
            kind = FailureKind.WRITE if writing else FailureKind.READ
            return self.progress.failure(kind, self._detail(exc))
        finally:
            if watchdog is not None:
                watchdog.release(self)

    async def _write(self, request: Request, parts: SplitResult, source: Optional[BodySource]) -> None:
        state, stream = self.connection.h11, self.connection.stream
        data = state.send(_head(self.route, self.heads, request, parts, source)) or b""
        self.progress.request_written = True
        if source is None:
            # Head and a bytes body leave in one write.
            if isinstance(request.body, bytes) and request.body:
                data += state.send(h11.Data(data=request.body)) or b""
            self._arm()
            await stream.send(data + (state.send(h11.EndOfMessage()) or b""))
            return
        self._arm()
        await stream.send(data)
        for chunk in source.chunks():
            self._arm()
            await stream.send(state.send(h11.Data(data=chunk)) or b"")
        self._arm()
        await stream.send(state.send(h11.EndOfMessage()) or b"")

    async def _read(self) -> Outcome:
        # One loop over h11's events; only NEED_DATA awaits the socket.
        state, reader = self.connection.h11, self.reader
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                self._arm()
                try:
                    data = await self.connection.stream.receive(READ_CHUNK)
                except anyio.EndOfStream:
                    data = b""
                if data:
                    self.progress.response_started = True
                else:
                    self._closed_by_server = True
                state.receive_data(data)
            elif isinstance(event, h11.Data):
                failure = reader.add(event.data)
                if failure is not None:
                    return failure
            elif isinstance(event, h11.Response):
                headers = decode_headers(event.headers.raw_items())
                length = header_value(headers, "Content-Length")  # h11 has checked it
                declared = int(length) if length is not None else None
                failure = reader.begin(event.status_code, headers, declared)
                if failure is not None:
                    return failure
            elif isinstance(event, h11.EndOfMessage):
                return reader.finish()
            elif not isinstance(event, h11.InformationalResponse):
                # ConnectionClosed, or PAUSED (only after a protocol switch, never asked for).
                raise ServerClosed

    def _detail(self, exc: BaseException) -> str:
        if self._closed_by_server or isinstance(exc, (ServerClosed, anyio.EndOfStream)):
            if not self.progress.response_started:
                return "the server closed the connection without answering"
            return "the server closed the connection before the response ended"
        if isinstance(exc, h11.RemoteProtocolError):
            return "malformed HTTP response"
        return describe(exc)


def _head(
    route: Route, heads: SentHeads, request: Request, parts: SplitResult, source: Optional[BodySource]
) -> h11.Request:
    """The request head: Host (unless given), the request's headers, proxy credentials, framing.

    A head with the same headers and framing as one in ``heads`` is built on that one's checked
    headers (h11 still checks its method and target); a new one is kept there.
    """
    framing: Optional[tuple[bytes, bytes]] = None
    if source is not None:
        if source.length is None:
            framing = (b"Transfer-Encoding", b"chunked")
        else:
            framing = (b"Content-Length", str(source.length).encode("ascii"))
    elif request.body or request.method in _BODY_METHODS:
        length = len(request.body) if isinstance(request.body, bytes) else 0
        framing = (b"Content-Length", str(length).encode("ascii"))
    key: HeadKey = (request.headers, framing)
    target = route.target(parts)
    try:
        known = heads.known(key)
        remember = True
    except TypeError:  # header pairs that are no tuples cannot be remembered
        known, remember = None, False
    if known is not None:
        return h11.Request(method=request.method, target=target, headers=known.headers)
    headers: list[tuple[bytes, bytes]] = [
        (name.encode("ascii"), value.encode("latin-1")) for name, value in without_framing(request.headers)
    ]
    if request.header("Host") is None:
        headers.insert(0, (b"Host", route.origin.authority.encode("ascii")))
    proxy = route.proxy
    if proxy is not None and route.origin.scheme == "http" and proxy.authorization is not None:
        headers.append((b"Proxy-Authorization", proxy.authorization.encode("ascii")))
    if framing is not None:
        headers.append(framing)
    head = h11.Request(method=request.method, target=target, headers=headers)
    if remember:
        heads.keep(key, head)
    return head
