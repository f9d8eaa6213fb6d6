"""``higgsfield batch``: run a JSONL file of jobs durably, and ``higgsfield batch status``."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TextIO

import anyio

from higgsfield_proto import UnknownModelError, ValidationError

from .._async import AsyncClient
from ..batch import DEFAULT_JOURNAL_NAME, Batch, JournalSummary, journal_summary
from ..batch._items import BatchInputError, BatchItem, read_jsonl
from ..batch._runner import BatchProgress, ItemResult
from ._batch_budget import BudgetedRun, add_budget_options
from ._commands import UsageError, positive_seconds
from ._output import STATE_STYLES, Console, live_progress, write_json

if TYPE_CHECKING:
    from rich.console import Console as Screen
    from rich.progress import Progress, TaskID

EXIT_OK = 0
EXIT_UNFINISHED = 1
EXIT_FAILED = 4
EXIT_INTERRUPTED = 130

BATCH_USAGE = "higgsfield batch [options] INPUT.jsonl\n       higgsfield batch status [--json] JOURNAL"
BATCH_EPILOG = """\
Each line of INPUT is one job: {"id": "cat-1", "model": "...", "arguments": {"prompt": "..."}}.
"id" is optional (default: the line number) and names the item's folder, OUT/<id>/. "model" is
optional with --model. The journal (OUT/journal.sqlite3 unless --journal) records every step:
run the same command again after a crash or Ctrl-C and the batch resumes without paying twice.
Finished items are skipped (their files are checked on disk, name and size, and downloaded
again if missing); failed or expired ones stay so unless --retry-failed.

examples:
  higgsfield batch prompts.jsonl --model higgsfield-ai/soul/standard --out shots/
  higgsfield batch prompts.jsonl --out shots/ --concurrency 32 --json > finished.jsonl
  higgsfield batch status shots/journal.sqlite3     # also while the batch is running

Ctrl-C stops submitting and waits for the jobs in flight; a second Ctrl-C exits at once.
exit codes: 0 every item completed, 4 some items failed (nsfw, canceled, rejected, expired),
1 some items are unfinished or pending (run again to resume), 2 bad input, 3 credentials,
130 interrupted.
"""

# The batch's view is updated this often; elsewhere than on a terminal a line is printed this often.
_LIVE_EVERY = 0.5
_LOG_EVERY = 10.0


def add_batch_parser(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``batch`` (and its ``status`` form) through the main parser's ``add``."""
    batch = add("batch", "run a JSONL file of jobs, durably (resumable, never paying twice)")
    batch.usage = BATCH_USAGE
    batch.epilog = BATCH_EPILOG
    batch.add_argument("paths", nargs="+", metavar="INPUT.jsonl", help="the jobs, one JSON object per line")
    batch.add_argument("--out", metavar="DIR", help="the outputs folder (default: INPUT's name + -out)")
    batch.add_argument("--model", metavar="MODEL", help="the model of lines that name none")
    batch.add_argument("--journal", metavar="FILE", help=f"the journal (default: OUT/{DEFAULT_JOURNAL_NAME})")
    batch.add_argument(
        "--concurrency", type=_at_least_one, default=8, metavar="N", help="most jobs in flight (default 8)"
    )
    batch.add_argument(
        "--retry-failed", action="store_true", help="submit failed or expired items again, with new keys"
    )
    batch.add_argument("--no-download", action="store_true", help="record output URLs, download nothing")
    batch.add_argument(
        "--no-validate",
        action="store_true",
        help="submit without checking every item against the model catalog first",
    )
    batch.add_argument(
        "--poll-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="a fixed interval between status checks (default: 2 s growing to 3 s)",
    )
    add_budget_options(batch)
    batch.add_argument(
        "--job-timeout",
        type=positive_seconds,
        default=3600.0,
        metavar="SECONDS",
        help="stop waiting for one job after this; the next run waits again (default 3600)",
    )


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def run_batch_command(options: argparse.Namespace, console: Console, client: AsyncClient) -> int:
    """Run ``higgsfield batch`` (or ``batch status``); returns the exit code."""
    if options.paths[0] == "status":
        if len(options.paths) != 2:
            raise UsageError("usage: higgsfield batch status JOURNAL")
        return _status(Path(options.paths[1]), console)
    if len(options.paths) != 1:
        raise UsageError(f"one input file at a time, not {len(options.paths)}")
    source = Path(options.paths[0])
    out = Path(options.out) if options.out else source.with_name(f"{source.stem}-out")
    items = _read_all(source, options.model)
    if not options.no_validate:
        check_items(items, client)
    batch = Batch(
        items,
        out=out,
        journal=options.journal,
        concurrency=options.concurrency,
        download=not options.no_download,
        retry_failed=options.retry_failed,
        job_timeout=options.job_timeout,
        client=client,
        budget=options.budget,
    )
    priced = None
    if options.dry_run or options.budget is not None:
        priced = BudgetedRun(client, items, batch.journal_path, options)
        if options.dry_run:
            return priced.dry_run(console)
        priced.announce(console)
    console.note(f"batch: {len(items)} items from {source} -> {out}/ (journal {batch.journal_path})")
    return anyio.run(_drive, batch, console, client, priced)


