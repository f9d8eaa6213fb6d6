"""Outputs users can look at: an output URL that reads its bytes and shows itself in Jupyter.

A result is handed a ``Fetcher`` by the client that made it, so that its outputs are fetched
with that client's settings and transport: the blocking methods (``read``, ``save``) for a
``SyncClient``'s results, the ``a``-prefixed coroutines (``aread``, ``asave``) for an
``AsyncClient``'s. A result made without one (unpickled, or built by hand) fetches with the
module's default clients, whose fetcher the package registers once with ``fetch_by_default``.
Nothing here imports a client, and nothing does I/O when an object is printed or displayed: the
notebook's browser loads the media from their URLs. ``embed()`` (``aembed()``) fetches small images
once, to inline them, so that a saved notebook still shows them after their URLs expire.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Protocol, Tuple, Union
from urllib.parse import urlsplit

from higgsfield_proto import DownloadError, InvalidArgumentError

Folder = Union[str, "os.PathLike[str]"]
WRONG_KIND_OF_CLIENT = "this result came from another kind of client: "
"""The start of the TypeError of a fetch of the wrong kind (a ``save()`` of an async result)."""
EMBED_MAX_SIZE = 5 * 1024 * 1024
"""``embed()``'s default size cap: the largest image, in bytes, inlined into a notebook (5 MiB)."""
_MEDIA_STYLE = "max-width: 100%; max-height: 480px"
# The image formats inlined, by their first bytes: raster images only (an SVG may carry script).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class Fetcher(Protocol):
    """What a result needs to fetch its outputs; each kind of client hands its own to the
    results it makes. The methods of the other kind raise ``TypeError`` saying which to call."""

    def read(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory (``Output.read``)."""
        ...

    async def aread(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory (``Output.aread``)."""
        ...

    def save(self, request_id: str, urls: Sequence[str], folder: Folder, overwrite: bool) -> List[Path]:
        """Download each of ``urls``, outputs of job ``request_id``, into ``folder``
        (``JobResult.save``)."""
        ...

    async def asave(
        self, request_id: str, urls: Sequence[str], folder: Folder, overwrite: bool
    ) -> List[Path]:
        """Download each of ``urls``, outputs of job ``request_id``, into ``folder``
        (``JobResult.asave``)."""
        ...


_default_fetcher: Optional[Fetcher] = None


def fetch_by_default(fetcher: Fetcher) -> None:
    """Set the fetcher of results made without a client (the default clients' one)."""
    global _default_fetcher
    _default_fetcher = fetcher


def fetcher_for(fetcher: Optional[Fetcher]) -> Fetcher:
    """``fetcher``, or the default one for a result made without a client."""
    chosen = fetcher if fetcher is not None else _default_fetcher
    if chosen is None:  # pragma: no cover - the package registers it on import
        raise RuntimeError("no default fetcher: import higgsfield_client")
    return chosen


def is_web_url(url: str) -> bool:
    """True for an http(s) URL, the only kind put into HTML as a link or a media source."""
    return urlsplit(url).scheme in ("http", "https")


def short_url(url: str) -> str:
    """``https://host/…/name``: the URL without its query (a signature, often) and middle."""
    parts = urlsplit(url)
    name = parts.path.rsplit("/", 1)[-1]
    return f"{parts.scheme}://{parts.netloc}/…/{name}" if name else f"{parts.scheme}://{parts.netloc}"


class Output(str):
    """One output of a finished job: a ``str`` holding its URL, as before, that can also fetch
    its bytes and show itself in a notebook (an image, a video player, or a link).

    Attributes:
        kind: ``"image"``, ``"video"``, or an artifact key (``"zip"``, ``"mov"``...).
    """

    kind: str
    _fetcher: Optional[Fetcher]

    def __new__(cls, url: str, *, kind: str, fetcher: Optional[Fetcher] = None) -> Output:
        output = super().__new__(cls, url)
        output.kind = kind
        output._fetcher = fetcher
        return output

    def __reduce__(self) -> tuple[Any, ...]:
        # The fetcher stays behind (its client holds connections and locks): an unpickled
        # output fetches with the default client.
        return (_rebuild_output, (str(self), self.kind))

    @property
    def url(self) -> str:
        """The URL as a plain ``str``."""
        return str(self)

    def read(self, *, max_size: Optional[int] = None) -> bytes:
        """Download the output into memory with the SyncClient that made the result.

        The body is streamed, checked against its Content-Length, and retried like any download.

        Args:
            max_size: refuse an output larger than this many bytes (checked as it streams).

        Raises:
            DownloadError: incomplete, or over ``max_size``.
            NotFoundError: the output expired or was deleted.
            TypeError: the result came from an AsyncClient (use ``aread``).
        """
        return fetcher_for(self._fetcher).read(self, max_size)

    async def aread(self, *, max_size: Optional[int] = None) -> bytes:
        """``read`` for a result of an AsyncClient (asyncio or trio)."""
        return await fetcher_for(self._fetcher).aread(self, max_size)

    def embed(self, *, max_size: int = EMBED_MAX_SIZE) -> Embedded:
        """This output for a notebook that keeps it: an image is fetched now, with the SyncClient
        that made the result, and inlined as a data URL; a larger image, a video or another
        output stays a link, as when the output itself is displayed.

        Args:
            max_size: the largest image inlined, in bytes.

        Returns:
            What Jupyter displays.

        Raises:
            NotFoundError: the output expired or was deleted.
            DownloadError, TransportError: the image could not be fetched.
            InvalidArgumentError: ``max_size`` is not a positive number of bytes.
            TypeError: the result came from an AsyncClient (use ``aembed``).
        """
        return embedded([(self, read_small(self, max_size))], "")

    async def aembed(self, *, max_size: int = EMBED_MAX_SIZE) -> Embedded:
        """``embed`` for a result of an AsyncClient (asyncio or trio)."""
        return embedded([(self, await aread_small(self, max_size))], "")

    def _repr_html_(self) -> str:
        return _html(self, None)


def _rebuild_output(url: str, kind: str) -> Output:
    return Output(url, kind=kind)


@dataclass(frozen=True, slots=True, kw_only=True)
class Embedded:
    """Outputs made to outlast their URLs in a notebook: what ``embed()`` returns, and Jupyter
    displays. A notebook saved with it shows its images after the URLs expired.

    Attributes:
        html: what the notebook shows: images as data URLs, other outputs as links.
        inlined: the images inlined.
        linked: the outputs that stay links (videos, other files, images over the size cap).
    """

    html: str = field(repr=False)
    inlined: int
    linked: int

    def _repr_html_(self) -> str:
        return self.html


def _embeddable(output: Output) -> bool:
    return output.kind == "image" and is_web_url(output)


def _check_cap(max_size: int) -> None:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise InvalidArgumentError(f"max_size must be a positive number of bytes, got {max_size!r}")


def _over_cap(error: DownloadError, max_size: int) -> bool:
    """True when ``error`` refused an output larger than ``max_size`` (not a broken download)."""
    return error.expected is not None and error.expected > max_size


def read_small(output: Output, max_size: int) -> Optional[bytes]:
    """The bytes of ``output`` when it is an image of at most ``max_size`` bytes, else None."""
    _check_cap(max_size)
    if not _embeddable(output):
        return None
    try:
        return fetcher_for(output._fetcher).read(output, max_size)
    except DownloadError as exc:
        if _over_cap(exc, max_size):
            return None
        raise


async def aread_small(output: Output, max_size: int) -> Optional[bytes]:
    """``read_small`` for an output of an AsyncClient's result."""
    _check_cap(max_size)
    if not _embeddable(output):
        return None
    try:
        return await fetcher_for(output._fetcher).aread(output, max_size)
    except DownloadError as exc:
        if _over_cap(exc, max_size):
            return None
        raise


def _image_type(data: bytes) -> Optional[str]:
    """The media type of an image's ``data``, from its first bytes (WebP's at offset 8); None when
    it is no raster image a browser shows."""
    for signature, media_type in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _html(output: Output, data: Optional[bytes]) -> str:
    """One output in HTML: inlined when ``data`` is an image, else linked to its URL (saying why
    when it is an image left out, over the size cap, by ``embed``)."""
    import html  # only in a notebook

    if not is_web_url(output):
        return f"<code>{html.escape(output)}</code>"
    media_type = _image_type(data) if data is not None else None
    if data is not None and media_type is not None:
        inline = base64.b64encode(data).decode("ascii")
        return f'<img src="data:{media_type};base64,{inline}" alt="output image" style="{_MEDIA_STYLE}">'
    src = html.escape(output, quote=True)
    if output.kind == "image":
        return f'<img src="{src}" alt="output image" style="{_MEDIA_STYLE}">'
    if output.kind == "video":
        return f'<video src="{src}" controls style="{_MEDIA_STYLE}"></video>'
    return f'<a href="{src}" target="_blank" rel="noopener">{html.escape(short_url(output))}</a>'


def layout(caption: str, parts: Sequence[str]) -> str:
    """Outputs' HTML one under the other, under ``caption`` (HTML, or empty)."""
    media = "".join(f'<div style="margin: 4px 0">{part}</div>' for part in parts)
    return f"<div>{caption}{media}</div>"


def embedded(pieces: Sequence[Tuple[Output, Optional[bytes]]], caption: str) -> Embedded:
    """The `Embedded` of outputs and the bytes fetched of each (None: not fetched, or an image
    over the size cap, which says so)."""
    parts = []
    inlined = 0
    for output, data in pieces:
        if data is not None and _image_type(data) is not None:
            inlined += 1
        part = _html(output, data)
        if data is None and _embeddable(output):
            part += "<div><small>not embedded: larger than max_size</small></div>"
        parts.append(part)
    return Embedded(html=layout(caption, parts), inlined=inlined, linked=len(parts) - inlined)
