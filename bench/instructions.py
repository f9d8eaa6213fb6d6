"""Targets 1 and 2, counted in instructions: the client work of one status() call, ours and baselines.

On this shared machine a wall-clock ratio moves by 10-20 % from one run to the next; the number
of instructions a client process executes per call hardly moves, so this suite is the one to
compare code changes with. It runs the status workers of ``bench/status.py`` under
``valgrind --tool=callgrind`` twice, with a short and a long loop of sequential status calls on
one connection, and prints the difference per call. Only the client process's user-space
instructions are counted: the emulator (in its own process) and the kernel's share of each
system call are not, so the ratios here are larger than the CPU-time ratios of ``status``.

It also counts the cost of observability when nothing observes (``instructions/otel-*``): ours
with OpenTelemetry's API loaded and no tracer provider, over ours as without the ``otel`` extra
(its import made to fail), per transport (target <= 1.02; ``bench/otel.py`` measures the same in
CPU time).

Not part of the default run (``python -m bench instructions``): it needs valgrind and takes
about twenty minutes. The baselines are those of ``status``: the raw library (requests, aiohttp,
an h11-over-anyio loop under trio) and httpx under trio, each sending the same headers as ours;
and, next to the sync client, the official ``SyncClient`` (httpx) run by its own venv's
interpreter through ``bench/_official_driver.py``. For trio, the transport on its own (a prebuilt
request sent in a loop) is counted too, which splits ours into the transport's share and the
core and client layers' share. Every process runs with ``PYTHONHASHSEED=0``,
so that counts taken on two versions of the code compare.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

from ._harness import (
    OFFICIAL_DRIVER,
    REPO_DIR,
    Context,
    EmulatorProcess,
    Figure,
    clean_env,
    create_job,
    failure,
    official_python,
    report,
)

# (our transport, the baselines measured next to it)
CASES: Tuple[Tuple[str, Tuple[str, ...]], ...] = (
    ("requests", ("raw", "official")),
    ("aiohttp", ("raw",)),
    ("trio", ("raw", "httpx")),
)
ALONE = {"trio": "transport", "aiohttp": "transport"}
"""Our transport sending a prebuilt request on its own (``bench/status.py``), counted as well."""
LABELS = {"raw": "raw", "httpx": "httpx under trio", "official": "official SyncClient"}
_COLLECTED = re.compile(r"Collected : (\d+)")


OTEL_TARGET = 1.02
OTEL_TRANSPORTS = ("requests", "aiohttp", "trio")


def count(
    emulator: EmulatorProcess, request_id: str, transport: str, kind: str, calls: int, otel: str = ""
) -> int:
    """Instructions the client process executes for ``calls`` status calls (plus its start-up);
    ``otel`` is the status worker's OpenTelemetry setting, if any.

    Raises:
        RuntimeError: the worker failed or valgrind printed no count.
    """
    cwd: Path = REPO_DIR
    env: Dict[str, str] = {**os.environ, "PYTHONHASHSEED": "0"}
    if kind == "official":
        params = {
            "mode": "sync", "base_url": emulator.base_url, "key": emulator.api_key,
            "request_id": request_id, "calls": calls, "warmup": 0,
        }
        program = [str(official_python()), "-I", str(OFFICIAL_DRIVER), "status", json.dumps(params)]
        cwd, env = Path(tempfile.gettempdir()), {**clean_env(), "PYTHONHASHSEED": "0"}
    else:
        params = {
            "kinds": [kind], "transport": transport, "base_url": emulator.base_url,
            "key": emulator.api_key, "request_id": request_id, "batch": calls, "rounds": 1, "otel": otel,
        }
        program = [sys.executable, "-m", "bench.status", "--worker", json.dumps(params)]
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *program]
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    found = _COLLECTED.search(completed.stderr)
    if completed.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind run exited {completed.returncode}:\n{completed.stderr[-2000:]}")
    return int(found.group(1))


def per_call(
    ctx: Context, emulator: EmulatorProcess, request_id: str, transport: str, kind: str, otel: str = ""
) -> float:
    """Instructions per status call: the difference between a long and a short loop."""
    short, long = ctx.pick(200, 100), ctx.pick(800, 300)
    return (count(emulator, request_id, transport, kind, long, otel)
            - count(emulator, request_id, transport, kind, short, otel)) / (long - short)


def run(ctx: Context) -> List[Figure]:
    """Count ours and each baseline, per transport."""
    if shutil.which("valgrind") is None:
        return [failure("instructions", RuntimeError("valgrind is not installed"))]
    figures: List[Figure] = []
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        for transport, baselines in CASES:
            try:
                ours = per_call(ctx, emulator, request_id, transport, "ours")
                theirs: Dict[str, float] = {
                    kind: per_call(ctx, emulator, request_id, transport, kind) for kind in baselines
                }
            except Exception as exc:
                figures.append(failure(f"instructions/{transport}", exc))
                continue
            for kind, value in theirs.items():
                name = f"instructions/{transport}" + ("" if kind == "raw" else f"-{kind}")
                figures.append(report(Figure(
                    name=name,
                    text=(f"ours {ours / 1000:,.0f}k, {LABELS[kind]} {value / 1000:,.0f}k instructions "
                          f"per call: ratio {ours / value:.2f}"),
                    data={"ours": ours, "baseline": value, "ratio": ours / value},
                )))
            if transport in ALONE:
                figures.append(_alone(ctx, emulator, request_id, transport, ours, theirs["raw"]))
        figures.extend(_otel(ctx, emulator, request_id, transport) for transport in OTEL_TRANSPORTS)
    return figures


def _otel(ctx: Context, emulator: EmulatorProcess, request_id: str, transport: str) -> Figure:
    """Ours with OpenTelemetry's API loaded and no provider, against ours without the extra."""
    name = f"instructions/otel-{transport}"
    try:
        absent = per_call(ctx, emulator, request_id, transport, "ours", "absent")
        api = per_call(ctx, emulator, request_id, transport, "ours", "api")
    except Exception as exc:
        return failure(name, exc)
    return report(Figure(
        name=name,
        text=(f"without the otel extra {absent / 1000:,.1f}k, API loaded and no provider "
              f"{api / 1000:,.1f}k instructions per call: ratio {api / absent:.3f} "
              f"(target <= {OTEL_TARGET})"),
        met=api / absent <= OTEL_TARGET,
        data={"ours": api, "baseline": absent, "ratio": api / absent},
    ))


def _alone(
    ctx: Context, emulator: EmulatorProcess, request_id: str, transport: str, ours: float, raw: float
) -> Figure:
    """Our transport on its own against the raw loop; the rest of ``ours`` is the client's layers."""
    try:
        alone = per_call(ctx, emulator, request_id, transport, ALONE[transport])
    except Exception as exc:
        return failure(f"instructions/{transport}-transport", exc)
    return report(Figure(
        name=f"instructions/{transport}-transport",
        text=(f"our transport alone {alone / 1000:,.0f}k, raw {raw / 1000:,.0f}k instructions per "
              f"call: ratio {alone / raw:.2f}; the core and client layers add {(ours - alone) / 1000:,.0f}k"),
        data={"ours": alone, "baseline": raw, "ratio": alone / raw, "layers": ours - alone},
    ))
