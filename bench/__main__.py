"""``python -m bench [SUITE ...] [--quick]``: run the benchmark suites and print each figure.

Every figure is a ratio against a baseline measured in the same run, and every suite talks to
an emulator running in a separate process. Suites (default: all, in this order):

  status         target 1: status() calls/s on one connection, ours vs the raw library
  official       target 2: the same, ours vs the official higgsfield-client 0.2.0
  subscribe      target 3: 1,000 concurrent subscribe calls: wall time and CPU per job
  scale          10,000 concurrent subscribe calls vs raw aiohttp: CPU and RSS per job, the
                 same exchanges by a bare h11 client under trio (trio's own cost), the
                 emulator's rate under that load (rounds 5 and 6)
  upload         target 4: upload_file of 1 GiB: peak RSS growth and throughput vs raw
  download       download of a 512 MiB output: throughput vs raw and curl, peak RSS growth
  polling        target 5: status requests per job and completion lag, 5/30/120 s jobs
  import         target 6: import time of higgsfield_client vs the official package
  connections    connection reuse: TCP connections a client opens while polling
  emulator_rate  the emulator's own request rate (bench/emulator_rate.py; no baseline)
  batch          durable batches: 10,000 items, wall, CPU, RSS, journal size and overhead
  catalog        the model catalog's argument check: CPU per check over CPU per submit
  otel           status() CPU with OpenTelemetry's API loaded and no provider vs without the
                 otel extra (target <= 1.02), and with tracing on
  budget         a budget's bookkeeping: CPU per priced job over CPU per submit without one
  mcp            the MCP server's overhead: a job_status tool call over stdio vs status()

Not in the default run, named explicitly:

  instructions   targets 1 and 2 in instructions per call under valgrind (steady, ~10 min),
                 and the otel comparison in instructions

--quick shrinks the counts (128 MiB upload, 300 concurrent jobs, 2,000 for scale, 5 s and 30 s
jobs only) for a smoke run of about four minutes. The official SDK is installed on first use into
its own venv under bench/.cache/. Results also go to bench/.cache/last-run.json and last-run.md,
and, except after --quick, the charts of the status, official, polling and upload figures to
docs/charts/ (bench/_charts.py); --charts-only draws them again from the last run without running
anything.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from ._harness import CACHE_DIR, REPO_DIR, Context, Figure

SUITES: Dict[str, str] = {
    "status": "status",
    "official": "official",
    "subscribe": "subscribe",
    "scale": "scale",
    "upload": "upload",
    "download": "download",
    "polling": "polling",
    "import": "imports",
    "connections": "connections",
    "emulator_rate": "emulator_suite",
    "batch": "batch",
    "catalog": "catalog",
    "otel": "otel",
    "budget": "budget",
    "mcp": "mcp_status",
    "instructions": "instructions",
}
DEFAULT_SUITES = [name for name in SUITES if name != "instructions"]


def machine() -> str:
    """Cores, CPU model and Python version, for the record."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores, {model}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )


def _markdown(figures: List[Figure]) -> str:
    lines = ["| figure | result | verdict |", "| --- | --- | --- |"]
    lines += [f"| {f.name} | {f.text} | {f.verdict} |" for f in figures]
    return "\n".join(lines) + "\n"


def _draw_charts(record: Dict[str, Any]) -> int:
    """Draw the charts of ``record`` (matplotlib, from the bench extra); returns an exit code."""
    try:
        from ._charts import draw_charts
    except ImportError as exc:  # matplotlib comes with the bench extra
        print(f"charts: not drawn ({exc}; pip install -e '.[bench]')")
        return 1
    for path in draw_charts(record):
        print(f"charts: wrote {path.relative_to(REPO_DIR)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the chosen suites; returns 1 if a suite crashed (or, with --strict, missed a target)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "suites", nargs="*", metavar="SUITE", help="suites to run (default: all but instructions)"
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts for a smoke run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--charts-only", action="store_true", help="draw docs/charts/ from the last run; run nothing"
    )
    options = parser.parse_args(argv)
    if options.charts_only:
        return _draw_charts(json.loads((CACHE_DIR / "last-run.json").read_text()))
    unknown = [name for name in options.suites if name not in SUITES]
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    chosen = options.suites or DEFAULT_SUITES
    command = "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv)
    print(f"machine: {machine()}")
    print(f"command: {command.strip()}", flush=True)
    figures: List[Figure] = []
    crashed: List[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="higgsfield-bench-") as scratch:
        ctx = Context(quick=options.quick, scratch=Path(scratch))
        for name in chosen:
            print(f"\n== {name} ==", flush=True)
            suite_started = time.monotonic()
            try:
                module: Any = importlib.import_module(f"bench.{SUITES[name]}")
                figures.extend(module.run(ctx))
            except Exception:
                traceback.print_exc()
                crashed.append(name)
            print(f"({name}: {time.monotonic() - suite_started:.0f} s)", flush=True)
    elapsed = time.monotonic() - started
    print(f"\n== summary ({elapsed / 60:.1f} min) ==")
    for figure in figures:
        print(f"{figure.verdict:>11}  {figure.name}")
    missed = [f.name for f in figures if f.met is False]
    met = sum(1 for f in figures if f.met)
    print(f"targets met: {met}, missed: {len(missed)}; suites crashed: {', '.join(crashed) or 'none'}")
    CACHE_DIR.mkdir(exist_ok=True)
    record: Dict[str, Any] = {
        "machine": machine(),
        "command": command.strip(),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": elapsed,
        "crashed": crashed,
        "figures": [{"name": f.name, "text": f.text, "met": f.met, "data": f.data} for f in figures],
    }
    (CACHE_DIR / "last-run.json").write_text(json.dumps(record, indent=2))
    (CACHE_DIR / "last-run.md").write_text(_markdown(figures))
    if options.quick:
        # The pages show full runs: a smoke run's figures would replace them in docs/charts/.
        print("charts: not drawn for a --quick run (python -m bench --charts-only draws the last run's)")
    else:
        _draw_charts(record)
    if crashed or (options.strict and missed):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The suite's worker and emulator processes got the same Ctrl-C and end with it.
        print("\ninterrupted: nothing of this run was recorded", file=sys.stderr)
        sys.exit(130)
