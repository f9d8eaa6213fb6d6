"""The h11 transport's connection pool: idle keep-alive connections, connection slots and the heads
sent, per route, for the one trio run or asyncio loop that uses it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Optional

import anyio

from ._h11_connection import Connection
from ._h11_heads import SentHeads
from ._h11_tunnel import RouteKey
from ._watchdog import Watchdog

WATCHDOG_NAME = "h11 transport watchdog"


class Pool:
    """Idle keep-alive connections, connection slots and the heads sent, per route, for one run.

    It also holds the run's own clock (under trio, trio's: anyio's portable one costs more on
    every wait) and the run's watchdog, which ends the exchanges that wait too long.

    A connection goes back to the pool only when both sides finished its exchange cleanly; a
    pooled connection found closed or readable when taken (the server closed it while idle) is
    discarded.
    """

    def __init__(self, run: object, library: str, per_host: int, timeout: Optional[float]) -> None:
        self.run = run
        self.clock: Callable[[], float]
        if library == "trio":
            self.clock = sys.modules["trio"].current_time
        else:
            self.clock = asyncio.get_running_loop().time
        self.watchdog = Watchdog(library, self.clock, timeout, WATCHDOG_NAME) if timeout is not None else None
        self._per_host = per_host
        self._idle: dict[RouteKey, list[Connection]] = {}
        self._slots: dict[RouteKey, anyio.Semaphore] = {}
        self._heads: dict[RouteKey, SentHeads] = {}

    def sent_heads(self, key: RouteKey) -> SentHeads:
        """The request heads sent on route ``key``."""
        heads = self._heads.get(key)
        if heads is None:
            heads = self._heads[key] = SentHeads()
        return heads

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
