"""``higgsfield-sansio mcp --http``: the same server over Streamable HTTP, once, and its DNS rebinding
guard."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.error
import urllib.request
from typing import Iterator, Optional

import pytest
from mcp import Client
from mcp_support import FAST, MODEL, call, server_environment, submits, waited

from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def endpoint(emulator: Emulator) -> Iterator[str]:
    """``higgsfield-sansio mcp --http --port 0`` running; the URL it printed."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "higgsfield_client",
            "mcp",
            "--http",
            "--port",
            "0",
            "--confirm-above",
            "2",
            *FAST,
        ],
        env=server_environment(emulator),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    url: Optional[str] = None
    try:
        for line in process.stderr:
            if "serving Streamable HTTP at " in line:
                url = line.rsplit(" ", 1)[-1].strip()
                break
        assert url is not None, "the server printed no URL"
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # uvicorn shuts down gracefully, then lets the SIGTERM end the process as it would have.
    assert process.returncode in (0, -signal.SIGTERM)


async def test_over_streamable_http_the_tools_answer_with_progress(endpoint: str, emulator: Emulator) -> None:
    async with Client(endpoint, read_timeout_seconds=60) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert {"generate", "job_wait", "upload", "agent_run"} <= tools
        failed, bad = await call(client, "generate", {"model_id": MODEL, "arguments": {"prompt": 5}})
        assert (failed, bad["error"]["type"]) == (True, "invalid_arguments")
        before = submits(emulator)
        failed, asked = await call(
            client, "generate", {"model_id": MODEL, "arguments": {"prompt": "x", "num_images": 2}}
        )
        assert (failed, asked["status"]) == (False, "confirmation_required")
        assert submits(emulator) == before
        failed, started = await call(
            client,
            "generate",
            {
                "model_id": MODEL,
                "arguments": {"prompt": "x", "num_images": 2},
                "confirmation_token": asked["confirmation_token"],
                "idempotency_key": "over-http-1",
            },
        )
        assert (failed, started["status"]) == (False, "queued")
        failed, done, progress = await waited(client, started["request_id"])
        assert (failed, done["status"], len(done["outputs"])) == (False, "completed", 2)
        assert "in_progress" in progress.messages
        failed, refused = await call(client, "upload", {"source": "http://127.0.0.1/x.png"})
        assert (failed, refused["error"]["type"]) == (True, "url_refused")


def post(url: str, headers: dict[str, str]) -> int:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_request_naming_another_host_or_origin_is_refused(endpoint: str) -> None:
    # A web page whose name was rebound to 127.0.0.1 sends its own name in Host, and its Origin.
    port = endpoint.rsplit(":", 1)[1].split("/", 1)[0]
    assert post(endpoint, {"Host": f"attacker.example:{port}"}) == 421
    assert post(endpoint, {"Origin": "http://attacker.example"}) == 403
