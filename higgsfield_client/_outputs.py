"""Outputs users can look at: an output URL that reads its bytes and shows itself in Jupyter.

A result keeps the client that made it, so that its outputs are fetched with that client's
settings and transport: the blocking methods (``read``, ``save``) for a ``SyncClient``'s
results, the ``a``-prefixed coroutines (``aread``, ``asave``) for an ``AsyncClient``'s. A result
made by neither (unpickled, or built by hand) uses the module's default client of the kind
called. Nothing here does I/O when an object is printed or displayed: the notebook's browser
loads the media from their URLs.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ._async import AsyncClient
    from ._sync import SyncClient


T = TypeVar("T")


def _maker(client: object, kind: type[T], default: Callable[[], T], instead: str) -> T:
    if client is None:
        return default()
    if not isinstance(client, kind):
        raise TypeError(f"this result came from another kind of client: {instead}")
    return client


def sync_client(client: object) -> SyncClient:
    """The SyncClient to fetch with: the one that made the result, or the default one.

    Raises:
        TypeError: an AsyncClient made the result.
    """
    from ._defaults import defaults
    from ._sync import SyncClient

    return _maker(client, SyncClient, defaults.sync, "await its asave() / aread() instead")


def async_client(client: object) -> AsyncClient:
    """The AsyncClient to fetch with: the one that made the result, or the default one.

    Raises:
        TypeError: a SyncClient made the result.
    """
    from ._async import AsyncClient
    from ._defaults import defaults

    return _maker(client, AsyncClient, defaults.async_, "call its save() / read() instead")


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
    _client: object

    def __new__(cls, url: str, *, kind: str, client: object = None) -> Output:
        output = super().__new__(cls, url)
        output.kind = kind
        output._client = client
        return output

    def __reduce__(self) -> tuple[Any, ...]:
        # The client stays behind: an unpickled output fetches with the default client.
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
        client = sync_client(self._client)
        return client._run(client._calls.read(self, max_size=max_size))

    async def aread(self, *, max_size: Optional[int] = None) -> bytes:
        """``read`` for a result of an AsyncClient (asyncio or trio)."""
        client = async_client(self._client)
        return await client._run(client._calls.read(self, max_size=max_size))

    def _repr_html_(self) -> str:
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
