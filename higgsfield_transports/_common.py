"""What the three adapters share: option and request checks, TLS contexts, proxies, body passes."""

from __future__ import annotations

import functools
import logging
import os
import re
import socket
import ssl
import urllib.request
import warnings
from typing import Any, Callable, Dict, Generator, Iterable, Iterator, NamedTuple, Optional, Tuple, Union
from urllib.parse import SplitResult, urlsplit

from higgsfield_proto._http import (
    FailureKind,
    Headers,
    Outcome,
    Request,
    Response,
    StreamedBody,
    TransportFailure,
)

from ._base import HeadCallback, InsecureTransportWarning, Sink

logger = logging.getLogger("higgsfield_transports")

Verify = Union[bool, str, ssl.SSLContext]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20
READ_CHUNK = 65536

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\r\n\x00]")
_last_checked_headers: Headers = ()

_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def check_options(
    *,
    timeout: Optional[float],
    connect_timeout: float,
    verify: Verify,
    max_response_bytes: int,
    transport: str,
) -> None:
    """Validate the constructor options every transport shares.

    Raises:
        ValueError: a timeout is not positive or the body limit is negative.
        TypeError: ``verify`` is not a bool, a path or an ``ssl.SSLContext``.
    """
    if timeout is not None and not timeout > 0:
        raise ValueError("timeout must be a positive number of seconds or None")
    if not connect_timeout > 0:
        raise ValueError("connect_timeout must be a positive number of seconds")
    if max_response_bytes < 0:
        raise ValueError("max_response_bytes must not be negative")
    if not isinstance(verify, (bool, str, ssl.SSLContext)):
        raise TypeError("verify must be True, False, a CA bundle path or an ssl.SSLContext")
    if verify is False:
        message = (
            f"{transport} created with verify=False: TLS certificates are not checked, "
            "so anyone on the network path can read and alter the traffic"
        )
        # Point the warning at the line that built the transport.
        warnings.warn(message, InsecureTransportWarning, stacklevel=3)
        logger.warning(message)


def ssl_context_for(verify: Verify) -> ssl.SSLContext:
    """Return the TLS client context ``verify`` asks for; a given context is used as is.

    Raises:
        OSError: the CA bundle path cannot be read.
    """
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is True:
        context = ssl.create_default_context()
    elif verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif os.path.isdir(verify):
        context = ssl.create_default_context(capath=verify)
    else:
        context = ssl.create_default_context(cafile=verify)
    context.set_alpn_protocols(["http/1.1"])
    return context


class Origin(NamedTuple):
    """Where a request URL points: scheme, host, port (the scheme's default filled in) and the
    authority as written (``host[:port]``, without user info)."""

    scheme: str
    host: str
    port: int
    authority: str


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def check_request(request: Request) -> Tuple[Origin, SplitResult]:
    """Refuse a request no HTTP/1.1 client could put on the wire; return where it goes.

    Messages name the offending header but never show a header value (they hold credentials).

    Returns:
        The URL's origin and its split form (``urllib.parse.urlsplit``).

    Raises:
        ValueError: bad method, URL, header name or header value.
    """
    if request.method not in _METHODS and not _TOKEN.fullmatch(request.method):
        raise ValueError("the request method is not an HTTP token")
    url = request.url
    # No controls, space or anything outside ASCII: a URL must arrive percent-encoded.
    if not (url.isascii() and url.isprintable()) or " " in url:
        raise ValueError("the request URL must be ASCII without spaces (percent-encode it)")
    parts = urlsplit(url)
    origin = _origin(parts.scheme, parts.netloc)
    _check_headers(request.headers)
    return origin, parts


