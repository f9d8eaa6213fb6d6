"""The error hierarchy shared by the core and the public client. No I/O happens here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlsplit

from ._http import FailureKind, TransportFailure
from ._values import FieldError, ForeignId


class HiggsfieldError(Exception):
    """Root of every error this SDK raises (``higgsfield_client`` exports it as HiggsfieldClientError)."""


class CredentialsMissedError(HiggsfieldError):
    """No API key was given and none was found in the environment."""


class InvalidArgumentError(HiggsfieldError, ValueError):
    """A caller passed an argument the protocol cannot carry (bad model id, key, header value...)."""


class CatalogError(HiggsfieldError, ValueError):
    """A model catalog document is malformed or partial: an OpenAPI document without paths, a
    model endpoint without a request schema, a schema keyword of the wrong type..."""


class UnknownModelError(InvalidArgumentError):
    """The model catalog does not know this model id.

    ``model_id`` is the id asked for; ``foreign`` is the ``ForeignId`` note when the id belongs to
    another Higgsfield API plane, whose message the error's text carries.
    """

    def __init__(self, message: str, *, model_id: str, foreign: Optional[ForeignId] = None) -> None:
        super().__init__(message)
        self.model_id = model_id
        self.foreign = foreign


class ProtocolError(HiggsfieldError):
    """The server answered something that breaks the protocol (bad JSON, wrong types, no id...)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: Optional[int] = None,
        correlation_id: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.correlation_id = correlation_id
        self.request_id = request_id


class UnknownStatusError(ProtocolError):
    """A status payload carried a ``status`` value outside the six documented states."""

    def __init__(self, value: object, **kwargs: Any) -> None:
        super().__init__(f"unknown job status {value!r}", **kwargs)
        self.value = value


class TransportError(HiggsfieldError):
    """The network failed: connection refused or reset, TLS failure, timeout, oversized answer.

    Attributes:
        kind: the ``FailureKind`` value of the last failure (``connect``, ``read``, ``timeout``...).
        request_written: True when the last attempt may have reached the server.
        host: the host that could not be reached, when known.
        attempts: how many times the request was sent before giving up.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        request_written: bool = False,
        host: Optional[str] = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.request_written = request_written
        self.host = host
        self.attempts = attempts


class NetworkTimeoutError(TransportError, TimeoutError):
    """A single HTTP exchange took longer than its timeout."""


class DownloadError(TransportError):
    """A download ended incomplete: the body broke off, or its size differs from Content-Length.

    Attributes:
        url: the URL downloaded, without its query (which may hold a signature).
        received: the body bytes received in the last attempt, when known.
        expected: the Content-Length announced, when the answer gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        received: Optional[int] = None,
        expected: Optional[int] = None,
        kind: str = "read",
        attempts: int = 1,
    ) -> None:
        super().__init__(
            message, kind=kind, request_written=True, host=urlsplit(url).hostname, attempts=attempts
        )
        self.url = url
        self.received = received
        self.expected = expected


def transport_error_from_failure(
    failure: TransportFailure, *, url: Optional[str] = None, attempts: int = 1
) -> TransportError:
    """The error to raise for a network failure that will not be retried.

    Args:
        failure: the last failure.
        url: the URL of the request that failed; its host is named in the message.
        attempts: how many times the request was sent.

    Returns:
        ``NetworkTimeoutError`` for a timeout, ``TransportError`` for any other kind; ``kind``
        and ``request_written`` are copied from ``failure``.
    """
    host = urlsplit(url).hostname if url is not None else None
    where = f" reaching {host}" if host else ""
    tries = f" after {attempts} attempt{'s' if attempts != 1 else ''}" if url is not None else ""
    message = f"network failure{where}{tries} ({failure.kind.value}): {failure.detail}".rstrip(": ")
    cls = NetworkTimeoutError if failure.kind is FailureKind.TIMEOUT else TransportError
    return cls(
        message,
        kind=failure.kind.value,
        request_written=failure.request_written,
        host=host,
        attempts=attempts,
    )


