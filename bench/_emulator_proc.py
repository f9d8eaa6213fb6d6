"""Serve the emulator in this process for a benchmark, with what the CLI lacks: timing jitter and counters.

Run as ``python bench/_emulator_proc.py [the emulator CLI's options] [--timing-jitter J]``. It
prints the same lines as ``python -m higgsfield_client.testing`` (``export HF_KEY=...``,
``export HIGGSFIELD_BASE_URL=...``), then answers each ``stats`` line on standard input with one
JSON line: connections accepted, requests per route, status requests per request id and each
job's submit and finish times (wall clock). It stops at the end of standard input, on ``stop``,
or on SIGTERM or SIGINT.

The benchmark runs the emulator in its own process so that client and server do not share an
interpreter; this launcher is how the benchmark reads the emulator's counters across that line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from collections import Counter
from types import FrameType
from typing import Any, Dict, List, Optional, Sequence

from higgsfield_client.testing import Emulator
from higgsfield_client.testing._cli import add_arguments


def _stats(emulator: Emulator) -> Dict[str, Any]:
    journal = emulator.journal
    routes = Counter(entry.route for entry in journal)
    by_id: Counter[str] = Counter()
    for entry in journal:
        if entry.route == "status":
            # /requests/{request_id}/status
            by_id[entry.path.rstrip("/").split("/")[-2]] += 1
    jobs: List[Dict[str, Any]] = [
        {
            "request_id": job.request_id,
            "status": job.status,
            "submitted_at": job.submitted_at,
            "finished_at": job.finished_at,
        }
        for job in emulator.jobs()
    ]
    return {
        "connections": emulator.connection_count,
        "routes": dict(routes),
        "status_requests": dict(by_id),
        "jobs": jobs,
    }


def _stop(signum: int, frame: Optional[FrameType]) -> None:
    raise SystemExit(0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Serve until standard input ends; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python bench/_emulator_proc.py", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--timing-jitter", type=float, default=0.0)
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # a terminal's Ctrl-C reaches the whole benchmark
    emulator = Emulator(
        options.host,
        options.port,
        queue_time=options.queue_time,
        run_time=options.run_time,
        fault_rate=options.fault_rate,
        seed=options.seed,
        webhook_secret=options.webhook_secret,
        api_key=options.api_key,
        concurrency_limit=options.concurrency_limit,
        queue_limit=options.queue_limit,
        journal_limit=options.journal_limit,
        timing_jitter=options.timing_jitter,
    )
    with emulator:
        print(f"Higgsfield API emulator listening on {emulator.base_url}")
        print(f"export HF_KEY={shlex.quote(emulator.api_key)}")
        print(f"export HIGGSFIELD_BASE_URL={shlex.quote(emulator.base_url)}", flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(_stats(emulator)), flush=True)
            elif command == "stop":
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
