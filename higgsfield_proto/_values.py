"""Protocol values: job states and statuses, upload slots, estimates, webhook events. No I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional


class JobState(str, enum.Enum):
    """The six documented job states, spelled as on the wire."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    NSFW = "nsfw"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        """True for the four states a job never leaves."""
        return self not in (JobState.QUEUED, JobState.IN_PROGRESS)


ARTIFACT_KEYS = ("zip", "mov", "jsx", "fbx", "ply")
"""Extra output keys some video and 3D models return next to ``video``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStatus:
    """One answer about a job: its state, outputs when finished, and the raw payload.

    ``images`` and ``video`` hold output URLs; ``artifacts`` maps extra keys (``zip``, ``mov``...) to
    their URLs; ``error`` is the failure text of a ``failed`` job; ``expires_at`` is the retention
    deadline as the server wrote it (ISO-8601 is assumed, but the string is kept verbatim).
    """

    state: JobState
    request_id: str
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)
    status_url: Optional[str] = None
    cancel_url: Optional[str] = None
    images: tuple[str, ...] = ()
    video: Optional[str] = None
    # hash=False: a dict is unhashable, and hashing a frozen status must not raise.
    artifacts: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    error: Optional[str] = None
    expires_at: Optional[str] = None

    @property
    def is_terminal(self) -> bool:
        """True once the job has finished, whatever the outcome."""
        return self.state.is_terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldError:
    """One entry of a 422 field list: where (``loc``), what (``msg``) and the error ``type``."""

    loc: tuple[Any, ...]
    msg: str
    type: str = ""

    def __str__(self) -> str:
        where = ".".join(str(part) for part in self.loc if part != "body") or "body"
        return f"{where}: {self.msg}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadTarget:
    """A presigned upload slot: PUT the bytes to ``upload_url`` with exactly ``upload_headers``.

    ``upload_headers`` is already final: the slot's headers verbatim, plus ``Content-Type`` set to
    ``content_type`` when the slot named none (an S3 signature covers the type given in step 1).
    """

    public_url: str
    upload_url: str
    content_type: str
    upload_headers: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        # The upload URL embeds a signature: it is a bearer secret for an hour.
        return f"UploadTarget(public_url={self.public_url!r}, content_type={self.content_type!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """The price of a generation before submitting it, as exact decimals."""

    credits: Decimal
    usd: Decimal
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Deletion:
    """The answer to deleting a finished request's data."""

    request_id: str
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEvent:
    """A delivered webhook: the job's final status, and the Standard Webhooks id and time if signed.

    ``reference`` is the app's own reference for the job when the delivery came to a URL made
    by ``signed_webhook_url`` (and its token verified).
    """

    status: JobStatus
    webhook_id: Optional[str] = None
    timestamp: Optional[int] = None
    reference: Optional[str] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Enqueued:
    """Notify event: a submit was accepted under ``request_id``."""

    request_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """Notify event: one status check answered ``status``."""

    status: JobStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Retrying:
    """Notify event: an attempt failed and the same request goes again after ``delay`` seconds.

    Attributes:
        method: the request's method.
        url: the request's URL without its query (a presigned URL's signature stays out).
        attempt: the number of the attempt that failed (1 for the first).
        delay: the seconds waited before the next attempt (a Retry-After, or the backoff).
        status: the HTTP status that failed, or None for a network failure.
        failure: the network failure's kind (``"connect"``, ``"read"``...), or None for a status.
        retry_after: the seconds the answer's ``Retry-After`` asked for, or None when it had none
            (a network failure, or an answer without the header or with an unreadable one).
    """

    method: str
    url: str
    attempt: int
    delay: float
    status: Optional[int] = None
    failure: Optional[str] = None
    retry_after: Optional[float] = None

    @property
    def reason(self) -> str:
        """Why the attempt failed, in a few words: ``HTTP 503`` or ``connect failure``."""
        return f"HTTP {self.status}" if self.failure is None else f"{self.failure} failure"


@dataclass(frozen=True, slots=True, kw_only=True)
class Downloaded:
    """A finished download: the URL asked for, the bytes the sink received, their content type."""

    url: str
    size: int
    content_type: Optional[str] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ForeignId:
    """An id of another Higgsfield API plane that users mistake for a model id of this one.

    ``plane`` names the plane; ``message`` says what the id is and, when known, which models of
    this API are of the same family (not the same model).
    """

    model_id: str
    plane: str
    message: str
