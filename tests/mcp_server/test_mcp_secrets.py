"""No tool result, resource, log line or error of ``higgsfield-sansio mcp`` holds the API key or a
presigned URL's signature, even with ``-v`` logging every HTTP exchange on stderr."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import List

import pytest
from mcp import Client
from mcp.client.stdio import stdio_client
from mcp_support import FAST, MODEL, stdio_parameters

from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio

SIGNED = "f00dfeed5ign4ture"


async def test_nothing_the_server_says_holds_the_key_or_an_upload_signature(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "in.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    said: List[str] = []
    parameters = stdio_parameters(emulator, "-v", "--allow-dir", str(folder), "--budget", "2", *FAST)
    with tempfile.TemporaryFile("w+") as errors:
        async with Client(stdio_client(parameters, errlog=errors), read_timeout_seconds=60) as client:

            async def tool(name: str, arguments: dict[str, object]) -> None:
                result = await client.call_tool(name, arguments)
                said.extend(block.text for block in result.content if hasattr(block, "text"))
                said.append(json.dumps(result.structured_content))

            await tool("upload", {"source": "in.png"})
            emulator.script_fault("put", "503", count=5)
            await tool("upload", {"source": "in.png"})  # the storage host refuses the signed PUT
            await tool("generate", {"model_id": MODEL, "arguments": {"prompt": "x"}, "wait_seconds": 20})
            await tool("generate", {"model_id": MODEL, "arguments": {"prompt": 1}})
            await tool("job_status", {"request_id": "3f6c0000-0000-4000-8000-000000000000"})
            await tool("upload", {"source": "http://127.0.0.1/x.png"})
            await tool("upload", {"source": f"https://10.0.0.1/x.png?X-Amz-Signature={SIGNED}"})
            await tool("generate", {"model_id": MODEL, "arguments": {"prompt": "over the budget"}})
            await tool("agent_run", {"text": "hello"})
            resource = await client.read_resource("higgsfield://models")
            said.append(str(resource.contents[0]))
        errors.seek(0)
        said.append(errors.read())
    signatures = [
        value
        for entry in emulator.journal
        if entry.route == "put"
        for value in entry.query.getall("X-Amz-Signature", [])
    ]
    assert len(signatures) >= 2  # both uploads reached the storage host with a signed URL
    assert "higgsfield_client" in said[-1]  # -v did log the exchanges
    secret = emulator.api_key.split(":", 1)[1]
    everything = "\n".join(said)
    assert secret not in everything
    assert emulator.api_key not in everything
    for signature in signatures:
        assert signature not in everything
    assert SIGNED not in everything
    assert "budget_exceeded" in everything  # the refusal was said, without the key
