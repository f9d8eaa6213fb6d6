"""Where downloads go: safe file names, destinations, and the sinks a download streams into.

A download is the core's ``download_flow``; its body streams into a ``*.part`` file beside the
destination, which takes the destination's name only when the flow succeeded (the core checked
the size against Content-Length). An existing file is never replaced unless the caller asks.

Saving a job's outputs again goes on where an earlier save stopped. There is no HEAD in the
protocol, and the size of an output is known only from the answer to its GET, so a file already
at its destination costs that GET but not its body: when the answer's Content-Length is the
file's size, the sink ends the call with the file as it is before a byte of the body is read (the
connection is dropped, not pooled). A file of another size is not whole (or not this output): it
is replaced only with ``overwrite``. An answer without a usable Content-Length (an encoded body)
is downloaded, and its size compared at the end.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Optional, Union
from urllib.parse import unquote, urlsplit

from higgsfield_proto import Downloaded, DownloadError, Response, declared_length

from ._runner import EndedBySink
from ._uploads import Progress

Destination = Union[str, "os.PathLike[str]"]
"""A folder (the file is named after the URL) or a file path."""

# Path separators, controls and the characters Windows refuses in a file name.
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def file_name_from_url(url: str) -> str:
    """A safe file name from the last segment of ``url``'s path, percent-decoded.

    Separators, control characters and characters Windows refuses become ``_``; leading and
    trailing dots and spaces go (no hidden files, no ``..``). ``download`` if nothing is left.
    """
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = _UNSAFE_NAME.sub("_", segment).strip(" .")
    return name[:200] or "download"


def shown_url(url: str) -> str:
    """``url`` as errors may name it: without its query and fragment (a signed URL's query is a
    secret)."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def unique_names(names: Iterable[str]) -> list[str]:
    """``names`` with repeats made distinct: the second ``0.png`` becomes ``0-2.png``."""
    seen: set[str] = set()
    unique: list[str] = []
    for name in names:
        stem, dot, extension = name.rpartition(".")
        if not dot or not stem:
            stem, dot, extension = name, "", ""
        candidate, number = name, 1
        while candidate in seen:
            number += 1
            candidate = f"{stem}-{number}{dot}{extension}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def output_file_names(request_id: str, urls: Iterable[str]) -> list[str]:
    """File names for a job's outputs: ``<request id>-<name from the URL>``, distinct.

    Outputs of different jobs cannot collide, and neither can two outputs of one job.
    """
    prefix = file_name_from_url(f"/{request_id}")
    return unique_names(f"{prefix}-{file_name_from_url(url)}" for url in urls)


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


def refuse_existing(target: Path) -> None:
    """Raise FileExistsError when ``target`` exists: a download never replaces a file unasked."""
    if os.path.lexists(target):
        raise _exists(target)


def _exists(target: Path, message: str = "the file exists already") -> FileExistsError:
    return FileExistsError(errno.EEXIST, f"{message}; pass overwrite=True to replace it", str(target))


def _size_on_disk(path: Path) -> Optional[int]:
    """The size of the regular file at ``path``, or None when there is none."""
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_size if stat.S_ISREG(found.st_mode) else None


