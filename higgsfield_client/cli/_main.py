"""The ``higgsfield-sansio`` command: parse the command line, run a subcommand, map errors to exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, NoReturn, Optional, TextIO, cast

from higgsfield_proto import HiggsfieldError, PollPolicy, RetryPolicy

from .._async import AsyncClient
from .._budget import Budget
from .._sync import SyncClient
from .._version import COMMAND, DISTRIBUTION, __version__
from . import _commands as commands
from ._agent import add_agent_parser, run_agent
from ._batch import add_batch_parser, run_batch_command
from ._commands import FetchFailed, UsageError, WaitInterrupted, credits, positive_seconds
from ._errors import EXIT_INTERRUPTED, EXIT_USAGE, TurnInterrupted, exit_code_for, report
from ._mcp import add_mcp_parser, run_mcp
from ._models import add_models_parser, run_models
from ._output import Console, terminal

if TYPE_CHECKING:
    from rich.console import Console as Screen

EPILOG = """\
examples:
  higgsfield-sansio submit higgsfield-ai/soul/standard prompt="a lighthouse at dusk" --wait
  higgsfield-sansio submit kling-video/v2.6/pro/image-to-video -f args.json duration=5 --download out/
  higgsfield-sansio --json status 3f6c...e1            # the status payload as JSON
  higgsfield-sansio result 3f6c...e1 --timeout 600 --download out/
  higgsfield-sansio upload photo.jpg                   # prints the public URL
  higgsfield-sansio download https://... https://... --to out/
  higgsfield-sansio estimate bytedance/seedream/v4/text-to-image prompt=x resolution=2K
  higgsfield-sansio submit kling-video/v2.1/pro/image-to-video -f args.json --max-credits 20
  higgsfield-sansio models show higgsfield-ai/soul/standard  # a model's arguments and allowed values
  higgsfield-sansio agent ask "Draw a lighthouse at dusk"  # one turn of the Agent API
  higgsfield-sansio batch prompts.jsonl --model higgsfield-ai/soul/standard  # many jobs, resumable
  higgsfield-sansio mcp --allow-dir ~/Pictures          # serve the SDK to LLM agents over MCP
  higgsfield-sansio emulator --port 8000               # a local API for tests
  higgsfield-sansio demo                               # a tour against the embedded emulator

KEY=VALUE arguments: a value that is valid JSON is read as JSON (5, true, [1,2], "007"),
anything else is text. Credentials: --api-key, else HF_KEY, else HF_API_KEY + HF_API_SECRET.
API root: --base-url, else HIGGSFIELD_BASE_URL, else https://api.higgsfield.ai.

exit codes:
  0  success                      5  the job was rejected as NSFW
  1  any other error (API, I/O)   6  the job was canceled
  2  usage error                  7  --timeout passed before the job finished
  3  authentication failed or     8  network failure (connection, timeout,
     no credentials                  incomplete download)
  4  the job failed             130  interrupted (Ctrl-C)