def _read_all(source: Path, model: Optional[str]) -> List[BatchItem]:
    """Every item of ``source``, checked before anything is submitted.

    Raises:
        UsageError: there is no such file, or it holds no item.
    """
    try:
        items = list(read_jsonl(source, model))
    except FileNotFoundError:
        raise UsageError(f"no input file {source}") from None
    if not items:
        raise UsageError(f"{source} holds no items: nothing to run")
    return items


def check_items(items: List[BatchItem], client: AsyncClient) -> None:
    """Check every item against the model catalog, strictly, before anything is submitted.

    A model the catalog does not know passes (the API may know it); an id of another API plane
    does not.

    Raises:
        UsageError: some items do not pass; the message lists every problem of every one.
    """
    problems: List[str] = []
    bad = 0
    for item in items:
        found: List[str] = []
        try:
            client.models.validate(item.model, item.arguments, strict=True)
        except ValidationError as exc:
            found = [f"  item {item.id} ({item.model}): {error}" for error in exc.errors]
        except UnknownModelError as exc:
            found = [f"  item {item.id}: {exc}"] if exc.foreign is not None else []
        bad += bool(found)
        problems += found
    if problems:
        raise UsageError(
            f"{bad} of {len(items)} items do not match their model's schema; nothing was submitted "
            "(--no-validate submits without this check):\n" + "\n".join(problems)
        )


async def _drive(batch: Batch, console: Console, client: AsyncClient, priced: Optional[BudgetedRun]) -> int:
    started = time.monotonic()
    display = BatchView(console)
    failure: Optional[Exception] = None
    stdout_closed = False
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_signals, batch, console, group.cancel_scope)
            group.start_soon(_redraw, batch, display)
            try:
                async with batch.stream() as results:
                    async for result in results:
                        if stdout_closed or _show(result, console, display):
                            continue
                        stdout_closed = True  # `higgsfield batch --json | head`: as a first Ctrl-C
                        batch.stop()
                        console.note(
                            "batch: stdout was closed; stopping - no new submits, waiting for the "
                            "jobs in flight (the journal records them)."
                        )
            except Exception as exc:  # raised below as itself, not in a task group's exception group
                failure = exc
            finally:
                display.close(batch.progress() if batch.run_number is not None else None)
                group.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()
    if failure is not None:
        raise failure
    progress = batch.progress()
    assert progress is not None
    interrupted = batch.stopping and not stdout_closed
    return _summarise(batch, progress, console, time.monotonic() - started, interrupted, priced)


async def _watch_signals(batch: Batch, console: Console, scope: anyio.CancelScope) -> None:
    """First Ctrl-C: stop submitting. A second one (or SIGTERM): cancel everything now.

    Where signals cannot be received so (asyncio on Windows), Ctrl-C interrupts at once.
    """
    try:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for received in signals:
                if received == signal.SIGINT and not batch.stopping:
                    batch.stop()
                    console.note(
                        "\nbatch: stopping - no new submits; waiting for the jobs in flight. "
                        "Ctrl-C again exits at once (the journal stays consistent)."
                    )
                    continue
                batch.stop()
                scope.cancel()
                return
    except NotImplementedError:  # pragma: no cover - asyncio on Windows
        return


async def _redraw(batch: Batch, display: BatchView) -> None:
    while True:
        await anyio.sleep(_LIVE_EVERY)
        progress = batch.progress()
        if progress is not None:
            display.update(progress)


