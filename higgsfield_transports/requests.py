"""The synchronous transport, over a ``requests.Session``."""

from __future__ import annotations

import http.client
import logging
import os
import ssl
import urllib.request
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Dict, Iterator, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.utils
import urllib3.exceptions

from higgsfield_proto._http import (
    FailureKind,
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
    StreamTarget,
    Verify,
    check_options,
    check_request,
    describe,
    response_too_large,
    without_framing,
)

__all__ = ["RequestsTransport"]


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # A per-request auth that does nothing: it outranks ``session.auth`` and stops requests
    # from reading credentials out of ~/.netrc.
    return request


class _QueryRedactor(logging.Filter):
    """Cuts the query string off the URLs in urllib3's debug records.

    urllib3 logs each request line with its full URL, and a presigned upload URL's query holds
    its signature (a bearer secret). Installed on urllib3's loggers when this module is imported.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def _without_query(text: str) -> str:
    return text.split("?", 1)[0] + "?..." if "?" in text else text


_REDACTOR = _QueryRedactor()
for _name in ("urllib3.connectionpool", "urllib3.util.retry"):
    logging.getLogger(_name).addFilter(_REDACTOR)  # the same filter object is added only once


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
        cert: Union[str, Tuple[str, str], None] = None,
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

    Redirects are never followed. Session-level credentials of a session passed in
    (``session.auth``, an ``Authorization`` default header, ~/.netrc) never reach a request:
    only ``request.headers`` decide ``Authorization``. ``requests`` adds its default
    ``User-Agent``, ``Accept``, ``Accept-Encoding`` and ``Connection`` headers unless
    ``request.headers`` sets them; compressed responses are returned decoded.

    Args:
        session: a session to send with; it stays the caller's (``close`` leaves it open) and
            keeps its own ``trust_env``, cookies, hooks and mounted adapters. Without one the
            transport makes its own, which ignores cookies.
        timeout: seconds allowed for the response to start and between reads; None waits forever.
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
            session.trust_env = trust_env
            # Blocks every cookie: the transport sends exactly what each request carries.
            session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
            if isinstance(verify, ssl.SSLContext):
                session.mount("https://", _ContextAdapter(verify))
        self._session = session
        self._timeout: Tuple[float, Optional[float]] = (connect_timeout, timeout)
        self._verify: Union[bool, str, None]
        if isinstance(verify, ssl.SSLContext):
            self._verify = True
        elif verify is True and not self._owns_session:
            self._verify = None  # the session's own setting
        else:
            self._verify = verify
        self._proxies: Optional[Dict[str, str]] = (
            {"http": proxy, "https": proxy} if proxy is not None else None
        )
        # For its own session the transport reads the environment here, once, as requests
        # would on every request (merge_environment_settings), and turns trust_env off.
        self._env_proxies: Dict[str, str] = {}
        self._no_proxy: Optional[str] = None
        self._bypass: Dict[Tuple[str, str], bool] = {}
        if self._owns_session and trust_env:
            session.trust_env = False
            if proxy is None:
                self._env_proxies = dict(urllib.request.getproxies_environment())
                self._no_proxy = self._env_proxies.pop("no", None)
            if self._verify is True:
                self._verify = (
                    os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
                )
        self._max_response_bytes = max_response_bytes
        self._closed = False

    def __repr__(self) -> str:
        # Never the session, its headers or the proxy URL (which may hold a password).
        owner = "own session" if self._owns_session else "caller's session"
        return f"<RequestsTransport {owner}, timeout={self._timeout[1]!r}>"

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` and read the whole response.

        ``timeout`` (seconds), when given, shortens this exchange's connect and read timeouts,
        e.g. to the time left before the caller's deadline.

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
            return target.checked(self._send(request, timeout, target))
        finally:
            target.forget()

    def _send(
        self, request: Request, timeout: Optional[float], target: Optional[StreamTarget]
    ) -> Outcome:
        check_request(request)
        if self._closed:
            raise RuntimeError("RequestsTransport is closed")
        source = BodySource(request.body) if isinstance(request.body, StreamedBody) else None
        headers: Dict[str, Optional[str]] = {}
        for name, value in without_framing(request.headers):
            headers[name] = f"{headers[name]}, {value}" if headers.get(name) else value
        if request.header("Authorization") is None:
            headers["Authorization"] = None  # removes a session default header
        try:
            return self._exchange(request, headers, source, self._limited(timeout), target)
        finally:
            if source is not None:
                source.close()

    def close(self) -> None:
        """Close the transport; closes the session and its connections only if the transport made it."""
        self._closed = True
        if self._owns_session:
            for adapter in self._session.adapters.values():
                if isinstance(adapter, requests.adapters.HTTPAdapter):
                    _close_pools(adapter)
            self._session.close()

    def __enter__(self) -> RequestsTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _limited(self, timeout: Optional[float]) -> Tuple[float, Optional[float]]:
        if timeout is None:
            return self._timeout
        connect, read = self._timeout
        timeout = max(timeout, 0.001)
        return min(connect, timeout), timeout if read is None else min(read, timeout)

    def _exchange(
        self,
        request: Request,
        headers: Dict[str, Optional[str]],
        source: Optional[BodySource],
        timeout: Tuple[float, Optional[float]],
        target: Optional[StreamTarget],
    ) -> Outcome:
        try:
            response = self._session.request(
                request.method,
                request.url,
                headers=headers,
                data=self._data(request.body, source),
                auth=_no_auth,
                timeout=timeout,
                verify=self._verify,
                proxies=self._proxies_for(request.url),
                allow_redirects=False,
                stream=True,
            )
        except Exception as exc:
            return _translate(exc, source, response_started=False)
        try:
            if target is not None and target.wants(response.status_code):
                return _stream_into(response, target)
            return self._read(response)
        except Exception as exc:
            return _translate(exc, source, response_started=True)
        finally:
            # Returns a fully read connection to the pool; closes any other.
            response.close()

    def _proxies_for(self, url: str) -> Optional[Dict[str, str]]:
        if not self._env_proxies:
            return self._proxies
        # requests' own rule (get_environ_proxies), on the snapshot and cached per origin.
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        bypass = self._bypass.get(key)
        if bypass is None:
            bypass = requests.utils.should_bypass_proxies(url, no_proxy=self._no_proxy)
            if len(self._bypass) >= 256:
                self._bypass.clear()
            self._bypass[key] = bypass
        return None if bypass else self._env_proxies

    def _data(self, body: Any, source: Optional[BodySource]) -> Any:
        if source is None:
            return body
        if source.length == 0:
            return b""
        if source.length is None:
            return source.chunks()  # sent with Transfer-Encoding: chunked
        return _SizedChunks(source, source.length)

    def _read(self, response: requests.Response) -> Outcome:
        limit = self._max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return response_too_large(limit)  # refused before reading a byte of it
        body = bytearray()
        for chunk in response.iter_content(READ_CHUNK):
            body += chunk
            if len(body) > limit:
                return response_too_large(limit)
        return Response(
            status=response.status_code,
            headers=_raw_headers(response.raw),
            body=bytes(body),
        )


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


def _stream_into(response: requests.Response, target: StreamTarget) -> Response:
    headers = _raw_headers(response.raw)
    target.begin(response.status_code, headers)
    for chunk in response.iter_content(READ_CHUNK):
        target.write(chunk)
    return Response(status=response.status_code, headers=headers)


def _raw_headers(raw: Any) -> Tuple[Tuple[str, str], ...]:
    # urllib3's header dict keeps every line (duplicates too) with the name as first received.
    return tuple((str(name), str(value)) for name, value in raw.headers.iteritems())


def _translate(exc: Exception, source: Optional[BodySource], *, response_started: bool) -> TransportFailure:
    """Map an exception from requests/urllib3 to a ``TransportFailure``.

    Raises:
        Exception: the ``StreamedBody`` source's own exception, when that is what failed.
    """
    if source is not None:
        source.raise_if_failed()
    detail = describe(exc)
    if isinstance(exc, requests.exceptions.SSLError) and not response_started:
        return TransportFailure(kind=FailureKind.TLS, detail=detail, request_sent=False)
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return TransportFailure(kind=FailureKind.CONNECT, detail=detail, request_sent=False)
    if isinstance(exc, requests.exceptions.Timeout) or _is_read_timeout(exc):
        return TransportFailure(kind=FailureKind.TIMEOUT, detail=detail, request_sent=True)
    if (
        isinstance(exc, requests.exceptions.ConnectionError)
        and not response_started
        and exc.args
        and isinstance(exc.args[0], urllib3.exceptions.MaxRetryError)
    ):
        # With retries off, urllib3 wraps only connection-stage errors in MaxRetryError;
        # a failure after the request went out is re-raised bare.
        return TransportFailure(kind=FailureKind.CONNECT, detail=detail, request_sent=False)
    if isinstance(
        exc,
        (
            requests.exceptions.RequestException,
            urllib3.exceptions.HTTPError,
            http.client.HTTPException,
            OSError,
        ),
    ):
        unsent_body = source is not None and not source.finished and not response_started
        kind = FailureKind.WRITE if unsent_body else FailureKind.READ
        return TransportFailure(kind=kind, detail=detail, request_sent=True)
    raise exc


def _is_read_timeout(exc: BaseException) -> bool:
    # While streaming the body, requests reports a read timeout as a ConnectionError.
    return bool(exc.args) and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError)
