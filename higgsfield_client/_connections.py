"""Choosing and owning transports: one for a sync client, one per event loop or trio run for async."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

import sniffio

from ._runner import Library, running_library
from ._settings import Settings, transport_options

if TYPE_CHECKING:
    import httpx

    from higgsfield_transports import AsyncTransport, SyncTransport

AsyncTransportChoice = Union["AsyncTransport", str, None]
"""An AsyncTransport instance (the caller's to close), ``"aiohttp"``, ``"trio"``, or None (pick by
the running library: aiohttp under asyncio, the h11 transport under trio)."""


def httpx_module(what: str) -> Any:
    """The ``httpx`` module, imported on first use (it is an optional extra).

    Raises:
        ImportError: httpx is not installed; the message names ``what`` needs it and the extra.
    """
    try:
        import httpx
    except ImportError as exc:
        raise ImportError(
            f"{what} needs httpx, which is not installed: install this SDK with its [httpx] extra "
            f"(pip install '<this package>[httpx]'), or httpx itself"
        ) from exc
    return httpx


def over_httpx_client(http_client: httpx.Client) -> SyncTransport:
    """A transport over the caller's ``httpx.Client``, which keeps all its settings and stays the
    caller's (closing the transport leaves it open)."""
    from higgsfield_transports.httpx import HttpxTransport

    return HttpxTransport(http_client)


def over_async_httpx_client(http_client: httpx.AsyncClient) -> AsyncTransport:
    """A transport over the caller's ``httpx.AsyncClient`` (asyncio or trio), which stays the
    caller's."""
    from higgsfield_transports.httpx import AsyncHttpxTransport

    return AsyncHttpxTransport(http_client)


def make_sync_transport(settings: Settings) -> SyncTransport:
    """The default sync transport: requests, configured from ``settings``."""
    from higgsfield_transports.requests import RequestsTransport

    return RequestsTransport(**transport_options(settings))


def make_async_transport(kind: str, settings: Settings) -> AsyncTransport:
    """A new async transport of ``kind`` (``"aiohttp"`` or ``"trio"``)."""
    if kind == "aiohttp":
        from higgsfield_transports.aiohttp import AiohttpTransport

        return AiohttpTransport(**transport_options(settings))
    if kind == "trio":
        from higgsfield_transports.trio import TrioTransport

        return TrioTransport(**transport_options(settings))
    raise ValueError(f"unknown transport {kind!r}: use 'aiohttp', 'trio' or a transport object")


def _current_run(library: str) -> object:
    if library == "trio":
        return sys.modules["trio"].lowlevel.current_root_task()
    # asyncio is imported by whoever runs the loop (and slow to import for programs that don't).
    return sys.modules["asyncio"].get_running_loop()


class RunContext(NamedTuple):
    """What an async call takes from the run it is in: the run's transport, clock and sleep."""

    transport: AsyncTransport
    library: Library


@dataclass(eq=False)
class _RunTransport:
    run: object
    context: RunContext
    finished: bool = False
    guard: Optional[AsyncIterator[None]] = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        # A trio run marker (its root task) has no is_closed(); an asyncio loop does.
        is_closed = getattr(self.run, "is_closed", None)
        closed_loop = bool(is_closed()) if callable(is_closed) else False
        return not (self.finished or closed_loop)


async def _close_when_run_ends(entry: _RunTransport) -> AsyncIterator[None]:
    # An async generator started inside a run is finalized by that run when it ends (asyncio.run
    # and trio.run both do so), which closes the transport on its own loop without warnings.
    try:
        yield
    finally:
        entry.finished = True
        await entry.context.transport.aclose()


class TransportsByRun:
    """Hands out one transport per running event loop (asyncio) or run (trio).

    Nothing is bound to a single loop: a client used from two ``asyncio.run`` calls and then a
    ``trio.run`` gets a fresh transport in each, and each is closed when its run ends.
    """

    def __init__(self, choice: AsyncTransportChoice, settings: Settings) -> None:
        if choice is not None and not isinstance(choice, str):
            self._shared: Optional[AsyncTransport] = choice
        else:
            self._shared = None
        self._kind = choice if isinstance(choice, str) else None
        self._settings = settings
        self._runs: dict[int, _RunTransport] = {}

    async def current(self) -> RunContext:
        """The current run's transport (created on first use), clock and sleep: one lookup per call."""
        library = sniffio.current_async_library()
        run = _current_run(library)
        if self._shared is not None:
            return RunContext(self._shared, running_library(library))
        entry = self._runs.get(id(run))
        if entry is not None and entry.run is run and not entry.finished:
            return entry.context
        self._runs = {key: entry for key, entry in self._runs.items() if entry.usable}
        entry = self._runs.get(id(run))
        if entry is None or entry.run is not run:
            kind = self._kind or ("trio" if library == "trio" else "aiohttp")
            context = RunContext(make_async_transport(kind, self._settings), running_library(library))
            entry = _RunTransport(run=run, context=context)
            guard = _close_when_run_ends(entry)
            await guard.__anext__()
            entry.guard = guard
            self._runs[id(run)] = entry
        return entry.context

    async def aclose(self) -> None:
        """Close the current run's transport now; others close when their runs end."""
        if self._shared is not None:
            return
        run = _current_run(sniffio.current_async_library())
        entry = self._runs.pop(id(run), None)
        if entry is not None and entry.run is run and entry.guard is not None:
            await entry.guard.aclose()  # type: ignore[attr-defined]
