"""One Ray actor's work: the rows of its batches through one ``AsyncClient``, a ``Gate`` and
``ItemWork`` (the per-item logic of the local batch), and where their outputs go.

Runs in the actor's event loop (asyncio, in a thread of its own); a download's chunks are written
from that loop as they arrive. Nothing here imports Ray; ``pyarrow.fs`` is imported only for a
filesystem URI.
"""

from __future__ import annotations

import contextlib
import io
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, Protocol, Union
from urllib.parse import urlsplit, urlunsplit

import anyio

from higgsfield_proto import (
    Downloaded,
    HiggsfieldError,
    InvalidArgumentError,
    Response,
)

from .._download import file_name_from_url, unique_names
from ..batch._items import BatchItem
from ..batch._work import FATAL_SUBMIT_ERRORS, UNFINISHED, Gate, ItemWork, describe, submit_failure
from ._rows import RowResult, idempotency_key

if TYPE_CHECKING:
    from .._async import AsyncClient

class Outputs(Protocol):
    """Where a completed row's outputs go, and the column that lists them."""

    column: str

    async def fetch(self, work: ItemWork, row_id: str, urls: Sequence[str]) -> tuple[Union[bytes, str], ...]:
        """Download ``urls`` of row ``row_id``; returns what goes into ``column``."""
        ...


