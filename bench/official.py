"""Target 2: ``status(request_id)`` calls per second, ours against the official higgsfield-client 0.2.0.

The official SDK runs in its own venv (``bench/.cache/official-venv``) through
``bench/_official_driver.py``; its ``status(request_id)`` is pointed at the emulator by setting
its module constant ``BASE_URL`` (its client ignores ``base_url`` for calls by id). Pairs, each
the same sequential loop on one client against one emulator process:

- sync: our ``SyncClient`` (requests) and the official ``SyncClient`` (httpx): ratio reported;
- aiohttp: our ``AsyncClient`` under asyncio and the official ``AsyncClient`` under asyncio;
- trio: our ``AsyncClient`` under trio and the official ``AsyncClient`` under trio (httpx runs
  under trio; trio is installed into the official venv for this).

The async figures have the target ours <= 0.5x the official's time.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._harness import (
    Context,
    EmulatorProcess,
    Figure,
    check,
    create_job,
    failure,
    median,
    official_python,
    report,
    run_official,
    run_worker,
)

# (our transport, the official client's mode, target ratio or None)
PAIRS = (("requests", "sync", None), ("aiohttp", "asyncio", 0.5), ("trio", "trio", 0.5))


def run(ctx: Context) -> List[Figure]:
    """Measure each pair, alternating ours and the official in fresh processes."""
    official_python()
    figures: List[Figure] = []
    calls = ctx.pick(2000, 300)
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        base = {
            "base_url": emulator.base_url, "key": emulator.api_key, "request_id": request_id,
            "calls": calls, "warmup": 50,
        }
        for transport, mode, target in PAIRS:
            ours: List[Dict[str, Any]] = []
            theirs: List[Dict[str, Any]] = []
            try:
                for _ in range(ctx.pick(5, 3)):
                    theirs.append(run_official("status", {**base, "mode": mode}))
                    ours.append(run_worker("status", {**base, "kind": "ours", "transport": transport}))
            except Exception as exc:
                figures.append(failure(f"official/{transport}", exc))
                continue
            figures.append(report(_figure(transport, mode, target, calls, ours, theirs)))
    return figures


def _figure(
    transport: str,
    mode: str,
    target: Optional[float],
    calls: int,
    ours: List[Dict[str, Any]],
    theirs: List[Dict[str, Any]],
) -> Figure:
    our_time = median([r["seconds"] for r in ours]) / calls
    their_time = median([r["seconds"] for r in theirs]) / calls
    our_cpu = median([r["cpu"] for r in ours]) / calls
    their_cpu = median([r["cpu"] for r in theirs]) / calls
    ratio = our_time / their_time
    goal = f"target <= {target}" if target is not None else "reported"
    label = "official SyncClient" if mode == "sync" else f"official AsyncClient under {mode}"
    return Figure(
        name=f"official/{transport}",
        text=(
            f"ours ({transport}) {1 / our_time:,.0f} req/s, {label} {1 / their_time:,.0f} req/s, "
            f"ratio {ratio:.2f} ({goal}); client CPU per call ours {our_cpu * 1e6:,.0f} us, "
            f"official {their_cpu * 1e6:,.0f} us, ratio {our_cpu / their_cpu:.2f}"
        ),
        met=None if target is None else check(ratio, at_most=target),
        data={"ours_per_call": our_time, "official_per_call": their_time, "ratio": ratio,
              "ours_cpu": our_cpu, "official_cpu": their_cpu},
    )
