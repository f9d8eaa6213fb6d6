"""Target 5: status requests per job and completion-detection lag with the default poll policy.

Jobs of 5 s, 30 s and 120 s (queue 1 s, then run; only 5 s and 30 s under --quick) run on one
emulator process per length, started through ``bench/_emulator_proc.py`` with its counters on.
The emulator's usual timing jitter (+/-10 % on queue and run time) is kept on purpose: with
fixed lengths every job would end at the same point of the poll schedule, and the lag of one
point says little; with the jitter the jobs end all over a poll interval. Our ``AsyncClient``
(asyncio, default ``PollPolicy``) and the official ``AsyncClient`` (fixed 0.5 s polling) each
run several ``subscribe`` calls per length, all lengths and both clients at once, in two
separate processes. Afterwards each emulator reports
the status requests it answered per request id, and each job's finish time.

Lag = when ``subscribe`` returned (client wall clock) minus when the job finished as the
emulator recorded it (``JobInfo.finished_at``, read through the launcher: same machine, same
clock), so the jitter does not blur it. Target, for the 30 s job: at most 1/4 of the
official's status requests, and a p95 lag of at most 3 s; the other lengths are reported.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Coroutine, Dict, List, Sequence

from ._harness import (
    MODEL,
    Context,
    EmulatorProcess,
    Figure,
    check,
    failure,
    median,
    percentile,
    report,
    run_official,
    run_worker,
    worker_main,
)

QUEUE = 1.0
JITTER = 0.1
TARGET_LENGTH = 30
REQUESTS_TARGET, LAG_TARGET = 0.25, 3.0


def run(ctx: Context) -> List[Figure]:
    """Run every length at once with both clients; one figure per length."""
    lengths = [5, 30] if ctx.quick else [5, 30, 120]
    per_length = ctx.pick(40, 20)
    emulators = {
        length: EmulatorProcess(
            queue_time=QUEUE, run_time=length - QUEUE, concurrency_limit=1000,
            journal_limit=1_000_000, timing_jitter=JITTER, counters=True,
        )
        for length in lengths
    }
    try:
        for emulator in emulators.values():
            emulator.start()
        targets = [
            {"label": f"{length}s", "base_url": e.base_url, "key": e.api_key, "jobs": per_length}
            for length, e in emulators.items()
        ]
        timeout = max(lengths) * 3 + 120
        with ThreadPoolExecutor(max_workers=2) as pool:
            ours_future = pool.submit(run_worker, "polling", {"targets": targets}, timeout=timeout)
            theirs_future = pool.submit(run_official, "polling", {"targets": targets}, timeout=timeout)
            try:
                ours = ours_future.result()["jobs"]
                theirs = theirs_future.result()["jobs"]
            except Exception as exc:
                return [failure("polling", exc)]
        stats = {length: e.stats() for length, e in emulators.items()}
    finally:
        for emulator in emulators.values():
            emulator.stop()
    return [report(_figure(length, ours, theirs, stats[length])) for length in lengths]


def _per_job(jobs: Sequence[Dict[str, Any]], label: str, stats: Dict[str, Any]) -> Dict[str, List[float]]:
    finished = {job["request_id"]: job["finished_at"] for job in stats["jobs"]}
    counts = stats["status_requests"]
    mine = [job for job in jobs if job["label"] == label]
    return {
        "requests": [float(counts.get(job["request_id"], 0)) for job in mine],
        "lag": [job["returned_at"] - finished[job["request_id"]] for job in mine],
    }


def _figure(
    length: int, ours: List[Dict[str, Any]], theirs: List[Dict[str, Any]], stats: Dict[str, Any]
) -> Figure:
    label = f"{length}s"
    mine, official = _per_job(ours, label, stats), _per_job(theirs, label, stats)
    ours_requests, their_requests = median(mine["requests"]), median(official["requests"])
    ratio = ours_requests / their_requests
    p95 = percentile(mine["lag"], 0.95)
    targeted = length == TARGET_LENGTH
    goal_requests = f" (target <= {REQUESTS_TARGET})" if targeted else ""
    goal_lag = f" (target p95 <= {LAG_TARGET:g} s)" if targeted else ""
    return Figure(
        name=f"polling/{label}",
        text=(
            f"{len(mine['lag'])} jobs each: status requests per job ours {ours_requests:.0f}, "
            f"official {their_requests:.0f}, ratio {ratio:.2f}{goal_requests}; lag ours p50 "
            f"{percentile(mine['lag'], 0.5):.2f} s, p95 {p95:.2f} s, max {max(mine['lag']):.2f} s"
            f"{goal_lag}; official p95 {percentile(official['lag'], 0.95):.2f} s"
        ),
        met=check(ratio, at_most=REQUESTS_TARGET) and check(p95, at_most=LAG_TARGET) if targeted else None,
        data={"ours": mine, "official": official},
    )


# -- worker ---------------------------------------------------------------------------------


async def _subscribe_all(targets: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    import asyncio

    from higgsfield_client import AsyncClient

    async def one(client: AsyncClient, label: str, index: int) -> Dict[str, Any]:
        accepted: List[float] = []

        def on_enqueue(request_id: str) -> None:
            accepted.append(time.time())

        result = await client.subscribe(MODEL, {"prompt": f"{label} {index}"}, on_enqueue=on_enqueue)
        return {
            "label": label,
            "request_id": result.request_id,
            "accepted_at": accepted[0],
            "returned_at": time.time(),
        }

    calls: List[Coroutine[Any, Any, Dict[str, Any]]] = []
    clients: List[AsyncClient] = []
    for target in targets:
        client = AsyncClient(base_url=target["base_url"], api_key=target["key"])
        clients.append(client)
        calls.extend(one(client, target["label"], i) for i in range(target["jobs"]))
    try:
        return list(await asyncio.gather(*calls))
    finally:
        for client in clients:
            await client.aclose()


def worker(params: Dict[str, Any]) -> Dict[str, Any]:
    """Subscribe to every target's jobs at once under asyncio; when each was accepted and returned."""
    import asyncio

    return {"jobs": asyncio.run(_subscribe_all(params["targets"]))}


if __name__ == "__main__":
    worker_main(worker)