"""

Command = Callable[[SyncClient, argparse.Namespace, Console], int]
_API_COMMANDS: Dict[str, Command] = {
    "agent": run_agent,
    "submit": commands.submit,
    "status": commands.status,
    "result": commands.result,
    "cancel": commands.cancel,
    "upload": commands.upload,
    "download": commands.download,
    "estimate": commands.estimate,
    "models": run_models,
}


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _common_options(suppress: bool, *, output: bool = True) -> argparse.ArgumentParser:
    # Accepted before and after the subcommand; a subcommand's copy must not reset the default.
    # Without ``output`` (a server) there is no --json, and no --api-key: the environment only.
    default: Dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("common options")
    add = group.add_argument
    if output:
        add("--json", action="store_true", help="print results as JSON on stdout", **default)
    add("--base-url", metavar="URL", help="the API root (overrides the environment)", **default)
    if output:
        add("--api-key", metavar="ID:SECRET", help="credentials (override the environment)", **default)
    add(
        "--allow-insecure-http",
        action="store_true",
        help="accept a plain http:// --base-url on a host other than this machine",
        **default,
    )
    group.add_argument(
        "--retries", type=_count, metavar="N", help="retries per request (default 4)", **default
    )
    group.add_argument(
        "-v", "--verbose", action="store_true", help="log every HTTP exchange on stderr", **default
    )
    return parent


def _waiting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="give up waiting after this"
    )
    parser.add_argument(
        "--poll-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="a fixed interval between status checks (default: 2 s growing to 3 s)",
    )
    parser.add_argument(
        "--download", metavar="DIR", help="download the outputs into DIR, as <request id>-<name>"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace files that exist in DIR")


def _model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="the model id, e.g. higgsfield-ai/soul/standard")
    parser.add_argument("arguments", nargs="*", metavar="KEY=VALUE", help="model arguments")
    parser.add_argument(
        "-f", "--arguments-file", metavar="FILE", help="a JSON object of model arguments ('-': stdin)"
    )


def program_name() -> str:
    """How the user ran the command line: its script on PATH, or ``python -m higgsfield_client``."""
    if Path(sys.argv[0]).name == "__main__.py":
        return "python -m higgsfield_client"
    return COMMAND


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line."""
    from ..testing import _cli as emulator_cli

    formatter = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=program_name(),
        description="Higgsfield AI generation API from the command line.",
        epilog=EPILOG,
        formatter_class=formatter,
        parents=[_common_options(suppress=False)],
    )
    parser.add_argument(
        "--version", action="version", version=f"{DISTRIBUTION} {__version__}"
    )
    common = [_common_options(suppress=True)]
    # Subcommands' parsers are _Parser too (argparse makes them of the main parser's class).
    sub = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND"),
    )

    def add(name: str, help: str, parents: List[argparse.ArgumentParser] = common) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=help, parents=parents, epilog=EPILOG, formatter_class=formatter
        )

    submit = add("submit", "submit a generation job (and optionally wait for it)")
    _model_arguments(submit)
    submit.add_argument("--webhook", metavar="URL", help="where the API POSTs the final result")
    submit.add_argument("--idempotency-key", metavar="KEY", help="reuse to make a repeated submit safe")
    submit.add_argument("--wait", action="store_true", help="wait for the job and print its outputs")
    submit.add_argument(
        "--max-credits",
        type=credits,
        metavar="N",
        help="refuse, sending nothing, a job whose price (the account's estimate, else the "
        "catalog's) is over N credits",
    )
    submit.add_argument(
        "--no-validate",
        action="store_true",
        help="submit without checking the arguments against the model catalog first",
    )
    _waiting_options(submit)

    status = add("status", "check a job's state once")
    status.add_argument("request_id", metavar="ID")

    result = add("result", "wait for a job and print (or download) its outputs")
    result.add_argument("request_id", metavar="ID")
    _waiting_options(result)

    cancel = add("cancel", "cancel a queued job")
    cancel.add_argument("request_id", metavar="ID")

    upload = add("upload", "upload a file and print its public URL")
    upload.add_argument("file", metavar="FILE")
    upload.add_argument("--content-type", metavar="TYPE", help="default: from the file extension")

    download = add("download", "download output URLs")
    download.add_argument("urls", nargs="+", metavar="URL")
    download.add_argument("--to", default=".", metavar="DIR", help="destination folder (default: .)")
    download.add_argument("--overwrite", action="store_true", help="replace files that exist in DIR")

    estimate = add("estimate", "price a generation without submitting it")
    _model_arguments(estimate)

    add_agent_parser(add, common)
    add_batch_parser(add)
    add_models_parser(add, common)
    add_mcp_parser(add, [_common_options(suppress=True, output=False)])

    # The emulator has options and help of its own (its --api-key is the key it accepts).
    emulator = sub.add_parser(
        "emulator",
        help="run a local emulator of the API in the foreground",
        description=emulator_cli.DESCRIPTION,
        epilog=emulator_cli.EPILOG,
        formatter_class=formatter,
    )
    emulator_cli.add_arguments(emulator)

    demo = add("demo", "a tour of the SDK against the embedded emulator (or the real API)")
    demo.add_argument("--live", action="store_true", help="use the real API with your credentials")
    demo.add_argument("--output", type=Path, default=Path("demo-output"), help="where outputs go")
    demo.add_argument("--overwrite", action="store_true", help="replace the outputs of an earlier run")
    return parser


