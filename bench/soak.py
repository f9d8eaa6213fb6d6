"""``python -m bench.soak`` (``make soak``): many jobs through ``subscribe`` under random faults.

For each transport (requests, aiohttp, trio under trio, the trio transport under asyncio) it
runs ``--jobs`` subscribe calls, at most ``--concurrency`` at once, against an emulator (in this
process, on its own thread) that answers ``--fault-rate`` of the API requests with a random
fault (429, 5xx, an HTML 502, a dropped connection, a slow or truncated answer). One prompt in
ten asks for a failure (``[fail]``) and one in ten for a moderation refusal (``[nsfw]``), so every
outcome is known in advance. Checked:

- every job ends with the right result (completed, with its own request id and images) or the
  right typed error (JobFailedError / JobNSFWError carrying the request id), never another error;
- no generation is created twice: the emulator holds exactly one job per subscribe call, and
  the submits in its journal carry exactly that many distinct Idempotency-Keys;
- nothing hangs: each call has an overall ``timeout=`` and the whole run a watchdog.

Concurrency: the async transports run the jobs as tasks in one task group, limited by a
CapacityLimiter; requests runs them on a pool of ``--concurrency`` threads (a requests session
whose connection pool is as large), which on a small machine mostly wait on the GIL.
Printed per transport: jobs/s, retries sent (exchanges logged with ``attempt`` above 1), faults
injected by kind, job latency p50/p95. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, List, Optional, Sequence

from higgsfield_client import (
    AsyncClient,
    JobFailedError,
    JobNSFWError,
    PollPolicy,
    RetryPolicy,
    SyncClient,
)
from higgsfield_client.testing import Emulator

TRANSPORTS = ("requests", "aiohttp", "trio", "trio-on-asyncio")
MODEL = "bytedance/seedream/v4/text-to-image"
# A fault hits one request in five: ten attempts make a request that fails for good (0.2**10)
# rarer than one in a million.
RETRY = RetryPolicy(max_attempts=10, backoff_base=0.05, backoff_cap=0.5, max_retry_after=5.0)
POLL = PollPolicy(initial_delay=0.05, multiplier=1.5, max_delay=0.25)


def expected_outcome(index: int) -> str:
    """What job ``index`` must end as: ``failed``, ``nsfw`` or ``completed``."""
    return {0: "failed", 1: "nsfw"}.get(index % 10, "completed")


def prompt_for(index: int) -> str:
    marker = {"failed": " [fail]", "nsfw": " [nsfw]", "completed": ""}[expected_outcome(index)]
    return f"soak job {index}{marker}"


class _RetryCounter(logging.Handler):
    """Counts the exchanges the client logs, and those that were a repeat (``attempt`` > 1)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sends = 0
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        attempt = getattr(record, "attempt", None)
        if attempt is not None:
            self.sends += 1
            self.retries += attempt > 1

    @contextlib.contextmanager
    def installed(self) -> Iterator[_RetryCounter]:
        """Listen to the client's exchange records meanwhile."""
        logger = logging.getLogger("higgsfield_client")
        level = logger.level
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(level)


@dataclass
class SoakResult:
    """What one transport's soak run did, and what went wrong (``violations``)."""

    transport: str
    jobs: int
    concurrency: int
    fault_rate: float
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: List[str] = field(default_factory=list)
    latencies: List[float] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    requests_received: int = 0
    sends: int = 0
    retries: int = 0
    jobs_created: int = 0
    distinct_submits: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def lines(self) -> List[str]:
        faults = ", ".join(f"{kind} {count}" for kind, count in sorted(self.faults.items())) or "none"
        outcomes = ", ".join(f"{name} {count}" for name, count in sorted(self.outcomes.items()))
        return [
            f"{self.transport}: {self.jobs} jobs, up to {self.concurrency} at once, fault rate "
            f"{self.fault_rate:.0%}: {self.seconds:.1f} s, {self.jobs / self.seconds:.1f} jobs/s",
            f"  outcomes: {outcomes}",
            f"  job latency: p50 {self.percentile(0.5):.2f} s, p95 {self.percentile(0.95):.2f} s, "
            f"max {max(self.latencies, default=math.nan):.2f} s",
            f"  requests: {self.sends} sent ({self.retries} retries), {self.requests_received} "
            f"received by the emulator",
            f"  faults injected: {sum(self.faults.values())} ({faults})",
            f"  generations created: {self.jobs_created} for {self.distinct_submits} distinct submits "
            f"(Idempotency-Keys) and {self.jobs} subscribe calls",
            f"  violations: {len(self.violations)}" + "".join(f"\n    {v}" for v in self.violations[:20]),
        ]


def _check_job(index: int, outcome: Any, latency: float, result: SoakResult) -> None:
    """Record job ``index``'s outcome (a JobResult or the exception it raised) and judge it."""
    expected = expected_outcome(index)
    result.latencies.append(latency)
    if isinstance(outcome, JobFailedError):
        got = "failed"
    elif isinstance(outcome, JobNSFWError):
        got = "nsfw"
    elif isinstance(outcome, BaseException):
        got = f"error {type(outcome).__name__}"
    else:
        got = "completed" if outcome.get("status") == "completed" and outcome.images else "bad result"
    result.outcomes[got] += 1
    request_id = getattr(outcome, "request_id", None)
    if got != expected:
        result.violations.append(f"job {index}: expected {expected}, got {got}: {outcome!r}"[:300])
    elif not request_id:
        result.violations.append(f"job {index}: {got} without a request id")


