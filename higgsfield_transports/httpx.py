"""The httpx transports: ``HttpxTransport`` over an ``httpx.Client``, ``AsyncHttpxTransport`` over an
``httpx.AsyncClient`` (under asyncio or trio).

For users whose HTTP stack is httpx: pass your own client and its proxies, mounts, TLS settings,
HTTP/2 and event hooks apply; or let the transport make its own clients. Either way each request
is sent once, redirects are never followed, and httpx's own transport makes no retries (the
transport's own clients keep httpx's default of none; a caller's mounted transport keeps its own
``retries=``, which httpcore uses only to open a connection again, before any byte of a request
went out).

How the facts of a failure are known. httpcore, the HTTP layer under httpx's own transports,
reports each step of an exchange to a ``trace`` callback that the transport attaches to every
request, and the facts follow from those steps:

- ``request_written`` is True from the moment httpcore starts writing the request's head
  (``http11.send_request_headers`` or ``http2.send_request_headers`` started; a head may go out
  in part). Before that step nothing of the request can have left: a failure then happened while
  waiting for a connection from the pool, connecting, in a proxy tunnel (whose ``CONNECT`` is
  not the request) or in the TLS handshake, and it is reported as a ``CONNECT`` or ``TLS``
  failure, or a ``TIMEOUT`` for the pool.
- ``reused_connection`` is False when the exchange opened its connection itself
  (``connection.connect_tcp`` started), True when its head went out on a connection that was
  already open: kept alive from an earlier exchange, or an HTTP/2 connection shared with other
  requests.
- ``response_started`` is True once the answer's head arrived in full (httpx returned the
  response). A head that breaks off or cannot be parsed counts as not started: httpcore does not
  say whether some of its bytes had arrived.

A caller's client may send a request through a transport that is not httpcore's (a mount of its
own, ``httpx.MockTransport``, respx, an ASGI or WSGI app): no step is traced then, and the facts
are what the requests and aiohttp adapters report: ``ConnectError``, ``ConnectTimeout`` and
``ProxyError`` left nothing written, any other failure may have written the request
(``request_written=True``), and ``reused_connection`` is None.

Credentials: only ``request.headers`` decide ``Authorization``. A caller's client's ``auth=``,
its default ``Authorization`` header and credentials in a URL never reach a request, to the API
host or any other (the presigned upload host, a download's CDN). Its other default headers,
cookies and query parameters apply as httpx applies them, and its event hooks run (what a hook
adds to a request is the hook's doing). httpx logs each request at INFO with its URL, and
httpcore and hpack log answer heads and HTTP/2 header blocks at DEBUG: importing this module adds
filters to those loggers that cut query strings (a presigned URL's signature) and hide header
blocks.
"""

from __future__ import annotations

import contextlib
import enum
import ssl
import threading
from collections.abc import Callable, Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Generic, NamedTuple, Optional, TypeVar, Union

import anyio
import httpx
import sniffio

from higgsfield_proto import FailureKind, Outcome, Request, TransportFailure

from ._base import HeadCallback, Sink
from ._bodies import AnswerReader, AsyncChunks, BodySource, StreamTarget, streaming
from ._checks import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    Origin,
    Verify,
    check_options,
    check_request,
    decode_headers,
    ssl_context_for,
    without_framing,
)
from ._failures import Progress, Stage, failure_for, root_cause
from ._logs import HEADER_BLOCKS, QUERIES, install
from ._proxies import ProxyResolver
from ._runs import current_run

__all__ = ["AsyncHttpxTransport", "HttpxTransport"]

install(QUERIES, ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy"))
install(HEADER_BLOCKS, ("hpack.hpack", "hpack.table"))


class Default(enum.Enum):
    """An option left at its default, told apart from one given (refused with a caller's client)."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = Default.DEFAULT

_NO_AUTH = httpx.Auth()
"""An auth that adds nothing: it outranks the client's ``auth=`` and credentials in the URL."""
_NETWORK_ERRORS = (httpx.TransportError, httpx.DecodingError, OSError)
"""What a network fault raises through httpx (a decoding error is a broken body)."""
_OPENING_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.ProxyError, httpx.UnsupportedProtocol)
"""What httpx raises while opening a connection, before any byte of a request left."""

