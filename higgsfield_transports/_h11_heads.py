"""The request heads the h11 transport sent on a route, kept so that h11 checks a header set once."""

from __future__ import annotations

from typing import Optional

import h11

HeadKey = tuple[tuple[tuple[str, str], ...], Optional[tuple[bytes, bytes]]]
"""A request's own headers and the framing header the transport adds to them."""
KEPT = 32
"""How many heads a route keeps."""


class SentHeads:
    """The last heads sent on one route, by their headers and framing, the least recently used
    first to go.

    h11 checks every header name and value of a head built from a list, which costs more than
    the rest of the head; a client sends the same few header sets again and again, so a head
    like a kept one is built on the kept one's checked headers. Each submit's own
    Idempotency-Key makes a head that is never sent again: those are the ones that go.
    """

    __slots__ = ("_heads",)

    def __init__(self) -> None:
        self._heads: dict[HeadKey, h11.Request] = {}

    def known(self, key: HeadKey) -> Optional[h11.Request]:
        """A head sent before with the same headers and framing, if one is kept.

        Raises:
            TypeError: the header pairs are not hashable (not tuples).
        """
        heads = self._heads
        head = heads.pop(key, None)
        if head is not None:
            heads[key] = head  # the most recently used is the last to go
        return head

    def keep(self, key: HeadKey, head: h11.Request) -> None:
        """Keep ``head``; the least recently used goes when ``KEPT`` are kept."""
        heads = self._heads
        if len(heads) >= KEPT:
            del heads[next(iter(heads))]
        heads[key] = head

    def __repr__(self) -> str:
        return f"<SentHeads: {len(self._heads)} kept>"  # never the headers: they hold credentials
