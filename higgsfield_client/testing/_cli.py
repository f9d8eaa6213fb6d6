"""Command line of the emulator: parse options, serve in the foreground, stop on Ctrl-C; or ask a
running one what it did (``_control_cli``)."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from types import FrameType
from typing import List, Optional, Sequence, Tuple

from ._control_cli import PREFIX, add_commands, run_command

DESCRIPTION = """\
Run a local emulator of the Higgsfield API in the foreground: a real HTTP server on
--host:--port that queues and runs jobs on short timings, serves presigned uploads and
generated outputs as files, delivers webhooks and injects faults on demand. It prints how
to connect, then serves until Ctrl-C (or SIGTERM). With a COMMAND instead (jobs, journal,
webhooks, fault, expire), it asks an emulator that is running what it did."""

EPILOG = """\
connecting a client:
  At start the emulator prints two lines to paste into the shell that runs your code:
    export HF_KEY=emu-...:...                        the key it accepts (--api-key)
    export HIGGSFIELD_BASE_URL=http://127.0.0.1:8000  where it listens
  This SDK and the higgsfield command read both variables; with curl, send
  "Authorization: Key $HF_KEY". Every API route needs the key; the presigned
  upload URL and the file URLs (/uploads/..., /outputs/..., /agent-outputs/...)
  do not.

jobs:
  A submit stays queued for --queue-time seconds, in_progress for --run-time seconds,
  then ends completed; a prompt containing [fail] or [nsfw] ends failed or nsfw.
  At most --concurrency-limit jobs run at once; the others wait in the queue, and
  past --queue-limit queued outputs a submit gets 429 account_queue_full.

models:
  Every model of the SDK's catalog snapshot, its arguments checked against its
  published schema (a 422 with the API's field list); unknown fields pass, as on
  the API. The published OpenAPI document is served at /docs/openapi.json, with
  no key needed. At start the emulator prints how many models it serves.

agent API:
  Under /v1/agent, with the same key. A message's turn runs --agent-turn-time
  seconds, then answers "Echo: <message>"; a message containing [fail] fails,
  [question] asks a question (the session awaits input; the next message answers
  it, reads awaiting_input for --agent-answer-lag more seconds, and is echoed),
  [hang] runs until interrupted, [long] runs --agent-long-turn-time seconds
  instead, and [image] links a generated PNG the emulator serves
  (/agent-outputs/..., no key needed).

faults:
  --fault ROUTE:KIND[:COUNT] answers the next COUNT (default 1) requests of ROUTE with
  KIND, as Emulator.script_fault does; repeat it for several. Routes: submit, status,
  cancel, delete, upload-url, put, estimate, the agent-* routes, '*' (any of those),
  output (generated files) and agent-output. Kinds: 429 (with Retry-After:
  --retry-after), 500, 502, 503, 504, html, drop, slow (--slow-seconds late),
  truncate, stall (a download paused --slow-seconds in the middle), redirect_samehost,
  redirect_offhost. ROUTE webhook scripts the next webhook events instead: drop
  (never sent), duplicate (sent twice) and out_of_order (held back until the next
  event went out, at most --slow-seconds).

seeing what it did:
  Control routes under /_emulator/ on the same port need no key and answer loopback
  clients only (403 for any other): GET /_emulator/jobs, /journal, /webhooks; POST
  /_emulator/faults {"route", "kind", "count"}; POST /_emulator/jobs/ID/expire. The
  commands jobs, journal, webhooks, fault and expire call them on a running emulator
  (--url, default $HIGGSFIELD_BASE_URL) and print a table or, with --json, JSON.

examples:
  %(prog)s --port 8000
  %(prog)s --port 0 --fault-rate 0.1 --seed 7   # 1 answer in 10 faulty
  %(prog)s --queue-time 2 --run-time 10 --webhook-secret whsec_YW4gZW11bGF0b3Igd2ViaG9vayBrZXkh
  %(prog)s --fault webhook:duplicate:5 --fault output:stall --slow-seconds 10
  %(prog)s jobs                     # in another shell: the jobs of the running emulator
  %(prog)s journal --route submit --json
  %(prog)s fault submit 503 --count 3"""


def build_parser(prog: str = "python -m higgsfield_client.testing") -> argparse.ArgumentParser:
    """The emulator's argument parser, with the same help as ``higgsfield emulator``."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="ADDRESS",
        help="interface to listen on; keep it on loopback (default: %(default)s)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, metavar="PORT",
        help="TCP port; 0 picks a free one, shown in the printed URL (default: %(default)s)",
    )
    parser.add_argument(
        "--queue-time", type=float, default=0.2, metavar="SECONDS",
        help="seconds each job stays queued before it may start, longer while "
        "--concurrency-limit jobs are running; varies by +/-10%% per job (default: %(default)s)",
    )
    parser.add_argument(
        "--run-time", type=float, default=0.5, metavar="SECONDS",
        help="seconds each job stays in_progress before its final state; varies by +/-10%% "
        "per job (default: %(default)s)",
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, metavar="SHARE",
        help="share of API and upload PUT requests, from 0.0 to 1.0, answered with a random "
        "fault instead: 429 with Retry-After, 500, 502, 503, 504, an HTML error page, a "
        "dropped connection, a slow answer or a truncated body; file downloads are spared "
        "(default: %(default)s, no faults)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, metavar="N",
        help="seed for the fault draws and the timing variation, so that a run can be "
        "repeated exactly (default: none, a different sequence each run)",
    )
    parser.add_argument(
        "--webhook-secret", default=None, metavar="whsec_...",
        help="Standard Webhooks secret (whsec_ and the base64 of 24 to 64 bytes) to sign webhook "
        "deliveries with webhook-id, webhook-timestamp and webhook-signature headers (default: "
        "none, deliveries are unsigned)",
    )
    parser.add_argument(
        "--webhook-body", choices=("flat", "nested"), default="flat",
        help="the webhook deliveries' body: flat, the status answer's fields, or nested, with "
        "request_id, status and error at the top and the results under payload "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--api-key", default=None, metavar="ID:SECRET",
        help="the key_id:key_secret key to accept (default: a random key, printed at start)",
    )
    parser.add_argument(
        "--concurrency-limit", type=int, default=50, metavar="JOBS",
        help="jobs in progress at once; later jobs stay queued until one finishes "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--queue-limit", type=int, default=10_000, metavar="OUTPUTS",
        help="queued outputs (a batch counts each image) beyond which a submit gets 429 "
        "account_queue_full (default: %(default)s)",
    )
    parser.add_argument(
        "--agent-turn-time", type=float, default=0.2, metavar="SECONDS",
        help="seconds an Agent API turn stays processing before the agent answers "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--agent-long-turn-time", type=float, default=None, metavar="SECONDS",
        help="seconds an Agent API turn runs when its message contains [long] (default: ten "
        "times --agent-turn-time)",
    )
    parser.add_argument(
        "--agent-answer-lag", type=float, default=0.0, metavar="SECONDS",
        help="seconds an answer to an agent's question still reads awaiting_input before its "
        "turn turns processing, as a stale poll would (default: %(default)s)",
    )
    parser.add_argument(
        "--full-size-images", action="store_true",
        help="render images (and the agent's) at the size asked for (resolution, aspect_ratio) "
        "instead of at most 256 pixels a side (default: small, fast thumbnails)",
    )
    parser.add_argument(
        "--balance", default=None, metavar="CREDITS",
        help="the account's credits: a submit holds its price, a completed job is charged it, "
        "a failed, NSFW or canceled one gets it back, and a submit the balance does not cover "
        "is answered 403 (default: no limit)",
    )
    parser.add_argument(
        "--journal-limit", type=int, default=10_000, metavar="REQUESTS",
        help="newest requests kept in the in-memory request journal, which bounds its memory; "
        "0 keeps none (default: %(default)s)",
    )
    parser.add_argument(
        "--fault", action="append", default=[], type=_fault, metavar="ROUTE:KIND[:COUNT]",
        help="answer the next COUNT (default 1) requests of ROUTE with the fault KIND, e.g. "
        "webhook:duplicate, output:stall:3, submit:429:2 (see \"faults\" below); repeatable",
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=2.0, metavar="SECONDS",
        help="how late a slow answer comes, how long a stalled download pauses, and the longest "
        "an out_of_order webhook event is held back (default: %(default)s)",
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, metavar="SECONDS",
        help="the Retry-After of 429 answers (default: %(default)s)",
    )
    add_commands(parser)


