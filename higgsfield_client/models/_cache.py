"""The catalog in use: the snapshot, or a fresher document refreshed into the user's cache directory.

``higgsfield models refresh`` (``client.models.refresh()``) stores the published OpenAPI document
it fetched in one file of the cache directory, wrapped with where it came from and when; the
client then uses whichever of that document and the snapshot is the fresher. The file is written
atomically (a temporary file renamed over it), so that a reader sees the old document or the
new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Tuple

from higgsfield_proto import CatalogError

from ._snapshot import catalog_data, snapshot_catalog

if TYPE_CHECKING:
    from higgsfield_proto import Catalog

CACHE_DIR_ENV = "HIGGSFIELD_CACHE_DIR"
"""An environment variable naming the cache directory, instead of the platform's default."""
CACHE_FILE = "published-openapi.json"
_FORMAT = 1

_lock = threading.Lock()
_snapshot: Optional[Catalog] = None
_loaded: Optional[Tuple[Any, Catalog]] = None


def cache_dir() -> Path:
    """The SDK's cache directory: ``HIGGSFIELD_CACHE_DIR`` when set, else the platform's user
    cache directory for ``higgsfield`` (``~/.cache/higgsfield`` on Linux, which honours
    ``XDG_CACHE_HOME``; ``~/Library/Caches/higgsfield`` on macOS...)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    import platformdirs  # only where a cache is looked for

    return Path(platformdirs.user_cache_dir("higgsfield", appauthor=False))


def cache_path() -> Path:
    """The file that holds the refreshed document (it may not exist)."""
    return cache_dir() / CACHE_FILE


def cached_catalog() -> Optional[Catalog]:
    """The catalog of the refreshed document in the cache, with the SDK's catalog data; None when
    there is none.

    Raises:
        CatalogError: the cache file is unreadable or malformed.
    """
    path = cache_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(f"cannot read the cached catalog {path}: {exc.strerror}") from None
    try:
        stored = json.loads(text)
    except ValueError:
        raise CatalogError(f"the cached catalog {path} is not JSON") from None
    if (
        not isinstance(stored, dict)
        or stored.get("format") != _FORMAT
        or not isinstance(stored.get("source"), str)
        or not isinstance(stored.get("date"), str)
    ):
        raise CatalogError(f"the cached catalog {path} does not name its source and date")
    return catalog_from_document(stored.get("document"), source=stored["source"], date=stored["date"])


def catalog_from_document(document: Any, *, source: str, date: str) -> Catalog:
    """The catalog of a published OpenAPI document with the SDK's catalog data (the models
    documented elsewhere, kinds, prices, the other id spaces).

    Raises:
        CatalogError: the document is malformed or partial.
    """
    from higgsfield_proto import catalog_from_openapi, catalog_with_supplement

    return catalog_with_supplement(catalog_from_openapi(document, source=source, date=date), catalog_data())


def current_catalog() -> Catalog:
    """The catalog the clients check arguments against: the refreshed document in the cache when
    its date is the snapshot's or later, else the snapshot.

    Loaded once per process and again only when the cache file changes. A cache file that
    cannot be read is passed over for the snapshot, with a ``HiggsfieldArgumentWarning`` that
    says so.
    """
    global _snapshot, _loaded
    path = cache_path()
    try:
        stat = path.stat()
        key: Any = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    with _lock:
        if _loaded is not None and _loaded[0] == key:
            return _loaded[1]
        if _snapshot is None:
            _snapshot = snapshot_catalog()
        chosen = _snapshot
        if key is not None:
            try:
                cached = cached_catalog()
            except CatalogError as exc:
                _warn_unusable(exc, _snapshot.date)
                cached = None
            if cached is not None and cached.date >= _snapshot.date:
                chosen = cached
        _loaded = (key, chosen)
        return chosen


def _warn_unusable(error: CatalogError, date: str) -> None:
    import warnings

    from .._errors import HiggsfieldArgumentWarning

    warnings.warn(
        f"{error}; the catalog snapshot of {date} is used instead (run `higgsfield models refresh` "
        "to replace the cache)",
        HiggsfieldArgumentWarning,
        stacklevel=2,
    )


def store(document: Any, *, source: str, date: str) -> Path:
    """Write a refreshed document (already checked) to the cache, atomically.

    Args:
        document: the decoded document.
        source: where it was fetched from.
        date: the day it was fetched (ISO 8601).

    Returns:
        The cache file's path.

    Raises:
        OSError: the cache directory cannot be made or written.
    """
    path = cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = {"format": _FORMAT, "source": source, "date": date, "document": document}
    handle, temporary = tempfile.mkstemp(prefix=f".{CACHE_FILE}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(stored, file, ensure_ascii=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
