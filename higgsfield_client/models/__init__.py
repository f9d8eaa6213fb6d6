"""The model catalog: every model's arguments, kind, price and source, shipped with the SDK.

``snapshot_catalog()`` gives the catalog of the snapshot (a ``higgsfield_proto.Catalog``);
``higgsfield_client.models.arguments`` holds a ``TypedDict`` of each checked model's arguments.
The names are loaded on first use, so importing this package reads no file.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ._snapshot import catalog_data, snapshot_catalog, snapshot_document

__all__ = ["snapshot_catalog", "snapshot_document", "catalog_data"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}._snapshot"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)
