"""The asyncio transport, over an ``aiohttp.ClientSession``."""

from __future__ import annotations

import asyncio
import math
import ssl
import time
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Optional, Union

import aiohttp

from higgsfield_proto import Headers, Outcome, Request, Response

from ._base import HeadCallback, Sink
from ._bodies import AnswerReader, AsyncChunks, BodySource, StreamTarget, streaming
from ._checks import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    READ_CHUNK,
    STREAM_CHUNK,
    Verify,
    check_options,
    check_request,
    decode_headers,
    ssl_context_for,
    without_framing,
)
from ._failures import Progress, Stage, failure_for
from ._proxies import ProxyResolver
from ._watchdog import Watchdog

__all__ = ["AiohttpTransport"]

_SslArg = Union[ssl.SSLContext, bool]
_NO_AUTO_HEADERS = ("Content-Type",)
"""Headers aiohttp must not add on its own."""
WATCHDOG_NAME = "aiohttp transport watchdog"


class _Wait:
    """One exchange of the transport's own session, as its watchdog sees it (see ``_watchdog``).

    The deadline is set once the connection is there (connecting has its own limit), then before
    each chunk of a streamed request body is handed to aiohttp and before each read of the answer's
    body. The head of the answer is waited for within ``timeout`` of the request's last byte.
    ``expire`` fails the wait as aiohttp's own read timer does: the connection's protocol, or the
    body being read, gets a ``SocketTimeoutError``, and the connection is not reused.
    """

    __slots__ = ("_body", "_clock", "_protocol", "_timeout", "deadline")

    def __init__(self, clock: Callable[[], float], timeout: float) -> None:
        self.deadline = math.inf
        self._clock = clock
        self._timeout = timeout
        self._protocol: Optional[aiohttp.client_proto.ResponseHandler] = None
        self._body: Optional[aiohttp.StreamReader] = None

    def arm(self) -> None:
        """Before a wait: allow it ``timeout`` seconds from now."""
        self.deadline = self._clock() + self._timeout

    def connected(self, protocol: aiohttp.client_proto.ResponseHandler) -> None:
        """The connection is open (or was taken from the pool): the request goes out now."""
        self._protocol = protocol
        self.deadline = self._clock() + self._timeout

    def reading(self, body: aiohttp.StreamReader) -> None:
        """The head has arrived; what is left to wait for is the body."""
        self._body = body

    async def expire(self) -> None:
        """Fail the wait with aiohttp's own read-timeout error."""
        failure = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
        if self._body is not None:
            self._body.set_exception(failure)
        elif self._protocol is not None:
            self._protocol.set_exception(failure)


_WAIT: ContextVar[Optional[_Wait]] = ContextVar("higgsfield_aiohttp_wait", default=None)
"""The watched exchange of the send in progress, for ``_WatchedRequest`` to find."""


