"""HTTP/1.1 written with h11 over anyio byte streams: one transport for trio and for asyncio."""

from __future__ import annotations

import asyncio
import base64
import select
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Tuple, Union
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import anyio
import anyio.abc
import h11
import sniffio
from anyio.streams.tls import TLSStream

from higgsfield_proto._http import (
    FailureKind,
    Headers,
    Outcome,
    Request,
    Response,
    StreamedBody,
    TransportFailure,
    header_value,
)

from ._base import HeadCallback, Sink
from ._common import (
    DEFAULT_MAX_RESPONSE_BYTES,
    READ_CHUNK,
    BodySource,
    Origin,
    ProxyResolver,
    StreamTarget,
    Verify,
    check_options,
    check_request,
    decode_headers,
    describe,
    response_too_large,
    ssl_context_for,
    without_framing,
)

__all__ = ["TrioTransport"]

# Theory of operation
#
# Each send picks a route (direct, through a proxy in absolute-form, or through a CONNECT tunnel),
# holds one of the route's connection slots, and does one h11 exchange on a pooled idle
# connection or a new one. A connection goes back to the pool only when h11 says both sides
# finished the exchange cleanly (DONE/DONE); an exchange that was interrupted in any way -
# exception, cancellation, timeout, a body over the limit - closes it, in a cancelled scope so
# that closing never waits. The pool belongs to the trio run or asyncio loop that first used the
# transport.
#
# A pooled connection may have been closed by the server while idle. Before reuse, a readable
# idle socket (end-of-file or stray bytes) is discarded. If sending on a reused connection still
# fails before a single response byte arrived, the request is sent once more on a new
# connection: the usual behaviour of HTTP clients, because a server closing an idle keep-alive
# connection races with our request. (A server that read the request and then dropped the
# connection without any answer is indistinguishable and also gets the request twice.)

_NETWORK_ERRORS = (
    OSError,  # includes TimeoutError, ssl.SSLError and socket.gaierror
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    h11.ProtocolError,
)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ROUTES_KEPT = 64

_Key = Tuple[str, str, int, str]


class _ServerClosed(Exception):
    """The server closed the connection before a complete response."""


class _StaleConnection(Exception):
    """A reused connection failed before any response byte: it was dead already."""


class _TunnelRefused(Exception):
    """The proxy did not open a CONNECT tunnel."""


@dataclass(frozen=True)
class _Proxy:
    url: str
    host: str
    port: int
    authorization: Optional[str]

    @classmethod
    def from_url(cls, url: str) -> _Proxy:
        """Parse an ``http://[user:password@]host[:port]`` proxy URL.

        Raises:
            ValueError: not an http:// URL with a host.
        """
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the proxy must be an http:// URL with a host")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(url=url, host=parts.hostname, port=parts.port or 80, authorization=authorization)


@dataclass(frozen=True)
class _Route:
    """How to reach an origin: directly or through a proxy (made once per origin and proxy)."""

    scheme: str
    host: str
    port: int
    authority: str
    proxy: Optional[_Proxy]
    key: _Key

    @classmethod
    def for_origin(cls, origin: Origin, proxy: Optional[_Proxy]) -> _Route:
        key = (origin.scheme, origin.host, origin.port, proxy.url if proxy else "")
        return cls(origin.scheme, origin.host, origin.port, origin.authority, proxy, key)

    def target(self, parts: SplitResult) -> str:
        """The request target of a URL on this route."""
        path = parts.path or "/"
        if self.proxy is not None and self.scheme == "http":
            # A plain-HTTP request to a proxy names the whole URL (absolute-form).
            return urlunsplit(("http", self.authority, path, parts.query, ""))
        return f"{path}?{parts.query}" if parts.query else path

    @property
    def tunnel_authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class _Scope(Protocol):
    """A cancel scope of trio or anyio: the deadline of one exchange."""

    deadline: float

    def __enter__(self) -> object: ...

    def __exit__(self, *exc_info: Any) -> bool: ...


class _Connection:
    def __init__(self, stream: anyio.abc.ByteStream, clock: Callable[[], float]) -> None:
        self.stream = stream
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        # The scope of the exchange under way, and the clock of its deadline.
        self.scope: _Scope = anyio.CancelScope()
        self.clock = clock
        # Looked up once: building the stream's extra attributes costs more than the check.
        self._sock = stream.extra(anyio.abc.SocketAttribute.raw_socket, None)

    def allow(self, timeout: Optional[float], slack: float) -> None:
        """Before a read or write: let the exchange's scope run ``timeout`` more seconds.

        The deadline moves only once less than ``timeout`` is left, and then to ``timeout`` +
        ``slack`` from now: a quick exchange sets its deadline once, when its scope opens.
        """
        if timeout is not None:
            wanted = self.clock() + timeout
            if wanted > self.scope.deadline:
                self.scope.deadline = wanted + slack

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


