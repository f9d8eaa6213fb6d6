"""The MCP server's overhead: one ``job_status`` tool call over stdio against a direct client call.

A worker process holds both, against one queued job of an emulator in its own process: an
``AsyncClient`` (aiohttp, one reused connection) calling ``status(request_id)``, and the MCP SDK's
own client talking over stdio to ``higgsfield-sansio mcp`` (a subprocess, which makes the same call with
its own ``AsyncClient``) calling the ``job_status`` tool. They run in alternating batches under
asyncio, as the status suite pairs its baselines; the figures are the medians over batches of
the wall time per call, and the overhead is their difference: what the MCP layer (JSON-RPC over
two pipes, the SDK's dispatch and validation, our result document) adds to each call. No target:
the figure is reported. The emulator, the server and the worker share the machine's cores.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, List

from ._harness import Context, EmulatorProcess, Figure, create_job, median, report, run_worker, worker_main

KINDS = ("direct", "mcp")


def run(ctx: Context) -> List[Figure]:
    """Measure both kinds of call in alternating batches; report per-call times and the overhead."""
    pooled: Dict[str, List[float]] = {kind: [] for kind in KINDS}
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        for _ in range(ctx.pick(3, 2)):
            params = {
                "base_url": emulator.base_url,
                "key": emulator.api_key,
                "request_id": request_id,
                "batch": ctx.pick(100, 40),
                "rounds": ctx.pick(10, 4),
            }
            result = run_worker("mcp_status", params)
            for kind in KINDS:
                pooled[kind].extend(result[kind])
    direct, mcp = median(pooled["direct"]), median(pooled["mcp"])
    ratio = median([m / d for m, d in zip(pooled["mcp"], pooled["direct"], strict=True)])
    data = {"direct_per_call": direct, "mcp_per_call": mcp, "overhead": mcp - direct, "ratio": ratio}
    return [
        report(
            Figure(
                name="mcp/job_status",
                text=(
                    f"median of {len(pooled['mcp'])} batches: direct status() {direct * 1e3:.2f} ms per "
                    f"call, job_status tool over stdio {mcp * 1e3:.2f} ms per call; MCP overhead "
                    f"{(mcp - direct) * 1e3:.2f} ms per call (ratio {ratio:.2f})"
                ),
                data=data,
            )
        )
    ]


def _worker(params: Dict[str, Any]) -> Dict[str, Any]:
    import anyio
    from mcp import Client, StdioServerParameters

    from higgsfield_client import AsyncClient

    found: Dict[str, List[float]] = {kind: [] for kind in KINDS}
    request_id, batch = params["request_id"], params["batch"]
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "higgsfield_client", "mcp"],
        env={**os.environ, "HF_KEY": params["key"], "HIGGSFIELD_BASE_URL": params["base_url"]},
    )

    async def main() -> None:
        async with AsyncClient(base_url=params["base_url"], api_key=params["key"]) as client, Client(
            server, read_timeout_seconds=60
        ) as tools:

            async def direct() -> None:
                await client.status(request_id)

            async def mcp() -> None:
                result = await tools.call_tool("job_status", {"request_id": request_id})
                assert not result.is_error, result

            calls = {"direct": direct, "mcp": mcp}
            for kind in KINDS:  # the connections, and the first-use imports of both sides
                await calls[kind]()
            for round_number in range(params["rounds"]):
                order = KINDS if round_number % 2 == 0 else KINDS[::-1]
                for kind in order:
                    started = time.perf_counter()
                    for _ in range(batch):
                        await calls[kind]()
                    found[kind].append((time.perf_counter() - started) / batch)

    anyio.run(main)
    return found


if __name__ == "__main__":
    worker_main(_worker)
