"""Outputs users can look at: an output URL that reads its bytes and shows itself in Jupyter.

A result is handed a ``Fetcher`` by the client that made it, so that its outputs are fetched
with that client's settings and transport: the blocking methods (``read``, ``save``) for a
``SyncClient``'s results, the ``a``-prefixed coroutines (``aread``, ``asave``) for an
``AsyncClient``'s. A result made without one (unpickled, or built by hand) fetches with the
module's default clients, whose fetcher the package registers once with ``fetch_by_default``.
Nothing here imports a client, and nothing does I/O when an object is printed or displayed: the
notebook's browser loads the media from their URLs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, List, Optional, Protocol, Union
from urllib.parse import urlsplit

Folder = Union[str, "os.PathLike[str]"]
WRONG_KIND_OF_CLIENT = "this result came from another kind of client: "
"""The start of the TypeError of a fetch of the wrong kind (a ``save()`` of an async result)."""


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

    def _repr_html_(self) -> str:
        import html  # only in a notebook

        if not is_web_url(self):
            return f"<code>{html.escape(self)}</code>"
        src = html.escape(self, quote=True)
        if self.kind == "image":
            return f'<img src="{src}" alt="output image" style="max-width: 100%; max-height: 480px">'
        if self.kind == "video":
            return f'<video src="{src}" controls style="max-width: 100%; max-height: 480px"></video>'
        return f'<a href="{src}" target="_blank" rel="noopener">{html.escape(short_url(self))}</a>'


def _rebuild_output(url: str, kind: str) -> Output:
    return Output(url, kind=kind)