def _client_options(options: argparse.Namespace) -> Dict[str, Any]:
    retry = RetryPolicy(max_attempts=options.retries + 1) if options.retries is not None else None
    poll = None
    interval = getattr(options, "poll_interval", None)
    if interval is not None:
        poll = PollPolicy(initial_delay=interval, multiplier=1.0, max_delay=interval, jitter=0.0)
    max_credits = getattr(options, "max_credits", None)
    return {
        "base_url": options.base_url,
        "api_key": options.api_key,
        "retry": retry,
        "poll": poll,
        "allow_insecure_http": options.allow_insecure_http,
        "budget": None if max_credits is None else Budget(max_credits=max_credits),
    }


def _run(options: argparse.Namespace, console: Console) -> int:
    if options.command == "emulator":
        from ..testing._cli import run

        return run(options)
    if options.command == "demo":
        from ._demo import run_demo

        return run_demo(
            console,
            live=options.live,
            output=options.output,
            overwrite=options.overwrite,
            base_url=options.base_url,
            api_key=options.api_key,
        )
    if options.command == "batch":
        return run_batch_command(options, console, AsyncClient(**_client_options(options)))
    if options.command == "mcp":
        return run_mcp(options, _client_options(options))
    with SyncClient(**_client_options(options)) as client:
        return _API_COMMANDS[options.command](client, options, console)


@contextlib.contextmanager
def _exchange_log(stream: TextIO) -> Iterator[None]:
    """Show the client's debug record of every HTTP exchange on ``stream`` meanwhile."""
    logger = logging.getLogger("higgsfield_client")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are `UsageError`, reported as every other error (as JSON
    under ``--json``); its subcommands' parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, usage=self.format_usage())


def _parse(parser: argparse.ArgumentParser, argv: List[str]) -> argparse.Namespace:
    options, extra = parser.parse_known_args(argv)
    # argparse ends a '*' positional at the first option: KEY=VALUE pairs after one come back
    # unrecognised; they still belong to the model arguments.
    if extra and options.command in ("submit", "estimate") and not any(e.startswith("-") for e in extra):
        options.arguments += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return options


@contextlib.contextmanager
def _quiet_cut_responses() -> Iterator[None]:
    """Drop the error of an ``http.client.HTTPResponse`` that Ctrl-C cut while it was being
    built: finalized with the interrupt's traceback, it fails in ``close()`` (it has no ``fp``
    yet, Python 3.13) and Python would print that as a traceback after the command's message."""
    import http.client

    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not (
            isinstance(unraisable.object, http.client.HTTPResponse)
            and isinstance(unraisable.exc_value, AttributeError)
        ):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        if sys.unraisablehook is hook:
            sys.unraisablehook = previous


def main(argv: Optional[List[str]] = None, *, screen: Optional[Screen] = None) -> int:
    """Run the command line (default ``sys.argv[1:]``); returns the exit code.

    Live output and tables are drawn with rich on stdout and stderr where they are terminals,
    or on ``screen`` for both when it is given (a recording console makes the docs' pictures).
    """
    arguments = sys.argv[1:] if argv is None else list(argv)
    console = Console(
        out=sys.stdout,
        err=sys.stderr,
        # Known before the command line is parsed, so that its errors are JSON too.
        json="--json" in arguments,
        screen=screen or terminal(sys.stderr),
        out_screen=screen or terminal(sys.stdout),
    )
    with _quiet_cut_responses():
        return _main(arguments, console)


def _main(arguments: List[str], console: Console) -> int:
    try:
        options = _parse(build_parser(), arguments)
        with _exchange_log(console.err) if options.verbose else contextlib.nullcontext():
            return _run(options, console)
    except SystemExit as stop:  # argparse's --help
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    except (UsageError, WaitInterrupted, TurnInterrupted, FetchFailed, HiggsfieldError, OSError) as exc:
        if isinstance(exc, UsageError) and exc.usage:
            console.err.write(exc.usage)
        code = exit_code_for(exc)
        report(console, exc, code)
        return code
    except KeyboardInterrupt:
        console.note(f"{COMMAND}: interrupted")
        return EXIT_INTERRUPTED
