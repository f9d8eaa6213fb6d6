"""What the ``higgsfield`` command shows: live job states and transfer bars, JSON documents.

Live output goes to stderr. On a terminal it is drawn by rich (imported then, and only then):
a spinner with the state and the time elapsed, byte bars with rate and ETA. Elsewhere (a pipe,
a CI log) a waiting command prints one line per change of state and no bars. stdout carries
only results, so scripts can read it.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TextIO

from .._statuses import Status

if TYPE_CHECKING:
    from rich.console import Console as Screen
    from rich.console import RenderableType
    from rich.progress import Progress, ProgressColumn, Task, TaskID

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


def write_json(stream: TextIO, document: Any, *, compact: bool = False) -> None:
    """Print ``document`` as indented JSON (decimals, paths and the like as strings); on one
    line when ``compact`` (a line of a JSON Lines stream)."""
    indent = None if compact else 2
    stream.write(json.dumps(document, indent=indent, ensure_ascii=False, default=str) + "\n")
    stream.flush()


# Terminal control sequences (CSI, OSC, other escapes, 8-bit CSI) and the control characters
# besides tab and newline: none of what a server sends may move the cursor or restyle the terminal.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: title, hyperlinks, clipboard
    r"|\x1b[ -/]*[0-~]?"  # any other escape
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def printable(text: str) -> str:
    """``text`` as safe to show on a terminal: without control sequences and control characters
    (tabs and line breaks stay; ``\\r\\n`` becomes a line break)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


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
    state (``plain=True``) or nothing. The clock starts when the line is made, before the job
    is submitted; given a ``state``, the line is shown at once. ``close`` stops the clock and puts
    a mark in place of the spinner: a tick when the job completed, a cross when it failed, an
    ellipsis when it goes on unwatched (a timeout, Ctrl-C). ``transient`` removes the terminal
    line at the end instead.
    """

    def __init__(
        self,
        console: Console,
        label: str,
        *,
        state: Optional[str] = None,
        clock: Clock = time.monotonic,
        plain: bool = True,
        transient: bool = False,
    ) -> None:
        self._console = console
        self._label = label
        self._clock = clock
        self._started = clock()
        self._stopped: Optional[float] = None
        self._plain = plain
        self._transient = transient
        self._last: Optional[str] = None
        self._live: Optional[Progress] = None
        self._task: Optional[TaskID] = None
        if state is not None:
            self.show(state)

    def update(self, status: Status) -> None:
        """Show the state of ``status`` (usable as ``on_queue_update``)."""
        self.show(status.state)

    def show(self, state: str) -> None:
        """Show ``state``."""
        screen = self._console.screen
        if screen is not None:
            self._draw(screen, state)
        elif self._plain and state != self._last:
            self._console.note(f"{self._label}: {state:<11} {self._elapsed():6.1f} s")
        self._last = state

    def _elapsed(self) -> float:
        return (self._stopped if self._stopped is not None else self._clock()) - self._started

    def _draw(self, screen: Screen, state: str) -> None:
        from rich.markup import escape

        styled = f"[{STATE_STYLES.get(state, 'default')}]{escape(state)}"
        if self._live is None:
            self._stopped = None
            self._live = live_progress(screen, *_status_columns(self._elapsed), transient=self._transient)
            self._live.start()
            self._task = self._live.add_task(escape(self._label), total=1, state=styled, mark="")
        assert self._task is not None
        self._live.update(self._task, state=styled)

    def close(self) -> None:
        """Stop the clock and end the live line, if one was drawn (see the class)."""
        if self._live is None or self._task is None:
            return
        self._stopped = self._clock()
        mark = FINAL_MARKS.get(self._last or "", "[yellow]…")
        self._live.update(self._task, mark=mark, completed=1 if self._last == "completed" else 0)
        self._live.stop()
        self._live = None


# The mark that replaces the spinner once a wait ends in these states.
FINAL_MARKS = {"completed": "[green]✓", "failed": "[red]✗", "nsfw": "[red]✗", "canceled": "[red]✗"}


def _status_columns(elapsed: Callable[[], float]) -> List[ProgressColumn]:
    """The columns of a `StatusLine`: its spinner (a mark once it ends), label, state, and the
    time ``elapsed()`` since the wait began."""
    from rich.progress import ProgressColumn, SpinnerColumn, TextColumn
    from rich.text import Text

    class Mark(SpinnerColumn):
        def render(self, task: Task) -> RenderableType:
            mark = task.fields.get("mark")
            return Text.from_markup(mark) if mark else super().render(task)

    class Elapsed(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(str(datetime.timedelta(seconds=int(elapsed()))), style="progress.elapsed")

    return [Mark(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[state]}"), Elapsed()]


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
