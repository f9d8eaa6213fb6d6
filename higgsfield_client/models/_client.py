"""``client.models``: the catalog as a client sees it, the same for the sync and async clients.

Listing, looking up and validating do no I/O, so they are plain methods on both clients; only
``refresh`` fetches, through the client's own download machinery (no credentials are sent), and
is awaited on the async client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

from ._refresh import DEFAULT_URL, MAX_DOCUMENT_SIZE, CatalogRefresh, refreshed, today

if TYPE_CHECKING:
    from higgsfield_proto import Catalog, ModelEntry

    from .._checks import ArgumentCheck


class Models:
    """The model catalog of one client: the one its submits are checked against.

    Args:
        check: the client's argument check, which holds the catalog.
    """

    def __init__(self, check: ArgumentCheck) -> None:
        self._check = check

    @property
    def catalog(self) -> Catalog:
        """The catalog in use (``catalog.source`` and ``catalog.date`` say which)."""
        return self._check.catalog

    def list(self, *, kind: Optional[str] = None) -> tuple[ModelEntry, ...]:
        """The models, in catalog order: all, or those of one ``kind`` ("image", "video")."""
        return self.catalog.list(kind=kind)

    def get(self, model_id: str) -> ModelEntry:
        """The entry of ``model_id``: its kind, arguments, price and provenance.

        Raises:
            UnknownModelError: the catalog does not know it; the message says when the id is
                one of another Higgsfield API plane.
        """
        return self.catalog.get(model_id)

    def validate(self, model_id: str, arguments: Mapping[str, Any], *, strict: bool = False) -> None:
        """Check ``arguments`` for ``model_id`` as the API would, without sending anything.

        Args:
            model_id: the model.
            arguments: the arguments as they would be submitted.
            strict: also refuse fields the model does not have.

        Raises:
            ValidationError: the arguments do not match the model's schema; ``errors`` lists the
                problems as the API's 422 would (``local`` is True).
            UnknownModelError: the catalog does not know the model.
        """
        self.get(model_id).validate(arguments, strict=strict)

    def _refreshed(self, body: bytes, url: str) -> CatalogRefresh:
        result = refreshed(body, url=url, date=today())
        self._check.use(result.catalog)
        return result


class SyncModels(Models):
    """``SyncClient.models``. ``refresh`` runs in the caller's thread."""

    def __init__(self, check: ArgumentCheck, read: Callable[[str, Optional[int]], bytes]) -> None:
        super().__init__(check)
        self._read = read

    def refresh(self, url: str = DEFAULT_URL) -> CatalogRefresh:
        """Fetch the published OpenAPI document, check it, store it in the cache directory and
        check against it from now on (as every client does that starts afterwards).

        Args:
            url: where the document is published.

        Returns:
            What changed (``drift.lines()``), and where the document was stored.

        Raises:
            CatalogError: the document is malformed or partial; the cache is left as it was.
            DownloadError: the document is over 16 MiB, or its body ended early.
            TransportError, APIError: the fetch failed.
            OSError: the cache cannot be written.
        """
        return self._refreshed(self._read(url, MAX_DOCUMENT_SIZE), url)


class AsyncModels(Models):
    """``AsyncClient.models``: ``await models.refresh()``; the other methods are plain."""

    def __init__(self, check: ArgumentCheck, read: Callable[[str, Optional[int]], Awaitable[bytes]]) -> None:
        super().__init__(check)
        self._read = read

    async def refresh(self, url: str = DEFAULT_URL) -> CatalogRefresh:
        """Fetch, check and store the published OpenAPI document (see ``SyncModels.refresh``).

        Raises:
            CatalogError, DownloadError, TransportError, APIError, OSError: as for
                ``SyncModels.refresh``.
        """
        return self._refreshed(await self._read(url, MAX_DOCUMENT_SIZE), url)
