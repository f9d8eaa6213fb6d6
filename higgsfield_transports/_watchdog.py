"""The watchdog of the async transports: one task per run ends the exchanges whose wait outlived the timeout.

Theory of operation: before each wait - a write of the request, a read of the answer - an
exchange sets its ``deadline`` to ``timeout`` seconds from now, and the watchdog watches it while
it runs. One task per run sleeps until the earliest deadline it watches; there it tells each
exchange past its deadline to ``expire``, which ends the exchange's wait with a failure that the
exchange reports as a ``TIMEOUT`` (the h11 transport closes the connection; the aiohttp
transport fails the wait as aiohttp's own read timer does). Every wait of a transport is given
the same ``timeout``, so a deadline set after the task went to sleep is never earlier than the
one it sleeps until, and the task never needs waking; with nothing to watch it sleeps ``timeout``
seconds and looks again. A wait thus still ends ``timeout`` seconds after it began, and an
exchange pays a clock reading per wait and two set operations, where a timer of its own (a cancel
scope, or aiohttp's per-read timer) cost its creation and a deadline registered with, and removed
from, the event loop at every wait.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Optional, Protocol

import anyio


class Watched(Protocol):
    """What the watchdog needs of an exchange."""

    deadline: float
    """When the current wait must end (the running library's clock)."""

    async def expire(self) -> None:
        """End the current wait: it fails, and the exchange reports a ``TIMEOUT``."""
        ...


class Watchdog:
    """Ends the exchanges of one trio run or asyncio loop whose wait passed its deadline.

    Args:
        library: ``"trio"`` or ``"asyncio"``, the running library.
        clock: the running library's clock.
        timeout: the seconds every watched wait is given.
        name: the name of the watchdog's task.
    """

    def __init__(self, library: str, clock: Callable[[], float], timeout: float, name: str) -> None:
        self._library = library
        self._clock = clock
        self._timeout = timeout
        self._name = name
        self._watched: set[Watched] = set()
        self._scope = anyio.CancelScope()
        self._ended: Optional[anyio.Event] = None  # made when the task starts
        self._task: Optional[asyncio.Task[None]] = None

    def watch(self, exchange: Watched) -> None:
        """Watch ``exchange`` until ``release``; starts the watchdog's task on first use."""
        if self._ended is None:
            self._start()
        self._watched.add(exchange)

    def release(self, exchange: Watched) -> None:
        """Stop watching ``exchange``."""
        self._watched.discard(exchange)

    async def stop(self) -> None:
        """End the watchdog's task and wait until it has (the transport is closing)."""
        self._scope.cancel()
        if self._ended is not None:
            await self._ended.wait()

    def _start(self) -> None:
        self._ended = anyio.Event()
        if self._library == "trio":
            # A system task: it belongs to the run, not to whichever task sent first.
            sys.modules["trio"].lowlevel.spawn_system_task(self._run, name=self._name)
        else:
            # Kept: the loop holds its tasks only weakly.
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        assert self._ended is not None
        try:
            with self._scope:
                while True:
                    now = self._clock()
                    soonest = now + self._timeout
                    for exchange in list(self._watched):
                        if exchange.deadline <= now:
                            self._watched.discard(exchange)
                            await exchange.expire()
                        else:
                            soonest = min(soonest, exchange.deadline)
                    await anyio.sleep(soonest - now)
        finally:
            self._ended.set()
