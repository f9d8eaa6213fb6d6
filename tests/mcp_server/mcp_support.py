"""Helpers of the MCP server's tests: ``higgsfield-sansio mcp`` driven by the MCP SDK's own client.

The server runs as a subprocess over stdio (``python -m higgsfield_client mcp``), as an MCP client
such as Claude Desktop starts it; it is told the emulator's address and key through the
environment only. A server costs seconds to start on a busy machine, so a test module shares one
(module-scoped) where its tests need the same options.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult

from higgsfield_client import AsyncClient, RetryPolicy
from higgsfield_client.mcp import HiggsfieldServer, ServerOptions
from higgsfield_client.testing import Emulator

MODEL = "higgsfield-ai/soul/standard"
FAST = ["--poll-interval", "0.05"]


def server_environment(emulator: Emulator) -> Dict[str, str]:
    """The environment an MCP client's configuration gives the server: the key and the API root."""
    environment = {**os.environ, "HF_KEY": emulator.api_key, "HIGGSFIELD_BASE_URL": emulator.base_url}
    for name in ("HF_API_KEY", "HF_API_SECRET"):
        environment.pop(name, None)
    return environment


def stdio_parameters(emulator: Emulator, *options: str, cwd: Optional[Path] = None) -> StdioServerParameters:
    """How an MCP client starts ``higgsfield-sansio mcp OPTIONS`` against ``emulator``."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "higgsfield_client", "mcp", *options],
        env=server_environment(emulator),
        cwd=str(cwd) if cwd is not None else None,
    )


@dataclass
class Progress:
    """What the client heard while one call ran: (progress, total, message) in order."""

    seen: List[Tuple[float, Optional[float], Optional[str]]] = field(default_factory=list)

    async def __call__(self, progress: float, total: Optional[float], message: Optional[str]) -> None:
        self.seen.append((progress, total, message))

    @property
    def messages(self) -> List[Optional[str]]:
        return [message for _, _, message in self.seen]


@contextlib.asynccontextmanager
async def connected(
    emulator: Emulator, *options: str, errlog: Optional[Any] = None, **client_options: Any
) -> AsyncIterator[Client]:
    """A client session with a fresh ``higgsfield-sansio mcp OPTIONS`` over stdio."""
    parameters = stdio_parameters(emulator, *options)
    async with Client(parameters, read_timeout_seconds=60, **client_options) as client:
        yield client


@contextlib.asynccontextmanager
async def in_process(
    emulator: Emulator, options: Optional[ServerOptions] = None, **server_options: Any
) -> AsyncIterator[Client]:
    """A client connected in process to a server on ``emulator`` (a client of its own, without
    retries): for what needs no subprocess, and for a server given options the command has not."""
    api = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=RetryPolicy(max_attempts=1))
    server = HiggsfieldServer(options or ServerOptions(), client=api, **server_options)
    async with api, Client(server.server) as client:
        yield client
    await server.aclose()


async def call(
    client: Client, tool: str, arguments: Dict[str, Any], **options: Any
) -> Tuple[bool, Dict[str, Any]]:
    """Call ``tool``: whether it failed, and the JSON document it answered."""
    result: CallToolResult = await client.call_tool(tool, arguments, **options)
    document = result.structured_content
    assert isinstance(document, dict), result
    return bool(result.is_error), document


async def waited(client: Client, request_id: str) -> Tuple[bool, Dict[str, Any], Progress]:
    """``job_wait`` for ``request_id`` (30 s at most): whether it failed, its answer, its progress."""
    progress = Progress()
    failed, document = await call(
        client, "job_wait", {"request_id": request_id, "timeout_seconds": 30}, progress_callback=progress
    )
    return failed, document, progress


def submits(emulator: Emulator) -> int:
    """How many submit requests the emulator has received."""
    return sum(1 for entry in emulator.journal if entry.route == "submit")
