"""What every adapter checks the same way: constructor options, TLS contexts, requests it sends."""

from __future__ import annotations

import functools
import logging
import os
import re
import ssl
import warnings
from collections.abc import Iterable
from typing import NamedTuple, Optional, Union
from urllib.parse import SplitResult, urlsplit

from higgsfield_proto import Headers, Request

from ._base import InsecureTransportWarning

logger = logging.getLogger("higgsfield_transports")

Verify = Union[bool, str, ssl.SSLContext]

DEFAULT_TIMEOUT = 90.0
"""Seconds for the answer to start and between reads, unless a transport is told otherwise."""
DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection: TCP, proxy tunnel and TLS handshake."""
DEFAULT_MAX_RESPONSE_BYTES = 64 * 2**20
READ_CHUNK = 65536
"""Bytes per read of a body read into memory."""
STREAM_CHUNK = 256 * 1024
"""Bytes per read of a 2xx body streamed to a sink (a download). Measured with ``python -m bench
download``: 256 KiB reads brought the requests and aiohttp transports' CPU per MiB to the raw
libraries' own (64 KiB reads cost 1.4 to 2 times it, and aiohttp paused and resumed its socket
reads for every chunk the loop received); the trio transport showed no difference."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\r\n\x00]")
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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


def check_request(request: Request) -> tuple[Origin, SplitResult]:
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
    try:
        _checked_headers(request.headers)
    except TypeError:  # pairs that are no tuples cannot be remembered: checked every time
        _check_headers(request.headers)
    return origin, parts


# A client sends the same few header sets again and again: each is checked once (an invalid one
# raises each time: lru_cache keeps no exceptions).
@functools.lru_cache(maxsize=256)
def _checked_headers(headers: Headers) -> None:
    _check_headers(headers)


def _check_headers(headers: Headers) -> None:
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


@functools.lru_cache(maxsize=256)
def _origin(scheme: str, netloc: str) -> Origin:
    # A client sends to one or two origins: each is parsed once (an invalid one raises each
    # time: lru_cache keeps no exceptions).
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


def decode_headers(raw: Iterable[tuple[bytes, bytes]]) -> Headers:
    """Turn raw header pairs into text pairs the way ``http.client`` does (Latin-1)."""
    return tuple([(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw])
