"""Downloads of job outputs, shared by the sync and async clients: request, destination, flow, sink.

A download is a GET without credentials (outputs live on CDN or storage URLs). Its body streams
into a ``*.part`` file beside the destination, which replaces the destination only once the byte
count matches the Content-Length. Failures are retried from the start as the client's
``RetryPolicy`` decides, and redirects are followed: the request carries nothing to leak.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import replace
from pathlib import Path
from typing import IO, Optional, Tuple, Union
from urllib.parse import unquote, urljoin, urlsplit

from higgsfield_proto import (
    USER_AGENT,
    DownloadError,
    FailureKind,
    Flow,
    FlowEnv,
    GiveUp,
    HiggsfieldError,
    InvalidArgumentError,
    Outcome,
    ProtocolError,
    Request,
    Response,
    Send,
    Sleep,
    TransportFailure,
    error_from_response,
    transport_error_from_failure,
)
from higgsfield_transports import (
    AsyncTransport,
    StreamingAsyncTransport,
    StreamingSyncTransport,
    SyncTransport,
)

from ._uploads import Progress

Destination = Union[str, "os.PathLike[str]"]
"""A folder (the file is named after the URL) or a file path."""

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Path separators, controls and the characters Windows refuses in a file name.
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def build_download_request(url: str) -> Request:
    """The GET for ``url``: a User-Agent, the body as stored, and never any credentials.

    Raises:
        InvalidArgumentError: ``url`` is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(f"cannot download {_shown(url)!r}: not an http(s) URL")
    # identity: the byte count can then be checked against Content-Length on every transport.
    headers = (("User-Agent", USER_AGENT), ("Accept-Encoding", "identity"))
    return Request(method="GET", url=url, headers=headers)


def file_name_from_url(url: str) -> str:
    """A safe file name from the last segment of ``url``'s path, percent-decoded.

    Separators, control characters and characters Windows refuses become ``_``; leading and
    trailing dots and spaces go (no hidden files, no ``..``). ``download`` if nothing is left.
    """
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = _UNSAFE_NAME.sub("_", segment).strip(" .")
    return name[:200] or "download"


def resolve_destination(url: str, destination: Destination) -> Path:
    """Where the download of ``url`` goes.

    An existing folder, or a path ending with a separator (created if missing), receives a file
    named after the URL (``file_name_from_url``); any other path is the file itself.
    """
    text = os.fspath(destination)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        path.mkdir(parents=True, exist_ok=True)
        return path / file_name_from_url(url)
    return path


def _shown(url: str) -> str:
    # A presigned URL's query is a bearer secret: messages show the URL without it.
    return url.split("?", 1)[0]


def _content_length(response: Response) -> Optional[int]:
    encoding = (response.header("Content-Encoding") or "identity").strip().lower()
    value = (response.header("Content-Length") or "").strip()
    if encoding != "identity" or not value.isdigit():
        return None  # a decoded body need not match the encoded length
    return int(value)


class DownloadSink:
    """Receives one download into a ``*.part`` file next to ``target``; moves it there at the end.

    ``restart`` begins each attempt with an empty part file, ``head`` and ``write`` are the
    transport's callbacks, ``commit`` renames the part file over ``target`` and ``discard``
    removes whatever is left. ``progress(bytes_written, total_or_None)`` is called at the start
    of each attempt's body and after each chunk.
    """

    def __init__(self, target: Path, progress: Optional[Progress] = None) -> None:
        self.target = target
        self.written = 0
        self.expected: Optional[int] = None
        self.started = False
        self._progress = progress
        self._part: Optional[Path] = None
        self._file: Optional[IO[bytes]] = None

    def restart(self) -> None:
        """Start an attempt: an empty part file (created in the target's folder on first use).

        Raises:
            OSError: the folder does not exist or is not writable.
        """
        self.written, self.expected, self.started = 0, None, False
        if self._file is None:
            # Opened with the process umask (unlike mkstemp's 0600): the file is the user's.
            self._part = self.target.with_name(f"{self.target.name}.{secrets.token_hex(4)}.part")
            self._file = open(self._part, "xb")  # noqa: SIM115 - closed in commit() or discard()
        else:
            self._file.seek(0)
            self._file.truncate()

    def head(self, response: Response) -> None:
        """Note the answer's Content-Length before its body arrives."""
        self.started = True
        self.expected = _content_length(response)
        if self._progress is not None:
            self._progress(0, self.expected)

    def write(self, chunk: bytes) -> None:
        """Append one chunk of the body."""
        assert self._file is not None, "restart() opens the part file"
        self._file.write(chunk)
        self.written += len(chunk)
        if self._progress is not None:
            self._progress(self.written, self.expected)

    def take(self, outcome: Outcome) -> Outcome:
        """Write a whole answer's body (from a transport that cannot stream); empties it."""
        if isinstance(outcome, Response) and 200 <= outcome.status < 300:
            self.head(outcome)
            self.write(outcome.body)
            return replace(outcome, body=b"")
        return outcome

    @property
    def complete(self) -> bool:
        """True when the bytes written match the Content-Length (or none was given)."""
        return self.expected is None or self.written == self.expected

    def commit(self) -> Path:
        """Move the finished part file over the target; returns the target."""
        assert self._file is not None, "restart() opens the part file"
        assert self._part is not None
        self._file.close()
        os.replace(self._part, self.target)
        self._part = self._file = None
        return self.target

    def discard(self) -> None:
        """Close and remove the part file, if one is left."""
        if self._file is not None:
            self._file.close()
        if self._part is not None:
            self._part.unlink(missing_ok=True)
        self._part = self._file = None


