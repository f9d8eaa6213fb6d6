"""What the ``higgsfield`` command shows: live job states and transfer bars, JSON documents.

Live output goes to stderr. On a terminal it is drawn by rich (imported then, and only then):
a spinner with the state and the time elapsed, byte bars with rate and ETA. Elsewhere (a pipe,
a CI log) a waiting command prints one line per change of state and no bars. stdout carries
only results, so scripts can read it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, TextIO

from .._statuses import Status

if TYPE_CHECKING:
    from rich.console import Console as Screen
    from rich.progress import Progress, TaskID

Clock = Callable[[], float]
# Colours of the job and session states on a terminal; other states are drawn plain.
STATE_STYLES = {
    "queued": "yellow",
    "in_progress": "cyan",
    "completed": "green",
    "failed": "red",
    "nsfw": "red",
    "canceled": "red",
}


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


def terminal(stream: TextIO) -> Optional[Screen]:
    """A rich console drawing on ``stream`` when it is a terminal; None (plain lines) otherwise."""
    if not stream.isatty():
        return None
    from rich.console import Console as RichConsole

    return RichConsole(file=stream, highlight=False)


@dataclass
class Console:
    """Where a command writes: results to ``out`` (JSON with ``json``), live output to ``err``.

    ``screen`` draws on ``err`` and ``out_screen`` on ``out`` when they are terminals (see
    `terminal`); None means plain lines.
    """

    out: TextIO
    err: TextIO
    json: bool
    screen: Optional[Screen] = None
    out_screen: Optional[Screen] = None

    def line(self, text: str) -> None:
        """A result line on stdout (human mode)."""
        self.out.write(text + "\n")
        self.out.flush()

    def note(self, text: str, style: Optional[str] = None) -> None:
        """A message for the person watching, on stderr (in ``style`` on a terminal)."""
        if self.screen is not None:
            self.screen.print(text, style=style, markup=False, highlight=False)
            return
        self.err.write(text + "\n")
        self.err.flush()


def live_progress(screen: Screen, *columns: Any, transient: bool = False) -> Progress:
    """A rich progress display of ``columns`` on ``screen``, not started.

    It leaves ``sys.stdout`` and ``sys.stderr`` alone: stdout carries results, never a drawing.
    """
    from rich.progress import Progress

    return Progress(
        *columns, console=screen, transient=transient, redirect_stdout=False, redirect_stderr=False
    )


class StatusLine:
    """The state of a job (or an agent's turn) being waited for, with the time elapsed.

    On a terminal, a spinner and the state, redrawn in place; elsewhere a line per change of
    state (``plain=True``) or nothing. ``transient`` removes the terminal line at the end.
    """

    def __init__(
        self,
        console: Console,
        label: str,
        *,
        clock: Clock = time.monotonic,
        plain: bool = True,
        transient: bool = False,
    ) -> None:
        self._console = console
        self._label = label
        self._clock = clock
        self._started = clock()
        self._plain = plain
        self._transient = transient
        self._last: Optional[str] = None
        self._live: Optional[Progress] = None
        self._task: Optional[TaskID] = None

    def update(self, status: Status) -> None:
        """Show the state of ``status`` (usable as ``on_queue_update``)."""
        self.show(status.state)

    def show(self, state: str) -> None:
        """Show ``state``."""
        screen = self._console.screen
        if screen is not None:
            self._draw(screen, state)
        elif self._plain and state != self._last:
            elapsed = self._clock() - self._started
            self._console.note(f"{self._label}: {state:<11} {elapsed:6.1f} s")
        self._last = state

    def _draw(self, screen: Screen, state: str) -> None:
        from rich.markup import escape
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        styled = f"[{STATE_STYLES.get(state, 'default')}]{escape(state)}"
        if self._live is None:
            self._live = live_progress(
                screen,
                SpinnerColumn(finished_text="[green]✓"),
                TextColumn("[bold]{task.description}"),
                TextColumn("{task.fields[state]}"),
                TimeElapsedColumn(),
                transient=self._transient,
            )
            self._live.start()
            self._task = self._live.add_task(escape(self._label), total=1, state=styled)
        assert self._task is not None
        self._live.update(self._task, state=styled)

    def close(self) -> None:
        """End the live line, if one was drawn: it stays, with a tick when the job completed."""
        if self._live is None or self._task is None:
            return
        if self._last == "completed":
            self._live.update(self._task, completed=1)
        self._live.stop()
        self._live = None


class Transfers:
    """Byte bars for uploads and downloads on a terminal, with the rate and the time left;
    several at once. Nothing is shown elsewhere."""

    def __init__(self, console: Console) -> None:
        self._screen = console.screen
        self._live: Optional[Progress] = None

    def bar(self, label: str) -> Callable[[int, Optional[int]], None]:
        """A new bar named ``label``; returns its ``progress(done, total)`` callback."""
        screen = self._screen
        if screen is None:
            return _ignore
        from rich.markup import escape

        if self._live is None:
            from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn

            self._live = live_progress(
                screen,
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TextColumn("[progress.data.speed]{task.fields[rate]}"),
                TimeRemainingColumn(elapsed_when_finished=True),
            )
            self._live.start()
        live = self._live
        task = live.add_task(escape(label), total=None, rate="")
        started = time.monotonic()

        def progress(done: int, total: Optional[int]) -> None:
            # The average since the start: rich's own estimate needs several updates, and a
            # small file may report once.
            elapsed = time.monotonic() - started
            rate = f"{format_size(done / elapsed)}/s" if done and elapsed > 0 else ""
            live.update(task, completed=done, total=total, rate=rate)

        return progress

    def close(self) -> None:
        """Stop drawing; the bars stay on screen as they last were."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def _ignore(done: int, total: Optional[int]) -> None:
    """The progress callback when nothing is drawn."""
