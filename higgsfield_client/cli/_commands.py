"""The ``higgsfield`` subcommands that talk to the API, each on a ``SyncClient``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from higgsfield_proto import HiggsfieldError, InvalidArgumentError

from .._budget import non_negative
from .._calls import output_urls
from .._checks import Validate
from .._download import file_name_from_url, refuse_existing, shown_url, unique_names
from .._settings import new_idempotency_key
from .._statuses import Failed, JobResult
from .._sync import SyncClient
from .._uploads import guess_content_type
from ._output import Console, StatusLine, Transfers, format_size, write_json


class UsageError(Exception):
    """The command line is wrong (exit code 2); ``usage`` is the usage line of the command, when
    argparse found the error."""

    def __init__(self, message: str, *, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class WaitInterrupted(Exception):
    """Ctrl-C while waiting for a job: the job goes on server-side.

    ``request_id`` names it, or None when the submit had no answer yet (``idempotency_key``
    then finds it again).
    """

    def __init__(self, request_id: Optional[str], idempotency_key: Optional[str] = None) -> None:
        super().__init__("interrupted while waiting")
        self.request_id = request_id
        self.idempotency_key = idempotency_key


class FetchFailed(Exception):
    """Downloading ``url`` (named without its query) failed with ``cause``; the exit code is the
    cause's."""

    def __init__(self, url: str, cause: BaseException) -> None:
        super().__init__(f"cannot download {url}")
        self.url = url
        self.cause = cause


def fetch(url: str, download: Callable[[], Path]) -> Path:
    """``download()`` of ``url``, its failure named after the URL (`FetchFailed`)."""
    try:
        return download()
    except HiggsfieldError as exc:
        raise FetchFailed(shown_url(url), exc) from exc


def positive_seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def credits(text: str) -> Decimal:
    """An argparse type: a non-negative number of credits, as a Decimal."""
    try:
        return non_negative(text, "credits")
    except InvalidArgumentError:
        raise argparse.ArgumentTypeError(f"must be a non-negative number of credits, not {text}") from None


def parse_arguments(pairs: Sequence[str], file: Optional[str]) -> Dict[str, Any]:
    """Model arguments from a JSON object file (``-`` for stdin) and ``KEY=VALUE`` pairs.

    A value is read as JSON when it is valid JSON (``5``, ``true``, ``[1, 2]``, ``"5"``), else
    taken as text; pairs override the file's keys.

    Raises:
        UsageError: a pair without ``=``, or a file that is not a JSON object.
    """
    arguments: Dict[str, Any] = {}
    if file is not None:
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
            loaded = json.loads(text)
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}") from None
        except ValueError as exc:
            raise UsageError(f"{file} is not JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{file} must hold a JSON object of model arguments")
        arguments.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    return arguments


def _report_result(
    client: SyncClient, result: JobResult, options: argparse.Namespace, console: Console
) -> int:
    folder: Optional[str] = options.download
    urls = output_urls(result)
    files: List[Path] = []
    if folder is not None:
        files = client.download_outputs(result, folder, overwrite=options.overwrite)
    if console.json:
        document = dict(result)
        if folder is not None:
            document["files"] = [str(path) for path in files]
        write_json(console.out, document)
    else:
        for item in files or urls:
            console.line(str(item))
    return 0


