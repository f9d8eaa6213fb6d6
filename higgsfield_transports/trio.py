"""HTTP/1.1 written with h11 over anyio byte streams: one transport for trio and for asyncio.

The HTTP/1.1 work lives in modules of its own: one connection and its exchange
(``_h11_connection``), the pool (``_h11_pool``), proxies and tunnels (``_h11_tunnel``).
"""

from __future__ import annotations

from typing import Optional, Union
from urllib.parse import SplitResult

import anyio
import anyio.abc
import sniffio
from anyio.streams.tls import TLSStream

from higgsfield_proto import FailureKind, Outcome, Request, Response, TransportFailure

from ._base import HeadCallback, Sink
from ._bodies import AnswerReader, BodySource, StreamTarget, streaming
from ._checks import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    Origin,
    Verify,
    check_options,
    check_request,
    ssl_context_for,
)
from ._failures import Progress, Stage, failure_for
from ._h11_connection import NETWORK_ERRORS, Connection, Exchange
from ._h11_pool import Pool
from ._h11_tunnel import Proxy, Route, TunnelRefused, open_tunnel
from ._proxies import ProxyResolver
from ._runs import current_run

__all__ = ["TrioTransport"]

_ROUTES_KEPT = 64


class TrioTransport:
    """Sends requests with its own HTTP/1.1 client (h11 over anyio): works under trio and asyncio.

    It sends only ``Host``, ``Content-Length`` or ``Transfer-Encoding: chunked`` and
    ``request.headers`` (plus ``Proxy-Authorization`` to a proxy with credentials). It asks for
    no compression, so bodies arrive as the server sent them. It sends each request once and
    never follows a redirect; a failure reports exactly whether a byte of the request was
    written, whether the connection was a reused one, and whether the answer had begun.
    Connections are kept alive in a pool bound to the trio run or asyncio loop of the first
    ``send`` (see ``is_usable``). With a ``timeout``, one task in that run (a trio system task,
    or an asyncio task) ends the exchanges whose wait outlived it; ``aclose`` ends that task.

    Args:
        timeout: seconds allowed for the answer to start and between reads (and between writes
            of the request); None waits forever.
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
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
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
            Proxy.from_url(proxy)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context_for(verify)
        self._proxies = ProxyResolver(proxy, trust_env)
        self._max_response_bytes = max_response_bytes
        self._per_host = max_connections_per_host
        self._pool: Optional[Pool] = None
        self._routes: dict[tuple[Origin, Optional[str]], Route] = {}
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
            return current_run("TrioTransport")[1] is self._pool.run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            return False

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` once and read the whole response.

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
        """Send ``request`` once and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does. A connection
        whose body was not read to its end (a failure, a cancellation) is closed, never pooled.

        Raises:
            ValueError, RuntimeError: as ``send``.
            Exception: whatever ``sink`` or ``head`` raised.
        """
        with streaming(sink, head) as target:
            outcome: Outcome = target.checked(await self._send(request, target))
            return outcome

    async def aclose(self) -> None:
        """Close the idle connections and end the watchdog; connections in use close when their
        exchange ends.

        Awaited from another run or loop than the pool's, it only drops the connections.
        """
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        connections = pool.drain()
        try:
            same_run = current_run("TrioTransport")[1] is pool.run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):
            same_run = False
        if same_run:
            # Shielded: a transport closed as its run ends (where every await is cancelled)
            # still closes each connection and leaves no task behind.
            with anyio.CancelScope(shield=True):
                for connection in connections:
                    await anyio.aclose_forcefully(connection.stream)
                if pool.watchdog is not None:
                    await pool.watchdog.stop()

    async def __aenter__(self) -> TrioTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _send(self, request: Request, target: Optional[StreamTarget]) -> Outcome:
        origin, parts = check_request(request)
        pool = self._pool_for_current_run()
        route = self._route_to(origin)
        if isinstance(route, TransportFailure):
            return route
        slot = pool.slot(route.key)
        try:
            # A free slot is taken without a trip through the scheduler (what anyio >= 4.5 calls
            # fast_acquire; the I/O that follows checks for cancellation).
            slot.acquire_nowait()
        except anyio.WouldBlock:
            full = True
        else:
            full = False
        if full:  # a full route waits, without the exception held alive while it does
            await slot.acquire()
        try:
            connection = await pool.take(route.key)
            if connection is None:
                opened = await self._connect(route)
                if isinstance(opened, TransportFailure):
                    return opened
                connection = opened
            return await self._exchange(pool, route, connection, request, parts, target)
        finally:
            slot.release()

    def _pool_for_current_run(self) -> Pool:
        if self._closed:
            raise RuntimeError("TrioTransport is closed")
        library, run = current_run("TrioTransport")
        if self._pool is None:
            self._pool = Pool(run, library, self._per_host, self._timeout)
        elif self._pool.run is not run:
            raise RuntimeError(
                "TrioTransport was first used in another trio run or asyncio loop; use one transport per run"
            )
        return self._pool

    def _route_to(self, origin: Origin) -> Union[Route, TransportFailure]:
        proxy_url = self._proxies.proxy_for(origin)
        route = self._routes.get((origin, proxy_url))
        if route is None:
            try:
                proxy = Proxy.from_url(proxy_url) if proxy_url is not None else None
            except ValueError:
                return TransportFailure(
                    kind=FailureKind.CONNECT, detail="the proxy from the environment is not an http:// URL"
                )
            if len(self._routes) >= _ROUTES_KEPT:
                self._routes.clear()
            route = self._routes[(origin, proxy_url)] = Route.to(origin, proxy)
        return route

    async def _connect(self, route: Route) -> Union[Connection, TransportFailure]:
        """Open a connection for ``route`` (TCP, proxy tunnel, TLS) within ``connect_timeout``."""
        stage, phase = Stage.CONNECT, "connecting"
        stream: Optional[anyio.abc.ByteStream] = None
        connected = False
        progress = Progress(reused_connection=False)
        try:
            with anyio.fail_after(self._connect_timeout):
                via = route.proxy or route.origin
                stream = await anyio.connect_tcp(via.host, via.port)
                if route.origin.scheme == "https":
                    if route.proxy is not None:
                        phase = "opening the proxy tunnel"
                        await open_tunnel(stream, route)
                    stage, phase = Stage.TLS, "in the TLS handshake"
                    stream = await TLSStream.wrap(
                        stream,
                        hostname=route.origin.host,
                        ssl_context=self._ssl_context,
                        standard_compatible=False,
                    )
            connected = True
            return Connection(stream)
        except TunnelRefused as exc:
            return failure_for(exc, Stage.CONNECT, progress, detail=str(exc))
        except TimeoutError as exc:
            detail = f"timed out after {self._connect_timeout:g}s {phase}"
            return failure_for(exc, Stage.CONNECT, progress, detail=detail)
        except NETWORK_ERRORS as exc:
            return failure_for(exc, stage, progress)
        finally:
            if stream is not None and not connected:
                await anyio.aclose_forcefully(stream)

    async def _exchange(
        self,
        pool: Pool,
        route: Route,
        connection: Connection,
        request: Request,
        parts: SplitResult,
        target: Optional[StreamTarget],
    ) -> Outcome:
        """One request/response on ``connection``; pools it afterwards only if it ended clean.

        Raises:
            Exception: the ``StreamedBody`` source's own exception, or the stream target's.
        """
        source = BodySource.of(request.body)
        progress = Progress(reused_connection=connection.reused)
        reader = AnswerReader(target, self._max_response_bytes, progress)
        heads = pool.sent_heads(route.key)
        exchange = Exchange(
            connection, route, heads, pool.watchdog, pool.clock, self._timeout, reader, progress
        )
        keep = False
        try:
            outcome = await exchange.run(request, parts, source)
            keep = (
                isinstance(outcome, Response)
                and connection.finished_cleanly
                and not exchange.expired
                and not self._closed
            )
            return outcome
        finally:
            if source is not None:
                source.close()
            if keep:
                pool.put(route.key, connection)
            else:
                await anyio.aclose_forcefully(connection.stream)
