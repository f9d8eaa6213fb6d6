"""Target 1: ``status(request_id)`` calls per second on one reused connection, against the raw library.

For each transport, ours and the raw library run the same sequential GET + JSON parse of one
queued job's status against an emulator in its own process, in alternating worker processes;
the figure is the median time per call, ours over raw (target <= 1.15). The raw baselines:
a ``requests.Session``, an ``aiohttp.ClientSession``, and for the trio transport a hand-written
h11-over-anyio keep-alive loop under trio (the same stack the transport is built on).
Client CPU per call is printed alongside: the emulator shares the machine, so wall time also
holds the server's time.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

from ._harness import (
    Context,
    EmulatorProcess,
    Figure,
    check,
    create_job,
    failure,
    median,
    report,
    run_worker,
    worker_main,
)

TRANSPORTS = ("requests", "aiohttp", "trio")
TARGET = 1.15


def measure_pair(
    ctx: Context, emulator: EmulatorProcess, request_id: str, transport: str, kinds: List[str]
) -> Dict[str, Dict[str, float]]:
    """Median seconds and CPU seconds per call of each of ``kinds`` ("ours", "raw"), alternating."""
    calls = ctx.pick(3000, 400)
    runs: Dict[str, List[Dict[str, Any]]] = {kind: [] for kind in kinds}
    for _ in range(ctx.pick(5, 3)):
        for kind in kinds:
            params = {
                "kind": kind, "transport": transport, "base_url": emulator.base_url,
                "key": emulator.api_key, "request_id": request_id, "calls": calls, "warmup": 50,
            }
            runs[kind].append(run_worker("status", params))
    return {
        kind: {
            "per_call": median([r["seconds"] for r in results]) / calls,
            "cpu_per_call": median([r["cpu"] for r in results]) / calls,
        }
        for kind, results in runs.items()
    }


def run(ctx: Context) -> List[Figure]:
    """Measure every transport against its raw library."""
    figures: List[Figure] = []
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        for transport in TRANSPORTS:
            try:
                got = measure_pair(ctx, emulator, request_id, transport, ["raw", "ours"])
            except Exception as exc:
                figures.append(failure(f"status/{transport}", exc))
                continue
            ours, raw = got["ours"], got["raw"]
            ratio = ours["per_call"] / raw["per_call"]
            cpu_ratio = ours["cpu_per_call"] / raw["cpu_per_call"]
            figures.append(report(Figure(
                name=f"status/{transport}",
                text=(
                    f"ours {1 / ours['per_call']:,.0f} req/s, raw {1 / raw['per_call']:,.0f} req/s, "
                    f"ratio {ratio:.2f} (target <= {TARGET}); client CPU per call "
                    f"ours {ours['cpu_per_call'] * 1e6:,.0f} us, raw {raw['cpu_per_call'] * 1e6:,.0f} us, "
                    f"ratio {cpu_ratio:.2f}"
                ),
                met=check(ratio, at_most=TARGET),
                data={"ours": ours, "raw": raw, "ratio": ratio, "cpu_ratio": cpu_ratio},
            )))
    return figures


# -- worker: one timed loop in a fresh process -----------------------------------------------


def _timed(loop: Any, calls: int) -> Dict[str, float]:
    cpu, started = time.process_time(), time.perf_counter()
    loop(calls)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


def _sync(p: Dict[str, Any]) -> Dict[str, float]:
    if p["kind"] == "ours":
        from higgsfield_client import SyncClient

        client = SyncClient(base_url=p["base_url"], api_key=p["key"])

        def ours(n: int) -> None:
            for _ in range(n):
                client.status(p["request_id"])

        ours(p["warmup"])
        return _timed(ours, p["calls"])
    import requests

    session = requests.Session()
    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    headers = {"Authorization": f"Key {p['key']}"}

    def raw(n: int) -> None:
        for _ in range(n):
            response = session.get(url, headers=headers)
            if response.status_code != 200 or "status" not in response.json():
                raise RuntimeError("unexpected answer")

    raw(p["warmup"])
    return _timed(raw, p["calls"])


async def _async_timed(loop: Any, calls: int) -> Dict[str, float]:
    cpu, started = time.process_time(), time.perf_counter()
    await loop(calls)
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}


async def _ours_async(p: Dict[str, Any]) -> Dict[str, float]:
    from higgsfield_client import AsyncClient

    async with AsyncClient(base_url=p["base_url"], api_key=p["key"], transport=p["transport"]) as client:

        async def ours(n: int) -> None:
            for _ in range(n):
                await client.status(p["request_id"])

        await ours(p["warmup"])
        return await _async_timed(ours, p["calls"])


async def _raw_aiohttp(p: Dict[str, Any]) -> Dict[str, float]:
    import aiohttp

    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    headers = {"Authorization": f"Key {p['key']}"}
    async with aiohttp.ClientSession() as session:

        async def raw(n: int) -> None:
            for _ in range(n):
                async with session.get(url, headers=headers) as response:
                    if response.status != 200 or "status" not in await response.json():
                        raise RuntimeError("unexpected answer")

        await raw(p["warmup"])
        return await _async_timed(raw, p["calls"])


async def _raw_h11(p: Dict[str, Any]) -> Dict[str, float]:
    from urllib.parse import urlsplit

    import anyio
    import h11

    parts = urlsplit(p["base_url"])
    assert parts.hostname is not None
    assert parts.port is not None
    target = f"/requests/{p['request_id']}/status".encode()
    headers = [("Host", parts.netloc), ("Authorization", f"Key {p['key']}")]
    stream = await anyio.connect_tcp(parts.hostname, parts.port)
    connection = h11.Connection(our_role=h11.CLIENT)

    async def get() -> Any:
        await stream.send(
            connection.send(h11.Request(method="GET", target=target, headers=headers))
            + (connection.send(h11.EndOfMessage()) or b"")
        )
        status, body = 0, bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                connection.start_next_cycle()
                if status != 200:
                    raise RuntimeError("unexpected answer")
                return json.loads(body)
            else:
                raise RuntimeError(f"unexpected {event!r}")

    async def raw(n: int) -> None:
        for _ in range(n):
            if "status" not in await get():
                raise RuntimeError("unexpected answer")

    async with stream:
        await raw(p["warmup"])
        return await _async_timed(raw, p["calls"])


def worker(p: Dict[str, Any]) -> Dict[str, Any]:
    """Time ``calls`` sequential status checks of one kind ("ours"/"raw") and transport."""
    transport, kind = p["transport"], p["kind"]
    if transport == "requests":
        return dict(_sync(p))
    if transport == "aiohttp":
        import asyncio

        return dict(asyncio.run(_ours_async(p) if kind == "ours" else _raw_aiohttp(p)))
    import trio

    return dict(trio.run(_ours_async if kind == "ours" else _raw_h11, p))


if __name__ == "__main__":
    worker_main(worker)