def _show(result: ItemResult, console: Console, display: BatchView) -> bool:
    """Report ``result``: a JSON line on stdout, or a line above the live view if it did not
    complete. False if stdout is closed (its reader has gone): it is then sent to the null device,
    so that nothing written to it later fails."""
    if console.json:
        try:
            write_json_line(console.out, result.as_dict())
        except BrokenPipeError:
            _stdout_to_null(console.out)
            return False
    elif result.status not in ("completed",) and not result.resumed:
        text = f"item {result.id}: {result.status}" + (f" - {result.error}" if result.error else "")
        display.note(text, style=STATE_STYLES.get(result.status, "yellow"))
    return True


def _stdout_to_null(stream: TextIO) -> None:
    """Point ``stream``'s file descriptor at the null device: what it still holds, and any later
    write (the interpreter flushes stdout at exit), goes nowhere instead of failing again."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, stream.fileno())
    finally:
        os.close(null)


def write_json_line(stream: TextIO, document: Any) -> None:
    """One compact JSON document per line."""
    stream.write(json.dumps(document, ensure_ascii=False) + "\n")
    stream.flush()


def _summarise(
    batch: Batch,
    progress: BatchProgress,
    console: Console,
    elapsed: float,
    interrupted: bool,
    priced: Optional[BudgetedRun] = None,
) -> int:
    # The words of results.jsonl, whose lines these counts are.
    pending = progress.pending
    parts = [f"{progress.completed} completed", f"{progress.failed} failed"]
    if progress.expired:
        parts.append(f"{progress.expired} expired")
    if progress.unfinished:
        parts.append(f"{progress.unfinished} unfinished")
    if pending:
        parts.append(f"{pending} pending")
    if progress.resumed:
        parts.append(f"{progress.resumed} finished before")
    console.note(
        f"batch: {progress.total} items: {', '.join(parts)} in {format_duration(elapsed)}; "
        f"results in {batch.out / 'results.jsonl'}"
    )
    if progress.capacity_waits:
        waits = progress.capacity_waits
        console.note(f"batch: the API said the account was full {waits} times; the batch slowed down")
    spending = batch.spending
    if spending is not None and spending.reached and priced is not None:
        console.note(priced.resume_hint())
    elif interrupted or progress.unfinished or pending:
        console.note("batch: run the same command again to resume; nothing finished is redone")
    if interrupted:
        return EXIT_INTERRUPTED
    if progress.unfinished or pending:
        return EXIT_UNFINISHED
    return EXIT_FAILED if progress.failed or progress.expired else EXIT_OK


def format_duration(seconds: float) -> str:
    """``seconds`` as ``1h02m03s``, ``2m03s`` or ``4.2s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


