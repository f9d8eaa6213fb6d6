"""The heads an h11 route keeps, so that h11 checks a set of headers once, not on every request."""

from __future__ import annotations

import h11

from higgsfield_transports._checks import Origin
from higgsfield_transports._h11_tunnel import _HEADS_KEPT, HeadKey, Route


def head(number: int) -> tuple[HeadKey, h11.Request]:
    headers = (("Host", "example.test"), ("Idempotency-Key", str(number)))
    return (headers, None), h11.Request(method="GET", target="/", headers=list(headers))


def test_the_least_recently_used_head_goes_first() -> None:
    route = Route.to(Origin("http", "example.test", 80, "example.test"), None)
    status_key, status_head = head(-1)
    route.keep_head(status_key, status_head)
    kept = {}
    for number in range(3 * _HEADS_KEPT):
        # A head used between one-off heads (each submit's own key) stays.
        assert route.known_head(status_key) is status_head
        key, one_off = head(number)
        route.keep_head(key, one_off)
        kept[number] = key, one_off
    last = 3 * _HEADS_KEPT - 1
    gone, still = kept[last - (_HEADS_KEPT - 1)], kept[last - (_HEADS_KEPT - 2)]
    assert route.known_head(gone[0]) is None
    assert route.known_head(still[0]) is still[1]
    assert route.known_head(kept[last][0]) is kept[last][1]
    assert route.known_head(status_key) is status_head


def test_a_route_s_repr_shows_no_kept_header() -> None:
    route = Route.to(Origin("http", "example.test", 80, "example.test"), None)
    route.keep_head(*head(7))
    assert "Idempotency-Key" not in repr(route)
