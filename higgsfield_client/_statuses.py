"""The official status classes, carrying data: request id, payload, outputs and error text."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

from higgsfield_proto import JobState, JobStatus, job_status_from_payload

from ._outputs import (
    EMBED_MAX_SIZE,
    Embedded,
    Fetcher,
    Folder,
    Output,
    aread_small,
    embedded,
    fetcher_for,
    layout,
    read_small,
    short_url,
)


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
"""The status classes of a job that has ended (the official SDK's constant)."""

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
    official SDK) with typed shortcuts to the parts most callers need.

    ``images``, ``video`` and ``artifacts`` are ``Output`` objects: the URLs as ``str``, which can
    also ``read()`` their bytes. ``save(folder)`` downloads every output. A result from a
    ``SyncClient`` uses the blocking ``save``/``read``, one from an ``AsyncClient`` awaits
    ``asave``/``aread``; each fetches with the client that made the result (its ``fetcher``). In
    Jupyter a result shows its images and a video player from their URLs; ``embed()`` inlines the
    images, for a saved notebook that outlives the URLs. ``repr`` is one line.
    """

    def __init__(self, job: JobStatus, *, fetcher: Optional[Fetcher] = None) -> None:
        super().__init__(job.payload)
        self._job = job
        self._fetcher = fetcher

    def __reduce__(self) -> Tuple[Any, ...]:
        # The fetcher stays behind (its client holds connections and locks): an unpickled
        # result fetches with the default client.
        return (JobResult, (self._job,))

    @property
    def request_id(self) -> str:
        """The job's id."""
        return self._job.request_id

    @property
    def images(self) -> Tuple[Output, ...]:
        """The output images (their URLs)."""
        return tuple(Output(url, kind="image", fetcher=self._fetcher) for url in self._job.images)

    @property
    def video(self) -> Optional[Output]:
        """The output video (its URL), if any."""
        video = self._job.video
        return None if video is None else Output(video, kind="video", fetcher=self._fetcher)

    @property
    def artifacts(self) -> Mapping[str, Tuple[Output, ...]]:
        """Extra outputs by key (``zip``, ``mov``, ``jsx``, ``fbx``, ``ply``), when the model
        returns any."""
        return {
            key: tuple(Output(url, kind=key, fetcher=self._fetcher) for url in urls)
            for key, urls in self._job.artifacts.items()
        }

    @property
    def expires_at(self) -> Optional[str]:
        """When the outputs will be deleted, as the API wrote it."""
        return self._job.expires_at

    def save(self, folder: Folder, *, overwrite: bool = False) -> List[Path]:
        """Download every output into ``folder`` with the SyncClient that made this result.

        ``client.download_outputs(result, folder)``: files named ``<request id>-<name>``. A file
        already there with the output's size is kept as it is, so a save that failed half way
        goes on where it stopped when called again; a file of another size is replaced only with
        ``overwrite``.

        Returns:
            The files' paths: images, the video, then artifacts.

        Raises:
            FileExistsError: a file of another size is there and ``overwrite`` is off.
            DownloadError, TransportError, APIError: as ``SyncClient.download``; the message
                names the output that was not saved (those before it are).
            TypeError: the result came from an AsyncClient (use ``asave``).
        """
        return fetcher_for(self._fetcher).save(self.request_id, self._urls(), folder, overwrite)

    async def asave(self, folder: Folder, *, overwrite: bool = False) -> List[Path]:
        """``save`` for a result of an AsyncClient (asyncio or trio)."""
        return await fetcher_for(self._fetcher).asave(self.request_id, self._urls(), folder, overwrite)

    def _urls(self) -> List[str]:
        return [output.url for output in self.outputs]

    @property
    def outputs(self) -> List[Output]:
        """Every output: the images, the video, then the artifacts."""
        video = self.video
        extra = [output for group in self.artifacts.values() for output in group]
        return [*self.images, *([video] if video is not None else []), *extra]

    def __repr__(self) -> str:
        shown = ", ".join(f"{output.kind}={short_url(output)!r}" for output in self.outputs)
        return f"JobResult(request_id={self.request_id!r}{', ' if shown else ''}{shown})"

    def embed(self, *, max_size: int = EMBED_MAX_SIZE) -> Embedded:
        """This result for a notebook that keeps it: its images are fetched now, with the
        SyncClient that made the result, and inlined as data URLs, so that a saved notebook shows
        them after their URLs expire (7 days after the job on the API). An image larger than
        ``max_size``, the video and other outputs stay links, as when the result itself is
        displayed.

        Args:
            max_size: the largest image inlined, in bytes (each image is checked as it streams).

        Returns:
            What Jupyter displays.

        Raises:
            NotFoundError: an output expired or was deleted.
            DownloadError, TransportError: an image could not be fetched.
            InvalidArgumentError: ``max_size`` is not a positive number of bytes.
            TypeError: the result came from an AsyncClient (use ``aembed``).
        """
        return embedded([(output, read_small(output, max_size)) for output in self.outputs], self._caption())

    async def aembed(self, *, max_size: int = EMBED_MAX_SIZE) -> Embedded:
        """``embed`` for a result of an AsyncClient (asyncio or trio)."""
        pieces = [(output, await aread_small(output, max_size)) for output in self.outputs]
        return embedded(pieces, self._caption())

    def _caption(self) -> str:
        import html  # only in a notebook

        expires = f" · expires {html.escape(self.expires_at)}" if self.expires_at else ""
        return f"<div><code>{html.escape(self.request_id)}</code>{expires}</div>"

    def _repr_html_(self) -> str:
        return layout(self._caption(), [output._repr_html_() for output in self.outputs])