def _run_sync(emu: Emulator, result: SoakResult, timeout: float) -> None:
    import requests
    import requests.adapters

    from higgsfield_transports.requests import RequestsTransport

    session = requests.Session()
    # As many pooled connections as threads: urllib3 would otherwise discard (and log) extras.
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=result.concurrency)
    session.mount("http://", adapter)
    transport = RequestsTransport(session, timeout=10.0)
    client = SyncClient(
        base_url=emu.base_url, api_key=emu.api_key, transport=transport, retry=RETRY, poll=POLL
    )

    def job(index: int) -> None:
        started = time.monotonic()
        try:
            outcome: Any = client.subscribe(
                MODEL, {"prompt": prompt_for(index)}, timeout=timeout, raise_on_failure=True
            )
        except Exception as exc:
            outcome = exc
        _check_job(index, outcome, time.monotonic() - started, result)

    try:
        with ThreadPoolExecutor(max_workers=result.concurrency) as pool:
            futures = [pool.submit(job, index) for index in range(result.jobs)]
            for future in futures:
                future.result(timeout=timeout + 30)  # the watchdog: a hang fails here
    finally:
        client.close()
        transport.close()
        session.close()


def _run_async(emu: Emulator, result: SoakResult, timeout: float) -> None:
    import anyio

    from higgsfield_transports.aiohttp import AiohttpTransport
    from higgsfield_transports.trio import TrioTransport

    async def main() -> None:
        kind = AiohttpTransport if result.transport == "aiohttp" else TrioTransport
        transport = kind(timeout=10.0)
        client = AsyncClient(
            base_url=emu.base_url, api_key=emu.api_key, transport=transport, retry=RETRY, poll=POLL
        )
        limiter = anyio.CapacityLimiter(result.concurrency)

        async def job(index: int) -> None:
            async with limiter:
                started = anyio.current_time()
                try:
                    arguments = {"prompt": prompt_for(index)}
                    outcome: Any = await client.subscribe(
                        MODEL, arguments, timeout=timeout, raise_on_failure=True
                    )
                except Exception as exc:
                    outcome = exc
                _check_job(index, outcome, anyio.current_time() - started, result)

        try:
            with anyio.fail_after(timeout * max(1, result.jobs // result.concurrency) + 60):  # watchdog
                async with anyio.create_task_group() as group:
                    for index in range(result.jobs):
                        group.start_soon(job, index)
        finally:
            await transport.aclose()

    anyio.run(main, backend="trio" if result.transport == "trio" else "asyncio")


def soak(
    transport: str,
    *,
    jobs: int = 500,
    concurrency: int = 200,
    fault_rate: float = 0.2,
    seed: int = 1,
    timeout: float = 120.0,
    retry_after: int = 1,
    slow_seconds: float = 0.5,
    queue_time: float = 0.2,
    run_time: float = 0.3,
) -> SoakResult:
    """Run ``jobs`` subscribe calls on ``transport`` under faults and check them.

    Args:
        transport: "requests", "aiohttp", "trio" or "trio-on-asyncio".
        jobs, concurrency: how many subscribe calls, and how many at once.
        fault_rate, seed: the emulator's random faults, reproducible by seed.
        timeout: the overall deadline of each subscribe call.
        retry_after, slow_seconds, queue_time, run_time: emulator timings (seconds).

    Returns:
        The figures and the violations found (``result.ok`` when there are none).
    """
    if transport not in TRANSPORTS:
        raise ValueError(f"unknown transport {transport!r}; expected one of {TRANSPORTS}")
    result = SoakResult(transport, jobs, min(concurrency, jobs), fault_rate)
    counter = _RetryCounter()
    with Emulator(
        fault_rate=fault_rate,
        seed=seed,
        retry_after=retry_after,
        slow_seconds=slow_seconds,
        queue_time=queue_time,
        run_time=run_time,
        concurrency_limit=max(1, concurrency),
        journal_limit=None,
    ) as emu:
        started = time.monotonic()
        run = _run_sync if transport == "requests" else _run_async
        try:
            with counter.installed():
                run(emu, result, timeout)
        except Exception as exc:  # a watchdog or the harness itself: a violation, not a crash
            result.violations.append(f"the run broke off: {exc!r}")
        result.seconds = time.monotonic() - started
        journal = emu.journal
        created = emu.jobs()
    result.sends, result.retries = counter.sends, counter.retries
    result.requests_received = len(journal)
    result.faults = Counter(entry.fault for entry in journal if entry.fault is not None)
    keys = {entry.headers.get("Idempotency-Key") for entry in journal if entry.route == "submit"}
    result.distinct_submits = len(keys - {None})
    result.jobs_created = len(created)
    per_prompt = Counter(str(job.arguments.get("prompt")) for job in created)
    twice = sorted(prompt for prompt, count in per_prompt.items() if count > 1)
    if twice:
        result.violations.append(f"{len(twice)} generations created more than once, e.g. {twice[0]!r}")
    if result.jobs_created != result.distinct_submits or result.jobs_created != jobs:
        result.violations.append(
            f"{result.jobs_created} generations for {result.distinct_submits} distinct submits "
            f"and {jobs} subscribe calls"
        )
    return result


def main(argv: Optional[Sequence[str]] = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--fault-rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="overall deadline of each job")
    parser.add_argument("--transport", action="append", choices=TRANSPORTS, help="default: all four")
    args = parser.parse_args(argv)
    failed = False
    for transport in args.transport or TRANSPORTS:
        result = soak(
            transport,
            jobs=args.jobs,
            concurrency=args.concurrency,
            fault_rate=args.fault_rate,
            seed=args.seed,
            timeout=args.timeout,
        )
        for line in result.lines():
            out(line)
        failed = failed or not result.ok
    out("soak: FAILED" if failed else "soak: every job ended as expected, no generation twice")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
