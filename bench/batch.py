"""Durable batches: 10,000 items with short jobs, and what the SQLite journal costs.

Each measurement gets a fresh emulator process (queue 0.2 s, run 0.3 s, no jitter, room for
every job at once) and a fresh client process that runs one ``Batch`` of N items at a concurrency
of C with a fixed poll interval. Figures:

- wall time against the ideal: ``ceil(N / C)`` waves of queue + run + one poll interval;
- client process CPU per item, and peak RSS;
- the journal's size on disk (with its WAL file) after the run;
- the journal's overhead: client CPU per item with the SQLite journal against the same batch
  with the journal kept in a Python dict (``MemoryJournal`` below: the same calls, no SQL, no
  file), in the same run (target <= 1.10x).

The default runs record output URLs only (``download=False``); ``batch/download`` repeats the
comparison on fewer items with every output downloaded.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from ._harness import (
    MODEL,
    Context,
    EmulatorProcess,
    Figure,
    check,
    failure,
    median,
    proc_status,
    raise_file_limit,
    report,
    run_worker,
    worker_main,
)

QUEUE, RUN, POLL = 0.2, 0.3, 0.25
OVERHEAD_TARGET = 1.10


def _measure(journal: str, items: int, concurrency: int, download: bool) -> Dict[str, Any]:
    with EmulatorProcess(
        queue_time=QUEUE, run_time=RUN, concurrency_limit=items + 100, timing_jitter=0.0
    ) as emulator:
        params = {
            "base_url": emulator.base_url,
            "key": emulator.api_key,
            "items": items,
            "concurrency": concurrency,
            "download": download,
            "journal": journal,
        }
        result = run_worker("batch", params, timeout=1800)
    if result["completed"] != items:
        raise RuntimeError(f"{journal}: only {result['completed']} of {items} items completed")
    return result


def _pair(name: str, items: int, concurrency: int, download: bool, rounds: int) -> List[Figure]:
    runs: Dict[str, List[Dict[str, Any]]] = {"sqlite": [], "memory": []}
    for _ in range(rounds):  # interleaved, so that drift in the machine's speed hits both
        for journal in runs:
            runs[journal].append(_measure(journal, items, concurrency, download))
    sqlite, memory = runs["sqlite"], runs["memory"]
    cpu = median([r["cpu"] for r in sqlite]) / items
    cpu_memory = median([r["cpu"] for r in memory]) / items
    wall = median([r["wall"] for r in sqlite])
    ideal = math.ceil(items / concurrency) * (QUEUE + RUN + POLL)
    rss = median([r["peak_rss"] for r in sqlite])
    size = median([r["journal_bytes"] for r in sqlite])
    return [
        report(Figure(
            name=f"{name}/wall",
            text=(
                f"{items} items at concurrency {concurrency}: wall {wall:.1f} s, ideal {ideal:.1f} s "
                f"({math.ceil(items / concurrency)} waves of queue {QUEUE:g} + run {RUN:g} + poll "
                f"{POLL:g}), ratio {wall / ideal:.2f}; peak RSS {rss / 2**20:.0f} MiB; journal "
                f"{size / 2**20:.1f} MiB ({size / items:.0f} B per item)"
            ),
            data={"items": items, "wall": wall, "ideal": ideal, "peak_rss": rss, "journal_bytes": size},
        )),
        report(Figure(
            name=f"{name}/journal",
            text=(
                f"client CPU per item {cpu * 1000:.2f} ms with the SQLite journal, "
                f"{cpu_memory * 1000:.2f} ms with it in memory: overhead {cpu / cpu_memory:.3f}x "
                f"(target <= {OVERHEAD_TARGET})"
            ),
            met=check(cpu / cpu_memory, at_most=OVERHEAD_TARGET),
            data={"cpu_per_item": cpu, "cpu_per_item_memory": cpu_memory},
        )),
    ]


def run(ctx: Context) -> List[Figure]:
    """10,000 items without downloads, and 2,000 with, each with both journals."""
    figures: List[Figure] = []
    plans = [
        ("batch", ctx.pick(10_000, 2_000), 1000, False, ctx.pick(3, 1)),
        ("batch/download", ctx.pick(2_000, 500), 250, True, ctx.pick(3, 1)),
    ]
    for name, items, concurrency, download, rounds in plans:
        try:
            figures += _pair(name, items, concurrency, download, rounds)
        except Exception as exc:
            figures.append(failure(name, exc))
    return figures


# -- worker ---------------------------------------------------------------------------------


class MemoryJournal:
    """The journal's calls on a dict: the baseline that shows what SQLite costs."""

    def __init__(self) -> None:
        from higgsfield_client.batch._journal import PENDING, SUBMITTED, SUBMITTING, Record

        self._records: Dict[str, Any] = {}
        self._make = Record
        self._states = (PENDING, SUBMITTING, SUBMITTED)
        self.path = Path("memory")

    flush_after = 0.25

    def flush(self) -> None:
        pass

    def start_run(self) -> int:
        return 1

    def end_run(self, run: int, outcome: str) -> None:
        pass

    def check(self, items: Iterable[Any]) -> None:
        pass

    def close(self) -> None:
        pass

    def register(self, items: Sequence[Any], run: int) -> List[Any]:
        now = time.time()
        for position, item in items:
            self._records[item.id] = self._make(
                id=item.id, position=position, run=run, model=item.model, digest=item.digest,
                state=self._states[0], idempotency_key=None, request_id=None, urls=(), paths=(),
                error=None, attempts=0, created=now, updated=now, finished=None,
            )
        return [self._records[item.id] for _, item in items]

    def _set(self, record: Any, **changes: Any) -> Any:
        new = dataclasses.replace(record, updated=time.time(), **changes)
        self._records[new.id] = new
        return new

    def commit_key(self, record: Any, key: str) -> Any:
        state = self._states[1]
        return self._set(record, state=state, idempotency_key=key, attempts=record.attempts + 1)

    def submitted(self, record: Any, request_id: str) -> Any:
        return self._set(record, state=self._states[2], request_id=request_id)

    def completed(self, record: Any, urls: Sequence[str]) -> Any:
        return self._set(record, state="completed", urls=tuple(urls), finished=time.time())

    def downloaded(self, record: Any, paths: Sequence[str]) -> Any:
        return self._set(record, paths=tuple(paths))

    def ended(self, record: Any, state: str, error: Optional[str]) -> Any:
        return self._set(record, state=state, error=error, finished=time.time())

    def note_error(self, record: Any, error: str) -> Any:
        return self._set(record, error=error)

    def records(self, run: Optional[int] = None) -> List[Any]:
        return sorted(self._records.values(), key=lambda record: record.position)


