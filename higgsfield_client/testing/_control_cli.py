"""Commands that ask a running emulator what it did, through its loopback control routes."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO
from urllib.parse import quote, urlencode

PREFIX = "/_emulator"
"""Where the control routes live, on the emulator's own port (served by ``_control``)."""

DEFAULT_URL = "http://127.0.0.1:8000"
_TIMEOUT = 10.0

DESCRIPTION = """\
Ask a running emulator (started with `higgsfield emulator` or `Emulator()`) what it did,
through its control routes under /_emulator/ on its own port: they need no API key and
answer loopback clients only. --url defaults to $HIGGSFIELD_BASE_URL, which the emulator
prints at start, else http://127.0.0.1:8000."""


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add the ``jobs``, ``journal``, ``webhooks``, ``fault`` and ``expire`` commands."""
    commands = parser.add_subparsers(
        dest="control",
        metavar="COMMAND",
        title="commands against a running emulator (instead of serving one)",
        description=DESCRIPTION,
    )

    def add(name: str, help: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help, description=f"{help[0].upper()}{help[1:]}.")
        command.add_argument(
            "--url", default=None, metavar="URL",
            help="the emulator's base URL (default: $HIGGSFIELD_BASE_URL, else " + DEFAULT_URL + ")",
        )
        command.add_argument(
            "--json", dest="as_json", action="store_true", help="print the answer as JSON"
        )
        return command

    add("jobs", "list the jobs: id, model, state, idempotency key and times")
    journal = add("journal", "print the requests received and the webhook attempts made, oldest first")
    journal.add_argument(
        "--route", action="append", default=[], metavar="ROUTE",
        help="only this route (submit, status, output, webhook...); repeat for several",
    )
    journal.add_argument("--last", type=int, default=None, metavar="N", help="only the last N entries")
    add("webhooks", "list the webhook events and each attempt's answer")
    fault = add("fault", "inject a fault into the next requests of a route (as script_fault)")
    fault.add_argument("route", help="submit, status, output, webhook, '*'... (see the emulator's help)")
    fault.add_argument("kind", help="429, 500, drop, slow, stall, duplicate, out_of_order...")
    fault.add_argument("--count", type=int, default=1, metavar="N", help="how many requests (default: 1)")
    expire = add("expire", "make a finished job's outputs expire now (they answer 404 NoSuchKey)")
    expire.add_argument("request_id", metavar="ID")


class ControlError(Exception):
    """The emulator could not be reached, or refused the command."""


def _call(base_url: str, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
    import urllib.error
    import urllib.request  # here: every ``higgsfield`` command imports this module

    url = f"{base_url.rstrip('/')}{PREFIX}/{path}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    # No proxy: the control routes answer loopback peers only, and nothing goes elsewhere.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=_TIMEOUT) as answer:
            raw = answer.read()
    except urllib.error.HTTPError as exc:
        raise ControlError(f"the emulator at {base_url} answered {exc.code}: {_detail(exc)}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlError(f"cannot reach an emulator at {base_url}: {reason}") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise ControlError(f"{base_url} answered no JSON: is it an emulator?") from None


def _detail(error: Any) -> str:
    """The ``detail`` of an error answer, else its reason phrase."""
    try:
        detail = json.loads(error.read()).get("detail")
    except (ValueError, AttributeError, OSError):
        detail = None
    return str(detail or error.reason)


def _when(moment: Optional[float]) -> str:
    if moment is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{int(moment % 1 * 1000):03d}Z"


def _table(out: TextIO, header: Sequence[str], rows: List[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")


def _print(command: str, document: Dict[str, Any], out: TextIO) -> None:
    if command == "jobs":
        header = ["REQUEST ID", "MODEL", "STATE", "IDEMPOTENCY KEY", "SUBMITTED", "STARTED", "FINISHED"]
        _table(out, header, [
            [job["request_id"], job["model"], job["status"], job["idempotency_key"] or "-",
             _when(job["submitted_at"]), _when(job["started_at"]), _when(job["finished_at"])]
            for job in document["jobs"]
        ])
    elif command == "journal":
        _table(out, ["TIME", "METHOD", "PATH", "ROUTE", "STATUS", "FAULT"], [
            [_when(entry["time"]), entry["method"], entry["path"], entry["route"],
             "-" if entry["status"] is None else str(entry["status"]), entry["fault"] or "-"]
            for entry in document["entries"]
        ])
    elif command == "webhooks":
        _table(out, ["REQUEST ID", "WEBHOOK ID", "FAULT", "DELIVERED", "ATTEMPTS"], [
            [d["request_id"], d["webhook_id"], d["fault"] or "-", "yes" if d["delivered"] else "no",
             " ".join(_attempt(a) for a in d["attempts"]) or "-"]
            for d in document["deliveries"]
        ])
    elif command == "fault":
        out.write(f"scripted {document['count']} x {document['kind']} on {document['route']}\n")
    else:
        out.write(f"expired {document['request_id']}\n")


def _attempt(attempt: Dict[str, Any]) -> str:
    shown = str(attempt["status"]) if attempt["status"] is not None else "error"
    return f"{shown}({attempt['fault']})" if attempt["fault"] else shown


def run_command(options: argparse.Namespace) -> int:
    """Run the control command of ``options`` against a running emulator and print its answer,
    as a table or JSON. Returns the exit code: 0, or 1 when the emulator cannot be reached or
    refuses (said on standard error)."""
    base_url = options.url or os.environ.get("HIGGSFIELD_BASE_URL") or DEFAULT_URL
    command = options.control
    try:
        if command == "jobs":
            document = _call(base_url, "GET", "jobs")
        elif command == "journal":
            query = [("route", route) for route in options.route]
            query += [] if options.last is None else [("last", str(options.last))]
            document = _call(base_url, "GET", "journal" + (f"?{urlencode(query)}" if query else ""))
        elif command == "webhooks":
            document = _call(base_url, "GET", "webhooks")
        elif command == "fault":
            fault = {"route": options.route, "kind": options.kind, "count": options.count}
            document = _call(base_url, "POST", "faults", fault)
        else:
            document = _call(base_url, "POST", f"jobs/{quote(options.request_id, safe='')}/expire", {})
    except ControlError as exc:
        sys.stderr.write(f"higgsfield emulator {command}: error: {exc}\n")
        return 1
    if options.as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        _print(command, document, sys.stdout)
    return 0
