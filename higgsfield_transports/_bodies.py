"""Bodies in and out, the same in every adapter: one pass over a streamed request body (and its
async face), and the reading of an answer into a size-limited buffer or, for ``stream()``, into
the caller's sink."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from typing import Any, Optional, Union

from higgsfield_proto import FailureKind, Headers, Response, StreamedBody, TransportFailure

from ._base import HeadCallback, Sink
from ._failures import Progress


class BodySource:
    """One pass over a ``StreamedBody``, pulled chunk by chunk by a transport.

    It counts what was handed out, refuses a source that yields more or fewer bytes than its
    declared ``length``, and remembers an exception raised by the source itself, so that the
    transport can re-raise it (``raise_if_failed``) instead of reporting a network fault: a file
    that cannot be read is the caller's problem, not the network's.
    """

    def __init__(self, body: StreamedBody) -> None:
        self.length = body.length
        self.sent = 0
        self.finished = False
        self.error: Optional[Exception] = None
        self._body = body
        self._pass: Optional[Generator[bytes, None, None]] = None

    @classmethod
    def of(cls, body: object) -> Optional[BodySource]:
        """A pass over ``body`` if it is a ``StreamedBody``, else None."""
        return cls(body) if isinstance(body, StreamedBody) else None

    def chunks(self) -> Iterator[bytes]:
        """Start the pass: an iterator of the body's non-empty chunks.

        The source is opened on the first pull, not here.
        """
        self._pass = self._generate()
        return self._pass

    def close(self) -> None:
        """End the pass early if the transport stopped pulling (closes the source's iterator)."""
        if self._pass is not None:
            self._pass.close()

    def _generate(self) -> Generator[bytes, None, None]:
        try:
            iterator = self._body.chunks()
        except Exception as exc:
            self.error = exc
            raise
        try:
            while True:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except Exception as exc:
                    self.error = exc
                    raise
                if not chunk:
                    continue
                self.sent += len(chunk)
                if self.length is not None and self.sent > self.length:
                    self._fail(f"the streamed body yielded more than its length ({self.length})")
                yield bytes(chunk)
            if self.length is not None and self.sent != self.length:
                self._fail(f"the streamed body yielded {self.sent} of its {self.length} bytes")
            self.finished = True
        finally:
            close = getattr(iterator, "close", None)
            if callable(close):
                close()

    def raise_if_failed(self) -> None:
        """Re-raise the source's own exception, if it raised one."""
        if self.error is not None:
            raise self.error

    def _fail(self, message: str) -> None:
        self.error = ValueError(message)
        raise self.error


class AsyncChunks:
    """Feeds the chunks of a ``BodySource`` pass to an async HTTP library (aiohttp, httpx).

    A plain async iterator rather than an async generator: the library may drop it mid-way, and
    an abandoned async generator would be finalised later, outside our control.

    Args:
        chunks: the pass's chunks.
        before_each: called before each chunk is handed over (a watched exchange arms its
            deadline there: the library writes the chunk before it asks for the next).
    """

    def __init__(self, chunks: Iterator[bytes], *, before_each: Optional[Callable[[], None]] = None) -> None:
        self._chunks = chunks
        self._before_each = before_each

    def __aiter__(self) -> AsyncChunks:
        return self

    async def __anext__(self) -> bytes:
        if self._before_each is not None:
            self._before_each()
        # Reading the next chunk (a 64 KiB file read) inside the event loop is accepted.
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None


class StreamTarget:
    """Where a streamed response body goes: the caller's ``sink`` and ``head`` callables.

    Only a 2xx body is streamed. The callables' own exceptions are remembered, so that
    ``checked`` raises them in place of the network failure the transport made of them: a full
    disk is not the network's problem.
    """

    def __init__(self, sink: Sink, head: Optional[HeadCallback]) -> None:
        self._sink = sink
        self._head = head
        self.error: Optional[Exception] = None

    def begin(self, status: int, headers: Headers) -> None:
        """Hand the answer's head to ``head`` (if given), before the first chunk."""
        if self._head is not None:
            self._call(self._head, Response(status=status, headers=headers))

    def write(self, chunk: bytes) -> None:
        """Hand one non-empty chunk to the sink."""
        if chunk:
            self._call(self._sink, chunk)

    def _call(self, target: Callable[[Any], object], value: Any) -> None:
        try:
            target(value)
        except Exception as exc:
            self.error = exc
            raise

    def checked(self, outcome: Any) -> Any:
        """``outcome``, unless the sink or head raised: then their exception is raised instead."""
        if self.error is not None:
            raise self.error
        return outcome


@contextlib.contextmanager
def streaming(sink: Sink, head: Optional[HeadCallback]) -> Iterator[StreamTarget]:
    """A ``StreamTarget`` for one ``stream()`` call; drops the sink's remembered exception after.

    Its traceback holds the target: the reference cycle would keep the failed response, and
    through it a socket, alive until the garbage collector runs.
    """
    target = StreamTarget(sink, head)
    try:
        yield target
    finally:
        target.error = None


class AnswerReader:
    """Where the body of one answer goes: the stream target (a 2xx of ``stream()``), or a buffer
    of at most ``limit`` bytes.

    ``begin`` and ``add`` return a ``TOO_LARGE`` failure when the answer is over the limit (an
    announced Content-Length is refused before a byte of the body is read). ``streaming`` tells,
    after ``begin``, that the body goes to the stream target.
    """

    def __init__(self, target: Optional[StreamTarget], limit: int, progress: Progress) -> None:
        self._target = target
        self._limit = limit
        self._progress = progress
        self.streaming = False
        self._body = bytearray()
        self.status = 0
        self.headers: Headers = ()

    def begin(self, status: int, headers: Headers, declared: Optional[int]) -> Optional[TransportFailure]:
        """Take the answer's head; ``declared`` is its Content-Length, if it gave one."""
        self.status, self.headers = status, headers
        if self._target is not None and 200 <= status < 300:
            self.streaming = True
            self._target.begin(status, headers)
            return None
        return self._too_large() if declared is not None and declared > self._limit else None

    def add(self, chunk: bytes) -> Optional[TransportFailure]:
        """Take one chunk of the body."""
        if self.streaming:
            assert self._target is not None
            self._target.write(chunk)
            return None
        self._body += chunk
        return self._too_large() if len(self._body) > self._limit else None

    def finish(self) -> Response:
        """The answer, once its body has ended (empty when it was streamed)."""
        return Response(status=self.status, headers=self.headers, body=bytes(self._body))

    def whole(self, body: bytes) -> Union[Response, TransportFailure]:
        """The answer, its body read in one piece (not streamed): no copy is made of it."""
        if len(body) > self._limit:
            return self._too_large()
        return Response(status=self.status, headers=self.headers, body=body)

    def _too_large(self) -> TransportFailure:
        return self._progress.failure(
            FailureKind.TOO_LARGE, f"response body larger than {self._limit} bytes"
        )
