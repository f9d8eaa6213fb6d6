"""The file tools' work: uploads from an allowed folder or a public URL, downloads into one.

A URL is fetched by a client of its own, whose connections all go through `PublicSockets`
(``_places``): its redirects and any later resolution of the host are held to the same rule as
the first check. The fetched bytes go to a temporary file, at most ``max_bytes`` of them, and are
uploaded from there like a local file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Any, Dict, Optional

import aiohttp

from higgsfield_proto import InvalidArgumentError, RetryPolicy, TransportError, job_status_from_payload
from higgsfield_transports.aiohttp import AiohttpTransport

from .._async import AsyncClient
from .._statuses import JobResult
from .._uploads import guess_content_type
from ._places import AddressCheck, Folders, PublicSockets, check_url, is_public
from ._results import ToolFailure

DEFAULT_MAX_FETCH_BYTES = 512 * 2**20
"""The largest file ``upload`` fetches from a URL."""

UPLOAD_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "audio/wav", "video/mp4")
"""The content types the API takes for uploads (``image/jpg`` and ``audio/x-wav`` are aliases)."""

# The leading bytes of the types the API accepts for uploads.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"WAVE", 8, "audio/wav"),
    (b"ftyp", 4, "video/mp4"),
)


def sniff_content_type(file: IO[bytes], name: str) -> str:
    """The content type of ``file`` from its first bytes (read, then given back), else from
    ``name``'s extension.

    Raises:
        ToolFailure: ``unknown_content_type``: neither tells (pass content_type).
    """
    start = file.tell()
    head = file.read(16)
    file.seek(start)
    for signature, offset, content_type in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return content_type
    try:
        guessed = guess_content_type(name)
    except InvalidArgumentError:
        guessed = ""
    if guessed not in UPLOAD_TYPES:
        raise ToolFailure(
            "unknown_content_type",
            f"{name!r} is of no type the API takes for uploads ({', '.join(UPLOAD_TYPES)}), as far "
            "as its first bytes and its name tell: pass content_type if it is one of them",
        )
    return guessed


def _sniff_file(path: Path, name: str) -> str:
    with path.open("rb") as file:
        return sniff_content_type(file, name)


class _TooLarge(Exception):
    pass


class Files:
    """The work of ``upload`` and ``download`` for the server's life.

    Args:
        client: the client uploads and downloads go through.
        folders: the folders files may be read from and written into.
        max_bytes: the largest file fetched from a URL.
        allowed: which addresses URLs may be fetched from (`is_public`; a test of the fetch
            itself, against a loopback server, passes a wider check).
    """

    def __init__(
        self,
        client: AsyncClient,
        folders: Folders,
        *,
        max_bytes: int = DEFAULT_MAX_FETCH_BYTES,
        allowed: AddressCheck = is_public,
    ) -> None:
        self.client = client
        self.folders = folders
        self.max_bytes = max_bytes
        self.allowed = allowed
        self._fetcher: Optional[AsyncClient] = None
        self._session: Optional[aiohttp.ClientSession] = None
        self._sockets = PublicSockets(allowed)

    async def upload(self, source: str, content_type: Optional[str]) -> Dict[str, Any]:
        """The ``upload`` tool: a file in an allowed folder, or a URL on a public host."""
        if "://" in source or source.lower().startswith(("file:", "data:")):
            return await self._upload_url(source, content_type)
        with self.folders.open_file(source) as file:
            kind = content_type or sniff_content_type(file, source)
            url = await self.client.upload(file, kind)
            size = os.fstat(file.fileno()).st_size
            return {"url": url, "content_type": kind, "bytes": size, "from": source}

    async def _upload_url(self, source: str, content_type: Optional[str]) -> Dict[str, Any]:
        url = await check_url(source, self.allowed)
        with tempfile.TemporaryDirectory(prefix="higgsfield-mcp-") as scratch:
            path = Path(scratch) / "fetched"
            await self._fetch(url, path)
            kind = content_type or _sniff_file(path, url.split("?", 1)[0])
            uploaded = await self.client.upload_file(path, content_type=kind)
            return {"url": uploaded, "content_type": kind, "bytes": path.stat().st_size, "from": url}

    async def _fetch(self, url: str, path: Path) -> None:
        limit = self.max_bytes

        def count(done: int, total: Optional[int]) -> None:
            if (total or 0) > limit or done > limit:
                raise _TooLarge

        refused_before = len(self._sockets.refused)
        try:
            await self._fetching_client().download(url, path, progress=count)
        except _TooLarge:
            raise ToolFailure("too_large", f"the file at this URL is larger than {limit} bytes") from None
        except TransportError:
            if len(self._sockets.refused) > refused_before:
                raise ToolFailure(
                    "url_refused",
                    f"the fetch was led to {self._sockets.refused[-1]} (a redirect, or a host that "
                    "resolved differently): not a public address, refused",
                ) from None
            raise

    def _fetching_client(self) -> AsyncClient:
        """The client of URL fetches, made on first use (in the server's event loop)."""
        if self._fetcher is None:
            connector = aiohttp.TCPConnector(socket_factory=self._sockets)
            session = aiohttp.ClientSession(
                connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
            )
            # A refused address is refused again: one repeat of a network failure is enough.
            self._fetcher = AsyncClient(
                transport=AiohttpTransport(session), retry=RetryPolicy(max_attempts=2)
            )
            self._session = session
        return self._fetcher

    async def aclose(self) -> None:
        """Close the fetching client's connections, if it was made."""
        if self._session is not None:
            await self._session.close()
            self._fetcher = self._session = None

    async def download(self, request_id: str, to: Optional[str]) -> Dict[str, Any]:
        """The ``download`` tool: a completed job's outputs into an allowed folder."""
        folder = self.folders.folder(to)
        status = await self.client.status(request_id)
        if status.state != "completed":
            raise ToolFailure(
                "not_completed",
                f"job {request_id} is {status.state}: only a completed job has outputs to download",
                status=status.state,
            )
        result = JobResult(job_status_from_payload(dict(status.payload), request_id=request_id))
        paths = await self.client.download_outputs(result, folder)
        return {
            "request_id": request_id,
            "folder": str(folder),
            "files": [{"path": str(path), "bytes": path.stat().st_size} for path in paths],
        }