class _Progress:
    def __init__(self) -> None:
        self.request_written = False
        self.response_bytes = 0
        self.closed_by_server = False


class _Pool:
    """Idle keep-alive connections and connection slots, per route, for one run.

    It also holds the run's own clock and cancel scope class: under trio, trio's (anyio's
    portable wrappers cost about as much again as trio's scope itself, on every exchange).
    """

    def __init__(self, run: object, library: str, per_host: int) -> None:
        self.run = run
        self.clock: Callable[[], float]
        self.new_scope: Callable[..., _Scope]
        if library == "trio":
            import trio

            self.clock, self.new_scope = trio.current_time, trio.CancelScope
        else:
            self.clock, self.new_scope = asyncio.get_running_loop().time, anyio.CancelScope
        self._per_host = per_host
        self._idle: Dict[_Key, List[_Connection]] = {}
        self._slots: Dict[_Key, anyio.Semaphore] = {}

    def slot(self, key: _Key) -> anyio.Semaphore:
        semaphore = self._slots.get(key)
        if semaphore is None:
            semaphore = self._slots[key] = anyio.Semaphore(self._per_host)
        return semaphore

    async def take(self, key: _Key) -> Optional[_Connection]:
        idle = self._idle.get(key, [])
        while idle:
            connection = idle.pop()
            if connection.looks_alive():
                return connection
            await anyio.aclose_forcefully(connection.stream)
        return None

    def put(self, key: _Key, connection: _Connection) -> None:
        self._idle.setdefault(key, []).append(connection)

    def drain(self) -> List[_Connection]:
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        return connections


def _current_run() -> Tuple[str, object]:
    """The running library and its run (a trio run's token, or the asyncio loop).

    Raises:
        sniffio.AsyncLibraryNotFoundError: not inside async code.
        RuntimeError: inside a library other than trio or asyncio.
    """
    library = sniffio.current_async_library()
    if library == "trio":
        # Loaded, since trio runs; an import statement per send costs more than this lookup.
        return library, sys.modules["trio"].lowlevel.current_trio_token()
    if library == "asyncio":
        return library, asyncio.get_running_loop()
    raise RuntimeError(f"TrioTransport runs under trio or asyncio, not {library}")


