"""The model catalog: every model's arguments, kind, price and source, shipped with the SDK.

``current_catalog()`` gives the catalog the clients check arguments against (a
``higgsfield_proto.Catalog``): the snapshot, or the published document refreshed into the cache
directory when that is fresher. ``client.models`` (``SyncModels``, ``AsyncModels``) lists,
looks up, validates and refreshes. ``higgsfield_client.models.arguments`` holds a ``TypedDict`` of
each checked model's arguments. The names are loaded on first use, so importing this package
reads no file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ._cache import CACHE_DIR_ENV, cache_dir, cache_path, current_catalog
    from ._client import AsyncModels, Models, SyncModels
    from ._refresh import DEFAULT_URL, MAX_DOCUMENT_SIZE, CatalogRefresh
    from ._snapshot import catalog_data, snapshot_catalog, snapshot_document

_WHERE = {
    "snapshot_catalog": "_snapshot",
    "snapshot_document": "_snapshot",
    "catalog_data": "_snapshot",
    "current_catalog": "_cache",
    "cache_dir": "_cache",
    "cache_path": "_cache",
    "CACHE_DIR_ENV": "_cache",
    "Models": "_client",
    "SyncModels": "_client",
    "AsyncModels": "_client",
    "CatalogRefresh": "_refresh",
    "DEFAULT_URL": "_refresh",
    "MAX_DOCUMENT_SIZE": "_refresh",
}

__all__ = [
    "snapshot_catalog",
    "snapshot_document",
    "catalog_data",
    "current_catalog",
    "cache_dir",
    "cache_path",
    "CACHE_DIR_ENV",
    "Models",
    "SyncModels",
    "AsyncModels",
    "CatalogRefresh",
    "DEFAULT_URL",
    "MAX_DOCUMENT_SIZE",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)
