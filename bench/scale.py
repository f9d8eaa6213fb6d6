"""10,000 concurrent ``subscribe`` calls in one process, against raw aiohttp making the same exchanges.

Each measurement gets a fresh emulator process (``bench/_emulator_proc.py``: queue 1 s, run 2 s,
timing jitter 0, every job admitted at once) and a fresh client process that starts all the
jobs at once and waits for every one of them:

- ``raw``: one ``aiohttp.ClientSession`` (its default pool of 100 connections, the transport's
  timeouts) under asyncio, doing what ``subscribe`` does on the wire: the submit POST (the same
  headers, an ``Idempotency-Key``), then status GETs on the default ``PollPolicy`` schedule
  (2 s, x1.5, at most 3 s, up to a tenth less at random) until the job is done, each answer read
  as JSON;
- ``raw-trio``: the same exchanges under trio through the bare h11-over-anyio client of
  ``bench/_bare_h11.py`` (a pool of 100 kept-alive connections, no timeout): what the same
  work costs under trio with nothing of ours, to tell trio's own cost from ours;
- ``aiohttp``: our ``AsyncClient`` under asyncio; ``trio``: our ``AsyncClient`` under trio.

Figures, per kind of ours, against ``raw`` measured in the same round (rounds alternate the
order of the kinds): client CPU per job (``time.process_time()`` over the run, target <= 1.2x
raw for aiohttp, 1.35x for trio); RSS growth per job in flight (peak RSS during the run, reset through
``/proc/self/clear_refs`` after a warm-up submit and status, minus RSS before it, divided by the
jobs; target <= 8 KiB); errors (target: none, every job completed). For trio also the CPU of
``raw-trio`` against ``raw`` (what trio and h11 cost by themselves) and ours against
``raw-trio`` (what we add under trio). And the emulator under that
load: requests answered per second (from its journal) and its process's CPU share of the run
(from ``/proc``; one core is all its event loop can use).
"""

from __future__ import annotations

import gc
import os
import time
from typing import Any, Awaitable, Callable, Dict, List

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
    reset_peak_rss,
    run_all_at_once,
    run_worker,
    worker_main,
)

QUEUE, RUN = 1.0, 6.2
CPU_TARGETS = {"aiohttp": 1.2, "trio": 1.35}
"""Client CPU per job against raw aiohttp; trio's is issue 29's decision (trio and h11 cost more)."""
RSS_TARGET = 8 * 1024
KINDS = ("raw", "raw-trio", "aiohttp", "trio")
LIBRARY = {"raw": "asyncio", "raw-trio": "trio", "aiohttp": "asyncio", "trio": "trio"}


def _cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(kind: str, jobs: int) -> Dict[str, Any]:
    """One run of ``kind`` with ``jobs`` jobs, against a fresh emulator process."""
    emulator = EmulatorProcess(
        queue_time=QUEUE, run_time=RUN, concurrency_limit=jobs + 100, queue_limit=jobs + 100,
        journal_limit=10 * jobs, timing_jitter=0.0, counters=True,
    )
    with emulator:
        before = emulator.stats()["routes"]
        emulator_cpu = _cpu_seconds(emulator.pid)
        params = {"base_url": emulator.base_url, "key": emulator.api_key, "jobs": jobs, "kind": kind}
        result = run_worker("scale", params, timeout=1800)
        emulator_cpu = _cpu_seconds(emulator.pid) - emulator_cpu
        after = emulator.stats()["routes"]
    answered = sum(after.values()) - sum(before.values())
    result["emulator"] = {
        "requests": answered,
        "per_second": answered / result["wall"],
        "cpu_share": emulator_cpu / result["wall"],
    }
    return result


def run(ctx: Context) -> List[Figure]:
    """Alternate raw, aiohttp and trio over a few rounds; one set of figures per kind of ours."""
    jobs = ctx.pick(10_000, 2_000)
    runs: Dict[str, List[Dict[str, Any]]] = {kind: [] for kind in KINDS}
    for number in range(ctx.pick(2, 1)):
        shift = number % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            try:
                runs[kind].append(measure(kind, jobs))
            except Exception as exc:
                return [failure(f"scale/{kind}", exc)]
            last = runs[kind][-1]
            print(
                f"  {kind}: wall {last['wall']:.1f} s, CPU {last['cpu'] / jobs * 1000:.2f} ms/job, "
                f"RSS {last['rss_growth'] / jobs / 1024:.1f} KiB/job, completed {last['completed']}, "
                f"errors {last['errors'] or 'none'}, emulator {last['emulator']['per_second']:,.0f} "
                f"req/s at {last['emulator']['cpu_share']:.0%} CPU",
                flush=True,
            )
    figures = [_figure(kind, jobs, runs[kind], runs["raw"]) for kind in ("aiohttp", "trio")]
    figures.append(_trio_figure(jobs, runs["trio"], runs["raw-trio"], runs["raw"]))
    figures.append(_emulator_figure(jobs, [r for kind in KINDS for r in runs[kind]]))
    return [report(figure) for figure in figures]


