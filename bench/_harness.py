"""What the suites share: the emulator subprocess, worker subprocesses, the official SDK's venv, figures."""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional, Sequence, Type

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CACHE_DIR = BENCH_DIR / ".cache"
OFFICIAL_VENV = CACHE_DIR / "official-venv"
OFFICIAL_SPEC = "higgsfield-client==0.2.0"
OFFICIAL_DRIVER = BENCH_DIR / "_official_driver.py"
LAUNCHER = BENCH_DIR / "_emulator_proc.py"
MODEL = "higgsfield-ai/soul/standard"
RESULT_MARK = "BENCH-RESULT "


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One printed result: ``text`` is the line; ``met`` is None when there is no target."""

    name: str
    text: str
    met: Optional[bool] = None
    data: Dict[str, Any] = field(default_factory=dict)
    error: bool = False

    @property
    def verdict(self) -> str:
        if self.error:
            return "ERROR"
        return {True: "OK", False: "MISSED", None: "(no target)"}[self.met]


def check(value: float, *, at_most: Optional[float] = None, at_least: Optional[float] = None) -> bool:
    """Whether ``value`` meets the target bound given."""
    if at_most is not None and value > at_most:
        return False
    return not (at_least is not None and value < at_least)


def report(figure: Figure) -> Figure:
    """Print ``figure`` as one line and return it."""
    suffix = "" if figure.met is None and not figure.error else f" {figure.verdict}"
    print(f"{figure.name}: {figure.text}{suffix}", flush=True)
    return figure


def failure(name: str, exc: BaseException) -> Figure:
    """Report a measurement that could not be made (the suite goes on with the next one)."""
    last = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
    print(f"{name}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    text = f"could not be measured: {last[0]}"
    if "No module named" in text:  # a baseline from the bench extra (httpx, matplotlib)
        text += " (install the bench extra: make bench, or .venv/bin/pip install -e '.[bench]')"
    return report(Figure(name=name, text=text, met=False, error=True))


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return float(statistics.median(values))


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[min(len(ordered), rank) - 1]


# -- run-wide context -------------------------------------------------------------------------


@dataclass
class Context:
    """What every suite gets: the run's size and a scratch directory."""

    quick: bool
    scratch: Path

    def pick(self, full: int, quick: int) -> int:
        """``quick`` under --quick, else ``full``."""
        return quick if self.quick else full


# -- the emulator in its own process ----------------------------------------------------------


class EmulatorProcess:
    """The emulator running in a separate process, for one benchmark.

    By default it is the project's CLI, ``python -m higgsfield_client.testing``. With
    ``counters=True`` or a ``timing_jitter`` it is ``bench/_emulator_proc.py``, which serves the
    same emulator with the jitter given and answers `stats` over a pipe.
    """

    def __init__(
        self,
        *,
        queue_time: float = 3600.0,
        run_time: float = 1.0,
        concurrency_limit: int = 50,
        queue_limit: int = 100_000,
        journal_limit: int = 0,
        timing_jitter: Optional[float] = None,
        counters: bool = False,
    ) -> None:
        options = [
            "--port", "0", "--queue-time", str(queue_time), "--run-time", str(run_time),
            "--concurrency-limit", str(concurrency_limit), "--queue-limit", str(queue_limit),
            "--journal-limit", str(journal_limit), "--seed", "1",
        ]
        self._launcher = counters or timing_jitter is not None
        if self._launcher:
            jitter = 0.0 if timing_jitter is None else timing_jitter
            self._command = [sys.executable, str(LAUNCHER), *options, "--timing-jitter", str(jitter)]
        else:
            self._command = [sys.executable, "-m", "higgsfield_client.testing", *options]
        self._process: Optional[subprocess.Popen[str]] = None
        self.base_url = ""
        self.api_key = ""

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self) -> EmulatorProcess:
        """Start the process and read its base URL and key from its output.

        Raises:
            RuntimeError: it exited or printed no URL within 30 seconds.
        """
        process = subprocess.Popen(
            self._command,
            stdin=subprocess.PIPE if self._launcher else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_DIR,
        )
        self._process = process
        assert process.stdout is not None
        found: Dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "HIGGSFIELD_BASE_URL" not in found:
            line = process.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator did not print its URL: {' '.join(self._command)}")
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                found[name] = value.strip("'")
        self.base_url = found["HIGGSFIELD_BASE_URL"]
        self.api_key = found["HF_KEY"]
        return self

    def stats(self) -> Dict[str, Any]:
        """The emulator's counters (see ``bench/_emulator_proc.py``); needs ``counters=True``."""
        process = self._process
        if not self._launcher or process is None or process.stdin is None or process.stdout is None:
            raise RuntimeError("stats need an emulator started with counters=True")
        process.stdin.write("stats\n")
        process.stdin.flush()
        return dict(json.loads(process.stdout.readline()))

    def stop(self) -> None:
        """Stop the process (end of input for the launcher, SIGTERM for the CLI); kill it if stuck."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        if not self._launcher:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


def api_headers(emulator: EmulatorProcess) -> Dict[str, str]:
    """The headers a raw-library baseline sends to the API."""
    return {"Authorization": f"Key {emulator.api_key}", "Content-Type": "application/json"}


def create_job(emulator: EmulatorProcess, prompt: str = "bench") -> str:
    """Submit one job with plain requests; returns its request id."""
    import requests

    response = requests.post(
        f"{emulator.base_url}/{MODEL}", json={"prompt": prompt}, headers=api_headers(emulator), timeout=30
    )
    response.raise_for_status()
    return str(response.json()["request_id"])


# -- worker subprocesses ----------------------------------------------------------------------


def emit(result: Dict[str, Any]) -> None:
    """Print a worker's result as the line `run_worker` looks for."""
    print(RESULT_MARK + json.dumps(result), flush=True)


