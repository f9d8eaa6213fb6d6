"""Command line of the emulator: parse options, serve in the foreground, stop on Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from types import FrameType
from typing import List, Optional, Sequence


def build_parser(prog: str = "python -m higgsfield_client.testing") -> argparse.ArgumentParser:
    """The emulator's argument parser (reusable as a subcommand's)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Run a local emulator of the Higgsfield API."
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one")
    parser.add_argument("--queue-time", type=float, default=0.2, help="seconds queued")
    parser.add_argument("--run-time", type=float, default=0.5, help="seconds in progress")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of faulty answers")
    parser.add_argument("--seed", type=int, default=None, help="seed for faults and timings")
    parser.add_argument("--webhook-secret", default=None, help="whsec_... secret to sign webhooks")
    parser.add_argument("--api-key", default=None, help="id:secret to accept (random if absent)")
    parser.add_argument("--concurrency-limit", type=int, default=50)
    parser.add_argument("--queue-limit", type=int, default=10_000)
    parser.add_argument(
        "--journal-limit", type=int, default=10_000, help="requests kept in the journal"
    )


def run(options: argparse.Namespace) -> int:
    """Serve with parsed ``options`` until SIGINT or SIGTERM; print where and how to connect."""
    from ._emulator import Emulator

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
    )
    stopping = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with emulator:
        lines: List[str] = [
            f"Higgsfield API emulator listening on {emulator.base_url}",
            f"API key: {emulator.api_key}",
            f"export HF_KEY={shlex.quote(emulator.api_key)}",
            f"export HIGGSFIELD_BASE_URL={shlex.quote(emulator.base_url)}",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), flush=True)
        try:
            # A timed wait keeps the main thread responsive to Ctrl-C.
            while not stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    signal.signal(signal.SIGTERM, previous)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: parse ``argv`` (default ``sys.argv[1:]``) and serve; returns the exit code."""
    return run(build_parser().parse_args(argv))