def _check_headers(headers: Headers) -> None:
    global _last_checked_headers
    if headers is _last_checked_headers:
        return  # a client sends the same headers tuple on every API request
    for name, value in headers:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"invalid header name {name!r}")
        if value.isascii() and value.isprintable():
            continue  # the usual case: neither a line break, a NUL nor anything beyond Latin-1
        if _BAD_VALUE_CHAR.search(value):
            raise ValueError(f"the value of header {name!r} contains a line break or NUL")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"the value of header {name!r} is not Latin-1 text") from None
    if type(headers) is tuple and all(
        type(pair) is tuple and type(pair[0]) is str and type(pair[1]) is str for pair in headers
    ):
        # Immutable all the way down, so a later send of this very tuple needs no new check
        # (the reference held here also keeps its id from being reused).
        _last_checked_headers = headers


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, netloc: str) -> Origin:
    # Every request of a client goes to one or two origins: they are parsed once (an invalid
    # one raises each time: lru_cache keeps no exceptions).
    parts = urlsplit(f"{scheme}://{netloc}/")
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the request URL must be an absolute http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the request URL has an invalid port") from None
    default_port = 443 if scheme == "https" else 80
    return Origin(scheme, parts.hostname, port or default_port, netloc.rpartition("@")[2])


def without_framing(headers: Headers) -> Headers:
    """``headers`` minus Content-Length and Transfer-Encoding: the transport frames the body."""
    for name, _ in headers:
        if name.lower() in _FRAMING_HEADERS:
            return tuple(pair for pair in headers if pair[0].lower() not in _FRAMING_HEADERS)
    return headers  # the usual case: nothing to drop


class ProxyResolver:
    """Decides the proxy of each request from an explicit proxy or a snapshot of the environment.

    An explicit proxy applies to every request. Otherwise, with ``trust_env``, the standard
    ``<scheme>_proxy``/``all_proxy`` variables apply (lower case wins, as in curl) unless
    ``no_proxy`` matches the host. The environment is read once, when the resolver is made, and
    the decision is remembered per scheme and host (a bounded cache).
    """

    _CACHE_SIZE = 256

    def __init__(self, explicit: Optional[str], trust_env: bool) -> None:
        self._explicit = explicit
        self._proxies: Dict[str, str] = {}
        if explicit is None and trust_env:
            self._proxies = dict(urllib.request.getproxies_environment())
        self._cache: Dict[Tuple[str, str], Optional[str]] = {}

    @property
    def environment(self) -> Dict[str, str]:
        """The snapshot of the environment's proxy variables (scheme, ``all``, ``no``); a copy."""
        return dict(self._proxies)

    def proxy_for(self, origin: Origin) -> Optional[str]:
        """Return the proxy URL to use for a request to ``origin``, or None to connect directly."""
        if self._explicit is not None:
            return self._explicit
        if not self._proxies:
            return None
        key = (origin.scheme, origin.authority)
        try:
            return self._cache[key]
        except KeyError:
            pass
        proxy = self._decide(*key)
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = proxy
        return proxy

    def _decide(self, scheme: str, host: str) -> Optional[str]:
        proxies = self._proxies
        if "no" in proxies and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            host, proxies
        ):
            return None
        proxy = proxies.get(scheme) or proxies.get("all")
        if not proxy:
            return None
        return proxy if "://" in proxy else "http://" + proxy


def decode_headers(raw: Iterable[Tuple[bytes, bytes]]) -> Headers:
    """Turn raw header pairs into text pairs the way ``http.client`` does (Latin-1)."""
    return tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw])


def response_too_large(limit: int) -> TransportFailure:
    """The failure for a response body over ``limit`` bytes."""
    return TransportFailure(
        kind=FailureKind.TOO_LARGE,
        detail=f"response body larger than {limit} bytes",
        request_sent=True,
    )