def worker_main(worker: Callable[[Dict[str, Any]], Dict[str, Any]]) -> None:
    """Entry point of ``python -m bench.<suite> --worker JSON``: run ``worker`` and emit its result."""
    if len(sys.argv) != 3 or sys.argv[1] != "--worker":
        raise SystemExit(f"usage: python -m {sys.argv[0]} --worker JSON (see python -m bench --help)")
    # A terminal's Ctrl-C reaches every process of the run; the parent reports it, a worker ends.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    emit(worker(json.loads(sys.argv[2])))


StartAll = Callable[[Callable[[int], Awaitable[Any]], int], Awaitable[None]]
"""Runs ``one(0)``, ..., ``one(count - 1)`` concurrently and returns when all have."""


def run_all_at_once(
    library: str,
    main: Callable[[Dict[str, Any], StartAll], Coroutine[Any, Any, Dict[str, Any]]],
    params: Dict[str, Any],
) -> Dict[str, Any]:
    """``main(params, start_all)`` under ``library`` ("asyncio" or "trio"), with the library's own
    way of starting many tasks at once (``asyncio.gather``, a trio nursery)."""
    if library == "asyncio":
        import asyncio

        async def gather(one: Callable[[int], Awaitable[Any]], count: int) -> None:
            await asyncio.gather(*(one(i) for i in range(count)))

        return dict(asyncio.run(main(params, gather)))
    import trio

    async def nursery(one: Callable[[int], Awaitable[Any]], count: int) -> None:
        async with trio.open_nursery() as tasks:
            for index in range(count):
                tasks.start_soon(one, index)

    return dict(trio.run(main, params, nursery))


def _run(command: List[str], *, cwd: Path, env: Optional[Dict[str, str]], timeout: float) -> Dict[str, Any]:
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command[:4])} ... exited {completed.returncode}:\n{completed.stderr[-3000:]}"
        )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            return dict(json.loads(line[len(RESULT_MARK):]))
    raise RuntimeError(f"{' '.join(command[:4])} ... printed no result:\n{completed.stdout[-2000:]}")


def run_worker(module: str, params: Dict[str, Any], *, timeout: float = 900) -> Dict[str, Any]:
    """Run ``python -m bench.<module> --worker JSON`` in our venv; returns the emitted result."""
    command = [sys.executable, "-m", f"bench.{module}", "--worker", json.dumps(params)]
    return _run(command, cwd=REPO_DIR, env=None, timeout=timeout)


def run_official(mode: str, params: Dict[str, Any], *, timeout: float = 900) -> Dict[str, Any]:
    """Run ``bench/_official_driver.py MODE JSON`` with the official SDK's interpreter.

    ``-I`` keeps our checkout and our packages off its ``sys.path``.
    """
    command = [str(official_python()), "-I", str(OFFICIAL_DRIVER), mode, json.dumps(params)]
    return _run(command, cwd=Path(tempfile.gettempdir()), env=clean_env(), timeout=timeout)


def clean_env() -> Dict[str, str]:
    """The environment for the official SDK's interpreter: without HF_*, HIGGSFIELD_* and PYTHON*.

    The official module reads HF_* at import; nothing of ours should leak into its run.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HIGGSFIELD_", "PYTHON"))}


# -- the official SDK, in its own virtual environment -----------------------------------------


def _official_requirements() -> List[str]:
    # trio, at the version we run, lets the official AsyncClient (httpx) run under trio as well.
    from importlib.metadata import version

    return [OFFICIAL_SPEC, f"trio=={version('trio')}"]


def official_python() -> Path:
    """The interpreter of the official SDK's venv, created (once) under ``bench/.cache``.

    Raises:
        subprocess.CalledProcessError: venv creation or pip failed.
    """
    python = OFFICIAL_VENV / "bin" / "python"
    stamp = OFFICIAL_VENV / ".bench-installed"
    wanted = "\n".join(_official_requirements())
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"setting up {OFFICIAL_VENV.relative_to(REPO_DIR)} with {' '.join(_official_requirements())}",
          flush=True)
    if OFFICIAL_VENV.exists():
        shutil.rmtree(OFFICIAL_VENV)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(OFFICIAL_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         *_official_requirements()],
        check=True,
    )
    stamp.write_text(wanted)
    return python


# -- process measurements ---------------------------------------------------------------------


def raise_file_limit(wanted: int = 8192) -> None:
    """Lift the soft limit of open files (a thousand concurrent jobs hold many sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def proc_status(field: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` value of this process from ``/proc/self/status``, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} is not in /proc/self/status")


def reset_peak_rss() -> int:
    """Reset this process's peak RSS to its current RSS (Linux ``clear_refs``); returns the baseline.

    Where the reset is refused, the peak so far is the baseline (growth is then a lower bound).
    """
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return proc_status("VmHWM")
    return proc_status("VmRSS")


class RssSampler:
    """This process's RSS growth over time, sampled in a thread every ``interval`` seconds while
    the ``with`` block runs: ``samples`` holds [seconds since the start, MiB above ``baseline``]."""

    def __init__(self, baseline: int, interval: float = 0.05) -> None:
        self.samples: List[List[float]] = []
        self._baseline = baseline
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        started = time.perf_counter()
        while True:
            growth = (proc_status("VmRSS") - self._baseline) / (1024 * 1024)
            self.samples.append([round(time.perf_counter() - started, 3), round(growth, 1)])
            if self._done.wait(self._interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