def _redirect(request: Request, response: Response) -> Optional[Request]:
    location = response.header("Location")
    if response.status not in _REDIRECTS or not location:
        return None
    try:
        return build_download_request(urljoin(request.url, location.strip()))
    except InvalidArgumentError:
        raise ProtocolError(
            "a download redirected to a URL that is not http(s)", status_code=response.status
        ) from None


def _final_error(outcome: Outcome, request: Request, sink: DownloadSink) -> HiggsfieldError:
    if isinstance(outcome, Response):
        return error_from_response(outcome)
    if not sink.started:
        return transport_error_from_failure(outcome)
    url = _shown(request.url)
    expected = f" of {sink.expected}" if sink.expected is not None else ""
    message = f"download of {url} incomplete: {sink.written}{expected} bytes ({outcome.detail})"
    return DownloadError(
        message, url=url, received=sink.written, expected=sink.expected, kind=outcome.kind.value
    )


def download_flow(request: Request, sink: DownloadSink, env: FlowEnv) -> Flow[Path]:
    """Download ``request`` into ``sink``; returns the destination path.

    Each attempt starts from an empty part file. A network failure, a retryable status, or a
    body whose size differs from its Content-Length is retried as ``env.retry`` decides (the GET
    is safe to repeat); redirects are followed (at most ``MAX_REDIRECTS``). The part file is
    removed whatever ends the flow, unless it became the destination.

    Raises:
        DownloadError: the body ended incomplete in the last attempt.
        TransportError: the network failed before any body byte arrived.
        APIError: the server answered an error status (NotFoundError for an expired output...).
        ProtocolError: too many redirects, or a redirect to a non-http(s) URL.
    """
    attempt, redirects, now = 0, 0, env.start
    try:
        while True:
            attempt += 1
            sink.restart()
            outcome: Outcome = yield Send(request)
            if isinstance(outcome, Response) and 200 <= outcome.status < 300:
                if sink.complete:
                    return sink.commit()
                detail = "the body does not match its Content-Length"
                outcome = TransportFailure(kind=FailureKind.READ, detail=detail, request_sent=True)
            elif isinstance(outcome, Response):
                following = _redirect(request, outcome)
                if following is not None:
                    redirects += 1
                    if redirects > MAX_REDIRECTS:
                        message = f"more than {MAX_REDIRECTS} redirects"
                        raise ProtocolError(message, status_code=outcome.status)
                    request, attempt = following, 0
                    continue
            decision = env.retry.decide(
                attempt, outcome, repeatable=True, now=now + env.wall_offset, jitter=env.jitter()
            )
            if isinstance(decision, GiveUp):
                raise _final_error(outcome, request, sink)
            now = yield Sleep(decision.delay)
    finally:
        sink.discard()


def prepare_download(
    url: str, destination: Destination, progress: Optional[Progress], env: FlowEnv
) -> Tuple[Flow[Path], DownloadSink]:
    """The flow of one download and the sink its transport writes to.

    Raises:
        InvalidArgumentError: ``url`` is not an http(s) URL.
    """
    request = build_download_request(url)
    sink = DownloadSink(resolve_destination(url, destination), progress)
    return download_flow(request, sink, env), sink


class SyncDownloadTransport:
    """A transport for the runner whose ``send`` streams the answer into a ``DownloadSink``.

    It uses ``transport.stream`` when the transport has it, else ``send`` and writes the body.
    It closes nothing: the wrapped transport belongs to the client.
    """

    def __init__(self, transport: SyncTransport, sink: DownloadSink) -> None:
        self._transport = transport
        self._sink = sink

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        sink = self._sink
        if isinstance(self._transport, StreamingSyncTransport):
            return self._transport.stream(request, sink.write, timeout=timeout, head=sink.head)
        return sink.take(self._transport.send(request, timeout=timeout))

    def close(self) -> None:
        return None


class AsyncDownloadTransport:
    """The async twin of ``SyncDownloadTransport`` (asyncio or trio)."""

    def __init__(self, transport: AsyncTransport, sink: DownloadSink) -> None:
        self._transport = transport
        self._sink = sink

    async def send(self, request: Request) -> Outcome:
        if isinstance(self._transport, StreamingAsyncTransport):
            return await self._transport.stream(request, self._sink.write, head=self._sink.head)
        return self._sink.take(await self._transport.send(request))

    async def aclose(self) -> None:
        return None