C = TypeVar("C", httpx.Client, httpx.AsyncClient)


class _Phase(enum.Enum):
    """How far an exchange got, as httpcore's trace tells it."""

    WAITING = "waiting for a connection"
    CONNECTING = "connecting"
    TUNNEL = "opening the proxy tunnel"
    TLS = "in the TLS handshake"
    EXCHANGE = "exchanging"


class _Trace:
    """The facts of one exchange, from the steps httpcore reports to the ``trace`` extension.

    Attributes:
        progress: the facts so far.
        phase: the step the exchange is in.
        traced: httpcore reported at least one step (False for a transport that is not httpcore's).
    """

    __slots__ = ("_connect_is_ours", "phase", "progress", "traced")

    def __init__(self, method: str) -> None:
        self.progress = Progress()
        self.phase = _Phase.WAITING
        self.traced = False
        # A CONNECT while connecting is a proxy tunnel's, unless the request is a CONNECT itself.
        self._connect_is_ours = method == "CONNECT"

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        """Take one step (``<layer>.<step>.<started|complete|failed>``) of the exchange."""
        self.traced = True
        step, _, state = event.rpartition(".")
        if state != "started":
            return
        if step in ("connection.connect_tcp", "connection.connect_unix_socket"):
            self.phase = _Phase.CONNECTING
            self.progress.reused_connection = False
        elif step.endswith(".start_tls"):
            self.phase = _Phase.TLS
        elif step.endswith(".send_request_headers"):
            method = getattr(info.get("request"), "method", None)
            if method == b"CONNECT" and self.phase is _Phase.CONNECTING and not self._connect_is_ours:
                self.phase = _Phase.TUNNEL
                return
            self.phase = _Phase.EXCHANGE
            self.progress.request_written = True
            if self.progress.reused_connection is None:
                self.progress.reused_connection = True

    def answered(self) -> None:
        """The answer's head arrived: the request went out (whether or not a step was traced)."""
        self.progress.request_written = self.progress.response_started = True

    async def note(self, event: str, info: dict[str, Any]) -> None:
        """``__call__`` for an ``httpx.AsyncClient``, which awaits its trace callback."""
        self(event, info)

    def opening_stage(self, exc: Exception) -> Optional[Stage]:
        """The stage of a failure before any byte of the request left, or None after."""
        if self.traced:
            if self.progress.request_written:
                return None
            timed_out = isinstance(exc, httpx.TimeoutException)
            return Stage.TLS if self.phase is _Phase.TLS and not timed_out else Stage.CONNECT
        if isinstance(exc, _OPENING_ERRORS):
            return Stage.TLS if isinstance(root_cause(exc), ssl.SSLError) else Stage.CONNECT
        return None


def _translate(
    exc: Exception, source: Optional[BodySource], trace: _Trace, connect: Optional[float]
) -> Outcome:
    """Map an exception from httpx to a ``TransportFailure``.

    Args:
        connect: the connect timeout the request had, for the detail of a connect timeout.

    Raises:
        Exception: the ``StreamedBody`` source's own exception, when that is what failed, or an
            exception that is no network fault (one of the client's event hooks' own, say).
    """
    if source is not None:
        source.raise_if_failed()
    if not isinstance(exc, _NETWORK_ERRORS):
        raise exc
    progress = trace.progress
    if isinstance(exc, httpx.PoolTimeout):
        return progress.failure(FailureKind.TIMEOUT, "timed out waiting for a free connection")
    stage = trace.opening_stage(exc)
    if stage is not None:
        return failure_for(exc, stage, progress, detail=_opening_detail(exc, trace, connect))
    # Without a trace, the request may have been written once the connection was open.
    progress.request_written = True
    stage = Stage.TIMEOUT if isinstance(exc, httpx.TimeoutException) else Stage.EXCHANGE
    unfinished = source is not None and not source.finished
    return failure_for(exc, stage, progress, body_unfinished=unfinished)


