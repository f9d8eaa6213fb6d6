"""The emulator's own request rate: runs ``bench/emulator_rate.py`` as a suite of ``python -m bench``.

That module (2,000 jobs in flight, status polled by 1,000 concurrent keep-alive clients, the
emulator in its own process) measures the test server, not the SDK, so it has no baseline and
no target; it is here so that a run also shows how much load the emulator itself can take on
this machine. Under --quick it runs 200 jobs, 100 clients, 3 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import List

from ._harness import REPO_DIR, Context, Figure, report


def run(ctx: Context) -> List[Figure]:
    """Run ``python -m bench.emulator_rate`` and report its rate line."""
    options = ["--jobs", "200", "--clients", "100", "--seconds", "3"] if ctx.quick else []
    completed = subprocess.run(
        [sys.executable, "-m", "bench.emulator_rate", *options],
        cwd=REPO_DIR, capture_output=True, text=True, timeout=600, check=False,
    )
    output = completed.stdout
    rate = re.search(r"^rate: (.*)$", output, re.MULTILINE)
    requests = re.search(r"^status requests: (.*?)\s*$", output, re.MULTILINE)
    latency = re.search(r"^latency: (.*)$", output, re.MULTILINE)
    clients = re.search(r"^(jobs in flight: .*)$", output, re.MULTILINE)
    if completed.returncode != 0 or rate is None:
        text = (output + completed.stderr).strip().splitlines()[-3:]
        return [report(Figure(
            name="emulator_rate",
            text=f"failed (exit {completed.returncode}): {' | '.join(text)}",
            met=False,
            error=True,
        ))]
    parts = [m.group(1) for m in (clients, rate, requests, latency) if m is not None]
    return [report(Figure(name="emulator_rate", text="; ".join(parts) + " (no baseline: the test server)"))]
