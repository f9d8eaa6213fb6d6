"""``higgsfield-sansio mcp``: the SDK as an MCP server for LLM agents, over stdio or Streamable HTTP."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

from higgsfield_proto import Credentials

from .._async import AsyncClient
from ._commands import UsageError, credits, positive_seconds

MCP_EPILOG = """\
An MCP client (Claude Desktop, Cursor...) starts this command and talks to it on stdin and stdout.
Credentials come from the environment only: HF_KEY (or HF_API_KEY and HF_API_SECRET), and
HIGGSFIELD_BASE_URL for another API root. Put them in the client's configuration ("env").

files and URLs:
  upload reads files only inside the --allow-dir folders and download writes only into them
  (none given: no file access). upload also fetches http(s) URLs, only from public hosts.

money (in credits; generate is the only tool that bills, and agent_run's turns):
  --max-credits-per-call N  refuse a generation that costs more than N
  --budget N                refuse generations once this server has spent N in all
  --confirm-above N         above N, generate answers confirmation_required with the price and a
                            single-use token; the same call repeated with the token goes through
  A generation whose price is unknown is refused while any of these is set.

examples:
  higgsfield-sansio mcp --allow-dir ~/Pictures/higgsfield --budget 200 --confirm-above 20
  higgsfield-sansio mcp --http --port 8765         # Streamable HTTP at http://127.0.0.1:8765/mcp
"""


def add_mcp_parser(
    add: Callable[..., argparse.ArgumentParser], parents: List[argparse.ArgumentParser]
) -> None:
    """Add ``mcp`` through the main parser's ``add``, with ``parents``' options after it."""
    parser = add("mcp", "serve the SDK to LLM agents over MCP (stdio, or --http)", parents)
    parser.epilog = MCP_EPILOG
    add_option = parser.add_argument
    add_option(
        "--allow-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="a folder upload may read and download may write (repeatable; none: no file access)",
    )
    add_option("--http", action="store_true", help="serve Streamable HTTP instead of stdio")
    add_option("--host", default="127.0.0.1", help="the loopback address for --http (default: %(default)s)")
    add_option(
        "--port", type=int, default=8765, help="the port for --http; 0 picks one (default: %(default)s)"
    )
    add_option("--max-credits-per-call", type=credits, metavar="N", help="refuse a generation above N")
    add_option("--budget", type=credits, metavar="N", help="credits this server may spend in all")
    add_option("--confirm-above", type=credits, metavar="N", help="ask for confirmation above N credits")
    add_option(
        "--max-wait",
        type=positive_seconds,
        default=50.0,
        metavar="SECONDS",
        help="the most one tool call waits for a job or a turn (default: %(default)s)",
    )
    add_option(
        "--poll-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="a fixed interval between status checks (default: 2 s growing to 3 s)",
    )


def run_mcp(options: argparse.Namespace, client_options: Dict[str, Any]) -> int:
    """Serve until the client goes away (stdio) or Ctrl-C (HTTP); returns the exit code.

    Raises:
        UsageError: ``--api-key`` was given, or the ``mcp`` extra is not installed.
        CredentialsMissedError: no credentials in the environment.
        InvalidArgumentError: a bad option (an allowed folder that does not exist, a host that
            is not loopback).
    """
    if client_options.pop("api_key", None):
        raise UsageError(
            "higgsfield-sansio mcp reads credentials from the environment only (HF_KEY, or HF_API_KEY and "
            "HF_API_SECRET), not from --api-key: put them in the MCP client's configuration"
        )
    try:
        import anyio

        from ..mcp import HiggsfieldServer, ServerOptions
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] != "mcp":
            raise
        raise UsageError(
            "higgsfield-sansio mcp needs the MCP SDK: pip install 'higgsfield-sansio[mcp]'"
        ) from None
    Credentials.from_environment(os.environ)  # CredentialsMissedError now, not at the first call
    server_options = ServerOptions(
        allow_dirs=tuple(options.allow_dir),
        max_credits_per_call=options.max_credits_per_call,
        budget=options.budget,
        confirm_above=options.confirm_above,
        max_wait=options.max_wait,
    )

    def announce(url: str) -> None:
        print(f"higgsfield-sansio mcp: serving Streamable HTTP at {url}", file=sys.stderr, flush=True)

    with _warnings_on_stderr():
        client = AsyncClient(**client_options)
        server = HiggsfieldServer(server_options, client=client)

        async def serve() -> None:
            async with client:
                if options.http:
                    await server.serve_http(options.host, options.port, ready=announce)
                else:
                    await server.serve_stdio()

        anyio.run(serve)
    return 0


@contextlib.contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """Warnings of any library, one line each on stderr, while the server runs.

    The root logger's handler, set before the MCP SDK would set one of its own; at WARNING, so
    that ``-v``'s exchange log (the ``higgsfield_client`` logger's own handler) shows once.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("higgsfield-sansio mcp: %(name)s: %(levelname)s: %(message)s"))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
