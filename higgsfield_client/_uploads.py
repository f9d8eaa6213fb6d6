"""Turning upload inputs (bytes, text, paths, file objects, Pillow images) into request bodies."""

from __future__ import annotations

import io
import mimetypes
import os
from typing import IO, TYPE_CHECKING, Callable, Iterator, Optional, Tuple, Union

from higgsfield_proto import Body, InvalidArgumentError, StreamedBody

if TYPE_CHECKING:
    from PIL import Image

CHUNK_SIZE = 256 * 1024
SPOOL_IN_MEMORY = 8 * 2**20
"""The most of a non-seekable upload held in memory before it is spooled to disk."""
Progress = Callable[[int, Optional[int]], object]
"""Called as ``progress(bytes_sent, total_bytes)`` while an upload body is being sent."""
UploadData = Union[bytes, bytearray, memoryview, str, IO[bytes]]

# The content types the API accepts for uploads, by file extension.
_TYPES_BY_EXTENSION = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".wav": "audio/wav",
    ".mp4": "video/mp4",
}
_IMAGE_FORMATS = {
    "jpeg": ("JPEG", "image/jpeg"),
    "jpg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "webp": ("WEBP", "image/webp"),
    "gif": ("GIF", "image/gif"),
}


def _known_type(path: Union[str, os.PathLike[str]]) -> Optional[str]:
    extension = os.path.splitext(os.fspath(path))[1].lower()
    return _TYPES_BY_EXTENSION.get(extension) or mimetypes.guess_type(os.fspath(path))[0]


def guess_content_type(path: Union[str, os.PathLike[str]]) -> str:
    """The MIME type of ``path`` from its extension.

    Raises:
        InvalidArgumentError: the extension names no known type (pass ``content_type=``).
    """
    guessed = _known_type(path)
    if guessed is None:
        raise InvalidArgumentError(
            f"cannot tell the content type of {os.fspath(path)!r}; pass content_type= explicitly"
        )
    return guessed


def _chunks_of_bytes(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK_SIZE):
        yield bytes(view[start : start + CHUNK_SIZE])


def _chunks_of_path(path: str) -> Iterator[bytes]:
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_SIZE):
            yield chunk


def _chunks_of_file(file: IO[bytes], start: int) -> Iterator[bytes]:
    file.seek(start)
    while chunk := file.read(CHUNK_SIZE):
        yield chunk


def _with_progress(body: StreamedBody, progress: Progress) -> StreamedBody:
    def counted() -> Iterator[bytes]:
        sent = 0
        progress(0, body.length)
        for chunk in body.chunks():
            sent += len(chunk)
            progress(sent, body.length)
            yield chunk

    return StreamedBody(open=counted, length=body.length)


def body_from_data(data: UploadData, progress: Optional[Progress] = None) -> Body:
    """A request body for ``upload()``: bytes as they are, text as UTF-8, file objects streamed.

    A file object is read from its current position, and re-read on each attempt; one that
    cannot seek (a pipe) is first copied to a temporary file, so that its length is known.
    """
    body: Body
    if isinstance(data, str):
        data = data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if progress is None:
            return raw
        body = StreamedBody(open=lambda: _chunks_of_bytes(raw), length=len(raw))
    elif hasattr(data, "read"):
        body = _file_body(data)
    else:
        raise InvalidArgumentError(
            f"cannot upload {type(data).__name__}: pass bytes, str or a binary file object"
        )
    return _with_progress(body, progress) if progress is not None else body


def _file_body(file: IO[bytes]) -> StreamedBody:
    """A body re-read from ``file``'s current position on each attempt, with its exact length.

    Storage behind a presigned URL needs a Content-Length, and a repeated PUT needs the bytes
    again: a file object that cannot seek (a pipe, a socket) is first copied to a temporary
    file (in memory up to 8 MiB), which is then read like a seekable one.
    """
    try:
        seekable = file.seekable()
    except (OSError, ValueError):
        seekable = False
    if not seekable:
        import shutil
        import tempfile

        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - dropped with the body
        shutil.copyfileobj(file, spool, CHUNK_SIZE)
        file = spool
        file.seek(0)
    start = file.tell()
    length = file.seek(0, io.SEEK_END) - start
    file.seek(start)
    return StreamedBody(open=lambda: _chunks_of_file(file, start), length=length)


def body_from_path(path: Union[str, os.PathLike[str]], progress: Optional[Progress] = None) -> StreamedBody:
    """A streamed body reading ``path`` in chunks, reopened for each attempt.

    Raises:
        InvalidArgumentError: the path is not a readable regular file.
    """
    name = os.fspath(path)
    try:
        size = os.stat(name).st_size
    except OSError as exc:
        raise InvalidArgumentError(f"cannot read {name!r}: {exc.strerror}") from None
    if not os.path.isfile(name):
        raise InvalidArgumentError(f"{name!r} is not a regular file")
    body = StreamedBody(open=lambda: _chunks_of_path(name), length=size)
    return _with_progress(body, progress) if progress is not None else body


def image_to_bytes(image: Image.Image, format: str = "jpeg") -> Tuple[bytes, str]:
    """Encode a Pillow image; returns the bytes and their content type.

    Raises:
        InvalidArgumentError: a format other than jpeg, jpg, png, webp or gif.
    """
    try:
        pillow_format, content_type = _IMAGE_FORMATS[format.lower()]
    except KeyError:
        raise InvalidArgumentError(
            f"unsupported image format {format!r}: use one of {', '.join(_IMAGE_FORMATS)}"
        ) from None
    if pillow_format == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=pillow_format)
    return buffer.getvalue(), content_type


class UploadMixin:
    """The official client's upload helpers, static methods of both clients (the official
    ``higgsfield_client.mixins.UploadMixin``)."""

    @staticmethod
    def guess_mime_type(path: Union[str, os.PathLike[str]]) -> str:
        """The MIME type of ``path`` from its extension; ``application/octet-stream`` when unknown."""
        return _known_type(path) or "application/octet-stream"

    @staticmethod
    def ensure_bytes(data: Union[bytes, str]) -> bytes:
        """``data`` as bytes: text encoded as UTF-8, bytes as they are.

        Raises:
            InvalidArgumentError: ``data`` is neither bytes nor str.
        """
        if isinstance(data, str):
            return data.encode("utf-8")
        if isinstance(data, (bytes, bytearray, memoryview)):
            return bytes(data)
        raise InvalidArgumentError(f"expected bytes or str, got {type(data).__name__}")

    @staticmethod
    def image_to_bytes(image: Image.Image, format: str = "jpeg") -> bytes:
        """A Pillow image encoded as ``format`` (jpeg, jpg, png, webp or gif).

        Raises:
            InvalidArgumentError: another format.
        """
        return image_to_bytes(image, format)[0]
