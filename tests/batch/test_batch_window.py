"""The batch window: a ceiling, halved once per burst of capacity answers, grown back one item
per window of accepted submits."""

from __future__ import annotations

import pytest

from higgsfield_client.batch._window import DEFAULT_PAUSE, Window


def _fill(window: Window, now: float = 0.0) -> int:
    started = 0
    while window.wait_before_next(now) is None:
        window.start()
        started += 1
    return started


def test_the_window_starts_at_the_ceiling_and_waits_for_an_item_to_end() -> None:
    window = Window(4)
    assert _fill(window) == 4
    assert window.wait_before_next(0.0) == 0.0
    window.end()
    assert window.wait_before_next(0.0) is None


def test_a_burst_of_refusals_of_submits_sent_before_a_cut_cuts_once() -> None:
    window = Window(16)
    sent = window.cuts  # sixteen submits go out together
    for moment in (10.0, 10.1, 10.2):
        window.capacity_reached(moment, retry_after=2.0, sent_after=sent)
    assert (window.size, window.cuts) == (8.0, 1)
    assert window.wait_before_next(11.0) == pytest.approx(1.2)  # paused until 12.2
    window.capacity_reached(13.0, retry_after=None, sent_after=window.cuts)  # sent after the cut
    assert (window.size, window.cuts) == (4.0, 2)
    assert window.wait_before_next(13.0) == pytest.approx(DEFAULT_PAUSE)


def test_a_zero_retry_after_pauses_nothing_but_still_cuts() -> None:
    window = Window(8)
    window.capacity_reached(5.0, retry_after=0.0, sent_after=0)
    assert window.size == 4.0
    assert _fill(window, 5.0) == 4


def test_the_window_never_shrinks_below_one() -> None:
    window = Window(2)
    for moment in range(0, 100, 10):
        window.capacity_reached(float(moment), retry_after=1.0, sent_after=window.cuts)
    assert window.size == 1.0
    assert _fill(window, 1000.0) == 1


def test_accepted_submits_grow_the_window_by_about_one_per_window_up_to_the_ceiling() -> None:
    window = Window(10)
    window.capacity_reached(0.0, retry_after=0.0, sent_after=0)
    window.capacity_reached(1.0, retry_after=0.0, sent_after=1)
    assert window.size == 2.5
    for _ in range(3):
        window.accepted()
    assert 3.4 < window.size < 3.6  # three successes on a window of 2.5 to 3.4: one more place
    for _ in range(1000):
        window.accepted()
    assert window.size == 10.0


def test_a_ceiling_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Window(0)


def test_a_later_refusal_without_retry_after_does_not_shorten_a_long_pause() -> None:
    window = Window(8)
    window.capacity_reached(0.0, retry_after=30.0, sent_after=window.cuts)  # a 30 s pause begins
    window.capacity_reached(1.0, retry_after=None, sent_after=window.cuts)  # then a 1 s one
    assert window.wait_before_next(2.0) == pytest.approx(28.0)  # not "submit at once"
    assert window.wait_before_next(30.0) is None
