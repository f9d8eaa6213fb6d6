"""What the ``higgsfield`` command shows: a live status line, byte progress bars, JSON documents.

Live output goes to stderr, and only when it is a terminal: a pipe or a log file gets one line
per change of job state and no bars. stdout carries only results, so scripts can read it.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional, TextIO

from ._statuses import Status

Clock = Callable[[], float]
_BAR_WIDTH = 24
_REDRAW_EVERY = 0.1


def format_size(count: float) -> str:
    """``count`` bytes in B, KiB, MiB or GiB."""
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GiB"


def write_json(stream: TextIO, document: Any) -> None:
    """Print ``document`` as indented JSON (decimals, paths and the like as strings)."""
    stream.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    stream.flush()


class StatusLine:
    """The state of a job being waited for, with the seconds elapsed, on ``stream``.

    On a terminal one line is rewritten in place at each status check; elsewhere a line is
    printed only when the state changes.
    """

    def __init__(self, stream: TextIO, label: str, clock: Clock = time.monotonic) -> None:
        self._stream = stream
        self._label = label
        self._clock = clock
        self._started = clock()
        self._live = stream.isatty()
        self._last: Optional[str] = None

    def update(self, status: Status) -> None:
        """Show ``status`` (usable as ``on_queue_update``)."""
        line = f"{self._label}: {status.state:<11} {self._clock() - self._started:6.1f} s"
        if self._live:
            self._stream.write("\r\x1b[2K" + line)
        elif status.state != self._last:
            self._stream.write(line + "\n")
        self._last = status.state
        self._stream.flush()

    def close(self) -> None:
        """End the live line, if one was drawn."""
        if self._live and self._last is not None:
            self._stream.write("\n")
            self._stream.flush()


class ByteBar:
    """A byte progress bar on a terminal ``stream`` (usable as a ``progress`` callback).

    Redrawn at most every 0.1 s and at completion; silent when ``stream`` is not a terminal.
    """

    def __init__(self, stream: TextIO, label: str, clock: Clock = time.monotonic) -> None:
        self._stream = stream
        self._label = label
        self._clock = clock
        self._live = stream.isatty()
        self._drawn_at: Optional[float] = None

    def __call__(self, done: int, total: Optional[int]) -> None:
        if not self._live:
            return
        now = self._clock()
        finished = total is not None and done >= total
        if self._drawn_at is not None and now - self._drawn_at < _REDRAW_EVERY and not finished:
            return
        self._drawn_at = now
        if total:
            filled = min(_BAR_WIDTH, _BAR_WIDTH * done // total)
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            sizes = f"{format_size(done)} / {format_size(total)}"
            text = f"{self._label} [{bar}] {100 * done // total:3d}%  {sizes}"
        else:
            text = f"{self._label} {format_size(done)}"
        self._stream.write("\r\x1b[2K" + text)
        self._stream.flush()

    def close(self) -> None:
        """End the bar's line, if one was drawn."""
        if self._live and self._drawn_at is not None:
            self._stream.write("\n")
            self._stream.flush()