class _WatchedRequest(aiohttp.ClientRequest):
    """The request class of the transport's own session: tells the exchange's ``_Wait`` when the
    connection is there, so that the time spent connecting is not counted as a wait."""

    async def send(self, conn: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        wait = _WAIT.get()
        if wait is not None and conn.protocol is not None:
            wait.connected(conn.protocol)
        return await super().send(conn)


def _release_quietly(session: aiohttp.ClientSession) -> None:
    """Close a session the transport made and nobody closed, without I/O and without aiohttp's
    "Unclosed client session" / "Unclosed connector" reports.

    Run when the transport is dropped or at interpreter exit (a script that ran its loop with
    ``run_until_complete`` and never closed its client): the loop may be idle or closed by then,
    so nothing can be awaited. The connector's synchronous part of ``close()`` closes the pooled
    connections (nothing when the loop is closed) and marks the connector closed.
    """
    connector = session.connector
    session.detach()  # the session counts as closed from here
    close_now = getattr(connector, "_close", None)
    if callable(close_now):
        close_now()


class _NotResent(aiohttp.ClientError):
    """Carries a failure past aiohttp's own resend of idempotent requests (see ``_send_once``)."""

    def __init__(self, failure: BaseException) -> None:
        super().__init__(failure)
        self.failure = failure


async def _send_once(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    # aiohttp sends an idempotent request once more when a kept-alive connection breaks: the
    # transport decides nothing, so that failure leaves wrapped in an exception aiohttp does not
    # resend on, and is unwrapped in _translate.
    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:
        raise
    except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
        raise _NotResent(exc) from exc


def _authorization_middleware(value: Optional[str]) -> aiohttp.ClientMiddlewareType:
    # Runs after aiohttp has applied session default headers, session ``auth``, credentials in
    # the URL and ~/.netrc: whatever they put in Authorization is replaced by the request's own
    # value, or removed. Passing it per request also replaces any session middlewares.
    async def middleware(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        request.headers.popall("Authorization", None)
        if value is not None:
            request.headers["Authorization"] = value
        return await handler(request)

    return middleware


class AiohttpTransport:
    """Sends requests with ``aiohttp`` on one asyncio event loop.

    The transport's own ``ClientSession`` is created lazily by the first ``send``, on the
    running loop, and the transport stays bound to that loop (see ``loop`` and ``is_usable``):
    keep one transport per event loop. It sends each request once: aiohttp's own resend of
    idempotent requests on a broken keep-alive connection is turned off, and redirects are never
    followed. Only ``request.headers`` decides ``Authorization``: session default headers,
    session ``auth``, credentials in the URL and ~/.netrc are overridden or removed on every
    request. aiohttp adds its ``Host``, ``User-Agent``, ``Accept`` and ``Accept-Encoding``
    headers unless ``request.headers`` sets them, and returns compressed responses decoded. A
    failure reports ``request_written=True`` once the connection was open (aiohttp cannot tell
    how far the request got) and ``reused_connection=None``. At most as many sends are in
    progress at once as the session's connector has connections (its ``limit``); the others wait
    their turn in the transport.

    Args:
        session: a session to send with; it stays the caller's (``aclose`` leaves it open) and
            keeps its own proxy-from-environment (``trust_env``), cookies and connector.
            Without one the transport makes its own, which ignores cookies.
        timeout: seconds allowed for the answer to start and between reads; None waits forever.
        connect_timeout: seconds allowed to open the TCP connection (and TLS handshake).
        verify: True (the system CA store; a session passed in keeps its connector's setting),
            a CA bundle path, an ``ssl.SSLContext``, or False (warns: no verification).
        proxy: a proxy URL for every request.
        trust_env: for the transport's own session, honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY
            (never ~/.netrc); the environment is read once, when the transport is created.
        max_response_bytes: a longer (decoded) response body is a ``TOO_LARGE`` failure.
    """

    def __init__(
        self,
        session: Optional[aiohttp.ClientSession] = None,
        *,
        timeout: Optional[float] = DEFAULT_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        verify: Verify = True,
        proxy: Optional[str] = None,
        trust_env: bool = True,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_options(
            timeout=timeout,
            connect_timeout=connect_timeout,
            verify=verify,
            max_response_bytes=max_response_bytes,
            transport="AiohttpTransport",
        )
        self._session = session
        self._owns_session = session is None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._ssl: _SslArg = True if verify is True else ssl_context_for(verify)
        # The own session's waits are timed by a watchdog task (see _Wait), a caller's session's
        # by aiohttp's own per-read timer, which it re-arms on every read (a timer per read costs
        # a status check more than the watchdog's clock readings).
        watched = self._owns_session and timeout is not None
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout, sock_read=None if watched else timeout
        )
        self._timeout_seconds = timeout
        self._watchdog: Optional[Watchdog] = None
        self._loop_time: Callable[[], float] = time.monotonic  # the loop's clock, once bound
        self._proxies = ProxyResolver(proxy, trust_env and self._owns_session)
        self._max_response_bytes = max_response_bytes
        # Per-request middlewares (they replace a session's own): _send_once keeps aiohttp from
        # resending a request by itself, unless the session's own switch is off already.
        self._middlewares: Optional[tuple[aiohttp.ClientMiddlewareType, ...]] = (_send_once,)
        # Sends in progress at once, up to the connector's limit of connections (see _send).
        self._slots: Optional[asyncio.Semaphore] = None
        self._closed = False
        self._release: Optional[weakref.finalize[[aiohttp.ClientSession], AiohttpTransport]] = None

    def __repr__(self) -> str:
        # Never the session, its headers or the proxy URL (which may hold a password).
        owner = "own session" if self._owns_session else "caller's session"
        return f"<AiohttpTransport {owner}, timeout={self._timeout_seconds!r}>"

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """The event loop the transport is bound to, or None before its first ``send``."""
        return self._loop

    def is_usable(self) -> bool:
        """Tell whether ``send`` may be called from the code now running.

        True when the transport is open and either not yet bound to a loop or bound to the
        running one (which, running, is not closed). False otherwise, including when called
        outside a running loop after the first ``send``.
        """
        if self._closed:
            return False
        if self._loop is None:
            return True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return False
        return running is self._loop

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` once and read the whole response.

        Returns:
            The ``Response`` (3xx included: redirects are not followed), or a
            ``TransportFailure`` for a network fault.

        Raises:
            ValueError: the request cannot be put on the wire (bad URL or header).
            RuntimeError: the transport is closed, or bound to another event loop.
            Exception: whatever a ``StreamedBody`` source raised while being read.
        """
        return await self._send(request, None)

    async def stream(self, request: Request, sink: Sink, *, head: Optional[HeadCallback] = None) -> Outcome:
        """Send ``request`` once and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does.

        Raises:
            ValueError, RuntimeError: as ``send``.
            Exception: whatever ``sink`` or ``head`` raised.
        """
        with streaming(sink, head) as target:
            outcome: Outcome = target.checked(await self._send(request, target))
            return outcome

    async def _send(self, request: Request, target: Optional[StreamTarget]) -> Outcome:
        origin, parts = check_request(request)
        session = self._session_for_running_loop()
        source = BodySource.of(request.body)
        headers: Headers = without_framing(request.headers)
        middlewares = self._middlewares
        if not self._owns_session or "@" in parts.netloc:
            # A caller's session may add Authorization (default headers, auth, ~/.netrc), and so
            # may credentials in the URL: a middleware puts the request's own value back. The
            # transport's own session adds none, so there the header goes out as it is.
            headers = tuple(pair for pair in headers if pair[0].lower() != "authorization")
            middlewares = (_send_once, _authorization_middleware(request.header("Authorization")))
        watchdog = self._watchdog
        wait = None if watchdog is None else _Wait(self._loop_time, self._timeout_seconds or 0.0)
        data: Any = request.body
        if source is not None:
            data = AsyncChunks(source.chunks(), before_each=None if wait is None else wait.arm)
            if source.length is not None:
                headers = (*headers, ("Content-Length", str(source.length)))
        progress = Progress()
        slots = self._slots
        if slots is not None:
            # A send the connector has no connection for yet waits here, not inside aiohttp:
            # the same wait, without the request state aiohttp builds first (a few KiB per
            # waiting send, with thousands of jobs in flight).
            await slots.acquire()
        token = None
        try:
            if watchdog is not None and wait is not None:
                token = _WAIT.set(wait)
                watchdog.watch(wait)
            response = await session.request(
                request.method,
                request.url,
                headers=headers,
                data=data,
                allow_redirects=False,
                raise_for_status=False,
                timeout=self._timeout,
                ssl=self._ssl,
                proxy=self._proxies.proxy_for(origin),
                # aiohttp would label every body application/octet-stream (the transport's own
                # session is told so once, at its creation).
                skip_auto_headers=None if self._owns_session else _NO_AUTO_HEADERS,
                middlewares=middlewares,
            )
            progress.request_written = progress.response_started = True
            return await self._read(response, target, progress, wait)
        except Exception as exc:
            return _translate(exc, source, progress)
        finally:
            if token is not None:
                _WAIT.reset(token)
            if watchdog is not None and wait is not None:
                watchdog.release(wait)
            if slots is not None:
                slots.release()
            if source is not None:
                source.close()

    async def aclose(self) -> None:
        """Close the transport; closes the session only if the transport created it.

        Safe to await from another loop once the bound loop has closed.
        """
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            if self._release is not None:
                self._release.detach()
            await session.close()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and self._loop is _running_loop():
            await watchdog.stop()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _session_for_running_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AiohttpTransport is closed")
        loop = asyncio.get_running_loop()
        first = self._loop is None
        if first:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("AiohttpTransport is bound to another event loop; use one transport per loop")
        if self._session is None:
            # trust_env stays off: proxies from the environment were read at construction by
            # ProxyResolver, and aiohttp's trust_env would also read credentials from ~/.netrc.
            session = aiohttp.ClientSession(
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=_NO_AUTO_HEADERS,
                request_class=_WatchedRequest,
            )
            if self._timeout_seconds is not None:
                self._loop_time = loop.time
                self._watchdog = Watchdog("asyncio", loop.time, self._timeout_seconds, WATCHDOG_NAME)
            if hasattr(session, "_retry_connection"):
                # The switch aiohttp's own test client turns its resend off with: it saves the
                # _send_once middleware on every request of the transport's own session (the
                # resend tests fail if a later aiohttp renames it; the middleware then stays).
                session._retry_connection = False
                self._middlewares = None
            self._session = session
            # A transport dropped, or alive at interpreter exit, with its session open (its loop
            # never closed it) releases the session quietly.
            self._release = weakref.finalize(self, _release_quietly, session)
        if first:
            limit = self._session.connector.limit if self._session.connector is not None else 0
            self._slots = asyncio.Semaphore(limit) if limit else None
        return self._session

    async def _read(
        self,
        response: aiohttp.ClientResponse,
        target: Optional[StreamTarget],
        progress: Progress,
        wait: Optional[_Wait],
    ) -> Outcome:
        complete = False
        try:
            reader = AnswerReader(target, self._max_response_bytes, progress)
            raw_headers = response.raw_headers
            # A test tool's stand-in response (vcrpy before 9) has parsed headers only.
            headers = (
                decode_headers(raw_headers) if raw_headers is not None else tuple(response.headers.items())
            )
            length = response.content_length
            failure = reader.begin(response.status, headers, length)
            if failure is not None:
                return failure
            body = response.content
            if wait is not None:
                wait.reading(body)
            if (
                length is not None
                and not reader.streaming
                and _identity(response)
                and (wait is None or body.is_eof())
            ):
                # Within the limit, and its decoded length is the declared one: one read (for a
                # watched exchange, only of a body that has arrived: every wait is armed).
                outcome = reader.whole(await response.read())
                complete = isinstance(outcome, Response)
                return outcome
            size = STREAM_CHUNK if reader.streaming else READ_CHUNK
            while True:
                if wait is not None:
                    wait.arm()
                chunk = await body.read(size)
                if not chunk:
                    break
                failure = reader.add(chunk)
                if failure is not None:
                    return failure
            complete = True
            return reader.finish()
        finally:
            if complete:
                response.release()
            else:
                # A connection with unread response bytes must never go back to the pool.
                response.close()


def _running_loop() -> Optional[asyncio.AbstractEventLoop]:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _identity(response: aiohttp.ClientResponse) -> bool:
    """True when the body arrives as sent: no Content-Encoding (or only ``identity``)."""
    encoding = response.headers.get(aiohttp.hdrs.CONTENT_ENCODING, "")
    return not encoding or encoding.strip().lower() == "identity"


def _translate(exc: Exception, source: Optional[BodySource], progress: Progress) -> Outcome:
    """Map an exception from aiohttp to a ``TransportFailure``.

    Raises:
        Exception: the ``StreamedBody`` source's own exception, when that is what failed, or an
            exception that is no network fault.
    """
    if source is not None:
        source.raise_if_failed()
    if isinstance(exc, _NotResent):
        exc = exc.failure  # type: ignore[assignment]
    stage = _stage(exc)
    if stage is None:
        raise exc
    if stage is Stage.EXCHANGE or stage is Stage.TIMEOUT:
        # aiohttp cannot tell how far the request got once the connection was open.
        progress.request_written = True
    detail = None
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        detail = f"proxy answered {exc.status} to CONNECT"
    unfinished = source is not None and not source.finished
    return failure_for(exc, stage, progress, body_unfinished=unfinished, detail=detail)


def _stage(exc: BaseException) -> Optional[Stage]:
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return Stage.TLS
    if isinstance(
        exc,
        (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError),
    ):
        return Stage.CONNECT
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Stage.TIMEOUT
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        return Stage.EXCHANGE
    return None