class _MemorySink:
    """Receives one download into memory, from scratch on each attempt."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    def restart(self) -> None:
        self._buffer = io.BytesIO()

    def head(self, response: Response) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        self._buffer.write(chunk)

    def close(self) -> None:
        pass

    def value(self, downloaded: Downloaded) -> bytes:
        return self._buffer.getvalue()


class BytesOutputs:
    """Outputs kept as bytes in the ``output_bytes`` column."""

    column = "output_bytes"

    async def fetch(self, work: ItemWork, row_id: str, urls: Sequence[str]) -> tuple[Union[bytes, str], ...]:
        """Download each of ``urls`` into memory."""
        data: list[Union[bytes, str]] = []
        for url in urls:
            sink = _MemorySink()
            data.append(await work.fetch(url, sink, sink.value))
        return tuple(data)


class _FileSink:
    """Receives one download into a part file beside ``target`` on a pyarrow filesystem; the part
    file takes the target's name only once complete, and is removed otherwise."""

    def __init__(self, filesystem: Any, target: str) -> None:
        self._fs = filesystem
        self._target = target
        self._part: Optional[str] = None
        self._stream: Any = None

    def restart(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self._part = self._part or f"{self._target}.{secrets.token_hex(4)}.part"
        self._stream = self._fs.open_output_stream(self._part)  # empty, even if it existed

    def head(self, response: Response) -> None:
        pass

    def write(self, chunk: bytes) -> None:
        self._stream.write(chunk)

    def commit(self, downloaded: Downloaded) -> str:
        assert self._part is not None, "restart() opens the part file"
        self._stream.close()
        self._stream = None
        self._fs.move(self._part, self._target)
        self._part = None
        return self._target

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._part is not None:
            with contextlib.suppress(FileNotFoundError):
                self._fs.delete_file(self._part)
            self._part = None


class FileSystemOutputs:
    """Outputs written to ``<uri>/<row id>/<name>`` and listed as URIs in ``output_paths``.

    Args:
        uri: a filesystem URI that ``pyarrow.fs.FileSystem.from_uri`` takes: ``file:///data/out``,
            ``s3://bucket/prefix``, an absolute local path...

    Raises:
        InvalidArgumentError: pyarrow cannot make a filesystem of ``uri``.
    """

    column = "output_paths"

    def __init__(self, uri: str) -> None:
        from pyarrow import fs

        try:
            self._fs, root = fs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:
            message = f"download={uri!r} is not a filesystem URI that pyarrow can open: {exc}"
            raise InvalidArgumentError(message) from None
        self._root = root.rstrip("/")
        self._uri = urlsplit(uri)
        self._pyarrow_fs = fs

    def uri_of(self, row_id: str, name: str) -> str:
        """The URI of output ``name`` of row ``row_id``, on the scheme and host of ``uri``."""
        path = f"{self._uri.path.rstrip('/')}/{row_id}/{name}"
        return urlunsplit(self._uri._replace(path=path))

    async def fetch(self, work: ItemWork, row_id: str, urls: Sequence[str]) -> tuple[Union[bytes, str], ...]:
        """Download each of ``urls`` that is not written yet (a retried row's finished files
        stay as they are), after removing the part files an attempt killed mid-download left."""
        folder = f"{self._root}/{row_id}"
        names = unique_names(file_name_from_url(url) for url in urls)
        done = await anyio.to_thread.run_sync(self._prepare, folder, names)
        for url, name in zip(urls, names, strict=True):
            if name not in done:
                sink = _FileSink(self._fs, f"{folder}/{name}")
                await work.fetch(url, sink, sink.commit)
        return tuple(self.uri_of(row_id, name) for name in names)

    def _prepare(self, folder: str, names: Sequence[str]) -> set[str]:
        """Make ``folder``, remove part files of ``names`` in it; returns the names written."""
        self._fs.create_dir(folder, recursive=True)
        done: set[str] = set()
        for info in self._fs.get_file_info(self._pyarrow_fs.FileSelector(folder)):
            if info.type != self._pyarrow_fs.FileType.File:
                continue
            name = info.base_name
            if name in names:
                done.add(name)
            elif name.endswith(".part") and name.rsplit(".", 2)[0] in names:
                self._fs.delete_file(info.path)
        return done


def outputs_for(download: str) -> Optional[Outputs]:
    """The ``Outputs`` of a ``download=`` option: None for ``"none"``, bytes for ``"bytes"``,
    else files under a filesystem URI.

    Raises:
        InvalidArgumentError: a URI pyarrow cannot open.
    """
    if download == "none":
        return None
    if download == "bytes":
        return BytesOutputs()
    return FileSystemOutputs(download)


class RowRunner:
    """Runs the rows of an actor's batches against the API. Create it in the actor's event loop.

    Args:
        client: the actor's client (closed by the caller).
        batch_name: the namespace of the rows' Idempotency-Keys.
        concurrency: the most rows in flight at once; halved while the account is full.
        job_timeout: seconds to wait for one job (None: no limit).
        outputs: where the outputs of completed rows go; None keeps their URLs only.
    """

    def __init__(
        self,
        client: AsyncClient,
        *,
        batch_name: str,
        concurrency: int,
        job_timeout: Optional[float],
        outputs: Optional[Outputs],
    ) -> None:
        self._work = ItemWork(client, job_timeout=job_timeout)
        self._gate = Gate(self._work, concurrency)
        self._downloads = anyio.CapacityLimiter(concurrency)
        self._batch_name = batch_name
        self._outputs = outputs

    async def run(self, rows: Sequence[Union[BatchItem, RowResult]]) -> list[RowResult]:
        """Run the ``BatchItem`` rows, at most ``concurrency`` at once; returns every row's
        result, in order (a ``RowResult`` row stands for itself).

        Raises:
            AuthenticationError, InsufficientCreditsError, PermissionDeniedError: the API refused
                the account; the rest of the batch was canceled.
        """
        results = [row if isinstance(row, RowResult) else None for row in rows]
        fatal: list[HiggsfieldError] = []

        async def run_one(index: int, item: BatchItem) -> None:
            try:
                results[index] = await self._row(item)
            except FATAL_SUBMIT_ERRORS as exc:
                fatal.append(exc)
                group.cancel_scope.cancel()

        async with anyio.create_task_group() as group:
            for index, row in enumerate(rows):
                if isinstance(row, BatchItem):
                    group.start_soon(run_one, index, row)
        if fatal:
            raise fatal[0]
        finished = [result for result in results if result is not None]
        assert len(finished) == len(rows), "every row that was not canceled has a result"
        return finished

    async def _row(self, item: BatchItem) -> RowResult:
        await self._gate.enter()  # this gate never stops: it admits every row in turn
        try:
            key = idempotency_key(self._batch_name, item.id)
            try:
                request_id = await self._gate.submit(item.model, dict(item.arguments), key)
            except HiggsfieldError as exc:
                if isinstance(exc, FATAL_SUBMIT_ERRORS):  # every row would meet it
                    raise
                return RowResult.from_end(submit_failure(exc))
            assert request_id is not None
            end = await self._work.settle(request_id)
        finally:
            self._gate.leave()
        result = RowResult.from_end(end, request_id)
        if end.state != "completed" or self._outputs is None:
            return result
        async with self._downloads:
            try:
                outputs = await self._outputs.fetch(self._work, item.id, end.urls)
            except (HiggsfieldError, OSError) as exc:
                error = f"download: {describe(exc)}"
                return RowResult(status=UNFINISHED, request_id=request_id, urls=end.urls, error=error)
        return RowResult(status="completed", request_id=request_id, urls=end.urls, outputs=outputs)
