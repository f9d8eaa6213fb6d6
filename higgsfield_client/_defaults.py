"""The clients behind the module-level functions, re-created when the environment changes, and
the fetcher of results made without a client."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Optional, Tuple, TypeVar

from ._async import AsyncClient, AsyncFetcher
from ._download import Destination
from ._outputs import fetch_by_default
from ._sync import SyncClient, SyncFetcher

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec

    P = ParamSpec("P")

R = TypeVar("R")
_ENVIRONMENT = ("HIGGSFIELD_BASE_URL", "HF_BASE_URL", "HF_KEY", "HF_API_KEY", "HF_API_SECRET")


class _Defaults:
    """One SyncClient and one AsyncClient for the current values of the environment variables.

    The module-level functions read the environment at each call (so a test fixture that points
    ``HIGGSFIELD_BASE_URL`` elsewhere takes effect at once), but reuse connections while it is
    unchanged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Optional[Tuple[Optional[str], ...]] = None
        self._sync: Optional[SyncClient] = None
        self._async: Optional[AsyncClient] = None

    def _refresh(self) -> None:
        key = tuple(os.environ.get(name) for name in _ENVIRONMENT)
        if key != self._key:
            old = self._sync
            self._key, self._sync, self._async = key, SyncClient(), AsyncClient()
            if old is not None:
                old.close()

    def sync(self) -> SyncClient:
        with self._lock:
            self._refresh()
            assert self._sync is not None
            return self._sync

    def async_(self) -> AsyncClient:
        with self._lock:
            self._refresh()
            assert self._async is not None
            return self._async


defaults = _Defaults()


class DefaultFetcher:
    """Fetches the outputs of a result made without a client (unpickled, or built by hand) with
    the default client of the kind the caller uses: ``read``/``save`` with the SyncClient,
    ``aread``/``asave`` with the AsyncClient."""

    def read(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory with the default SyncClient."""
        return SyncFetcher(defaults.sync()).read(url, max_size)

    def save(self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool) -> list[Path]:
        """Download outputs of job ``request_id`` with the default SyncClient."""
        return SyncFetcher(defaults.sync()).save(request_id, urls, folder, overwrite)

    async def aread(self, url: str, max_size: Optional[int]) -> bytes:
        """Download ``url`` into memory with the default AsyncClient."""
        return await AsyncFetcher(defaults.async_()).aread(url, max_size)

    async def asave(
        self, request_id: str, urls: Sequence[str], folder: Destination, overwrite: bool
    ) -> list[Path]:
        """Download outputs of job ``request_id`` with the default AsyncClient."""
        return await AsyncFetcher(defaults.async_()).asave(request_id, urls, folder, overwrite)


fetch_by_default(DefaultFetcher())


def on_default_sync(method: Callable[Concatenate[SyncClient, P], R]) -> Callable[P, R]:
    """A module-level function calling ``method`` on the default SyncClient."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        return method(defaults.sync(), *args, **kwargs)

    return call


def on_default_async(
    method: Callable[Concatenate[AsyncClient, P], Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """A module-level coroutine function calling ``method`` on the default AsyncClient.

    Typed as returning a coroutine (not just an awaitable), so ``asyncio.run(...)`` accepts it.
    """

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await method(defaults.async_(), *args, **kwargs)

    return call
