"""Connection reuse: how many TCP connections a client opens for its requests to one host.

The emulator runs in its own process through ``bench/_emulator_proc.py``, which reports its
``connection_count`` (TCP connections accepted) and requests per route over a pipe; the suite
reads both before and after each client process, so the difference is that client's doing.
A client is expected to keep one pool per host and to poll over it:

- sequential: one client makes 100 ``status`` calls, then one ``subscribe`` (a submit and its
  polls): one connection (target 1), for each transport; the official clients are shown too;
- concurrent (async transports): one client makes 3 rounds of 10 concurrent ``status`` calls:
  at most 10 connections (target <= 10), opened in the first round and reused after.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable, Dict, List, Tuple

from ._harness import (
    MODEL,
    Context,
    EmulatorProcess,
    Figure,
    check,
    create_job,
    failure,
    report,
    run_official,
    run_worker,
    worker_main,
)

CALLS, ROUNDS, WIDTH = 100, 3, 10


def _delta(emulator: EmulatorProcess, action: Callable[[], Any]) -> Tuple[int, int]:
    """(connections, requests) the emulator saw while ``action`` ran."""
    before = emulator.stats()
    action()
    after = emulator.stats()
    requests = sum(after["routes"].values()) - sum(before["routes"].values())
    return after["connections"] - before["connections"], requests


def run(ctx: Context) -> List[Figure]:
    """Count connections per client process, phase by phase."""
    figures: List[Figure] = []
    with EmulatorProcess(queue_time=0.2, run_time=0.3, journal_limit=100_000, counters=True) as emulator:
        request_id = create_job(emulator)
        base = {"base_url": emulator.base_url, "key": emulator.api_key, "request_id": request_id}
        cases: List[Tuple[str, Callable[[], Any], int]] = []
        for transport in ("requests", "aiohttp", "trio"):
            params = {**base, "transport": transport}
            cases.append((
                f"connections/{transport}/sequential",
                partial(run_worker, "connections", {**params, "phase": "sequential"}),
                1,
            ))
            if transport != "requests":
                cases.append((
                    f"connections/{transport}/concurrent",
                    partial(run_worker, "connections", {**params, "phase": "concurrent"}),
                    WIDTH,
                ))
        for mode in ("sync", "asyncio"):
            cases.append((
                f"connections/official-{mode}/sequential",
                partial(run_official, "connections", {**base, "mode": mode, "calls": CALLS}),
                0,
            ))
        for name, action, target in cases:
            try:
                connections, requests = _delta(emulator, action)
            except Exception as exc:
                figures.append(failure(name, exc))
                continue
            goal = f"target <= {target}" if target else "reported"
            figures.append(report(Figure(
                name=name,
                text=f"{requests} requests over {connections} connection(s) ({goal})",
                met=check(connections, at_most=target) if target else None,
                data={"connections": connections, "requests": requests},
            )))
    return figures


# -- worker ---------------------------------------------------------------------------------


def _sequential_sync(p: Dict[str, Any]) -> None:
    from higgsfield_client import SyncClient

    with SyncClient(base_url=p["base_url"], api_key=p["key"]) as client:
        for _ in range(CALLS):
            client.status(p["request_id"])
        client.subscribe(MODEL, {"prompt": "connections"})


async def _async_phase(p: Dict[str, Any], gather: Callable[[List[Any]], Any]) -> None:
    from higgsfield_client import AsyncClient

    async with AsyncClient(base_url=p["base_url"], api_key=p["key"], transport=p["transport"]) as client:
        if p["phase"] == "sequential":
            for _ in range(CALLS):
                await client.status(p["request_id"])
            await client.subscribe(MODEL, {"prompt": "connections"})
            return
        for _ in range(ROUNDS):
            await gather([lambda: client.status(p["request_id"]) for _ in range(WIDTH)])


def worker(p: Dict[str, Any]) -> Dict[str, Any]:
    """Run one phase with one client."""
    if p["transport"] == "requests":
        _sequential_sync(p)
    elif p["transport"] == "aiohttp":
        import asyncio

        async def gather(calls: List[Any]) -> None:
            await asyncio.gather(*(call() for call in calls))

        asyncio.run(_async_phase(p, gather))
    else:
        import trio

        async def nursery(calls: List[Any]) -> None:
            async with trio.open_nursery() as tasks:
                for call in calls:
                    tasks.start_soon(call)

        trio.run(_async_phase, p, nursery)
    return {}


if __name__ == "__main__":
    worker_main(worker)
