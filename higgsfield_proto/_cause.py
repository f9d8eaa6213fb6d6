"""The cause an API error is raised from: the answer, shaped as httpx's ``HTTPStatusError``. No I/O.

Code written for the official SDK reads ``exc.__cause__.response.status_code`` and
``exc.__cause__.response.headers["x-correlation-id"]``: the official client raises its errors
from ``httpx.HTTPStatusError``. The core cannot use httpx, so every ``APIError`` made from an
answer is chained from an ``HTTPStatusError`` of its own with the same attributes. It never holds
a credential: the request it names is its method and its URL without query or user info.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

from ._http import Headers, Request, Response


def _public_url(url: str) -> str:
    """``url`` without user info, query or fragment (a presigned URL's query is a bearer secret)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # an unreadable port: cut by hand
        head, sep, rest = url.split("#", 1)[0].split("?", 1)[0].partition("//")
        netloc, slash, path = rest.partition("/")
        return head + sep + netloc.rpartition("@")[2] + slash + path
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class HeaderView(Mapping[str, str]):
    """An answer's headers, read-only, looked up without regard to case (``headers["x-correlation-id"]``).

    A name sent several times reads as its values joined by ``", "``, as httpx reads it.
    """

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Headers) -> None:
        self._pairs = pairs

    def __getitem__(self, name: str) -> str:
        wanted = name.lower()
        values = [value for key, value in self._pairs if key.lower() == wanted]
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, str] = {}
        for key, _ in self._pairs:
            seen.setdefault(key.lower(), key)
        return iter(seen.values())

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._pairs})

    def __repr__(self) -> str:
        return f"HeaderView({dict(self.items())!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnsweredRequest:
    """The request an answer was for, as an error shows it: no headers, no query.

    Attributes:
        method: the HTTP method.
        url: the URL without user info, query or fragment.
    """

    method: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ErrorResponse:
    """An error answer as ``exc.__cause__.response``: the attributes of an ``httpx.Response`` that
    code reads after an error.

    Attributes:
        status_code: the HTTP status.
        headers: the answer's headers, looked up without regard to case.
        content: the body as received.
        request: the request it answered, when known.
    """

    status_code: int
    headers: HeaderView
    content: bytes
    request: Optional[AnsweredRequest] = None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON.

        Raises:
            ValueError: the body is not JSON (``json.JSONDecodeError``, as httpx raises).
        """
        return json.loads(self.content)

    @property
    def reason_phrase(self) -> str:
        """The standard phrase of the status (``Not Found``), or ``""`` for an unknown status."""
        from http import HTTPStatus  # on use: its enum costs time at import

        try:
            return HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    @property
    def url(self) -> Optional[str]:
        """The URL of the request it answered, without query, when known."""
        return None if self.request is None else self.request.url

    @property
    def is_success(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status_code < 300

    @property
    def is_error(self) -> bool:
        """True for a 4xx or 5xx status."""
        return 400 <= self.status_code < 600

    def __repr__(self) -> str:
        return f"<ErrorResponse [{self.status_code} {self.reason_phrase}]>".replace(" ]", "]")


class HTTPStatusError(Exception):
    """The answer an ``APIError`` was made from, as its ``__cause__`` (the official client's errors
    are chained from ``httpx.HTTPStatusError``; this one has its ``request`` and ``response``).

    Attributes:
        request: the request answered, or None when the answer was parsed without it.
        response: the error answer.
    """

    def __init__(self, message: str, *, request: Optional[AnsweredRequest], response: ErrorResponse) -> None:
        super().__init__(message)
        self.request = request
        self.response = response


def status_error_for(response: Response) -> HTTPStatusError:
    """The ``HTTPStatusError`` an error built from ``response`` (a 4xx or 5xx) is chained from.

    The request is ``response.request``, the one the exchange loop sent last, when set.
    """
    request = _answered(response.request)
    answer = ErrorResponse(
        status_code=response.status,
        headers=HeaderView(response.headers),
        content=response.body,
        request=request,
    )
    kind = "Server error" if response.status >= 500 else "Client error"
    where = f" for url '{request.url}'" if request is not None else ""
    phrase = f" {answer.reason_phrase}" if answer.reason_phrase else ""
    return HTTPStatusError(f"{kind} '{response.status}{phrase}'{where}", request=request, response=answer)


def _answered(request: Optional[Request]) -> Optional[AnsweredRequest]:
    return None if request is None else AnsweredRequest(method=request.method, url=_public_url(request.url))
