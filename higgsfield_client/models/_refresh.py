"""A refresh of the catalog: a fetched OpenAPI document checked, stored in the cache, and its drift."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from higgsfield_proto import CatalogError

from ._cache import catalog_from_document, current_catalog, store

if TYPE_CHECKING:
    from higgsfield_proto import Catalog, CatalogDrift

DEFAULT_URL = "https://docs.higgsfield.ai/docs/openapi.json"
"""Where the API publishes its OpenAPI document."""
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024
"""The most bytes a refresh accepts (the published document is about 40 KB)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogRefresh:
    """What a refresh did.

    Attributes:
        source: the URL the document came from (without its query).
        date: the day it was fetched (ISO 8601), the new catalog's date.
        path: the cache file it was stored in.
        catalog: the catalog now in use.
        previous: the source and date of the catalog used before.
        drift: what changed from the catalog used before (``drift.lines()`` in words).
    """

    source: str
    date: str
    path: Path
    catalog: Catalog = field(repr=False)
    previous: str
    drift: CatalogDrift = field(repr=False)


def today() -> str:
    """Today's date in UTC, ISO 8601."""
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def refreshed(body: bytes, *, url: str, date: str) -> CatalogRefresh:
    """Check a fetched OpenAPI document, store it in the cache and say what changed.

    Args:
        body: the document as fetched.
        url: where it was fetched from.
        date: the day it was fetched.

    Returns:
        The refresh: the new catalog, and its drift from the one used before.

    Raises:
        CatalogError: the document is not JSON (a truncated one is not), or is malformed or
            partial (no paths, a model endpoint without a request schema...): nothing was
            stored, and the catalog in use stays.
        OSError: the cache cannot be written (the old cache file stays whole).
    """
    source = url.split("?", 1)[0]
    try:
        document = json.loads(body.decode("utf-8"))
        catalog = catalog_from_document(document, source=source, date=date)
    except UnicodeDecodeError:
        raise CatalogError(_refused(source, "it is not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        reason = f"it is not JSON ({exc.msg} at character {exc.pos}; truncated?)"
        raise CatalogError(_refused(source, reason)) from None
    except CatalogError as exc:
        raise CatalogError(_refused(source, str(exc))) from None
    previous = current_catalog()
    path = store(document, source=source, date=date)
    from higgsfield_proto import catalog_drift

    return CatalogRefresh(
        source=source,
        date=date,
        path=path,
        catalog=current_catalog(),
        previous=f"{previous.source} ({previous.date})",
        drift=catalog_drift(previous, catalog),
    )


def _refused(source: str, reason: str) -> str:
    return f"refused the document from {source}: {reason}; the catalog in use is unchanged"
