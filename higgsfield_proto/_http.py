"""HTTP exchange values shared by the core and the transports. No I/O happens here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Optional, Tuple, Union

Headers = Tuple[Tuple[str, str], ...]


def header_value(headers: Headers, name: str) -> Optional[str]:
    """Return the first value of header ``name`` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


@dataclass(frozen=True)
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


# Request, Response and the Send effect are built on every call: their __init__ fills __dict__
# directly, which costs half of the frozen dataclass __init__ (an object.__setattr__ per field).
# Equality, hashing, repr, replace() and frozenness stay the dataclass's own.


@dataclass(frozen=True, init=False)
class Request:
    """One HTTP request, fully built: absolute URL, final headers, body.

    Requests are never mutated; a retry sends the same object again.
    """

    method: str
    url: str
    headers: Headers = ()
    body: Body = None

    def __init__(self, method: str, url: str, headers: Headers = (), body: Body = None) -> None:
        fields = self.__dict__
        fields["method"], fields["url"], fields["headers"], fields["body"] = method, url, headers, body

    def header(self, name: str) -> Optional[str]:
        """Return the value of header ``name`` (case-insensitive), or None."""
        return header_value(self.headers, name)

    def __repr__(self) -> str:
        # Header values may hold credentials and a presigned URL's query holds a signature:
        # a repr shows header names and the URL without its query.
        names = ", ".join(name for name, _ in self.headers)
        url = self.url.split("?", 1)[0] + ("?..." if "?" in self.url else "")
        return f"Request(method={self.method!r}, url={url!r}, headers=[{names}])"


@dataclass(frozen=True, init=False)
class Response:
    """One HTTP response as received: status, headers, the whole body."""

    status: int
    headers: Headers = ()
    body: bytes = b""

    def __init__(self, status: int, headers: Headers = (), body: bytes = b"") -> None:
        fields = self.__dict__
        fields["status"], fields["headers"], fields["body"] = status, headers, body

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


@dataclass(frozen=True)
class TransportFailure:
    """A network fault, translated at the transport edge; no library exception escapes."""

    kind: FailureKind
    detail: str = ""
    request_sent: bool = field(default=False)
    """True when the request may have reached the server (the failure came after writing)."""


Outcome = Union[Response, TransportFailure]
