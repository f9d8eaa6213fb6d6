"""The synchronous transport, over a ``requests.Session``."""

from __future__ import annotations

import http.client
import os
import ssl
from collections.abc import Iterable, Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Optional, Union

import requests
import requests.adapters
import urllib3.exceptions

from higgsfield_proto import Outcome, Request, Response

from ._base import HeadCallback, Sink
from ._bodies import AnswerReader, BodySource, StreamTarget, streaming
from ._checks import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
    READ_CHUNK,
    Origin,
    Verify,
    check_options,
    check_request,
    without_framing,
)
from ._failures import Progress, Stage, failure_for
from ._logs import QUERIES, install
from ._proxies import ProxyResolver
from ._requests_pool import PoolSender

__all__ = ["RequestsTransport"]


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # A per-request auth that does nothing: it outranks ``session.auth`` and stops requests
    # from reading credentials out of ~/.netrc.
    return request


# urllib3 logs each request line with its full URL: a presigned upload URL's query is a secret.
install(QUERIES, ("urllib3.connectionpool", "urllib3.util.retry"))


class _ContextAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose HTTPS connections use one given ``ssl.SSLContext`` as is.

    requests would otherwise set ``cert_reqs`` and load its own CA bundle into the context.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(
        self,
        request: requests.PreparedRequest,
        verify: Union[bool, str],
        cert: Union[str, tuple[str, str], None] = None,
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs["ssl_context"] = self._context
        # urllib3 copies cert_reqs into the context: make it say what the context says.
        verifies = self._context.verify_mode != ssl.CERT_NONE
        pool_kwargs["cert_reqs"] = "CERT_REQUIRED" if verifies else "CERT_NONE"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The context decides verification; nothing to add to the pool.
        return None


class _SizedChunks:
    """A streamed body with a known length: requests sends it with Content-Length, not chunked."""

    def __init__(self, source: BodySource, length: int) -> None:
        self._source = source
        self._length = length

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        return self._source.chunks()


class RequestsTransport:
    """Sends requests with ``requests``; blocking.

    It sends each request once: it never repeats one and never follows a redirect. Session-level
    credentials of a session passed in (``session.auth``, an ``Authorization`` default header,
    ~/.netrc) never reach a request: only ``request.headers`` decide ``Authorization``.
    ``requests`` adds its default ``User-Agent``, ``Accept``, ``Accept-Encoding`` and
    ``Connection`` headers unless ``request.headers`` sets them; compressed responses are
    returned decoded. A failure reports ``request_written=True`` once the connection was open
    (requests cannot tell how far the request got) and ``reused_connection=None``.

    The transport's own session sends through its adapter's urllib3 pool directly, without
    requests' per-call machinery (which that session has no use for: no cookies, hooks or
    environment to merge); a session passed in goes through ``Session.request`` as a whole, so
    that its cookies, hooks, mounted adapters and settings all apply.

    Args:
        session: a session to send with; it stays the caller's (``close`` leaves it open) and
            keeps its own ``trust_env``, cookies, hooks and mounted adapters. Without one the
            transport makes its own, which ignores cookies.
        timeout: seconds allowed for the answer to start and between reads (and between writes
            of the request); None waits forever.
        connect_timeout: seconds allowed to open the TCP connection (and TLS handshake).
        verify: True (requests' CA bundle; a session passed in keeps its own ``verify``), a CA
            bundle path, an ``ssl.SSLContext`` (only without a session passed in) or False
            (warns: no verification).
        proxy: a proxy URL for every request.
        trust_env: for the transport's own session, honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY
            and REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (never ~/.netrc credentials); the environment
            is read once, when the transport is created.
        max_response_bytes: a longer (decoded) response body is a ``TOO_LARGE`` failure.

    Raises:
        ValueError: an ``ssl.SSLContext`` together with a session passed in (mount your own
            adapter on it instead), or an invalid option value.
    """

    def __init__(
        self,
        session: Optional[requests.Session] = None,
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
            transport="RequestsTransport",
        )
        if session is not None and isinstance(verify, ssl.SSLContext):
            raise ValueError(
                "verify=SSLContext needs the transport's own session; "
                "mount an adapter on the session you pass instead"
            )
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # The transport resolves proxies itself (below) and never reads ~/.netrc.
            session.trust_env = False
            # Blocks every cookie: the transport sends exactly what each request carries.
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            if isinstance(verify, ssl.SSLContext):
                session.mount("https://", _ContextAdapter(verify))
        self._session = session
        self._timeout: tuple[float, Optional[float]] = (connect_timeout, timeout)
        self._verify: Union[bool, str, None]
        if isinstance(verify, ssl.SSLContext):
            self._verify = True
        elif verify is True and not self._owns_session:
            self._verify = None  # the session's own setting
        elif verify is True and trust_env:
            # What requests would read on every request (merge_environment_settings), read once.
            self._verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        else:
            self._verify = verify
        # A session passed in keeps its own proxy settings unless a proxy is given.
        self._proxies: Optional[ProxyResolver] = (
            ProxyResolver(proxy, trust_env) if self._owns_session or proxy is not None else None
        )
        self._max_response_bytes = max_response_bytes
        self._pools = PoolSender(session, self._verify) if self._owns_session else None
        self._closed = False

    def __repr__(self) -> str:
        # Never the session, its headers or the proxy URL (which may hold a password).
        owner = "own session" if self._owns_session else "caller's session"
        return f"<RequestsTransport {owner}, timeout={self._timeout[1]!r}>"

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` once and read the whole response.

        Args:
            request: what to send.
            timeout: seconds left before the caller's deadline, if any: the connect and read
                timeouts are shortened to it.

        Returns:
            The ``Response`` (3xx included: redirects are not followed), or a
            ``TransportFailure`` for a network fault.

        Raises:
            ValueError: the request cannot be put on the wire (bad URL or header).
            RuntimeError: the transport is closed.
            Exception: whatever a ``StreamedBody`` source raised while being read.
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
        """Close the transport; closes the session and its connections only if the transport
        made them."""
        self._closed = True
        if self._pools is not None:
            self._pools.forget()
            for adapter in self._session.adapters.values():
                if isinstance(adapter, requests.adapters.HTTPAdapter):
                    _close_pools(adapter)
            self._session.close()

    def __enter__(self) -> RequestsTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _send(self, request: Request, timeout: Optional[float], target: Optional[StreamTarget]) -> Outcome:
        origin, parts = check_request(request)
        if self._closed:
            raise RuntimeError("RequestsTransport is closed")
        source = BodySource.of(request.body)
        proxy = self._proxies.proxy_for(origin) if self._proxies is not None else None
        progress = Progress()
        try:
            if self._pools is None:
                return self._send_with_session(request, origin, proxy, source, timeout, target, progress)
            try:
                answer = self._pools.urlopen(request, origin, parts, proxy, source, self._limited(timeout))
            except Exception as exc:
                return _translate(exc, source, progress)
            progress.request_written = progress.response_started = True
            finished = False
            try:
                outcome = self._read(answer, answer.stream(READ_CHUNK, decode_content=True), target, progress)
                finished = isinstance(outcome, Response)
                return outcome
            except Exception as exc:
                return _translate(exc, source, progress)
            finally:
                # Returns a fully read connection to the pool; closes any other.
                if not finished:
                    answer.close()
                # A test tool's stand-in answer (vcrpy before 9) has no connection to give back.
                release = getattr(answer, "release_conn", None)
                if release is not None:
                    release()
        finally:
            if source is not None:
                source.close()

    def _send_with_session(
        self,
        request: Request,
        origin: Origin,
        proxy: Optional[str],
        source: Optional[BodySource],
        timeout: Optional[float],
        target: Optional[StreamTarget],
        progress: Progress,
    ) -> Outcome:
        headers: dict[str, Optional[str]] = {}
        for name, value in without_framing(request.headers):
            headers[name] = f"{headers[name]}, {value}" if headers.get(name) else value
        if request.header("Authorization") is None:
            headers["Authorization"] = None  # removes a session default header
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=headers,
                data=self._data(request.body, source),
                auth=_no_auth,
                timeout=self._limited(timeout),
                verify=self._verify,
                proxies={origin.scheme: proxy} if proxy is not None else None,
                allow_redirects=False,
                stream=True,
            )
        except Exception as exc:
            return _translate(exc, source, progress)
        progress.request_written = progress.response_started = True
        try:
            # requests' own reading: a response hook may have read the body already.
            return self._read(response.raw, response.iter_content(READ_CHUNK), target, progress)
        except Exception as exc:
            return _translate(exc, source, progress)
        finally:
            # Returns a fully read connection to the pool; closes any other.
            response.close()

    def _limited(self, timeout: Optional[float]) -> tuple[float, Optional[float]]:
        if timeout is None:
            return self._timeout
        connect, read = self._timeout
        timeout = max(timeout, 0.001)
        return min(connect, timeout), timeout if read is None else min(read, timeout)

    def _data(self, body: Any, source: Optional[BodySource]) -> Any:
        if source is None:
            return body
        if source.length == 0:
            return b""
        if source.length is None:
            return source.chunks()  # sent with Transfer-Encoding: chunked
        return _SizedChunks(source, source.length)

    def _read(
        self,
        answer: urllib3.BaseHTTPResponse,
        chunks: Iterable[bytes],
        target: Optional[StreamTarget],
        progress: Progress,
    ) -> Outcome:
        """Read ``answer``'s body from ``chunks`` (decoded) into a ``Response`` or the target."""
        reader = AnswerReader(target, self._max_response_bytes, progress)
        declared = answer.headers.get("Content-Length", "")
        # urllib3's header dict keeps every line (duplicates too) with the name as first received;
        # a test tool's stand-in answer (vcrpy before 9) holds an http.client message, which does too.
        lines = getattr(answer.headers, "iteritems", answer.headers.items)
        headers = tuple((str(name), str(value)) for name, value in lines())
        failure = reader.begin(answer.status, headers, int(declared) if declared.isdigit() else None)
        if failure is not None:
            return failure
        for chunk in chunks:
            failure = reader.add(chunk)
            if failure is not None:
                return failure
        return reader.finish()


def _close_pools(adapter: requests.adapters.HTTPAdapter) -> None:
    # Session.close() only drops urllib3's pools, and urllib3 2 closes a pool's connections when
    # the pool is garbage collected: a reference cycle can put that off (on Python 3.12+ the
    # traceback of a timed-out read is one, and it holds the pool). The pool container refuses
    # iteration; it lists its keys.
    for manager in (adapter.poolmanager, *adapter.proxy_manager.values()):
        for key in manager.pools.keys():  # noqa: SIM118
            pool = manager.pools.get(key)
            if pool is not None:
                pool.close()


def _translate(exc: Exception, source: Optional[BodySource], progress: Progress) -> Outcome:
    """Map an exception from requests/urllib3 to a ``TransportFailure``.

    Raises:
        Exception: the ``StreamedBody`` source's own exception, when that is what failed, or an
            exception that is no network fault.
    """
    if source is not None:
        source.raise_if_failed()
    stage = _stage(exc)
    if stage is None:
        raise exc
    if stage is Stage.EXCHANGE or stage is Stage.TIMEOUT:
        # requests cannot tell how far the request got once the connection was open.
        progress.request_written = True
    unfinished = source is not None and not source.finished
    return failure_for(exc, stage, progress, body_unfinished=unfinished)


def _stage(exc: Exception) -> Optional[Stage]:
    if (
        isinstance(exc, requests.exceptions.RequestException)
        and exc.args
        and isinstance(exc.args[0], Exception)
    ):
        # A session's call wraps urllib3's exception in one of requests': judge the one inside.
        exc = exc.args[0]
    if isinstance(exc, urllib3.exceptions.MaxRetryError):
        # With retries off, urllib3 wraps only connection-stage errors (TCP, proxy, TLS
        # handshake) in MaxRetryError; a failure after the request went out is raised bare.
        tls = isinstance(exc.reason, urllib3.exceptions.SSLError)
        return Stage.TLS if tls else Stage.CONNECT
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return Stage.TIMEOUT
    if isinstance(
        exc,
        (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
        ),
    ):
        return Stage.EXCHANGE
    return None
