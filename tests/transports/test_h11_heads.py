"""The heads the h11 transport keeps per route, so that h11 checks a set of headers once, not on every
request."""

from __future__ import annotations

import h11

from higgsfield_transports._h11_heads import KEPT, HeadKey, SentHeads


def head(number: int) -> tuple[HeadKey, h11.Request]:
    headers = (("Host", "example.test"), ("Idempotency-Key", str(number)))
    return (headers, None), h11.Request(method="GET", target="/", headers=list(headers))


def test_the_least_recently_used_head_goes_first() -> None:
    heads = SentHeads()
    status_key, status_head = head(-1)
    heads.keep(status_key, status_head)
    kept = {}
    for number in range(3 * KEPT):
        # A head used between one-off heads (each submit's own key) stays.
        assert heads.known(status_key) is status_head
        key, one_off = head(number)
        heads.keep(key, one_off)
        kept[number] = key, one_off
    last = 3 * KEPT - 1
    gone, still = kept[last - (KEPT - 1)], kept[last - (KEPT - 2)]
    assert heads.known(gone[0]) is None
    assert heads.known(still[0]) is still[1]
    assert heads.known(kept[last][0]) is kept[last][1]
    assert heads.known(status_key) is status_head


def test_the_kept_heads_repr_shows_no_header() -> None:
    heads = SentHeads()
    heads.keep(*head(7))
    assert "Idempotency-Key" not in repr(heads)
