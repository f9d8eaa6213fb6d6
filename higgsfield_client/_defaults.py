"""The clients behind the module-level functions, re-created when the environment changes."""

from __future__ import annotations

import functools
import os
import threading
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Optional, Tuple, TypeVar

from ._async import AsyncClient
from ._sync import SyncClient

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