class DownloadSink:
    """Receives one download into a ``*.part`` file next to ``target``.

    ``restart`` begins each attempt with an empty part file, ``head`` and ``write`` take the
    answer, ``commit`` gives the part file the target's name, and ``close`` removes whatever is
    left. ``progress(bytes_written, total_or_None)`` is called at the start of each attempt's
    body and after each chunk.

    Args:
        target: the file to create.
        progress: the progress callback, if any.
        overwrite: replace ``target`` if it exists; otherwise ``commit`` refuses to.
        keep_whole: keep a file already at ``target`` whose size is the output's (see the
            module's docstring): ``head`` then ends the call with ``target`` (``EndedBySink``)
            when the answer announces that size, and ``commit`` keeps it when the body had it.
    """

    def __init__(
        self,
        target: Path,
        progress: Optional[Progress] = None,
        *,
        overwrite: bool = False,
        keep_whole: bool = False,
    ) -> None:
        self.target = target
        self.written = 0
        self._expected: Optional[int] = None
        self._progress = progress
        self._overwrite = overwrite
        self._keep_whole = keep_whole
        self._part: Optional[Path] = None
        self._file: Optional[IO[bytes]] = None

    def restart(self) -> None:
        """Start an attempt: an empty part file (created in the target's folder on first use).

        Raises:
            OSError: the folder does not exist or is not writable.
        """
        self.written, self._expected = 0, None
        if self._file is None:
            # Opened with the process umask (unlike mkstemp's 0600): the file is the user's.
            self._part = self.target.with_name(f"{self.target.name}.{os.urandom(4).hex()}.part")
            self._file = open(self._part, "xb")  # noqa: SIM115 - closed in commit() or close()
        else:
            self._file.seek(0)
            self._file.truncate()

    def head(self, response: Response) -> None:
        """Note the answer's Content-Length before its body arrives (for the progress callback).

        Raises:
            EndedBySink: ``keep_whole``, and the file at the target has the announced size.
        """
        self._expected = declared_length(response)
        if self._keep_whole and self._expected is not None and self._expected == _size_on_disk(self.target):
            raise EndedBySink(self.target)
        if self._progress is not None:
            self._progress(0, self._expected)

    def write(self, chunk: bytes) -> None:
        """Append one chunk of the body."""
        assert self._file is not None, "restart() opens the part file"
        self._file.write(chunk)
        self.written += len(chunk)
        if self._progress is not None:
            self._progress(self.written, self._expected)

    def commit(self, downloaded: Downloaded) -> Path:
        """Give the finished part file the target's name; returns the target. With ``keep_whole``,
        a file there of the size received stays instead.

        Raises:
            FileExistsError: the target appeared meanwhile and ``overwrite`` is off.
        """
        assert self._file is not None, "restart() opens the part file"
        assert self._part is not None
        self._file.close()
        self._file = None
        part, self._part = self._part, None
        if self._keep_whole and downloaded.size == _size_on_disk(self.target):
            part.unlink()  # the file there was whole: it stays as it is
            return self.target
        if not self._overwrite:
            # A hard link fails if the target exists: no other file is ever replaced.
            try:
                os.link(part, self.target)
            except FileExistsError:
                part.unlink()
                raise self._refusal(downloaded) from None
            except OSError:
                refuse_existing(self.target)  # a file system without hard links: check, then rename
            else:
                part.unlink()
                return self.target
        os.replace(part, self.target)
        return self.target

    def _refusal(self, downloaded: Downloaded) -> FileExistsError:
        if not self._keep_whole:
            return _exists(self.target)
        size = _size_on_disk(self.target)
        return _exists(self.target, f"a file of {size} bytes is there, and the output has {downloaded.size}")

    def close(self) -> None:
        """Close and remove the part file, if one is left."""
        if self._file is not None:
            self._file.close()
        if self._part is not None:
            self._part.unlink(missing_ok=True)
        self._part = self._file = None


class MemorySink:
    """Receives one download into memory, refusing more than ``max_size`` bytes.

    ``restart`` empties the buffer for each attempt; ``value`` returns the bytes once the flow
    succeeded (the core checked the size against Content-Length).

    Args:
        url: the URL downloaded (named in errors without its query).
        max_size: the most bytes accepted, or None for no limit.
    """

    def __init__(self, url: str, max_size: Optional[int]) -> None:
        self._url = url
        self._max_size = max_size
        self._buffer = bytearray()

    def restart(self) -> None:
        """Start an attempt with nothing received."""
        self._buffer.clear()

    def head(self, response: Response) -> None:
        """Refuse at once an answer whose Content-Length is over ``max_size``.

        Raises:
            DownloadError: the announced size is over ``max_size``.
        """
        length = (response.header("Content-Length") or "").strip()
        if length.isdigit():
            self._check(int(length))

    def write(self, chunk: bytes) -> None:
        """Append one chunk of the body.

        Raises:
            DownloadError: the body grew over ``max_size``.
        """
        self._check(len(self._buffer) + len(chunk))
        self._buffer += chunk

    def value(self, downloaded: Downloaded) -> bytes:
        """The bytes received, once the download succeeded."""
        return bytes(self._buffer)

    def close(self) -> None:
        """Drop the buffer."""
        self._buffer = bytearray()

    def _check(self, size: int) -> None:
        if self._max_size is not None and size > self._max_size:
            raise DownloadError(
                f"the output is over max_size ({size} > {self._max_size} bytes)",
                url=shown_url(self._url),
                received=len(self._buffer),
                expected=size,
            )
