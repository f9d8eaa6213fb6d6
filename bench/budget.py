"""A budget's bookkeeping against a submit: CPU of the ledger's work for one job per CPU of one
submit without a budget.

A worker process makes two ``SyncClient``s on an emulator in its own process (over requests, one
reused connection each): one without a budget, one with a budget too large to be reached, whose
price of the typical ``higgsfield-ai/soul/standard`` body is cached by its first submit. It then
alternates batches of:

- the bookkeeping a budgeted job costs, as the client runs it: the price found by its model and
  arguments, the reservation under the ledger's lock, the request id bound to it, a queued
  status seen (a poll), then the completed one, which charges it;
- ``submit`` of that body by the client without a budget;
- ``submit`` by the client with the budget (the whole path: the same bookkeeping, one generator
  more around the flow), for the end-to-end difference.

CPU time is the worker's own (``time.process_time``), so the emulator's work is not counted. The
figure is the median over batches of bookkeeping CPU over submit CPU (target <= 3%), pooled over
the worker processes; the end-to-end difference is reported beside it, with no target: it is the
difference of two measurements of about the same size, and on a loaded machine it swings by
several percent either way from one run to the next.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

from ._harness import MODEL, Context, EmulatorProcess, Figure, check, median, report, run_worker, worker_main

TARGET = 0.03
ARGUMENTS = {"prompt": "A quiet alpine lake at sunrise, editorial photography", "aspect_ratio": "16:9",
             "resolution": "2K"}  # fmt: skip


def run(ctx: Context) -> List[Figure]:
    """Measure the bookkeeping and the submits in alternating batches."""
    pooled: Dict[str, List[float]] = {"bookkeeping": [], "submit": [], "budgeted": []}
    with EmulatorProcess() as emulator:
        for _ in range(ctx.pick(3, 2)):
            params = {
                "base_url": emulator.base_url, "key": emulator.api_key, "rounds": ctx.pick(10, 4),
                "jobs": ctx.pick(5000, 2000), "submits": ctx.pick(100, 40),
            }  # fmt: skip
            result = run_worker("budget", params)
            for kind in pooled:
                pooled[kind].extend(result[kind])
    book, submit, budgeted = (median(pooled[kind]) for kind in ("bookkeeping", "submit", "budgeted"))
    ratio = median([b / s for b, s in zip(pooled["bookkeeping"], pooled["submit"], strict=True)])
    whole = median([(w - s) / s for w, s in zip(pooled["budgeted"], pooled["submit"], strict=True)])
    return [report(Figure(
        name="budget-bookkeeping",
        text=(
            f"median of {len(pooled['submit'])} batches: bookkeeping {book * 1e6:.1f} us CPU per job, "
            f"submit {submit * 1e6:.0f} us CPU; bookkeeping/submit {ratio:.2%} (target <= {TARGET:.0%}); "
            f"a budgeted submit end to end {budgeted * 1e6:.0f} us CPU, {whole:+.2%}"
        ),
        met=check(ratio, at_most=TARGET),
        data={"bookkeeping_cpu": book, "submit_cpu": submit, "budgeted_cpu": budgeted, "ratio": ratio,
              "end_to_end": whole},
    ))]  # fmt: skip


def _worker(params: Dict[str, Any]) -> Dict[str, Any]:
    from higgsfield_client import Budget, SyncClient
    from higgsfield_client._budget import price_key
    from higgsfield_proto import JobState, JobStatus

    found: Dict[str, List[float]] = {"bookkeeping": [], "submit": [], "budgeted": []}
    queued = JobStatus(request_id="r", state=JobState.QUEUED)
    completed = JobStatus(request_id="r", state=JobState.COMPLETED)
    options = {"base_url": params["base_url"], "api_key": params["key"]}
    with SyncClient(**options) as plain, SyncClient(**options, budget=Budget(max_credits=10**12)) as budgeted:
        ledger = budgeted._calls.ledger

        def bookkeeping() -> float:
            started = time.process_time()
            for _ in range(params["jobs"]):
                price = ledger.known_price(price_key(MODEL, ARGUMENTS))
                assert price is not None, "the first submit priced the body"
                job = ledger.reserve(MODEL, price)
                ledger.bind(job, "r")
                ledger.observe(queued)
                ledger.observe(completed)
            return (time.process_time() - started) / params["jobs"]

        def submits(client: Any) -> float:
            started = time.process_time()
            for _ in range(params["submits"]):
                client.submit(MODEL, ARGUMENTS, validate=False)
            return (time.process_time() - started) / params["submits"]

        plain.submit(MODEL, ARGUMENTS)  # the connections, the first-use imports, the price
        budgeted.submit(MODEL, ARGUMENTS)
        bookkeeping()
        for round_ in range(params["rounds"]):
            found["bookkeeping"].append(bookkeeping())
            # Each client goes first in every other round: the second batch of a round runs on
            # warmer caches.
            first, second = (plain, budgeted) if round_ % 2 else (budgeted, plain)
            times = {id(first): submits(first), id(second): submits(second)}
            found["submit"].append(times[id(plain)])
            found["budgeted"].append(times[id(budgeted)])
    return found


if __name__ == "__main__":
    worker_main(_worker)
