"""The h11 transport's connection pool: idle keep-alive connections and connection slots per route,
for the one trio run or asyncio loop that uses it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Optional

import anyio
import sniffio

from ._h11_connection import Connection, Scope
from ._h11_tunnel import RouteKey


def current_run() -> tuple[str, object]:
    """The running library and its run (a trio run's token, or the asyncio loop).

    Raises:
        sniffio.AsyncLibraryNotFoundError: not inside async code.
        RuntimeError: inside a library other than trio or asyncio.
    """
    library = sniffio.current_async_library()
    if library == "trio":
        # Loaded, since trio runs; an import statement per send costs more than this lookup.
        return library, sys.modules["trio"].lowlevel.current_trio_token()
    if library == "asyncio":
        return library, asyncio.get_running_loop()
    raise RuntimeError(f"TrioTransport runs under trio or asyncio, not {library}")


class Pool:
    """Idle keep-alive connections and connection slots, per route, for one run.

    It also holds the run's own clock and cancel scope class: under trio, trio's (anyio's
    portable wrappers cost about as much again as trio's scope itself, on every exchange).

    A connection goes back to the pool only when both sides finished its exchange cleanly; a
    pooled connection found closed or readable when taken (the server closed it while idle) is
    discarded.
    """

    def __init__(self, run: object, library: str, per_host: int) -> None:
        self.run = run
        self.clock: Callable[[], float]
        self.new_scope: Callable[[], Scope]
        if library == "trio":
            import trio

            self.clock, self.new_scope = trio.current_time, trio.CancelScope
        else:
            self.clock, self.new_scope = asyncio.get_running_loop().time, anyio.CancelScope
        self._per_host = per_host
        self._idle: dict[RouteKey, list[Connection]] = {}
        self._slots: dict[RouteKey, anyio.Semaphore] = {}

    def slot(self, key: RouteKey) -> anyio.Semaphore:
        """The semaphore limiting the connections open at once on route ``key``."""
        semaphore = self._slots.get(key)
        if semaphore is None:
            semaphore = self._slots[key] = anyio.Semaphore(self._per_host)
        return semaphore

    async def take(self, key: RouteKey) -> Optional[Connection]:
        """An idle connection of route ``key`` that still looks alive, or None."""
        idle = self._idle.get(key, [])
        while idle:
            connection = idle.pop()
            if connection.looks_alive():
                connection.reused = True
                return connection
            await anyio.aclose_forcefully(connection.stream)
        return None

    def put(self, key: RouteKey, connection: Connection) -> None:
        """Keep ``connection`` for the next exchange on route ``key``."""
        connection.h11.start_next_cycle()
        self._idle.setdefault(key, []).append(connection)

    def drain(self) -> list[Connection]:
        """Take every idle connection out of the pool."""
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        return connections