def _opening_detail(exc: Exception, trace: _Trace, connect: Optional[float]) -> Optional[str]:
    if isinstance(exc, httpx.ProxyError):
        # httpcore's message is the proxy's status line ("407 Proxy Authentication Required").
        status = str(exc).split(" ", 1)[0]
        return f"proxy answered {status} to CONNECT" if status.isdigit() else "the proxy refused the tunnel"
    if isinstance(exc, httpx.TimeoutException):
        phase = trace.phase if trace.phase is not _Phase.WAITING else _Phase.CONNECTING
        after = f" after {connect:g}s" if connect is not None else ""
        return f"timed out{after} {phase.value}"
    return None  # described from the exception


def _close_quietly(response: httpx.Response) -> None:
    # Closing drops a connection whose answer was not read to its end; a socket that fails to
    # close has nothing left to report.
    with contextlib.suppress(*_NETWORK_ERRORS):
        response.close()


def _begin(reader: AnswerReader, response: httpx.Response) -> Optional[TransportFailure]:
    """Hand the answer's head to ``reader``."""
    declared = response.headers.get("Content-Length", "")
    headers = decode_headers(response.headers.raw)
    return reader.begin(response.status_code, headers, int(declared) if declared.isdigit() else None)


def _within(timeout: httpx.Timeout, seconds: float) -> httpx.Timeout:
    """``timeout`` with every limit shortened to ``seconds`` (the time left before a deadline)."""
    seconds = max(seconds, 0.001)
    limits = timeout.as_dict()
    return httpx.Timeout(
        **{name: seconds if value is None else min(value, seconds) for name, value in limits.items()}
    )