def _fault(text: str) -> Tuple[str, str, int]:
    """``ROUTE:KIND[:COUNT]`` as (route, kind, count); route and kind are checked by the emulator."""
    route, _, rest = text.partition(":")
    kind, _, count = rest.partition(":")
    if not route or not kind or (count and not count.isdigit()):
        raise argparse.ArgumentTypeError(f"expected ROUTE:KIND or ROUTE:KIND:COUNT, not {text!r}")
    return route, kind, int(count) if count else 1


def run(options: argparse.Namespace) -> int:
    """Serve with parsed ``options`` until SIGINT or SIGTERM, printing where and how to
    connect; or, with a command, run it against a running emulator. Returns the exit code."""
    if options.control is not None:
        return run_command(options)
    from ._emulator import Emulator

    try:
        emulator = Emulator(
            options.host,
            options.port,
            queue_time=options.queue_time,
            run_time=options.run_time,
            fault_rate=options.fault_rate,
            seed=options.seed,
            webhook_secret=options.webhook_secret,
            webhook_body=options.webhook_body,
            api_key=options.api_key,
            concurrency_limit=options.concurrency_limit,
            queue_limit=options.queue_limit,
            journal_limit=options.journal_limit,
            agent_turn_time=options.agent_turn_time,
            agent_long_turn_time=options.agent_long_turn_time,
            agent_answer_lag=options.agent_answer_lag,
            slow_seconds=options.slow_seconds,
            retry_after=options.retry_after,
            full_size_images=options.full_size_images,
            balance=options.balance,
        )
        for route, kind, count in options.fault:
            emulator.script_fault(route, kind, count)
    except ValueError as exc:  # an option out of range; the message never shows a secret
        print(f"higgsfield emulator: error: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    with emulator:
        models = emulator.models
        checked = sum(1 for model in models if model.checked)
        lines: List[str] = [
            f"Higgsfield API emulator listening on {emulator.base_url}",
            f"Models: {len(models)} from the SDK's catalog, {checked} checked against their schemas "
            f"({emulator.base_url}/docs/openapi.json)",
            f"API key: {emulator.api_key}",
            *([] if emulator.balance is None else [f"Balance: {emulator.balance} credits"]),
            f"export HF_KEY={shlex.quote(emulator.api_key)}",
            f"export HIGGSFIELD_BASE_URL={shlex.quote(emulator.base_url)}",
            f"What it did: GET {emulator.base_url}{PREFIX}/jobs (or /journal, /webhooks), from "
            "this machine only",
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
