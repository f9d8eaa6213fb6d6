"""Emulator request rate: 2,000 jobs in flight, status polled by 1,000 concurrent clients.

Run with ``python -m bench.emulator_rate [--jobs N] [--clients N] [--seconds S]``. The emulator
runs in its own process (``python -m higgsfield_client.testing``) so that the clients do not share
its interpreter. Prints the request rate, latency percentiles and error count; exits 1 on any error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import aiohttp


@dataclass
class Tally:
    """What the pollers saw."""

    ok: int = 0
    errors: Dict[str, int] = field(default_factory=dict)
    latencies: List[float] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def _raise_file_limit(wanted: int) -> None:
    # Each client holds a socket, and so does the server for each: lift the soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _start_emulator() -> Tuple[subprocess.Popen[str], str, str]:
    command = [
        sys.executable, "-m", "higgsfield_client.testing", "--port", "0",
        "--queue-time", "1", "--run-time", "3600", "--queue-limit", "100000",
        "--journal-limit", "0", "--seed", "1",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    found: Dict[str, str] = {}
    deadline = time.monotonic() + 30
    while "HIGGSFIELD_BASE_URL" not in found:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the emulator did not print its URL")
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            found[name] = value.strip("'")
    return process, found["HIGGSFIELD_BASE_URL"], found["HF_KEY"]


async def _create_jobs(base: str, headers: Dict[str, str], count: int) -> List[str]:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as session:

        async def one(index: int) -> str:
            body = {"prompt": f"bench job {index}"}
            async with session.post("/higgsfield-ai/soul/standard", json=body) as response:
                response.raise_for_status()
                payload = await response.json()
                return str(payload["request_id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _poller(
    index: int,
    base: str,
    headers: Dict[str, str],
    ids: Sequence[str],
    start: asyncio.Event,
    stop_at: List[float],
    tally: Tally,
) -> None:
    # One connection per client, kept alive, like 1,000 separate SDK users polling.
    connector = aiohttp.TCPConnector(limit=1)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base, headers=headers, connector=connector, timeout=timeout
    ) as session:
        await start.wait()
        turn = index
        while time.monotonic() < stop_at[0]:
            request_id = ids[turn % len(ids)]
            turn += 7
            sent = time.monotonic()
            try:
                async with session.get(f"/requests/{request_id}/status") as response:
                    payload = await response.json()
                    if response.status != 200 or payload.get("status") not in (
                        "queued", "in_progress"
                    ):
                        tally.error(f"HTTP {response.status}")
                        continue
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                tally.error(type(exc).__name__)
                continue
            tally.ok += 1
            tally.latencies.append(time.monotonic() - sent)


async def _bench(base: str, key: str, jobs: int, clients: int, seconds: float) -> Tuple[Tally, float]:
    headers = {"Authorization": f"Key {key}"}
    started = time.monotonic()
    ids = await _create_jobs(base, headers, jobs)
    print(f"created {len(ids)} jobs in {time.monotonic() - started:.1f} s", flush=True)
    tally = Tally()
    start = asyncio.Event()
    stop_at = [0.0]
    tasks = [
        asyncio.ensure_future(_poller(i, base, headers, ids, start, stop_at, tally))
        for i in range(clients)
    ]
    await asyncio.sleep(0.5)  # let the sessions come up before the clock starts
    began = time.monotonic()
    stop_at[0] = began + seconds
    start.set()
    await asyncio.gather(*tasks)
    return tally, time.monotonic() - began


def _percentile(values: List[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark; returns 1 if any request failed."""
    parser = argparse.ArgumentParser(prog="python -m bench.emulator_rate", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args(argv)
    _raise_file_limit(4 * options.clients + 256)
    process, base, key = _start_emulator()
    try:
        tally, elapsed = asyncio.run(
            _bench(base, key, options.jobs, options.clients, options.seconds)
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
    errors = sum(tally.errors.values())
    print(f"emulator: {base} (separate process, pid {process.pid}), cpus: {os.cpu_count()}")
    print(f"jobs in flight: {options.jobs}, concurrent clients: {options.clients}")
    print(f"status requests: {tally.ok} ok, {errors} errors {tally.errors or ''}")
    print(f"rate: {tally.ok / elapsed:,.0f} requests/s over {elapsed:.1f} s")
    print(
        "latency: p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms".format(
            *(1000 * _percentile(tally.latencies, q) for q in (0.5, 0.99, 1.0))
        )
    )
    return 1 if errors or tally.ok == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
