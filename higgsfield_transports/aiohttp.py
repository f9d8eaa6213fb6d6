"""The asyncio transport, over an ``aiohttp.ClientSession``."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Iterator, Optional, Tuple, Union

import aiohttp

from higgsfield_proto._http import (
    FailureKind,
    Headers,
    Outcome,
    Request,
    Response,
    StreamedBody,
    TransportFailure,
)

from ._base import HeadCallback, Sink
from ._common import (
    DEFAULT_MAX_RESPONSE_BYTES,
    READ_CHUNK,
    BodySource,
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

__all__ = ["AiohttpTransport"]

_SslArg = Union[ssl.SSLContext, bool]
_QUICK_BODY = 2**20
_NO_AUTO_HEADERS = ("Content-Type",)
"""Headers aiohttp must not add on its own."""


class _AsyncChunks:
    """Feeds a streamed body to aiohttp one chunk at a time.

    A plain async iterator rather than an async generator: aiohttp may drop it mid-way, and an
    abandoned async generator would be finalised later, outside our control.
    """

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> _AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        # Reading the next chunk (a 64 KiB file read) inside the loop is accepted.
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None


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
    keep one transport per event loop. Redirects are never followed. Only ``request.headers``
    decides ``Authorization``: session default headers, session ``auth``, credentials in the URL
    and ~/.netrc are overridden or removed on every request. aiohttp adds its ``Host``,
    ``User-Agent``, ``Accept`` and ``Accept-Encoding`` headers unless ``request.headers`` sets
    them, and returns compressed responses decoded. On a reused keep-alive connection that the
    server had closed, aiohttp itself re-sends a GET/HEAD/PUT/DELETE/OPTIONS request once.

    Args:
        session: a session to send with; it stays the caller's (``aclose`` leaves it open) and
            keeps its own proxy-from-environment (``trust_env``), cookies and connector.
            Without one the transport makes its own, which ignores cookies.
        timeout: seconds allowed for the response to start and between reads; None waits forever.
            A quick exchange (``send`` of a request without a body or with a bytes body of at
            most 1 MiB) gets the whole ``timeout`` for the exchange instead, as one timer:
            aiohttp re-arms its per-read timer on every chunk received, which costs about a
            twentieth of a small API call.
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
        timeout: Optional[float] = 90.0,
        connect_timeout: float = 10.0,
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
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=connect_timeout, sock_read=timeout
        )
        self._quick_timeout = aiohttp.ClientTimeout(
            total=timeout, connect=None, sock_connect=connect_timeout, sock_read=None
        )
        self._timeout_seconds = timeout
        self._proxies = ProxyResolver(proxy, trust_env and self._owns_session)
        self._max_response_bytes = max_response_bytes
        self._closed = False

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
        """Send ``request`` and read the whole response.

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
        """Send ``request`` and hand a 2xx body to ``sink`` chunk by chunk.

        As ``send``, except that a 2xx answer's body goes to ``sink`` (after ``head`` got its
        status and headers) without a size limit, and the ``Response`` comes back with an empty
        body. Any other answer is read into the ``Response`` as ``send`` does.

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
        session = self._session_for_running_loop()
        source = BodySource(request.body) if isinstance(request.body, StreamedBody) else None
        headers: Headers = without_framing(request.headers)
        middlewares: Optional[Tuple[aiohttp.ClientMiddlewareType, ...]] = None
        if not self._owns_session or "@" in parts.netloc:
            # A caller's session may add Authorization (default headers, auth, ~/.netrc), and so
            # may credentials in the URL: a middleware puts the request's own value back. The
            # transport's own session adds none, so there the header goes out as it is.
            headers = tuple(pair for pair in headers if pair[0].lower() != "authorization")
            middlewares = (_authorization_middleware(request.header("Authorization")),)
        data: Any = request.body
        quick = target is None and (data is None or (isinstance(data, bytes) and len(data) <= _QUICK_BODY))
        if source is not None:
            data = _AsyncChunks(source.chunks())
            if source.length is not None:
                headers = (*headers, ("Content-Length", str(source.length)))
        response_started = False
        try:
            response = await session.request(
                request.method,
                request.url,
                headers=headers,
                data=data,
                allow_redirects=False,
                raise_for_status=False,
                timeout=self._quick_timeout if quick else self._timeout,
                ssl=self._ssl,
                proxy=self._proxies.proxy_for(origin),
                # aiohttp would label every body application/octet-stream (the transport's own
                # session is told so once, at its creation).
                skip_auto_headers=None if self._owns_session else _NO_AUTO_HEADERS,
                middlewares=middlewares,
            )
            response_started = True
            return await self._read(response, target)
        except Exception as exc:
            return _translate(exc, source, response_started=response_started)
        finally:
            if source is not None:
                source.close()

    async def aclose(self) -> None:
        """Close the transport; closes the session only if the transport created it.

        Safe to await from another loop once the bound loop has closed.
        """
        self._closed = True
        if self._owns_session and self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> AiohttpTransport:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _session_for_running_loop(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("AiohttpTransport is closed")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("AiohttpTransport is bound to another event loop; use one transport per loop")
        if self._session is None:
            # trust_env stays off: proxies from the environment were read at construction by
            # ProxyResolver, and aiohttp's trust_env would also read credentials from ~/.netrc.
            self._session = aiohttp.ClientSession(
                trust_env=False, cookie_jar=aiohttp.DummyCookieJar(), skip_auto_headers=_NO_AUTO_HEADERS
            )
        return self._session

    async def _read(self, response: aiohttp.ClientResponse, target: Optional[StreamTarget]) -> Outcome:
        limit = self._max_response_bytes
        complete = False
        try:
            if target is not None and target.wants(response.status):
                headers = decode_headers(response.raw_headers)
                target.begin(response.status, headers)
                async for chunk in response.content.iter_chunked(READ_CHUNK):
                    target.write(chunk)
                complete = True
                return Response(status=response.status, headers=headers)
            length = response.content_length
            if length is not None and length > limit:
                return response_too_large(limit)  # refused before reading a byte of it
            if length is not None and _identity(response):
                # The declared length is the decoded length and within the limit: one read.
                whole = await response.read()
                complete = True
                return Response(response.status, decode_headers(response.raw_headers), whole)
            body = bytearray()
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                body += chunk
                if len(body) > limit:
                    return response_too_large(limit)
            complete = True
            return Response(
                status=response.status,
                headers=decode_headers(response.raw_headers),
                body=bytes(body),
            )
        finally:
            if complete:
                response.release()
            else:
                # A connection with unread response bytes must never go back to the pool.
                response.close()


def _identity(response: aiohttp.ClientResponse) -> bool:
    """True when the body arrives as sent: no Content-Encoding (or only ``identity``)."""
    encoding = response.headers.get(aiohttp.hdrs.CONTENT_ENCODING, "")
    return not encoding or encoding.strip().lower() == "identity"


def _translate(exc: Exception, source: Optional[BodySource], *, response_started: bool) -> TransportFailure:
    """Map an exception from aiohttp to a ``TransportFailure``.

    Raises:
        Exception: the ``StreamedBody`` source's own exception, when that is what failed.
    """
    if source is not None:
        source.raise_if_failed()
    detail = describe(exc)
    if isinstance(exc, (aiohttp.ClientSSLError, aiohttp.ServerFingerprintMismatch)):
        return TransportFailure(kind=FailureKind.TLS, detail=detail, request_sent=False)
    if isinstance(
        exc,
        (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError, aiohttp.ClientHttpProxyError),
    ):
        if isinstance(exc, aiohttp.ClientHttpProxyError):
            detail = f"proxy answered {exc.status} to CONNECT"
        return TransportFailure(kind=FailureKind.CONNECT, detail=detail, request_sent=False)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return TransportFailure(kind=FailureKind.TIMEOUT, detail="timed out", request_sent=True)
    if isinstance(exc, (aiohttp.ClientError, OSError)):
        unsent_body = source is not None and not source.finished and not response_started
        kind = FailureKind.WRITE if unsent_body else FailureKind.READ
        return TransportFailure(kind=kind, detail=detail, request_sent=True)
    raise exc