class BatchView:
    """The batch as it runs, on the console's stderr: on a terminal, a bar of the items finished
    with the counts, rate and ETA, redrawn in place; elsewhere a plain line every ten seconds."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._logged_at: Optional[float] = None
        self._live: Optional[Progress] = None
        self._task: Optional[TaskID] = None

    def update(self, progress: BatchProgress) -> None:
        """Show ``progress``."""
        screen = self._console.screen
        if screen is not None:
            self._draw(screen, progress)
            return
        now = self._clock()
        if self._logged_at is not None and now - self._logged_at < _LOG_EVERY:
            return
        self._logged_at = now
        self._console.note(describe(progress))

    def _draw(self, screen: Screen, progress: BatchProgress) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn

        if self._live is None:
            self._live = live_progress(
                screen,
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
            )
            self._live.start()
            self._task = self._live.add_task("batch", total=None, counts="")
        assert self._task is not None
        counts = (
            f"[green]{progress.completed} completed[/]  [red]{progress.failed} failed[/]  "
            + (f"[red]{progress.expired} expired[/]  " if progress.expired else "")
            + f"[cyan]{progress.in_flight} in flight[/]"
            + (f"  [cyan]{progress.downloading} downloading[/]" if progress.downloading else "")
        )
        if progress.rate is not None:
            counts += f"  {progress.rate:.2f}/s"
        if progress.eta is not None and progress.finished < progress.total:
            counts += f"  ETA {format_duration(progress.eta)}"
        total = progress.total if progress.total_known else None
        self._live.update(self._task, completed=progress.finished, total=total, counts=counts)

    def note(self, text: str, style: Optional[str] = None) -> None:
        """A line of its own, above the live view."""
        self._console.note(text, style=style)

    def close(self, last: Optional[BatchProgress] = None) -> None:
        """Stop redrawing; the view stays on screen, showing ``last`` if given."""
        screen = self._console.screen
        if screen is not None and last is not None:
            self._draw(screen, last)
        if self._live is not None:
            self._live.stop()
            self._live = None


def describe(progress: BatchProgress) -> str:
    """One line: done, failed, in flight, downloading, rate and ETA."""
    total = f"/{progress.total}" if progress.total_known else ""
    failed = f"{progress.failed} failed" + (f", {progress.expired} expired" if progress.expired else "")
    text = f"batch: {progress.finished}{total} done ({failed}), {progress.in_flight} in flight"
    if progress.downloading:
        text += f", {progress.downloading} downloading"
    if progress.rate is not None:
        text += f", {progress.rate:.2f}/s"
    if progress.eta is not None:
        text += f", ETA {format_duration(progress.eta)}"
    return text


def _status(path: Path, console: Console) -> int:
    out = None
    if path.is_dir():  # an outputs folder: its journal, and its files
        out, path = path, path / DEFAULT_JOURNAL_NAME
    try:
        summary = journal_summary(path, out=out)
    except FileNotFoundError:
        raise UsageError(f"no batch journal at {path}") from None
    except BatchInputError as exc:
        raise UsageError(str(exc)) from None
    if console.json:
        write_json(console.out, summary.as_dict())
    elif console.out_screen is not None:
        _status_tables(summary, console.out_screen)
    else:
        _status_lines(summary, console)
    return EXIT_OK


def _last_run(summary: JournalSummary) -> Optional[str]:
    if summary.last_started is None:
        return None
    when = _clock_time(summary.last_started)
    if summary.running is not None:
        state = f"started {when}, running (pid {summary.running})"
    elif summary.last_outcome == "killed":
        state = f"started {when}, killed before it ended: run the batch again to resume"
    else:
        state = f"started {when}, {summary.last_outcome} {_clock_time(summary.last_ended)}"
    return f"runs: {summary.runs}; the last {state}"


def _credits_line(summary: JournalSummary) -> Optional[str]:
    if summary.estimated is None:
        return None
    return (
        f"credits: estimated {summary.estimated}, spent {summary.charged}, "
        f"in flight {summary.in_flight}"
    )


def _status_lines(summary: JournalSummary, console: Console) -> None:
    console.line(f"journal {summary.path}: {summary.total} items")
    for state, count in summary.states.items():
        if count:
            console.line(f"  {state:<11}{count:>9}")
    if summary.downloads_pending:
        console.line(f"  ({summary.downloads_pending} completed with outputs still to download)")
    spending = _credits_line(summary)
    if spending is not None:
        console.line(spending)
    last_run = _last_run(summary)
    if last_run is not None:
        console.line(last_run)
    if summary.errors:
        console.line("latest errors:")
        for item_id, error in summary.errors:
            console.line(f"  {item_id}: {error}")


def _status_tables(summary: JournalSummary, screen: Screen) -> None:
    from rich.table import Table
    from rich.text import Text

    # Item ids, errors and paths are shown as they are, never read as rich markup.
    screen.print(f"journal {summary.path}: {summary.total} items", markup=False)
    states = Table()
    states.add_column("state")
    states.add_column("items", justify="right")
    for state, count in summary.states.items():
        if count:
            states.add_row(state, str(count), style=STATE_STYLES.get(state))
    if summary.downloads_pending:
        states.caption = f"{summary.downloads_pending} completed with outputs still to download"
    screen.print(states)
    spending = _credits_line(summary)
    if spending is not None:
        screen.print(spending, markup=False)
    last_run = _last_run(summary)
    if last_run is not None:
        screen.print(last_run, markup=False)
    if summary.errors:
        errors = Table(title="latest errors", title_justify="left")
        errors.add_column("item")
        errors.add_column("error", style="red")
        for item_id, error in summary.errors:
            errors.add_row(Text(item_id), Text(error))
        screen.print(errors)


def _clock_time(moment: Optional[float]) -> str:
    if moment is None:
        return "-"
    return datetime.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M:%S")
