"""The h11 transport's watchdog: one task per run ends the exchanges whose wait outlived the timeout.

Theory of operation: before each wait - a write of the request, a read of the answer - an
exchange sets its ``deadline`` to ``timeout`` seconds from now, and the watchdog watches it while
it runs. One task per run sleeps until the earliest deadline it watches; there it marks each
exchange past its deadline ``expired`` and closes its connection, so that the exchange's wait
fails and the exchange reports a ``TIMEOUT``. Every wait of a transport is given the same
``timeout``, so a deadline set after the task went to sleep is never earlier than the one it
sleeps until, and the task never needs waking; with nothing to watch it sleeps ``timeout``
seconds and looks again. A wait thus still ends ``timeout`` seconds after it began, as on the
other transports, and an exchange pays a clock reading per wait and two set operations, where a
cancel scope of its own cost its creation and a deadline registered with, and removed from, the
scheduler at every wait.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Optional, Protocol

import anyio
import anyio.abc

TASK_NAME = "h11 transport watchdog"


class Watched(Protocol):
    """What the watchdog needs of an exchange."""

    deadline: float
    """When the current wait must end (the running library's clock)."""
    expired: bool
    """Set by the watchdog before it closes ``stream``."""

    @property
    def stream(self) -> anyio.abc.ByteStream:
        """The exchange's connection."""
        ...


class Watchdog:
    """Ends the exchanges of one trio run or asyncio loop whose wait passed its deadline.

    Args:
        library: ``"trio"`` or ``"asyncio"``, the running library.
        clock: the running library's clock.
        timeout: the seconds every watched wait is given.
    """

    def __init__(self, library: str, clock: Callable[[], float], timeout: float) -> None:
        self._library = library
        self._clock = clock
        self._timeout = timeout
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
            sys.modules["trio"].lowlevel.spawn_system_task(self._run, name=TASK_NAME)
        else:
            # Kept: the loop holds its tasks only weakly.
            self._task = asyncio.get_running_loop().create_task(self._run(), name=TASK_NAME)

    async def _run(self) -> None:
        assert self._ended is not None
        try:
            with self._scope:
                while True:
                    now = self._clock()
                    soonest = now + self._timeout
                    for exchange in list(self._watched):
                        if exchange.deadline <= now:
                            await self._expire(exchange)
                        else:
                            soonest = min(soonest, exchange.deadline)
                    await anyio.sleep(soonest - now)
        finally:
            self._ended.set()

    async def _expire(self, exchange: Watched) -> None:
        self._watched.discard(exchange)
        exchange.expired = True
        await anyio.aclose_forcefully(exchange.stream)

