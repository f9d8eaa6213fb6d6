"""The official status classes, carrying data: request id, payload, outputs and error text."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Type

from higgsfield_proto import JobState, JobStatus, job_status_from_payload


class Status:
    """A job's state as one status check saw it.

    Attributes:
        request_id: the job.
        payload: the raw JSON object the API answered.
    """

    def __init__(
        self,
        request_id: Optional[str] = None,
        payload: Optional[Mapping[str, Any]] = None,
        *,
        job: Optional[JobStatus] = None,
    ) -> None:
        self.request_id = request_id
        self.payload: Mapping[str, Any] = payload if payload is not None else {}
        self._job = job

    @property
    def state(self) -> str:
        """The wire value of the state (``queued``, ``in_progress``, ``completed``...)."""
        return _STATE_OF_CLASS[type(self)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(request_id={self.request_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Status):
            return NotImplemented
        return type(self) is type(other) and self.request_id == other.request_id

    def __hash__(self) -> int:
        return hash((type(self), self.request_id))


class Queued(Status):
    """Waiting to start; can still be canceled."""


class InProgress(Status):
    """Running; can no longer be canceled."""


class Completed(Status):
    """Finished with outputs."""

    @property
    def images(self) -> Tuple[str, ...]:
        """The URLs of the output images (empty for video models)."""
        return _job(self).images

    @property
    def video(self) -> Optional[str]:
        """The URL of the output video, if any."""
        return _job(self).video


class Failed(Status):
    """The generation failed (not charged); ``error`` holds the server's message."""

    @property
    def error(self) -> Optional[str]:
        """The failure message, if the server gave one."""
        return _job(self).error


class NSFW(Status):
    """Moderation rejected the input or the output (not charged)."""


class Cancelled(Status):
    """Canceled before it started (refunded). The wire value is ``canceled``."""


DONE_STATUSES = (Completed, NSFW, Cancelled, Failed)

_CLASS_OF_STATE: Dict[JobState, Type[Status]] = {
    JobState.QUEUED: Queued,
    JobState.IN_PROGRESS: InProgress,
    JobState.COMPLETED: Completed,
    JobState.FAILED: Failed,
    JobState.NSFW: NSFW,
    JobState.CANCELED: Cancelled,
}
_STATE_OF_CLASS = {cls: state.value for state, cls in _CLASS_OF_STATE.items()}


def _job(status: Status) -> JobStatus:
    if status._job is None:
        status._job = job_status_from_payload(dict(status.payload), request_id=status.request_id)
    return status._job


def status_from_job(job: JobStatus) -> Status:
    """The official status object for a parsed job status."""
    return _CLASS_OF_STATE[job.state](job.request_id, job.payload, job=job)


class JobResult(Dict[str, Any]):
    """A completed job's payload: a plain dict (``result['images'][0]['url']`` works, as in the
    official SDK) with typed shortcuts to the parts most callers need."""

    def __init__(self, job: JobStatus) -> None:
        super().__init__(job.payload)
        self._job = job

    @property
    def request_id(self) -> str:
        """The job's id."""
        return self._job.request_id

    @property
    def images(self) -> Tuple[str, ...]:
        """The URLs of the output images."""
        return self._job.images

    @property
    def video(self) -> Optional[str]:
        """The URL of the output video, if any."""
        return self._job.video

    @property
    def artifacts(self) -> Mapping[str, Tuple[str, ...]]:
        """Extra output URLs by key (``zip``, ``mov``, ``jsx``, ``fbx``, ``ply``), when the model
        returns any."""
        return self._job.artifacts

    @property
    def expires_at(self) -> Optional[str]:
        """When the outputs will be deleted, as the API wrote it."""
        return self._job.expires_at
