"""Duplicate stores: which webhook events were handled already, in memory, in SQLite, or yours."""

from __future__ import annotations

import enum
import os
import sqlite3
import threading
from collections import OrderedDict
from contextlib import closing
from typing import Protocol, Union

DEFAULT_CLAIM_TIMEOUT = 60.0
"""Seconds after which an event still being handled counts as abandoned (its worker died)."""


class Claim(enum.Enum):
    """What a store answers when a delivery of an event arrives."""

    NEW = "new"
    """Not handled yet: the caller now holds the claim and handles it."""
    IN_PROGRESS = "in_progress"
    """Another delivery of the same event is being handled right now."""
    DONE = "done"
    """Handled already: a duplicate."""


class WebhookStore(Protocol):
    """Remembers webhook events by ``webhook-id``, so that each one is handled once.

    ``claim`` must be atomic: of two deliveries of one event arriving at once, in any thread or
    process sharing the store, only one gets ``Claim.NEW``. A claim is ended by ``complete``
    (handled: later deliveries are duplicates) or ``release`` (the handler failed: the next
    delivery is handled again). A claim older than the store's claim timeout may be taken again,
    so that a worker that died while handling does not block its event for good. ``now`` is the
    Unix time.
    """

    def claim(self, webhook_id: str, now: float) -> Claim:
        """Claim the event for handling, unless it is handled or being handled."""
        ...

    def complete(self, webhook_id: str, now: float) -> None:
        """Mark the claimed event as handled."""
        ...

    def release(self, webhook_id: str) -> None:
        """Give up the claim: the event counts as never seen."""
        ...


class MemoryStore:
    """The default store: the newest ``limit`` events of this process, thread-safe.

    Enough for one process; several worker processes need a shared store (``SQLiteStore`` on
    one machine, or your own ``WebhookStore`` over Redis or a database).

    Args:
        limit: events remembered; the oldest are forgotten first.
        claim_timeout: seconds after which a claim may be taken again.
    """

    def __init__(self, limit: int = 100_000, *, claim_timeout: float = DEFAULT_CLAIM_TIMEOUT) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._claim_timeout = claim_timeout
        self._events: OrderedDict[str, tuple[Claim, float]] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, webhook_id: str, now: float) -> Claim:
        """Claim the event for handling, unless it is handled or being handled."""
        with self._lock:
            known = self._events.get(webhook_id)
            if known is not None and (known[0] is Claim.DONE or now - known[1] < self._claim_timeout):
                return known[0]
            self._set(webhook_id, Claim.IN_PROGRESS, now)
            return Claim.NEW

    def complete(self, webhook_id: str, now: float) -> None:
        """Mark the claimed event as handled."""
        with self._lock:
            self._set(webhook_id, Claim.DONE, now)

    def release(self, webhook_id: str) -> None:
        """Give up the claim: the event counts as never seen."""
        with self._lock:
            known = self._events.get(webhook_id)
            if known is not None and known[0] is Claim.IN_PROGRESS:
                del self._events[webhook_id]

    def _set(self, webhook_id: str, state: Claim, now: float) -> None:
        self._events[webhook_id] = (state, now)
        self._events.move_to_end(webhook_id)
        while len(self._events) > self._limit:
            self._events.popitem(last=False)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS higgsfield_webhook_events (
    webhook_id TEXT PRIMARY KEY,
    done INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS higgsfield_webhook_events_at ON higgsfield_webhook_events (at);
"""


class SQLiteStore:
    """A store in an SQLite file, shared by the worker processes of one machine.

    Each call opens its own connection, so one store serves any number of threads, and a claim
    is one write transaction, so two processes never both get ``Claim.NEW``. Handled events are
    kept ``keep`` seconds (longer than the API's two hours of retries), then deleted.

    Args:
        path: the database file (created with its table if missing); a local file system, as
            SQLite's locking needs.
        keep: seconds a handled event is remembered.
        claim_timeout: seconds after which a claim may be taken again.
        busy_timeout: seconds to wait for another process's write to end.
    """

    def __init__(
        self,
        path: Union[str, os.PathLike[str]],
        *,
        keep: float = 86_400.0,
        claim_timeout: float = DEFAULT_CLAIM_TIMEOUT,
        busy_timeout: float = 10.0,
    ) -> None:
        self._path = os.fspath(path)
        self._keep = keep
        self._claim_timeout = claim_timeout
        self._busy_timeout = busy_timeout
        with closing(self._connect()) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: transactions are explicit, and BEGIN IMMEDIATE takes the write lock at once.
        return sqlite3.connect(self._path, timeout=self._busy_timeout, isolation_level=None)

    def claim(self, webhook_id: str, now: float) -> Claim:
        """Claim the event for handling, unless it is handled or being handled."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            row = connection.execute(
                "SELECT done, at FROM higgsfield_webhook_events WHERE webhook_id = ?", (webhook_id,)
            ).fetchone()
            if row is not None and row[0]:
                answer = Claim.DONE
            elif row is not None and now - row[1] < self._claim_timeout:
                answer = Claim.IN_PROGRESS
            else:
                connection.execute(
                    "INSERT OR REPLACE INTO higgsfield_webhook_events VALUES (?, 0, ?)", (webhook_id, now)
                )
                answer = Claim.NEW
            connection.execute("COMMIT")
            return answer
        finally:
            connection.close()  # an open transaction is rolled back

    def complete(self, webhook_id: str, now: float) -> None:
        """Mark the claimed event as handled; forget events handled more than ``keep`` ago."""
        connection = self._connect()
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT OR REPLACE INTO higgsfield_webhook_events VALUES (?, 1, ?)", (webhook_id, now)
            )
            connection.execute("DELETE FROM higgsfield_webhook_events WHERE at < ?", (now - self._keep,))
            connection.execute("COMMIT")
        finally:
            connection.close()

    def release(self, webhook_id: str) -> None:
        """Give up the claim: the event counts as never seen."""
        connection = self._connect()
        try:
            connection.execute(
                "DELETE FROM higgsfield_webhook_events WHERE webhook_id = ? AND done = 0", (webhook_id,)
            )
        finally:
            connection.close()
