"""The model catalog's check against a submit: CPU of one argument check per CPU of one submit.

A worker process makes a ``SyncClient`` on an emulator in its own process (over requests, one
reused connection), then alternates batches of the check the client makes before each submit
(``Calls.check_arguments`` of a typical ``higgsfield-ai/soul/standard`` body: prompt, aspect
ratio, resolution; in the default mode, and in strict mode) with batches of ``submit`` of that
body with the check off (``validate=False``), so that the submit's CPU holds no check. CPU time is
the worker's own (``time.process_time``), so the emulator's work is not counted. The figure is
the median over batches of check CPU over submit CPU (target <= 3%), pooled over the worker
processes.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

from ._harness import MODEL, Context, EmulatorProcess, Figure, check, median, report, run_worker, worker_main

TARGET = 0.03
ARGUMENTS = {"prompt": "A quiet alpine lake at sunrise, editorial photography", "aspect_ratio": "16:9",
             "resolution": "2K"}  # fmt: skip


def run(ctx: Context) -> List[Figure]:
    """Measure the check and the submit in alternating batches."""
    pooled: Dict[str, List[float]] = {"check": [], "strict": [], "submit": []}
    with EmulatorProcess() as emulator:
        for _ in range(ctx.pick(3, 2)):
            params = {
                "base_url": emulator.base_url, "key": emulator.api_key, "rounds": ctx.pick(10, 4),
                "checks": ctx.pick(5000, 2000), "submits": ctx.pick(100, 40),
            }  # fmt: skip
            result = run_worker("catalog", params)
            for kind in pooled:
                pooled[kind].extend(result[kind])
    check_cpu, strict_cpu, submit_cpu = (median(pooled[kind]) for kind in ("check", "strict", "submit"))
    ratio = median([c / s for c, s in zip(pooled["check"], pooled["submit"], strict=True)])
    strict_ratio = median([c / s for c, s in zip(pooled["strict"], pooled["submit"], strict=True)])
    return [report(Figure(
        name="catalog-check",
        text=(
            f"median of {len(pooled['submit'])} batches: check {check_cpu * 1e6:.1f} us CPU "
            f"(strict {strict_cpu * 1e6:.1f} us), submit {submit_cpu * 1e6:.0f} us CPU; "
            f"check/submit {ratio:.2%} (strict {strict_ratio:.2%}; target <= {TARGET:.0%})"
        ),
        met=check(max(ratio, strict_ratio), at_most=TARGET),
        data={"check_cpu": check_cpu, "strict_cpu": strict_cpu, "submit_cpu": submit_cpu, "ratio": ratio,
              "strict_ratio": strict_ratio},
    ))]  # fmt: skip


def _worker(params: Dict[str, Any]) -> Dict[str, Any]:
    from higgsfield_client import SyncClient

    found: Dict[str, List[float]] = {"check": [], "strict": [], "submit": []}

    with SyncClient(base_url=params["base_url"], api_key=params["key"]) as client:

        def checks(mode: Any) -> float:
            check = client._calls.check_arguments
            started = time.process_time()
            for _ in range(params["checks"]):
                check(MODEL, ARGUMENTS, mode)
            return (time.process_time() - started) / params["checks"]

        client.submit(MODEL, ARGUMENTS)  # the connection, the first-use imports and the catalog
        checks(None)
        for _ in range(params["rounds"]):
            found["check"].append(checks(None))
            started = time.process_time()
            for _ in range(params["submits"]):
                client.submit(MODEL, ARGUMENTS, validate=False)
            found["submit"].append((time.process_time() - started) / params["submits"])
            found["strict"].append(checks("strict"))
    return found


if __name__ == "__main__":
    worker_main(_worker)