def _figure(kind: str, jobs: int, ours: List[Dict[str, Any]], raw: List[Dict[str, Any]]) -> Figure:
    cpu_ratio = median([o["cpu"] / r["cpu"] for o, r in zip(ours, raw, strict=True)])
    cpu, raw_cpu = median([o["cpu"] for o in ours]) / jobs, median([r["cpu"] for r in raw]) / jobs
    rss = median([o["rss_growth"] for o in ours]) / jobs
    raw_rss = median([r["rss_growth"] for r in raw]) / jobs
    wall, raw_wall = median([o["wall"] for o in ours]), median([r["wall"] for r in raw])
    errors = sum(sum(o["errors"].values()) + jobs - o["completed"] for o in ours + raw)
    cpu_target = CPU_TARGETS[kind]
    met = check(cpu_ratio, at_most=cpu_target) and check(rss, at_most=RSS_TARGET) and errors == 0
    return Figure(
        name=f"scale/{kind}",
        text=(
            f"{jobs:,} jobs under {LIBRARY[kind]}: client CPU per job ours {cpu * 1000:.2f} ms, raw "
            f"aiohttp {raw_cpu * 1000:.2f} ms, ratio {cpu_ratio:.2f} (target <= {cpu_target}); RSS "
            f"growth per job in flight ours {rss / 1024:.1f} KiB, raw {raw_rss / 1024:.1f} KiB "
            f"(target <= {RSS_TARGET // 1024} KiB); wall ours {wall:.1f} s, raw {raw_wall:.1f} s; "
            f"errors {errors} (target 0)"
        ),
        met=met,
        data={"jobs": jobs, "cpu_per_job": cpu, "raw_cpu_per_job": raw_cpu, "cpu_ratio": cpu_ratio,
              "rss_per_job": rss, "raw_rss_per_job": raw_rss, "wall": wall, "raw_wall": raw_wall,
              "errors": errors},
    )


def _trio_figure(
    jobs: int, ours: List[Dict[str, Any]], bare: List[Dict[str, Any]], raw: List[Dict[str, Any]]
) -> Figure:
    """Our trio client against the bare h11 client under trio: our cost apart from trio's."""
    ours_ratio = median([o["cpu"] / b["cpu"] for o, b in zip(ours, bare, strict=True)])
    trio_ratio = median([b["cpu"] / r["cpu"] for b, r in zip(bare, raw, strict=True)])
    bare_cpu = median([b["cpu"] for b in bare]) / jobs
    bare_rss = median([b["rss_growth"] for b in bare]) / jobs
    errors = sum(sum(b["errors"].values()) + jobs - b["completed"] for b in bare)
    return Figure(
        name="scale/trio-vs-bare-h11",
        text=(
            f"{jobs:,} jobs under trio: the bare h11 client's CPU per job {bare_cpu * 1000:.2f} ms, "
            f"{trio_ratio:.2f}x raw aiohttp under asyncio (trio's and h11's own cost); ours "
            f"{ours_ratio:.2f}x the bare client; its RSS growth per job {bare_rss / 1024:.1f} KiB; "
            f"its errors {errors}"
        ),
        data={"bare_cpu_per_job": bare_cpu, "bare_vs_raw": trio_ratio, "ours_vs_bare": ours_ratio,
              "bare_rss_per_job": bare_rss, "bare_errors": errors},
    )


def _emulator_figure(jobs: int, runs: List[Dict[str, Any]]) -> Figure:
    rates = [r["emulator"]["per_second"] for r in runs]
    shares = [r["emulator"]["cpu_share"] for r in runs]
    return Figure(
        name="scale/emulator",
        text=(
            f"the emulator (own process) with {jobs:,} jobs in flight: {median(rates):,.0f} requests/s "
            f"answered over each run (from {min(rates):,.0f} to {max(rates):,.0f}), its CPU "
            f"{median(shares):.0%} of one core (at most {max(shares):.0%}), "
            f"{sum(r['emulator']['requests'] for r in runs):,} requests in all"
        ),
        data={"per_second": rates, "cpu_share": shares},
    )


# -- worker ---------------------------------------------------------------------------------