class APIError(HiggsfieldError):
    """The API answered with an error status.

    Attributes:
        status_code: the HTTP status.
        detail: the server's message (``detail``/``message``/``error`` of the body), or the raw text.
        body: the body text as received (at most 2,000 characters are kept).
        request_id: the job concerned, when known.
        correlation_id: the ``X-Correlation-ID`` header, to quote to Higgsfield support.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        detail: Any = None,
        body: str = "",
        request_id: Optional[str] = None,
        correlation_id: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.body = body
        self.request_id = request_id
        self.correlation_id = correlation_id


class AuthenticationError(APIError):
    """401: the credentials are missing, malformed or wrong."""


class InsufficientCreditsError(APIError):
    """402, or 403 naming credits: the account cannot pay for this generation."""


class PermissionDeniedError(APIError):
    """403 that is not about credits."""


class NotFoundError(APIError):
    """404: unknown model, or a request that does not exist or belongs to another account."""


class OutputExpiredError(NotFoundError):
    """404 from the host of an output file: it expired (its retention passed) or was deleted.

    Attributes:
        url: the output's URL without its query (a signed URL's query is a secret).
        storage_code: the storage's own error code (``NoSuchKey``), when its answer gave one.
    """

    def __init__(self, message: str, *, url: str, storage_code: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.url = url
        self.storage_code = storage_code


class ValidationError(APIError):
    """400 or 422: the request was rejected as invalid.

    ``errors`` holds the 422 field list as ``FieldError`` values (empty when the body had none).
    ``local`` is True when the arguments were checked on this machine against the model catalog
    and nothing was sent; ``status_code`` is then the 422 the API would have answered.
    """

    def __init__(
        self, message: str, *, errors: tuple[FieldError, ...] = (), local: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors
        self.local = local


class NotCancellableError(ValidationError):
    """400 on cancel: the job has already started (or finished) and can no longer be canceled."""


class ModelUnavailableError(APIError):
    """423: the model is temporarily blocked for this account."""


class RateLimitError(APIError):
    """429: too many requests or a full account queue; wait ``retry_after`` seconds (if known).

    ``code`` is the machine code (``account_queue_full``) and ``limit`` the queue limit, when given.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: Optional[float] = None,
        code: Optional[str] = None,
        limit: Optional[int] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.code = code
        self.limit = limit


class ConcurrencyLimitError(RateLimitError):
    """400 "Maximum number of concurrent requests": the older form of the capacity limit."""


class ServerError(APIError):
    """5xx: the API or the model is unavailable."""


class UploadRejectedError(APIError):
    """The storage host refused the presigned PUT (expired slot, signature or header mismatch)."""


class JobError(HiggsfieldError):
    """A job ended without output. ``request_id``, ``status`` and ``payload`` describe it."""

    def __init__(self, message: str, *, request_id: str, status: str, payload: Mapping[str, Any]) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.status = status
        self.payload = payload


class JobFailedError(JobError):
    """The job ended ``failed``; ``error`` holds the server's message."""

    def __init__(self, message: str, *, error: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.error = error


class JobNSFWError(JobError):
    """Moderation rejected the job's input or output (``nsfw``)."""


class JobCancelledError(JobError):
    """The job was canceled before it started."""


class WaitTimeoutError(HiggsfieldError, TimeoutError):
    """The overall deadline passed before the job finished.

    ``request_id`` names the job (it may still be running server-side); ``last_status`` is the last
    state seen, and ``cancelled`` tells whether the job was canceled because of the deadline.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: Optional[str],
        last_status: Optional[str] = None,
        cancelled: bool = False,
    ) -> None:
        super().__init__(message)
        self.request_id = request_id
        self.last_status = last_status
        self.cancelled = cancelled


class WebhookVerificationError(HiggsfieldError):
    """A webhook delivery's signature, timestamp or headers did not verify."""


class WebhookSecretError(InvalidArgumentError):
    """A webhook secret that cannot be trusted: empty, too short, or not in its format.

    Raised where a secret is given (a receiver made, a delivery signed or verified, a URL
    token made), never because of a delivery. The message describes the fault, never the secret.
    """


class AgentError(HiggsfieldError):
    """An error of the Agent API (the official SDK's root name for them).

    ``status_code`` is the HTTP status, or None for an error that is no answer (a timeout). The
    errors of an answer are also ``APIError``s, whose ``status_code`` is always set: mypy cannot
    tell that the two declarations agree for them (hence the ignores below).
    """

    def __init__(self, message: str, status_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AgentAccessDeniedError(PermissionDeniedError, AgentError):  # type: ignore[misc]
    """403 from the Agent API: the account has no access to it (the server's detail is kept)."""


class AgentInsufficientCreditsError(InsufficientCreditsError, AgentError):  # type: ignore[misc]
    """402 from the Agent API: the account cannot pay for the turn.

    ``except InsufficientCreditsError`` and ``except AgentError`` both catch it.
    """


class SessionBusyError(APIError, AgentError):  # type: ignore[misc]
    """409 from the Agent API: a turn is already running in the session (the losing message was
    not charged)."""


class AgentBackendError(ServerError, AgentError):  # type: ignore[misc]
    """5xx from the Agent API: the agent backend is unavailable."""


class AgentTimeoutError(AgentError, TimeoutError):
    """A turn did not finish in time; it keeps running server-side.

    ``session_id`` and ``message_id`` (the last message sent) resume the wait with
    ``sessions.wait(session_id, message_id)``.
    """

    def __init__(self, message: str, *, session_id: str, message_id: str) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.message_id = message_id


class AgentTurnFailedError(AgentError):
    """A turn ended ``failed`` and the caller asked for failures to be raised.

    ``result`` is the ``TurnResult``; its ``text`` is the failure the agent gave.
    """

    def __init__(self, message: str, *, result: Any) -> None:
        super().__init__(message)
        self.result = result