class TrioTransport:
    """Sends requests with its own HTTP/1.1 client (h11 over anyio): works under trio and asyncio.

    It sends only ``Host``, ``Content-Length`` or ``Transfer-Encoding: chunked`` and
    ``request.headers`` (plus ``Proxy-Authorization`` to a proxy with credentials). It asks for
    no compression, so bodies arrive as the server sent them; redirects are never followed.
    Connections are kept alive in a pool bound to the trio run or asyncio loop of the first
    ``send`` (see ``is_usable``); one request is re-sent on a new connection when a reused
    connection proves dead before any response byte arrived (see the module comment).

    Args:
        timeout: seconds allowed for each read and write, including the wait for the response
            to start (a wait may run up to a tenth more, at most one second); None waits forever.
        connect_timeout: seconds allowed for TCP connect, proxy tunnel and TLS handshake.
        verify: True (the system CA store), a CA bundle path, an ``ssl.SSLContext`` or False
            (warns: no verification).
        proxy: an ``http://`` proxy URL for every request; HTTPS goes through a CONNECT tunnel.
        trust_env: honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY when ``proxy`` is not given;
            the environment is read once, when the transport is created.
        max_response_bytes: a longer response body is a ``TOO_LARGE`` failure.
        max_connections_per_host: connections open at once to one scheme, host and port;
            further sends wait for a free one.

    Raises:
        ValueError: an invalid option (including a proxy that is not ``http://``).
        OSError: the CA bundle path cannot be read.
    """

    def __init__(
        self,
        *,
        timeout: Optional[float] = 90.0,
        connect_timeout: float = 10.0,
        verify: Verify = True,
        proxy: Optional[str] = None,
        trust_env: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_connections_per_host: int = 100,
    ) -> None:
        check_options(
            timeout=timeout,
            connect_timeout=connect_timeout,
            verify=verify,
            max_response_bytes=max_response_bytes,
            transport="TrioTransport",
        )
        if max_connections_per_host < 1:
            raise ValueError("max_connections_per_host must be at least 1")
        if proxy is not None:
            _Proxy.from_url(proxy)
        self._timeout = timeout
        # How far past ``timeout`` a read or write may wait (see _Connection.allow).
        self._slack = min(1.0, timeout / 10) if timeout is not None else 0.0
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context_for(verify)
        self._proxies = ProxyResolver(proxy, trust_env)
        self._max_response_bytes = max_response_bytes
        self._per_host = max_connections_per_host
        self._pool: Optional[_Pool] = None
        self._routes: Dict[Tuple[Origin, Optional[str]], _Route] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"<TrioTransport timeout={self._timeout!r}>"

    def is_usable(self) -> bool:
        """Tell whether ``send`` may be called from the code now running.

        True when the transport is open and either not yet used or used before in the running
        trio run / asyncio loop.
        """
        if self._closed:
            return False
        if self._pool is None:
            return True
        try:
            return _current_run()[1] is self._pool.run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            return False

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` and read the whole response.

        Returns:
            The ``Response`` (3xx included: redirects are not followed), or a
            ``TransportFailure`` for a network fault.

        Raises:
            ValueError: the request cannot be put on the wire (bad URL or header).
            RuntimeError: the transport is closed or was first used in another run or loop.
            Exception: whatever a ``StreamedBody`` source raised while being read.
        """
        return await self._send(request, None)

    async def stream(self, request: Request, sink: Sink, *, head: Optional[HeadCallback] = None) -> Outcome:
        """Send ``request`` and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does. A connection
        whose body was not read to its end (a failure, a cancellation) is closed, never pooled.

        Raises:
            ValueError, RuntimeError: as ``send``.
            Exception: whatever ``sink`` or ``head`` raised.
        """
        target = StreamTarget(sink, head)
        try:
            return target.checked(await self._send(request, target))
        finally:
            target.forget()

    async def _send(self, request: Request, target: Optional[StreamTarget]) -> Outcome:
        origin, parts = check_request(request)
        pool = self._pool_for_current_run()
        route = self._route_to(origin)
        if isinstance(route, TransportFailure):
            return route
        slot = pool.slot(route.key)
        try:
            # A free slot is taken without a trip through the scheduler (what anyio >= 4.5 calls
            # fast_acquire; the I/O that follows checks for cancellation); a full route waits.
            slot.acquire_nowait()
        except anyio.WouldBlock:
            await slot.acquire()
        try:
            connection = await pool.take(route.key)
            if connection is not None:
                try:
                    return await self._exchange(pool, route, connection, request, parts, target, reused=True)
                except _StaleConnection:
                    pass  # it was closed while idle: once more on a new connection
            opened = await self._connect(route, pool.clock)
            if isinstance(opened, TransportFailure):
                return opened
            return await self._exchange(pool, route, opened, request, parts, target, reused=False)
        finally:
            slot.release()

    def _route_to(self, origin: Origin) -> Union[_Route, TransportFailure]:
        proxy_url = self._proxies.proxy_for(origin)
        route = self._routes.get((origin, proxy_url))
        if route is None:
            try:
                proxy = _Proxy.from_url(proxy_url) if proxy_url is not None else None
            except ValueError:
                return TransportFailure(
                    kind=FailureKind.CONNECT,
                    detail="the proxy from the environment is not an http:// URL",
                )
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()
            route = self._routes[(origin, proxy_url)] = _Route.for_origin(origin, proxy)
        return route

    async def aclose(self) -> None:
        """Close the idle connections; connections in use close when their exchange ends.

        Awaited from another run or loop than the pool's, it only drops the connections.
        """
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        connections = pool.drain()
        try:
            same_run = _current_run()[1] is pool.run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            same_run = False
        if same_run:
            for connection in connections:
                await anyio.aclose_forcefully(connection.stream)

    async def __aenter__(self) -> TrioTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _pool_for_current_run(self) -> _Pool:
        if self._closed:
            raise RuntimeError("TrioTransport is closed")
        library, run = _current_run()
        if self._pool is None:
            self._pool = _Pool(run, library, self._per_host)
        elif self._pool.run is not run:
            raise RuntimeError(
                "TrioTransport was first used in another trio run or asyncio loop; use one transport per run"
            )
        return self._pool

    async def _connect(
        self, route: _Route, clock: Callable[[], float]
    ) -> Union[_Connection, TransportFailure]:
        """Open a connection for ``route`` (TCP, proxy tunnel, TLS) within ``connect_timeout``."""
        phase = "connecting"
        stream: Optional[anyio.abc.ByteStream] = None
        connected = False
        try:
            with anyio.fail_after(self._connect_timeout):
                via = route.proxy or route
                stream = await anyio.connect_tcp(via.host, via.port)
                if route.scheme == "https":
                    if route.proxy is not None:
                        phase = "opening the proxy tunnel"
                        await self._open_tunnel(stream, route)
                    phase = "in the TLS handshake"
                    stream = await TLSStream.wrap(
                        stream,
                        hostname=route.host,
                        ssl_context=self._ssl_context,
                        standard_compatible=False,
                    )
            connected = True
            return _Connection(stream, clock)
        except _TunnelRefused as exc:
            return TransportFailure(kind=FailureKind.CONNECT, detail=str(exc))
        except TimeoutError:
            detail = f"timed out after {self._connect_timeout:g}s {phase}"
            return TransportFailure(kind=FailureKind.CONNECT, detail=detail)
        except _NETWORK_ERRORS as exc:
            kind = FailureKind.TLS if phase == "in the TLS handshake" else FailureKind.CONNECT
            return TransportFailure(kind=kind, detail=describe(exc))
        finally:
            if stream is not None and not connected:
                await anyio.aclose_forcefully(stream)

    async def _open_tunnel(self, stream: anyio.abc.ByteStream, route: _Route) -> None:
        """Ask the proxy for a CONNECT tunnel to the route's origin.

        Raises:
            _TunnelRefused: the proxy answered anything but 2xx, or misbehaved.
        """
        assert route.proxy is not None
        tunnel = h11.Connection(our_role=h11.CLIENT)
        headers = [("Host", route.tunnel_authority)]
        if route.proxy.authorization is not None:
            headers.append(("Proxy-Authorization", route.proxy.authorization))
        request = h11.Request(method="CONNECT", target=route.tunnel_authority, headers=headers)
        await stream.send(tunnel.send(request) + (tunnel.send(h11.EndOfMessage()) or b""))
        while True:
            event = tunnel.next_event()
            if event is h11.NEED_DATA:
                try:
                    tunnel.receive_data(await stream.receive())
                except anyio.EndOfStream:
                    tunnel.receive_data(b"")
            elif not isinstance(event, h11.InformationalResponse):
                break
        if not isinstance(event, h11.Response):
            raise _TunnelRefused("the proxy closed the connection instead of opening a tunnel")
        if not 200 <= event.status_code < 300:
            raise _TunnelRefused(f"proxy answered {event.status_code} to CONNECT")
        if tunnel.trailing_data[0]:
            raise _TunnelRefused("the proxy sent data before the TLS handshake")

    async def _exchange(
        self,
        pool: _Pool,
        route: _Route,
        connection: _Connection,
        request: Request,
        parts: SplitResult,
        target: Optional[StreamTarget],
        *,
        reused: bool,
    ) -> Outcome:
        """One request/response on ``connection``; pools it afterwards only if it ended clean.

        Raises:
            _StaleConnection: ``reused`` and it failed before any response byte.
            Exception: the ``StreamedBody`` source's own exception.
        """
        source = BodySource(request.body) if isinstance(request.body, StreamedBody) else None
        progress = _Progress()
        keep = False
        # One cancel scope for the whole exchange rather than one per read and write: _write and
        # _read_response move its deadline forward when a wait could otherwise end too early.
        if self._timeout is None:
            scope = connection.scope = pool.new_scope()
        else:
            deadline = pool.clock() + self._timeout + self._slack
            scope = connection.scope = pool.new_scope(deadline=deadline)
        outcome: Optional[Outcome] = None
        try:
            with scope:
                try:
                    await self._write_request(connection, route, request, parts, source, progress)
                    outcome = await self._read_response(connection, progress, target)
                except (*_NETWORK_ERRORS, _ServerClosed) as exc:
                    if source is not None:
                        source.raise_if_failed()
                    if isinstance(exc, TimeoutError):
                        return self._timed_out()
                    if reused and progress.response_bytes == 0:
                        raise _StaleConnection from exc
                    kind = FailureKind.READ if progress.request_written else FailureKind.WRITE
                    return TransportFailure(kind=kind, detail=_detail(exc, progress), request_sent=True)
            if outcome is None:  # the scope's deadline passed during a read or write
                if source is not None:
                    source.raise_if_failed()
                return self._timed_out()
            keep = (
                isinstance(outcome, Response)
                and connection.h11.our_state is h11.DONE
                and connection.h11.their_state is h11.DONE
                and not self._closed
            )
            if keep:
                connection.h11.start_next_cycle()
            return outcome
        finally:
            if source is not None:
                source.close()
            if keep:
                pool.put(route.key, connection)
            else:
                await anyio.aclose_forcefully(connection.stream)

    def _timed_out(self) -> TransportFailure:
        limit = self._timeout
        detail = f"no data for {limit:g}s" if limit is not None else "timed out"
        return TransportFailure(kind=FailureKind.TIMEOUT, detail=detail, request_sent=True)

    async def _write_request(
        self,
        connection: _Connection,
        route: _Route,
        request: Request,
        parts: SplitResult,
        source: Optional[BodySource],
        progress: _Progress,
    ) -> None:
        state, stream = connection.h11, connection.stream
        data = state.send(_head(route, request, parts, source)) or b""
        if source is None:
            # Head and a bytes body leave in one write.
            if isinstance(request.body, bytes) and request.body:
                data += state.send(h11.Data(data=request.body)) or b""
            connection.allow(self._timeout, self._slack)
            await stream.send(data + (state.send(h11.EndOfMessage()) or b""))
        else:
            connection.allow(self._timeout, self._slack)
            await stream.send(data)
            for chunk in source.chunks():
                connection.allow(self._timeout, self._slack)
                await stream.send(state.send(h11.Data(data=chunk)) or b"")
            connection.allow(self._timeout, self._slack)
            await stream.send(state.send(h11.EndOfMessage()) or b"")
        progress.request_written = True

    async def _read_response(
        self, connection: _Connection, progress: _Progress, target: Optional[StreamTarget]
    ) -> Outcome:
        # One loop over h11's events; only NEED_DATA awaits the socket.
        state = connection.h11
        limit = self._max_response_bytes
        status = 0
        headers: Headers = ()
        sink: Optional[StreamTarget] = None
        body = bytearray()
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                connection.allow(self._timeout, self._slack)
                try:
                    data = await connection.stream.receive(READ_CHUNK)
                except anyio.EndOfStream:
                    data = b""
                progress.response_bytes += len(data)
                progress.closed_by_server = not data
                state.receive_data(data)
            elif isinstance(event, h11.Data):
                if sink is not None:
                    sink.write(event.data)
                else:
                    body += event.data
                    if len(body) > limit:
                        return response_too_large(limit)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = decode_headers(event.headers.raw_items())
                if target is not None and target.wants(status):
                    sink = target
                    sink.begin(status, headers)
                elif _declared_length(headers) > limit:
                    return response_too_large(limit)  # refused before reading a byte of it
            elif isinstance(event, h11.EndOfMessage):
                return Response(status, headers, bytes(body))
            elif not isinstance(event, h11.InformationalResponse):
                # ConnectionClosed, or PAUSED (only after a protocol switch, never asked for).
                raise _ServerClosed


def _head(route: _Route, request: Request, parts: SplitResult, source: Optional[BodySource]) -> h11.Request:
    """The request head: Host (unless given), the request's headers, proxy credentials, framing."""
    headers: List[Tuple[bytes, bytes]] = [
        (name.encode("ascii"), value.encode("latin-1")) for name, value in without_framing(request.headers)
    ]
    if request.header("Host") is None:
        headers.insert(0, (b"Host", route.authority.encode("ascii")))
    proxy = route.proxy
    if proxy is not None and route.scheme == "http" and proxy.authorization is not None:
        headers.append((b"Proxy-Authorization", proxy.authorization.encode("ascii")))
    if source is not None:
        if source.length is None:
            headers.append((b"Transfer-Encoding", b"chunked"))
        else:
            headers.append((b"Content-Length", str(source.length).encode("ascii")))
    elif request.body or request.method in _BODY_METHODS:
        length = len(request.body) if isinstance(request.body, bytes) else 0
        headers.append((b"Content-Length", str(length).encode("ascii")))
    return h11.Request(method=request.method, target=route.target(parts), headers=headers)


def _declared_length(headers: Headers) -> int:
    """The Content-Length among a response's ``headers`` (h11 has checked it), or 0 without one."""
    length = header_value(headers, "Content-Length")
    return int(length) if length is not None else 0


def _detail(exc: BaseException, progress: _Progress) -> str:
    if progress.closed_by_server or isinstance(exc, (_ServerClosed, anyio.EndOfStream)):
        if progress.response_bytes == 0:
            return "the server closed the connection without answering"
        return "the server closed the connection before the response ended"
    if isinstance(exc, h11.RemoteProtocolError):
        return "malformed HTTP response"
    return describe(exc)
