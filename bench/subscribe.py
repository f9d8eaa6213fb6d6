"""Target 3: 1,000 concurrent ``subscribe`` calls (queue 1 s, run 2 s) under asyncio and under trio.

Each measurement gets a fresh emulator process (timing jitter 0, a concurrency limit above the
job count, so every job takes exactly 3 s) and a fresh client process that starts all the
subscribes at once on one ``AsyncClient``. Figures:

- wall time against the ideal: queue + run + the poll interval in force when the job ends. With
  the default ``PollPolicy`` (2 s, x1.5, capped at 3 s) the checks come about 2 s and 5 s after
  the submit, so the interval in force at 3 s is 3 s and the ideal is 1 + 2 + 3 = 6 s
  (target <= 1.5x ideal);
- client process CPU seconds per job against the official ``AsyncClient`` (under asyncio: its
  polling sleeps with ``asyncio.sleep``) at the same concurrency (target <= 0.5x). The
  official client is measured once (it needs minutes at 1,000 jobs: every job polls every
  0.5 s through httpx's pool of 100 connections, and the process is CPU-bound); calls that fail
  (httpx ``PoolTimeout`` after 90 s in the pool) are counted and their CPU time included.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from higgsfield_proto import PollPolicy

from ._harness import (
    MODEL,
    Context,
    EmulatorProcess,
    Figure,
    check,
    failure,
    median,
    raise_file_limit,
    report,
    run_all_at_once,
    run_official,
    run_worker,
    worker_main,
)

QUEUE, RUN = 1.0, 2.0
WALL_TARGET, CPU_TARGET = 1.5, 0.5


def interval_in_force(job_seconds: float, policy: PollPolicy) -> float:
    """The (unjittered) poll interval that spans the moment ``job_seconds`` after the submit."""
    moment, check_number = 0.0, 0
    while True:
        delay = policy.delay(check_number, 0.0)
        if moment + delay >= job_seconds:
            return delay
        moment += delay
        check_number += 1


def _emulator(jobs: int) -> EmulatorProcess:
    return EmulatorProcess(
        queue_time=QUEUE, run_time=RUN, concurrency_limit=jobs + 100, timing_jitter=0.0
    )


def _measure(kind: str, jobs: int) -> Dict[str, Any]:
    with _emulator(jobs) as emulator:
        params = {"base_url": emulator.base_url, "key": emulator.api_key, "jobs": jobs}
        if kind == "official":
            return run_official("subscribe", params, timeout=1800)
        result = run_worker("subscribe", {**params, "transport": kind})
    if result["completed"] != jobs:
        raise RuntimeError(f"{kind}: only {result['completed']} of {jobs} jobs completed")
    return result


def run(ctx: Context) -> List[Figure]:
    """Measure ours under asyncio (aiohttp) and trio a few times, and the official client once."""
    jobs = ctx.pick(1000, 300)
    ideal = QUEUE + RUN + interval_in_force(QUEUE + RUN, PollPolicy())
    figures: List[Figure] = []
    official: Optional[Dict[str, Any]] = None
    try:
        official = _measure("official", jobs)
        figures.append(report(_official_figure(official, jobs)))
    except Exception as exc:
        figures.append(failure("subscribe/official", exc))
    for transport in ("aiohttp", "trio"):
        name = f"subscribe/{transport}"
        try:
            runs = [_measure(transport, jobs) for _ in range(ctx.pick(3, 1))]
        except Exception as exc:
            figures.append(failure(name, exc))
            continue
        wall = median([r["wall"] for r in runs])
        cpu = median([r["cpu"] for r in runs]) / jobs
        library = "asyncio" if transport == "aiohttp" else "trio"
        figures.append(report(Figure(
            name=f"{name}/wall",
            text=(
                f"{jobs} jobs under {library}: wall {wall:.2f} s, ideal {ideal:.1f} s "
                f"(queue {QUEUE:g} + run {RUN:g} + poll interval {ideal - QUEUE - RUN:g}), "
                f"ratio {wall / ideal:.2f} (target <= {WALL_TARGET})"
            ),
            met=check(wall / ideal, at_most=WALL_TARGET),
            data={"jobs": jobs, "wall": wall, "ideal": ideal},
        )))
        if official is None:
            continue
        official_cpu = official["cpu"] / jobs
        figures.append(report(Figure(
            name=f"{name}/cpu",
            text=(
                f"CPU per job ours {cpu * 1000:.2f} ms, official AsyncClient (asyncio) "
                f"{official_cpu * 1000:.2f} ms, ratio {cpu / official_cpu:.3f} (target <= {CPU_TARGET})"
            ),
            met=check(cpu / official_cpu, at_most=CPU_TARGET),
            data={"ours_cpu_per_job": cpu, "official_cpu_per_job": official_cpu},
        )))
    return figures


def _official_figure(official: Dict[str, Any], jobs: int) -> Figure:
    failed = ", ".join(f"{count} {name}" for name, count in official["failed"].items())
    return Figure(
        name="subscribe/official",
        text=(
            f"{jobs} jobs under asyncio: wall {official['wall']:.2f} s, {official['completed']} "
            f"completed{', failed: ' + failed if failed else ''}; CPU per job "
            f"{official['cpu'] / jobs * 1000:.2f} ms (the baseline of the CPU figures)"
        ),
        data=official,
    )


# -- worker ---------------------------------------------------------------------------------


async def _subscribe_all(params: Dict[str, Any], start_all: Any) -> Dict[str, Any]:
    from higgsfield_client import AsyncClient

    client = AsyncClient(base_url=params["base_url"], api_key=params["key"], transport=params["transport"])
    completed: List[int] = []

    async def one(index: int) -> None:
        result = await client.subscribe(MODEL, {"prompt": f"bench job {index}"})
        if result.get("status") == "completed":
            completed.append(index)

    cpu, started = time.process_time(), time.perf_counter()
    await start_all(one, params["jobs"])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    await client.aclose()
    return {"wall": wall, "cpu": cpu, "completed": len(completed)}


def worker(params: Dict[str, Any]) -> Dict[str, Any]:
    """Run ``jobs`` concurrent subscribes under asyncio (aiohttp) or trio; wall and CPU seconds."""
    raise_file_limit()
    library = "asyncio" if params["transport"] == "aiohttp" else "trio"
    return run_all_at_once(library, _subscribe_all, params)

if __name__ == "__main__":
    worker_main(worker)
