"""HTTP exchange values shared by the core and the transports. No I/O happens here."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Optional, Union

Headers = tuple[tuple[str, str], ...]
"""HTTP headers as (name, value) pairs, in order; a name may repeat."""


def header_value(headers: Headers, name: str) -> Optional[str]:
    """Return the first value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamedBody:
    """A request body produced in chunks each time it is sent.

    ``open`` is called once per attempt and returns a fresh iterator of byte chunks, so a retried
    upload re-reads its source instead of holding it in memory. ``length`` is the exact byte count
    when known (sent as Content-Length), else None (the transport may use chunked encoding).
    """

    open: Callable[[], Iterable[bytes]]
    length: Optional[int] = None

    def chunks(self) -> Iterator[bytes]:
        """Start a new pass over the body."""
        return iter(self.open())


Body = Union[bytes, StreamedBody, None]
"""A request body: bytes, a body streamed from a source, or none."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One HTTP request, fully built: absolute URL, final headers, body.

    Requests are never mutated; a retry sends the same object again.
    """

    method: str
    url: str
    headers: Headers = ()
    body: Body = None

    def header(self, name: str) -> Optional[str]:
        """Return the value of header ``name`` (case-insensitive), or None."""
        return header_value(self.headers, name)

    @property
    def carries_credentials(self) -> bool:
        """True when the request holds API credentials (``Authorization`` or the legacy pair)."""
        return any(name.lower() in _CREDENTIAL_HEADERS for name, _ in self.headers)

    def __repr__(self) -> str:
        # Header values may hold credentials and a presigned URL's query holds a signature:
        # a repr shows header names and the URL without its query.
        names = ", ".join(name for name, _ in self.headers)
        return f"Request(method={self.method!r}, url={without_query(self.url)!r}, headers=[{names}])"


_CREDENTIAL_HEADERS = frozenset({"authorization", "hf-api-key", "hf-secret"})


def without_query(url: str) -> str:
    """``url`` without its query string (a presigned URL's query is a bearer secret)."""
    base, sep, _ = url.partition("?")
    return base + "?..." if sep else base


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One HTTP response as received: status, headers, the whole body."""

    status: int
    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """Return the value of header ``name`` (case-insensitive), or None."""
        return header_value(self.headers, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamedResponse:
    """A 2xx answer to a ``StreamedSend``: its body went to the runner's sink, not into memory.

    Attributes:
        status: the 2xx status.
        headers: the answer's headers.
        received: the body bytes the sink was given in this attempt; the core checks them
            against ``Content-Length``.
        failure: the network failure that cut the body short, or None when it ended.
    """

    status: int
    headers: Headers = ()
    received: int = 0
    failure: Optional[TransportFailure] = None

    def header(self, name: str) -> Optional[str]:
        """Return the value of header ``name`` (case-insensitive), or None."""
        return header_value(self.headers, name)


class FailureKind(str, enum.Enum):
    """Where a network exchange broke down."""

    CONNECT = "connect"
    READ = "read"
    WRITE = "write"
    TIMEOUT = "timeout"
    TLS = "tls"
    TOO_LARGE = "too_large"


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportFailure:
    """A network fault, translated at the transport edge; no library exception escapes.

    A transport reports what happened and decides nothing: whether the request is sent again is
    the core's ``RetryPolicy``'s call, made from these facts.

    Attributes:
        kind: where the exchange broke down.
        detail: a short description without secrets (no header values, no URL query).
        request_written: True once any byte of the request may have been written to the
            connection, so that the server may have acted on it. False only when the transport
            knows nothing left: a failed connect, TLS handshake or proxy tunnel.
        reused_connection: True when the request went out on a kept-alive connection, False on
            a new one, None when the transport cannot tell.
        response_started: True when any byte of the answer arrived before the failure.
    """

    kind: FailureKind
    detail: str = ""
    request_written: bool = False
    reused_connection: Optional[bool] = None
    response_started: bool = False


Outcome = Union[Response, TransportFailure]
"""What a ``Send`` is answered with."""
StreamedOutcome = Union[StreamedResponse, Response, TransportFailure]
"""What a ``StreamedSend`` is answered with: a non-2xx answer comes back whole, as a Response."""
