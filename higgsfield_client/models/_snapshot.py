"""The catalog snapshot shipped as package data: the published OpenAPI document and the SDK's data."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any, Dict

from higgsfield_proto import Catalog, CatalogError, catalog_from_openapi, catalog_with_supplement

CATALOG_DATA = "catalog.json"


def _read(name: str) -> Any:
    return json.loads(files(__package__).joinpath(name).read_text(encoding="utf-8"))


def catalog_data() -> Dict[str, Any]:
    """The SDK's catalog data (``catalog.json``): the snapshot's source and date, the models
    documented elsewhere, corrected kinds, prices and the other id spaces.

    Raises:
        CatalogError: the file is not an object naming its snapshot's file, source and date.
    """
    data = _read(CATALOG_DATA)
    if not isinstance(data, dict):
        raise CatalogError(f"{CATALOG_DATA} is not a JSON object")
    snapshot = data.get("snapshot")
    if not isinstance(snapshot, dict) or not all(
        isinstance(snapshot.get(key), str) for key in ("file", "source", "date")
    ):
        raise CatalogError(f"{CATALOG_DATA} does not name its snapshot's file, source and date")
    return data


def snapshot_document() -> Any:
    """The published OpenAPI document of the snapshot, decoded, as it was saved."""
    return _read(catalog_data()["snapshot"]["file"])


def snapshot_catalog() -> Catalog:
    """The catalog of the snapshot: the published document's models, then the models documented
    elsewhere, with kinds, prices and the other id spaces from ``catalog.json``.

    Each call reads and parses the files again (a few milliseconds); keep the result.

    Raises:
        CatalogError: a data file is malformed.
    """
    data = catalog_data()
    snapshot = data["snapshot"]
    published = catalog_from_openapi(
        _read(snapshot["file"]), source=snapshot["source"], date=snapshot["date"]
    )
    return catalog_with_supplement(published, data)