class BodySource:
    """One pass over a ``StreamedBody``, pulled chunk by chunk by a transport.

    It counts what was handed out, refuses a source that yields more or fewer bytes than its
    declared ``length``, and remembers an exception raised by the source itself, so that the
    transport can re-raise it (``raise_if_failed``) instead of reporting a network fault: a file
    that cannot be read is the caller's problem, not the network's.
    """

    def __init__(self, body: StreamedBody) -> None:
        self.length = body.length
        self.sent = 0
        self.finished = False
        self.error: Optional[Exception] = None
        self._body = body
        self._pass: Optional[Generator[bytes, None, None]] = None

    def chunks(self) -> Iterator[bytes]:
        """Start the pass: an iterator of the body's non-empty chunks.

        The source is opened on the first pull, not here.
        """
        self._pass = self._generate()
        return self._pass

    def close(self) -> None:
        """End the pass early if the transport stopped pulling (closes the source's iterator)."""
        if self._pass is not None:
            self._pass.close()

    def _generate(self) -> Generator[bytes, None, None]:
        try:
            iterator = self._body.chunks()
        except Exception as exc:
            self.error = exc
            raise
        try:
            while True:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except Exception as exc:
                    self.error = exc
                    raise
                if not chunk:
                    continue
                self.sent += len(chunk)
                if self.length is not None and self.sent > self.length:
                    self._fail(f"the streamed body yielded more than its length ({self.length})")
                yield bytes(chunk)
            if self.length is not None and self.sent != self.length:
                self._fail(f"the streamed body yielded {self.sent} of its {self.length} bytes")
            self.finished = True
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()

    def raise_if_failed(self) -> None:
        """Re-raise the source's own exception, if it raised one."""
        if self.error is not None:
            raise self.error

    def _fail(self, message: str) -> None:
        self.error = ValueError(message)
        raise self.error


class StreamTarget:
    """Where a streamed response body goes: the caller's ``sink`` and ``head`` callables.

    A transport asks ``wants(status)`` once the status line is in: only a 2xx body is streamed.
    The callables' own exceptions are remembered, so that ``checked`` raises them in place of the
    network failure the transport made of them: a full disk is not the network's problem.
    """

    def __init__(self, sink: Sink, head: Optional[HeadCallback]) -> None:
        self._sink = sink
        self._head = head
        self.error: Optional[Exception] = None

    @staticmethod
    def wants(status: int) -> bool:
        """True when a body with ``status`` goes to the sink rather than into the Response."""
        return 200 <= status < 300

    def begin(self, status: int, headers: Headers) -> None:
        """Hand the answer's head to ``head`` (if given), before the first chunk."""
        if self._head is not None:
            self._call(self._head, Response(status=status, headers=headers))

    def write(self, chunk: bytes) -> None:
        """Hand one non-empty chunk to the sink."""
        if chunk:
            self._call(self._sink, chunk)

    def _call(self, target: Callable[[Any], object], value: Any) -> None:
        try:
            target(value)
        except Exception as exc:
            self.error = exc
            raise

    def checked(self, outcome: Outcome) -> Outcome:
        """``outcome``, unless the sink or head raised: then their exception is raised instead."""
        if self.error is not None:
            raise self.error
        return outcome

    def forget(self) -> None:
        """Drop the remembered exception once the transport is done with it.

        Its traceback holds this object: the reference cycle would keep the failed response, and
        through it a socket, alive until the garbage collector runs.
        """
        self.error = None


def root_cause(exc: BaseException) -> BaseException:
    """Follow the chain of wrapped exceptions (``__cause__``, urllib3 ``reason``, ``args[0]``,
    exception groups, ``__context__``) down to the original one."""
    seen = {id(exc)}
    current = exc
    for _ in range(12):
        following: Optional[BaseException] = None
        reason = getattr(current, "reason", None)
        grouped = getattr(current, "exceptions", None)
        if current.__cause__ is not None:
            following = current.__cause__
        elif isinstance(reason, BaseException):
            following = reason
        elif current.args and isinstance(current.args[0], BaseException):
            following = current.args[0]
        elif isinstance(grouped, (list, tuple)) and grouped:
            following = grouped[0]
        elif current.__context__ is not None and not current.__suppress_context__:
            following = current.__context__
        if following is None or id(following) in seen:
            break
        seen.add(id(following))
        current = following
    return current


def describe(exc: BaseException) -> str:
    """A short description of what went wrong under ``exc``.

    Built from the root cause's type and OS/TLS reason only: library messages often quote the
    URL, whose query string may carry a signature, so they are never copied.
    """
    root = root_cause(exc)
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {root.verify_message}"
    if isinstance(root, ssl.SSLError):
        return f"TLS error: {root.reason or type(root).__name__}"
    if isinstance(root, socket.gaierror):
        return "name resolution failed"
    if isinstance(root, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(root, OSError) and root.errno:
        return os.strerror(root.errno)
    if isinstance(root, OSError) and root.strerror:
        return str(root.strerror)
    return type(root).__name__