def submit(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Submit a job; with ``--wait`` (or ``--download``) wait for it and report its outputs.

    The arguments are checked against the model catalog first, strictly (a person is there to
    read the answer), unless ``--no-validate``.
    """
    arguments = parse_arguments(options.arguments, options.arguments_file)
    validate: Validate = False if options.no_validate else "strict"
    wait = options.wait or options.download is not None
    # Chosen here rather than by the client, so that an interrupted submit can be found again.
    key = options.idempotency_key or new_idempotency_key()
    if not wait:
        controller = client.submit(
            options.model, arguments, webhook_url=options.webhook, idempotency_key=key, validate=validate
        )
        if console.json:
            write_json(
                console.out,
                {
                    "request_id": controller.request_id,
                    "status": "queued",
                    "status_url": controller.status_url,
                    "cancel_url": controller.cancel_url,
                },
            )
        else:
            console.line(controller.request_id)
        return 0
    line = StatusLine(console, options.model, state="submitting")
    accepted: List[str] = []

    def on_enqueue(request_id: str) -> None:
        accepted.append(request_id)
        console.note(f"request {request_id}")
        line.show("queued")

    try:
        result = client.subscribe(
            options.model,
            arguments,
            on_enqueue=on_enqueue,
            on_queue_update=line.update,
            webhook_url=options.webhook,
            idempotency_key=key,
            timeout=options.timeout,
            validate=validate,
        )
    except KeyboardInterrupt:
        raise WaitInterrupted(accepted[0] if accepted else None, key) from None
    finally:
        line.close()
    return _report_result(client, result, options, console)


def status(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Check a job's state once."""
    found = client.status(options.request_id)
    if console.json:
        write_json(console.out, {"request_id": options.request_id, "status": found.state, **found.payload})
    elif isinstance(found, Failed) and found.error:
        console.line(f"{found.state}: {found.error}")
    else:
        console.line(found.state)
    return 0


def result(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Wait for a job to finish and report (or download) its outputs."""
    controller = client.get_request_controller(options.request_id)
    line = StatusLine(console, options.request_id, state="waiting")
    try:
        for update in controller.poll_request_status(timeout=options.timeout):
            line.update(update)
    except KeyboardInterrupt:
        raise WaitInterrupted(options.request_id) from None
    finally:
        line.close()
    return _report_result(client, controller.get(), options, console)


def cancel(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Cancel a queued job."""
    client.cancel(options.request_id)
    if console.json:
        write_json(console.out, {"request_id": options.request_id, "canceled": True})
    else:
        console.line(f"canceled {options.request_id}")
    return 0


def upload(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Upload a file, streamed from disk with a progress bar; print its public URL."""
    path: str = options.file
    if os.path.isdir(path):
        raise UsageError(f"{path} is a folder; upload takes one file")
    if not os.path.exists(path):
        raise UsageError(f"{path}: no such file")
    content_type = options.content_type
    if content_type is None:
        try:
            content_type = guess_content_type(path)
        except InvalidArgumentError:
            raise UsageError(
                f"cannot tell the content type of {path} from its extension; pass --content-type TYPE"
            ) from None
    bars = Transfers(console)
    try:
        url = client.upload_file(path, content_type=content_type, progress=bars.bar(os.path.basename(path)))
    finally:
        bars.close()
    if console.json:
        size = os.path.getsize(path)
        write_json(console.out, {"url": url, "file": path, "bytes": size, "content_type": content_type})
    else:
        console.line(url)
    return 0


def download(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Download URLs into a folder, one after the other, with a progress bar each.

    Two URLs with the same file name get distinct names (``0.png``, ``0-2.png``); an existing
    file stops the command before anything is downloaded, unless ``--overwrite``.
    """
    folder = Path(options.to)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / name for name in unique_names(file_name_from_url(url) for url in options.urls)]
    if not options.overwrite:
        for target in targets:
            refuse_existing(target)
    bars = Transfers(console)
    try:
        saved = []
        for url, target in zip(options.urls, targets, strict=True):
            bar = bars.bar(target.name)
            download = partial(client.download, url, target, progress=bar, overwrite=options.overwrite)
            saved.append((url, fetch(url, download)))
    finally:
        bars.close()
    if console.json:
        files = [{"url": url, "path": str(path), "bytes": path.stat().st_size} for url, path in saved]
        write_json(console.out, {"files": files})
    else:
        for _, path in saved:
            console.line(str(path))
    if console.screen is None:
        total = sum(path.stat().st_size for _, path in saved)
        console.note(f"downloaded {len(saved)} file(s), {format_size(total)}")
    return 0


def estimate(client: SyncClient, options: argparse.Namespace, console: Console) -> int:
    """Price a generation without submitting it."""
    price = client.estimate(options.model, parse_arguments(options.arguments, options.arguments_file))
    if console.json:
        document = {"model": options.model, "credits": str(price.credits), "usd": str(price.usd)}
        write_json(console.out, document)
    else:
        console.line(f"{price.credits} credits (${price.usd})")
    return 0