async def _ours(params: Dict[str, Any], start_all: Callable[..., Any]) -> Dict[str, Any]:
    from higgsfield_client import AsyncClient

    transport = "aiohttp" if params["kind"] == "aiohttp" else "trio"
    client = AsyncClient(base_url=params["base_url"], api_key=params["key"], transport=transport)
    # Warm-up: the code paths, the transport and a connection exist before the baseline.
    controller = await client.submit(MODEL, {"prompt": "warm-up"})
    await client.status(controller.request_id)

    async def one(index: int) -> bool:
        result = await client.subscribe(MODEL, {"prompt": f"bench job {index}"})
        return result.get("status") == "completed"

    try:
        return await _timed(params, start_all, one)
    finally:
        await client.aclose()


async def _raw(params: Dict[str, Any], start_all: Callable[..., Any]) -> Dict[str, Any]:
    import asyncio
    import json
    import uuid

    import aiohttp

    from .status import _headers

    base, headers = params["base_url"], _headers(params["key"])
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=90)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def submit(prompt: str) -> Any:
            body = json.dumps({"prompt": prompt}).encode()
            keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
            async with session.post(f"{base}/{MODEL}", data=body, headers=keyed) as response:
                response.raise_for_status()
                return await response.json()

        async def status(request_id: str) -> Any:
            async with session.get(f"{base}/requests/{request_id}/status", headers=headers) as response:
                response.raise_for_status()
                return await response.json()

        await status((await submit("warm-up"))["request_id"])
        return await _timed(params, start_all, _by_hand(submit, status, asyncio.sleep))


async def _raw_trio(params: Dict[str, Any], start_all: Callable[..., Any]) -> Dict[str, Any]:
    import json
    import uuid
    from urllib.parse import urlsplit

    import trio

    from ._bare_h11 import BarePool
    from .status import _headers

    parts = urlsplit(params["base_url"])
    assert parts.hostname is not None
    assert parts.port is not None
    headers = [("Host", parts.netloc), *_headers(params["key"]).items()]
    pool = BarePool(parts.hostname, parts.port)

    async def call(method: str, target: str, extra: List[Any], body: bytes = b"") -> Any:
        status, answer = await pool.request(method, target, headers + extra, body)
        if status >= 400:
            raise RuntimeError(f"HTTP {status}")
        return json.loads(answer)

    async def submit(prompt: str) -> Any:
        body = json.dumps({"prompt": prompt}).encode()
        keyed = [("Idempotency-Key", str(uuid.uuid4())), ("Content-Length", str(len(body)))]
        return await call("POST", f"/{MODEL}", keyed, body)

    async def status(request_id: str) -> Any:
        return await call("GET", f"/requests/{request_id}/status", [])

    await status((await submit("warm-up"))["request_id"])
    try:
        return await _timed(params, start_all, _by_hand(submit, status, trio.sleep))
    finally:
        await pool.aclose()


def _by_hand(
    submit: Callable[[str], Awaitable[Any]], status: Callable[[str], Awaitable[Any]],
    sleep: Callable[[float], Awaitable[Any]],
) -> Callable[[int], Awaitable[bool]]:
    """What ``subscribe`` does on the wire, from a baseline's own submit and status calls: the
    submit, then status checks on the default ``PollPolicy`` schedule until the job is done."""
    import random

    from higgsfield_proto import PollPolicy

    policy = PollPolicy()
    done = frozenset({"completed", "failed", "nsfw", "canceled", "cancelled"})

    async def one(index: int) -> bool:
        payload = await submit(f"bench job {index}")
        check = 0
        while payload["status"] not in done:
            await sleep(policy.delay(check, random.random()))
            payload = await status(payload["request_id"])
            check += 1
        return bool(payload["status"] == "completed")

    return one


async def _timed(params: Dict[str, Any], start_all: Callable[..., Any], one: Any) -> Dict[str, Any]:
    completed: List[int] = []
    errors: Dict[str, int] = {}

    async def counted(index: int) -> None:
        try:
            if await one(index):
                completed.append(index)
        except Exception as exc:
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    gc.collect()
    baseline = reset_peak_rss()
    cpu, started = time.process_time(), time.perf_counter()
    await start_all(counted, params["jobs"])
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "wall": wall, "cpu": cpu, "completed": len(completed), "errors": errors,
        "rss_growth": proc_status("VmHWM") - baseline,
    }


def worker(params: Dict[str, Any]) -> Dict[str, Any]:
    """Run ``jobs`` concurrent subscribes of ``kind``; wall, CPU, RSS growth, outcomes."""
    raise_file_limit(4 * params["jobs"] + 1024)
    main = {"raw": _raw, "raw-trio": _raw_trio}.get(params["kind"], _ours)
    return run_all_at_once(LIBRARY[params["kind"]], main, params)

if __name__ == "__main__":
    worker_main(worker)