class _HttpxTransport(Generic[C]):
    """What the sync and the async transport share: options, clients, requests, failures."""

    _name = "HttpxTransport"

    def __init__(
        self,
        client: Optional[C] = None,
        *,
        timeout: Union[float, Default, None] = DEFAULT,
        connect_timeout: Union[float, Default] = DEFAULT,
        verify: Union[Verify, Default] = DEFAULT,
        proxy: Union[str, Default, None] = DEFAULT,
        trust_env: Union[bool, Default] = DEFAULT,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        given = {
            "timeout": timeout,
            "connect_timeout": connect_timeout,
            "verify": verify,
            "proxy": proxy,
            "trust_env": trust_env,
        }
        if client is not None:
            names = [f"{name}=" for name, value in given.items() if value is not DEFAULT]
            if names:
                raise ValueError(
                    f"{', '.join(names)} cannot apply to an httpx client you pass: the transport sends "
                    "with it as you built it. Set them on the client instead"
                )
        read = DEFAULT_TIMEOUT if timeout is DEFAULT else timeout
        connect = DEFAULT_CONNECT_TIMEOUT if connect_timeout is DEFAULT else connect_timeout
        checked: Verify = True if verify is DEFAULT else verify
        check_options(
            timeout=read,
            connect_timeout=connect,
            verify=checked,
            max_response_bytes=max_response_bytes,
            transport=self._name,
        )
        self._client: Optional[C] = client
        self._timeout_seconds = read
        self._max_response_bytes = max_response_bytes
        self._closed = False
        self._clients: dict[Optional[str], C] = {}
        self._making = threading.Lock()
        self._proxies: Optional[ProxyResolver] = None
        self._options: dict[str, Any] = {}
        if client is None:
            explicit = None if proxy is DEFAULT else proxy
            self._proxies = ProxyResolver(explicit, trust_env is DEFAULT or bool(trust_env))
            self._options = {
                "verify": ssl_context_for(checked),
                "timeout": httpx.Timeout(connect=connect, read=read, write=read, pool=None),
                # The transport resolves proxies itself (ProxyResolver) and never reads ~/.netrc.
                "trust_env": False,
                # Refuses every cookie: the transport sends exactly what each request carries.
                "cookies": CookieJar(DefaultCookiePolicy(allowed_domains=[])),
                "follow_redirects": False,
            }
            if explicit is not None:
                self._client_through(explicit)  # an invalid proxy URL is refused here

    def __repr__(self) -> str:
        # Never the client, its headers or the proxy URL (which may hold a password).
        if self._client is not None:
            return f"<{self._name} caller's client>"
        return f"<{self._name} own client, timeout={self._timeout_seconds!r}>"

    def _make_client(self, proxy: Optional[str]) -> C:
        raise NotImplementedError

    def _client_through(self, proxy: Optional[str]) -> C:
        client = self._clients.get(proxy)
        if client is None:
            with self._making:  # threads sharing a sync transport make one client per proxy
                client = self._clients.get(proxy)
                if client is None:
                    client = self._clients[proxy] = self._make_client(proxy)
        return client

    def _client_for(self, origin: Origin) -> Union[C, TransportFailure]:
        """The client to send a request to ``origin`` with: the caller's, or the transport's own
        for the request's proxy (one client per proxy, each with its pool)."""
        if self._client is not None:
            return self._client
        assert self._proxies is not None
        proxy = self._proxies.proxy_for(origin)
        try:
            return self._client_through(proxy)
        except (ValueError, ImportError):
            return TransportFailure(
                kind=FailureKind.CONNECT, detail="httpx cannot use the proxy from the environment"
            )

    def _prepare(
        self, request: Request, client: C, chunks: Callable[[Iterator[bytes]], Any], deadline: Optional[float]
    ) -> _Attempt:
        """The httpx request for ``request``, built by ``client`` (its defaults merged in), with
        a trace of its own; a streamed body is handed to httpx through ``chunks``.

        Raises:
            ValueError: httpx refuses the URL.
        """
        source = BodySource.of(request.body)
        trace = _Trace(request.method)
        headers = list(without_framing(request.headers))
        content: Any = request.body
        if source is not None:
            content = b"" if source.length == 0 else chunks(source.chunks())
            if source.length:  # httpx frames an unknown length as chunked
                headers.append(("Content-Length", str(source.length)))
        options: dict[str, Any] = {}
        if deadline is not None:
            options["timeout"] = _within(client.timeout, deadline)
        callback = trace.note if isinstance(client, httpx.AsyncClient) else trace
        try:
            built = client.build_request(
                request.method,
                request.url,
                headers=headers,
                content=content,
                extensions={"trace": callback},
                **options,
            )
        except httpx.InvalidURL:
            raise ValueError("the request URL is not one httpx accepts") from None
        if self._client is not None and request.header("Authorization") is None:
            built.headers.pop("Authorization", None)  # a default header of the caller's client
        return _Attempt(built, source, trace)


class _Attempt(NamedTuple):
    """One request on its way: the httpx request, the pass over its body and its trace."""

    built: httpx.Request
    source: Optional[BodySource]
    trace: _Trace

    def failure(self, exc: Exception) -> Outcome:
        """The failure ``exc`` stands for (see ``_translate``)."""
        connect = self.built.extensions.get("timeout", {}).get("connect")
        return _translate(exc, self.source, self.trace, connect)

    def close(self) -> None:
        """End the pass over a streamed body, if httpx did not read it to its end."""
        if self.source is not None:
            self.source.close()


class HttpxTransport(_HttpxTransport[httpx.Client]):
    """Sends requests with an ``httpx.Client``; blocking.

    It sends each request once and never follows a redirect; a failure reports whether a byte of
    the request was written, whether the connection was a reused one and whether the answer had
    begun (see the module's notes for how, and for a client whose transport is not httpcore's).
    httpx adds its default ``Host``, ``Accept``, ``Accept-Encoding``, ``Connection`` and
    ``User-Agent`` headers unless ``request.headers`` sets them, and compressed answers come back
    decoded. Only ``request.headers`` decide ``Authorization``.

    Args:
        client: an ``httpx.Client`` to send with; it stays the caller's (``close`` leaves it
            open) and keeps its proxies, mounts, ``verify``, HTTP/2, timeouts, default headers,
            cookies and event hooks. ``timeout``, ``connect_timeout``, ``verify``, ``proxy`` and
            ``trust_env`` are then refused: set them on the client. Without one the transport
            makes its own (one per proxy), which refuses cookies and speaks HTTP/1.1.
        timeout: seconds allowed for the answer to start and between reads (and between writes
            of the request); None waits forever. Default 90.
        connect_timeout: seconds allowed to open the connection: TCP and TLS handshake.
            Default 10.
        verify: True (the system CA store), a CA bundle path, an ``ssl.SSLContext`` (used as
            is) or False (warns: no verification).
        proxy: a proxy URL for every request (``http://``, ``https://``, or ``socks5://`` with
            httpx's ``socks`` extra); HTTPS goes through a CONNECT tunnel.
        trust_env: honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY when ``proxy`` is not given
            (never ~/.netrc); the environment is read once, when the transport is created.
        max_response_bytes: a longer (decoded) response body is a ``TOO_LARGE`` failure.

    Raises:
        ValueError: an invalid option, or an option given together with a client.
    """

    def _make_client(self, proxy: Optional[str]) -> httpx.Client:
        return httpx.Client(proxy=proxy, **self._options)

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` once and read the whole response.

        Args:
            request: what to send.
            timeout: seconds left before the caller's deadline, if any: every limit (connect,
                read, write, waiting for a connection) is shortened to it.

        Returns:
            The ``Response`` (3xx included: redirects are not followed), or a
            ``TransportFailure`` for a network fault.

        Raises:
            ValueError: the request cannot be put on the wire (bad URL or header).
            RuntimeError: the transport (or the caller's client) is closed.
            Exception: whatever a ``StreamedBody`` source, or the client's event hooks, raised.
        """
        return self._send(request, timeout, None)

    def stream(
        self,
        request: Request,
        sink: Sink,
        *,
        timeout: Optional[float] = None,
        head: Optional[HeadCallback] = None,
    ) -> Outcome:
        """Send ``request`` once and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does.

        Raises:
            ValueError, RuntimeError: as ``send``.
            Exception: whatever ``sink`` or ``head`` raised.
        """
        with streaming(sink, head) as target:
            outcome: Outcome = target.checked(self._send(request, timeout, target))
            return outcome

    def close(self) -> None:
        """Close the transport; closes its own clients and their connections, never a caller's."""
        self._closed = True
        clients, self._clients = self._clients, {}
        for client in clients.values():
            client.close()

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, request: Request, deadline: Optional[float], target: Optional[StreamTarget]) -> Outcome:
        origin, _ = check_request(request)
        if self._closed:
            raise RuntimeError("HttpxTransport is closed")
        client = self._client_for(origin)
        if isinstance(client, TransportFailure):
            return client
        attempt = self._prepare(request, client, iter, deadline)
        try:
            try:
                response = client.send(attempt.built, stream=True, auth=_NO_AUTH, follow_redirects=False)
            except Exception as exc:
                return attempt.failure(exc)
            attempt.trace.answered()
            try:
                return self._read(response, target, attempt.trace.progress)
            except Exception as exc:
                return attempt.failure(exc)
            finally:
                _close_quietly(response)
        finally:
            attempt.close()

    def _read(self, response: httpx.Response, target: Optional[StreamTarget], progress: Progress) -> Outcome:
        reader = AnswerReader(target, self._max_response_bytes, progress)
        failure = _begin(reader, response)
        if failure is not None:
            return failure
        for chunk in response.iter_bytes():
            failure = reader.add(chunk)
            if failure is not None:
                return failure
        return reader.finish()


class AsyncHttpxTransport(_HttpxTransport[httpx.AsyncClient]):
    """Sends requests with an ``httpx.AsyncClient``, under asyncio or trio.

    As ``HttpxTransport``, asynchronously. The transport is bound to the trio run or asyncio loop
    of its first ``send`` (an httpx client's pooled connections belong to it): keep one
    transport per run (see ``is_usable``).

    Args:
        client: an ``httpx.AsyncClient`` to send with; it stays the caller's (``aclose`` leaves
            it open) and keeps its settings. ``timeout``, ``connect_timeout``, ``verify``,
            ``proxy`` and ``trust_env`` are then refused: set them on the client.
        timeout: as for ``HttpxTransport``.
        connect_timeout: as for ``HttpxTransport``.
        verify: as for ``HttpxTransport``.
        proxy: as for ``HttpxTransport``.
        trust_env: as for ``HttpxTransport``.
        max_response_bytes: as for ``HttpxTransport``.

    Raises:
        ValueError: an invalid option, or an option given together with a client.
    """

    _name = "AsyncHttpxTransport"
    _run: Optional[object] = None
    """The trio run or asyncio loop of the first send."""

    def _make_client(self, proxy: Optional[str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(proxy=proxy, **self._options)

    def is_usable(self) -> bool:
        """Tell whether ``send`` may be called from the code now running.

        True when the transport is open and either not yet used or used before in the running
        trio run / asyncio loop.
        """
        if self._closed:
            return False
        if self._run is None:
            return True
        try:
            return current_run(self._name)[1] is self._run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):  # outside async code, or another library
            return False

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` once and read the whole response.

        Returns:
            The ``Response`` (3xx included: redirects are not followed), or a
            ``TransportFailure`` for a network fault.

        Raises:
            ValueError: the request cannot be put on the wire (bad URL or header).
            RuntimeError: the transport is closed or was first used in another run or loop.
            Exception: whatever a ``StreamedBody`` source, or the client's event hooks, raised.
        """
        return await self._send(request, None)

    async def stream(self, request: Request, sink: Sink, *, head: Optional[HeadCallback] = None) -> Outcome:
        """Send ``request`` once and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does. A connection
        whose answer was not read to its end (a failure, a cancellation) is closed, never pooled.

        Raises:
            ValueError, RuntimeError: as ``send``.
            Exception: whatever ``sink`` or ``head`` raised.
        """
        with streaming(sink, head) as target:
            outcome: Outcome = target.checked(await self._send(request, target))
            return outcome

    async def aclose(self) -> None:
        """Close the transport; closes its own clients and their connections, never a caller's.

        Awaited from another run or loop than the one it was used in, it only drops its clients
        (their connections belong to that run).
        """
        self._closed = True
        clients, self._clients = self._clients, {}
        try:
            same_run = self._run is None or current_run(self._name)[1] is self._run
        except (sniffio.AsyncLibraryNotFoundError, RuntimeError):  # outside async code, or another library
            same_run = False
        if same_run:
            # Shielded: a transport closed as its run ends still closes each connection.
            with anyio.CancelScope(shield=True):
                for client in clients.values():
                    await client.aclose()

    async def __aenter__(self) -> AsyncHttpxTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _bind(self) -> None:
        if self._closed:
            raise RuntimeError("AsyncHttpxTransport is closed")
        run = current_run(self._name)[1]
        if self._run is None:
            self._run = run
        elif run is not self._run:
            raise RuntimeError(
                "AsyncHttpxTransport was first used in another trio run or asyncio loop; "
                "use one transport per run"
            )

    async def _send(self, request: Request, target: Optional[StreamTarget]) -> Outcome:
        origin, _ = check_request(request)
        self._bind()
        client = self._client_for(origin)
        if isinstance(client, TransportFailure):
            return client
        attempt = self._prepare(request, client, AsyncChunks, None)
        try:
            try:
                response = await client.send(
                    attempt.built, stream=True, auth=_NO_AUTH, follow_redirects=False
                )
            except Exception as exc:
                return attempt.failure(exc)
            attempt.trace.answered()
            try:
                return await self._read(response, target, attempt.trace.progress)
            except Exception as exc:
                return attempt.failure(exc)
            finally:
                # Shielded: a cancelled exchange still closes its connection (never pooled).
                with anyio.CancelScope(shield=True), contextlib.suppress(*_NETWORK_ERRORS):
                    await response.aclose()
        finally:
            attempt.close()

    async def _read(
        self, response: httpx.Response, target: Optional[StreamTarget], progress: Progress
    ) -> Outcome:
        reader = AnswerReader(target, self._max_response_bytes, progress)
        failure = _begin(reader, response)
        if failure is not None:
            return failure
        async for chunk in response.aiter_bytes():
            failure = reader.add(chunk)
            if failure is not None:
                return failure
        return reader.finish()
