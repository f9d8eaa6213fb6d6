"""Target 2: ``status(request_id)`` calls per second, ours against the official higgsfield-client 0.2.0.

The official SDK runs in its own venv (``bench/.cache/official-venv``) through
``bench/_official_driver.py``; its ``status(request_id)`` is pointed at the emulator by setting
its module constant ``BASE_URL`` (its client ignores ``base_url`` for calls by id). Pairs, each
the same sequential loop on one client against one emulator process:

- sync: our ``SyncClient`` (requests) and the official ``SyncClient`` (httpx): ratio reported;
- aiohttp: our ``AsyncClient`` under asyncio and the official ``AsyncClient`` under asyncio;
- trio: our ``AsyncClient`` under trio and the official ``AsyncClient`` under trio (httpx runs
  under trio; trio is installed into the official venv for this);
- httpx and httpx-asyncio: our ``SyncClient`` over ``HttpxTransport`` and our ``AsyncClient``
  over ``AsyncHttpxTransport`` under asyncio, against the official sync and async clients (both
  on httpx, as ours then are): ratios reported.

Each sample pair is one official process and one of ours (300 calls under --quick, 1,000
otherwise, after 50 warm-up calls), one after the other; the figure is the median of the pair
ratios over 7 pairs (3 under --quick). The async figures have the target ours <= 0.5x the
official's time.
"""

from __future__ import annotations

from typing import Dict, List, Optional

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
PAIRS = (
    ("requests", "sync", None),
    ("aiohttp", "asyncio", 0.5),
    ("trio", "trio", 0.5),
    # Our clients over the httpx transports against the official client, which is itself on httpx.
    ("httpx", "sync", None),
    ("httpx-asyncio", "asyncio", None),
)


def run(ctx: Context) -> List[Figure]:
    """Measure each pair, alternating ours and the official in fresh processes."""
    official_python()
    figures: List[Figure] = []
    batch, rounds = 100, ctx.pick(10, 3)
    calls = batch * rounds
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        base = {"base_url": emulator.base_url, "key": emulator.api_key, "request_id": request_id}
        for transport, mode, target in PAIRS:
            ours: List[Dict[str, float]] = []
            theirs: List[Dict[str, float]] = []
            try:
                for _ in range(ctx.pick(7, 3)):
                    got = run_official("status", {**base, "mode": mode, "calls": calls, "warmup": 50})
                    theirs.append({"seconds": got["seconds"] / calls, "cpu": got["cpu"] / calls})
                    mine = run_worker("status", {
                        **base, "kinds": ["ours"], "transport": transport, "batch": batch, "rounds": rounds,
                    })["ours"]
                    ours.append({"seconds": sum(mine["seconds"]) / calls, "cpu": sum(mine["cpu"]) / calls})
            except Exception as exc:
                figures.append(failure(f"official/{transport}", exc))
                continue
            figures.append(report(_figure(transport, mode, target, ours, theirs)))
    return figures


def _figure(
    transport: str,
    mode: str,
    target: Optional[float],
    ours: List[Dict[str, float]],
    theirs: List[Dict[str, float]],
) -> Figure:
    ratio = median([o["seconds"] / t["seconds"] for o, t in zip(ours, theirs, strict=True)])
    cpu_ratio = median([o["cpu"] / t["cpu"] for o, t in zip(ours, theirs, strict=True)])
    our_time, their_time = median([o["seconds"] for o in ours]), median([t["seconds"] for t in theirs])
    our_cpu, their_cpu = median([o["cpu"] for o in ours]), median([t["cpu"] for t in theirs])
    goal = f"target <= {target}" if target is not None else "reported"
    label = "official SyncClient" if mode == "sync" else f"official AsyncClient under {mode}"
    return Figure(
        name=f"official/{transport}",
        text=(
            f"ours ({transport}) {1 / our_time:,.0f} req/s, {label} {1 / their_time:,.0f} req/s, "
            f"ratio {ratio:.2f} ({goal}); client CPU per call ours {our_cpu * 1e6:,.0f} us, "
            f"official {their_cpu * 1e6:,.0f} us, ratio {cpu_ratio:.2f}"
        ),
        met=None if target is None else check(ratio, at_most=target),
        data={"ours_per_call": our_time, "official_per_call": their_time, "ratio": ratio,
              "ours_cpu": our_cpu, "official_cpu": their_cpu, "cpu_ratio": cpu_ratio, "pairs": len(ours)},
    )