def worker(params: Dict[str, Any]) -> Dict[str, Any]:
    """Run one batch under asyncio; wall and CPU seconds, peak RSS and the journal's size."""
    import anyio

    import higgsfield_client.batch as batch_module
    from higgsfield_client import AsyncClient, PollPolicy
    from higgsfield_client.batch import Batch

    raise_file_limit()
    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    if params["journal"] == "memory":
        batch_module.Journal = lambda path, read_only=False: MemoryJournal()  # type: ignore[assignment,misc]
    poll = PollPolicy(initial_delay=POLL, multiplier=1.0, max_delay=POLL, jitter=0.0)
    items = [
        {"id": f"i{n}", "model": MODEL, "arguments": {"prompt": f"bench {n}"}} for n in range(params["items"])
    ]

    async def run_all() -> int:
        client = AsyncClient(base_url=params["base_url"], api_key=params["key"], poll=poll)
        completed = 0
        async with Batch(
            items, out=out, client=client, concurrency=params["concurrency"], download=params["download"]
        ).stream() as results:
            async for result in results:
                completed += result.status == "completed"
        await client.aclose()
        return completed

    cpu, started = time.process_time(), time.perf_counter()
    completed = anyio.run(run_all)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    journal_bytes = sum(path.stat().st_size for path in out.glob("journal.sqlite3*"))
    return {
        "wall": wall,
        "cpu": cpu,
        "completed": completed,
        "peak_rss": proc_status("VmHWM"),
        "journal_bytes": journal_bytes,
        "pid": os.getpid(),
    }


if __name__ == "__main__":
    worker_main(worker)
