"""The request journal: what the emulator received and answered, for assertions in tests."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Deque, List, Optional

if TYPE_CHECKING:
    from multidict import CIMultiDictProxy, MultiMapping


@dataclass(frozen=True)
class JournalEntry:
    """One request as the emulator received it, or one webhook delivery attempt it made.

    ``headers`` is case-insensitive (``entry.headers["authorization"]``); ``query`` maps each query
    parameter to its value(s). ``route`` names the route ("submit", "status", "cancel", "delete",
    "upload-url", "estimate", "put", "upload", "output", the Agent API's "agent-sessions",
    "agent-message", "agent-messages", "agent-interrupt", "agent-media", "agent-media-confirm",
    or "unknown"). ``status`` is the HTTP status answered, or None when the connection was
    dropped without an answer. ``fault`` is the injected
    fault kind, if any. ``connection_id`` numbers the TCP connection the request came on, so tests
    can see connection reuse. ``time`` is the wall-clock arrival time (``time.time()``).

    Route "webhook" entries are the POSTs the emulator sent to webhook receivers, one per
    attempt: the receiver URL's path and query, the headers sent (with the signature), the
    receiver's status (None for a connection error or a timeout), the fault played out
    ("duplicate", "out_of_order") and the time the attempt began; ``connection_id`` is 0.
    """

    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body_length: int
    route: str
    status: Optional[int]
    fault: Optional[str]
    connection_id: int
    correlation_id: Optional[str]
    time: float


class Journal:
    """A thread-safe, bounded log of `JournalEntry` (the oldest entries drop out past ``limit``)."""

    def __init__(self, limit: Optional[int]) -> None:
        self._entries: Deque[JournalEntry] = deque(maxlen=limit)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """False when the journal keeps nothing (``limit`` 0), so entries need not be built."""
        return self._entries.maxlen != 0

    def append(self, entry: JournalEntry) -> None:
        """Record one entry."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> List[JournalEntry]:
        """Return a copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
