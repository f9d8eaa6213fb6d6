"""Every endpoint declared once: method, path, error table, and whether repeating it is safe. No I/O.

An ``Endpoint`` turns a config and path ids into a ``Request``; the builders in ``_build`` add the
body, query and extra headers, and the parsers in ``_parse`` read the answer with the endpoint's
``ErrorTable``. Tables belong to an API family: the generation API and the Agent API map 402, 403
and 409 differently, so no status is read the same way everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import quote

from ._config import ApiConfig
from ._errors import (
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    InsufficientCreditsError,
    InvalidArgumentError,
    ModelUnavailableError,
    NotCancellableError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UploadRejectedError,
    ValidationError,
)
from ._http import Body, Headers, Request

# Any printable text (a space allowed after the first character; no C0 or C1 control, no DEL) but
# the two dot segments, which URL normalisation would collapse. Negated classes: the same sets as
# ranges up to U+10FFFF take milliseconds to compile at import.
_PRINTABLE = re.compile(r"[^\x00-\x20\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*")
_MAX_ID = 200
_PLACEHOLDER = re.compile(r"{(\w+)}")


@dataclass(frozen=True, slots=True, kw_only=True)
class BodyRule:
    """A status whose meaning depends on the body: ``status`` with ``text`` in it is ``error``."""

    status: int
    text: str
    error: type[APIError]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorTable:
    """How one API family names its error statuses.

    Attributes:
        by_status: the error class of each status the family documents.
        rules: statuses whose class depends on the body text (checked first).
        client: the class of any other 4xx.
        server: the class of any 5xx.
    """

    by_status: Mapping[int, type[APIError]]
    rules: tuple[BodyRule, ...] = ()
    client: type[APIError] = APIError
    server: type[APIError] = ServerError

    def error_class(self, status: int, body_text: str) -> type[APIError]:
        """The class of the error an answer with ``status`` and ``body_text`` raises."""
        for rule in self.rules:
            if rule.status == status and rule.text in body_text.lower():
                return rule.error
        known = self.by_status.get(status)
        if known is not None:
            return known
        return self.server if status >= 500 else self.client


GENERATION_ERRORS = ErrorTable(
    by_status={
        400: ValidationError,
        401: AuthenticationError,
        402: InsufficientCreditsError,
        403: InsufficientCreditsError,
        404: NotFoundError,
        422: ValidationError,
        423: ModelUnavailableError,
        429: RateLimitError,
    },
    # The older capacity limit: 400 "Maximum number of concurrent requests (N) has been reached".
    rules=(BodyRule(status=400, text="concurrent", error=ConcurrencyLimitError),),
)
"""The generation API: 403 means insufficient credits (402 is read the same way)."""

CANCEL_ERRORS = ErrorTable(
    by_status={**GENERATION_ERRORS.by_status, 400: NotCancellableError},
    rules=GENERATION_ERRORS.rules,
)
"""Cancel: a 400 means the job has started and can no longer be canceled."""

STORAGE_ERRORS = ErrorTable(by_status={}, client=UploadRejectedError)
"""The storage host behind a presigned upload URL: any 4xx is a refused upload."""

FILE_ERRORS = ErrorTable(by_status={404: NotFoundError, 429: RateLimitError})
"""The hosts serving output files: 404 is an expired or deleted output."""


def is_path_id(value: object) -> bool:
    """True when ``value`` can name a job or session in a URL path once percent-encoded: a
    printable string of 1 to 200 characters, not a dot segment."""
    return isinstance(value, str) and _encoded(value) is not None


def path_id(value: object, what: str) -> str:
    """``value`` percent-encoded as one path segment.

    Raises:
        InvalidArgumentError: ``is_path_id(value)`` is false.
    """
    encoded = _encoded(value) if isinstance(value, str) else None
    if encoded is None:
        raise InvalidArgumentError(f"invalid {what} {value!r}")
    return encoded


@functools.lru_cache(maxsize=1024)
def _encoded(value: str) -> Optional[str]:
    # Every poll of a wait names the same id, in its URL and in its answer: each id is checked
    # and encoded once.
    if len(value) > _MAX_ID or not _PRINTABLE.fullmatch(value) or value in (".", ".."):
        return None
    return quote(value, safe="")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """One route of the API.

    Attributes:
        name: a short name for messages and logs.
        method: the HTTP method.
        path: the path below the base URL, with ``{name}`` placeholders for ids.
        errors: the family's error table.
        repeatable: True when sending it twice is as good as once (GET, cancel, delete...);
            False when a repeat after the server may have acted could act twice (a submit
            without an Idempotency-Key, an agent message).
        json_body: the request carries ``Content-Type: application/json``.
        verbatim: ids inserted as given, not percent-encoded (model ids keep their slashes; the
            builder validates them).
        ids: the placeholders of ``path``, derived.
    """

    name: str
    method: str
    path: str
    errors: ErrorTable
    repeatable: bool
    json_body: bool = True
    verbatim: tuple[str, ...] = ()
    ids: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _id_set: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = tuple(_PLACEHOLDER.findall(self.path))
        object.__setattr__(self, "ids", names)
        object.__setattr__(self, "_id_set", frozenset(names))

    def url(self, config: Union[ApiConfig, str], **ids: str) -> str:
        """The absolute URL with each id percent-encoded, on ``config``'s base URL (or on a base
        URL given as a string).

        Raises:
            InvalidArgumentError: an id is missing or unusable.
        """
        if ids.keys() != self._id_set:
            raise InvalidArgumentError(f"{self.name} needs {', '.join(self.ids)}")
        for name, value in ids.items():
            if name not in self.verbatim:
                ids[name] = path_id(value, name)
        root = config.rstrip("/") if isinstance(config, str) else config.root
        return f"{root}/{self.path.format_map(ids)}"

    def request(
        self,
        config: ApiConfig,
        *,
        body: Body = None,
        query: str = "",
        headers: Headers = (),
        **ids: str,
    ) -> Request:
        """The request to this endpoint, with the API headers and ``headers`` after them.

        Args:
            config: where and who.
            body: the body, already encoded.
            query: an encoded query string (without ``?``), or empty.
            headers: headers added after the API's own.
            ids: the path ids.
        """
        url = self.url(config, **ids)
        if query:
            url = f"{url}?{query}"
        api_headers = config.api_headers(json_body=self.json_body)
        return Request(
            method=self.method, url=url, headers=api_headers + headers if headers else api_headers, body=body
        )


SUBMIT = Endpoint(
    name="submit",
    method="POST",
    path="{model}",
    errors=GENERATION_ERRORS,
    # A repeat may create a second, billed job: the submit flow repeats it only when it carries
    # an Idempotency-Key, with which the API answers a repeat with the original job.
    repeatable=False,
    verbatim=("model",),
)
ESTIMATE = Endpoint(
    name="estimate",
    method="POST",
    path="estimate/{model}",
    errors=GENERATION_ERRORS,
    repeatable=True,
    verbatim=("model",),
)
STATUS = Endpoint(
    name="status",
    method="GET",
    path="requests/{request_id}/status",
    errors=GENERATION_ERRORS,
    repeatable=True,
)
CANCEL = Endpoint(
    name="cancel",
    method="POST",
    path="requests/{request_id}/cancel",
    errors=CANCEL_ERRORS,
    repeatable=True,  # canceling twice is refused, and cancel_flow reads a refusal after a repeat
)
DELETE = Endpoint(
    name="delete",
    method="DELETE",
    path="requests/{request_id}",
    errors=GENERATION_ERRORS,
    repeatable=True,
    json_body=False,
)
UPLOAD_SLOT = Endpoint(
    name="upload slot",
    method="POST",
    path="files/generate-upload-url",
    errors=GENERATION_ERRORS,
    repeatable=True,  # an unused slot costs nothing
)

