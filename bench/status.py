"""Target 1: ``status(request_id)`` calls per second on one reused connection, against the raw library.

For each transport, ours and the raw library do the same sequential GET + JSON parse of one
queued job's status against an emulator in its own process. The machine is shared and its
speed drifts, so the two are measured as pairs: one worker process holds both (each with its own
connection) and runs them in alternating batches (ours-raw, raw-ours, ...); the figure is the
median of the per-batch time ratios, ours over raw (target <= 1.15), pooled over the worker
processes; the aiohttp and trio kinds are held to issue 29's targets on client CPU per call
instead (``CPU_TARGETS``). The raw baselines: a ``requests.Session``, an
``aiohttp.ClientSession``, for the httpx
transports (``SyncClient`` over ``HttpxTransport``, ``AsyncClient`` over ``AsyncHttpxTransport``
under asyncio) an ``httpx.Client`` and an ``httpx.AsyncClient``, and for the trio transport both
baselines the target names: a hand-written h11-over-anyio keep-alive loop
under trio (the stack the transport is built on, with no timeout, pool or checks) and an
``httpx.AsyncClient`` under trio. Every baseline sends the same GET as ours: the same
Authorization, User-Agent and Content-Type headers. Under trio the transport on its own is
measured too (``trio-transport``: a prebuilt status request sent in a loop and its answer parsed
with ``json.loads``, as the bare loop does), to tell its cost from the core and client layers'.
Client CPU per call is printed alongside: the emulator shares the two cores, so wall time also
holds the server's time.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Awaitable, Callable, Dict, List

from higgsfield_proto import USER_AGENT

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

# (figure name, our transport, our kind, the baseline's kind); "transport" is the trio
# transport on its own: a prebuilt status request sent in a loop, each answer parsed with
# json.loads as the bare loop does (what the adapter costs, without the core and client layers).
PAIRS = (
    ("requests", "requests", "ours", "raw"),
    ("aiohttp", "aiohttp", "ours", "raw"),
    ("trio", "trio", "ours", "raw"),
    ("trio-transport", "trio", "transport", "raw"),
    ("trio-httpx", "trio", "ours", "httpx"),
    ("httpx", "httpx", "ours", "raw"),
    ("httpx-asyncio", "httpx-asyncio", "ours", "raw"),
)
BASELINES = {"raw": "raw", "httpx": "httpx under trio"}
TARGET = 1.15
CPU_TARGETS = {"aiohttp": 1.1, "trio": 1.3, "trio-transport": 1.15}
"""Issue 29's targets, on client CPU per call: the aiohttp client against raw aiohttp, the whole
trio client and the trio transport alone against the bare h11 loop. Other kinds: TARGET on time."""
WARMUP = 50

Loop = Callable[[int], None]
AsyncLoop = Callable[[int], Awaitable[None]]
Rounds = Dict[str, Dict[str, List[float]]]
"""Per kind ("ours", "raw"): "seconds" and "cpu" of each batch."""


def measure(ctx: Context, emulator: EmulatorProcess, request_id: str, transport: str,
            kinds: List[str]) -> Rounds:
    """Per-batch seconds and CPU seconds of each kind, pooled over a few worker processes."""
    pooled: Rounds = {kind: {"seconds": [], "cpu": []} for kind in kinds}
    batch, rounds = ctx.pick(200, 100), ctx.pick(16, 6)
    for _ in range(ctx.pick(3, 2)):
        params = {
            "kinds": kinds, "transport": transport, "base_url": emulator.base_url,
            "key": emulator.api_key, "request_id": request_id, "batch": batch, "rounds": rounds,
        }
        result = run_worker("status", params)
        for kind in kinds:
            for what in ("seconds", "cpu"):
                pooled[kind][what].extend(value / batch for value in result[kind][what])
    return pooled


def run(ctx: Context) -> List[Figure]:
    """Measure every transport against its raw library."""
    figures: List[Figure] = []
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        for name, transport, kind, baseline in PAIRS:
            try:
                got = measure(ctx, emulator, request_id, transport, [kind, baseline])
            except Exception as exc:
                figures.append(failure(f"status/{name}", exc))
                continue
            figures.append(report(_figure(name, BASELINES[baseline], got[kind], got[baseline])))
    return figures


def _figure(name: str, label: str, ours: Dict[str, List[float]], raw: Dict[str, List[float]]) -> Figure:
    ratio = median([o / r for o, r in zip(ours["seconds"], raw["seconds"], strict=True)])
    cpu_ratio = median([o / r for o, r in zip(ours["cpu"], raw["cpu"], strict=True)])
    ours_time, raw_time = median(ours["seconds"]), median(raw["seconds"])
    ours_cpu, raw_cpu = median(ours["cpu"]), median(raw["cpu"])
    cpu_target = CPU_TARGETS.get(name)
    time_target = "" if cpu_target is not None else f" (target <= {TARGET})"
    cpu_target_text = "" if cpu_target is None else f" (target <= {cpu_target})"
    return Figure(
        name=f"status/{name}",
        text=(
            f"ours {1 / ours_time:,.0f} req/s, {label} {1 / raw_time:,.0f} req/s, "
            f"ratio {ratio:.2f}{time_target}; client CPU per call "
            f"ours {ours_cpu * 1e6:,.0f} us, {label} {raw_cpu * 1e6:,.0f} us, ratio {cpu_ratio:.2f}"
            f"{cpu_target_text}"
        ),
        met=check(ratio, at_most=TARGET) if cpu_target is None else check(cpu_ratio, at_most=cpu_target),
        data={"ours_per_call": ours_time, "raw_per_call": raw_time, "ratio": ratio,
              "ours_cpu": ours_cpu, "raw_cpu": raw_cpu, "cpu_ratio": cpu_ratio,
              "batches": len(ours["seconds"])},
    )


# -- worker: alternating batches in one process ----------------------------------------------


def _order(kinds: List[str], round_number: int) -> List[str]:
    shift = round_number % len(kinds)
    return kinds[shift:] + kinds[:shift]


def _batches(loops: Dict[str, Loop], p: Dict[str, Any]) -> Rounds:
    result: Rounds = {kind: {"seconds": [], "cpu": []} for kind in p["kinds"]}
    for kind in p["kinds"]:
        loops[kind](WARMUP)
    for number in range(p["rounds"]):
        for kind in _order(p["kinds"], number):
            cpu, started = time.process_time(), time.perf_counter()
            loops[kind](p["batch"])
            result[kind]["seconds"].append(time.perf_counter() - started)
            result[kind]["cpu"].append(time.process_time() - cpu)
    return result


async def _async_batches(loops: Dict[str, AsyncLoop], p: Dict[str, Any]) -> Rounds:
    result: Rounds = {kind: {"seconds": [], "cpu": []} for kind in p["kinds"]}
    for kind in p["kinds"]:
        await loops[kind](WARMUP)
    for number in range(p["rounds"]):
        for kind in _order(p["kinds"], number):
            cpu, started = time.process_time(), time.perf_counter()
            await loops[kind](p["batch"])
            result[kind]["seconds"].append(time.perf_counter() - started)
            result[kind]["cpu"].append(time.process_time() - cpu)
    return result


def _check(payload: Any) -> None:
    if "status" not in payload:
        raise RuntimeError(f"unexpected answer {payload!r}")


def _headers(key: str) -> Dict[str, str]:
    """The headers our client sends on a status GET, for the baselines to send the same request."""
    return {"Authorization": f"Key {key}", "User-Agent": USER_AGENT, "Content-Type": "application/json"}


def _sync(p: Dict[str, Any]) -> Rounds:
    import requests

    from higgsfield_client import SyncClient

    client = SyncClient(base_url=p["base_url"], api_key=p["key"])
    session = requests.Session()
    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    headers = _headers(p["key"])

    def ours(n: int) -> None:
        for _ in range(n):
            client.status(p["request_id"])

    def raw(n: int) -> None:
        for _ in range(n):
            response = session.get(url, headers=headers)
            response.raise_for_status()
            _check(response.json())

    return _batches({"ours": ours, "raw": raw}, p)


async def _aiohttp(p: Dict[str, Any]) -> Rounds:
    import aiohttp

    from higgsfield_client import AsyncClient

    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    headers = _headers(p["key"])
    async with AsyncClient(
        base_url=p["base_url"], api_key=p["key"], transport="aiohttp"
    ) as client, aiohttp.ClientSession() as session:

        async def ours(n: int) -> None:
            for _ in range(n):
                await client.status(p["request_id"])

        async def raw(n: int) -> None:
            for _ in range(n):
                async with session.get(url, headers=headers) as response:
                    response.raise_for_status()
                    _check(await response.json())

        if "transport" in p["kinds"]:
            from higgsfield_proto import ApiConfig, Credentials, Response, build_status_request
            from higgsfield_transports.aiohttp import AiohttpTransport

            async with AiohttpTransport() as alone:
                config = ApiConfig(credentials=Credentials.from_string(p["key"]), base_url=p["base_url"])
                request = build_status_request(config, p["request_id"])

                async def transport(n: int) -> None:
                    for _ in range(n):
                        answer = await alone.send(request)
                        if not isinstance(answer, Response) or answer.status != 200:
                            raise RuntimeError(f"unexpected {answer!r}")
                        _check(json.loads(answer.body))

                return await _async_batches({"transport": transport, "raw": raw}, p)
        return await _async_batches({"ours": ours, "raw": raw}, p)


async def _trio(p: Dict[str, Any]) -> Rounds:
    from urllib.parse import urlsplit

    import anyio
    import h11

    from higgsfield_client import AsyncClient
    from higgsfield_proto import ApiConfig, Credentials, Response, build_status_request
    from higgsfield_transports.trio import TrioTransport

    from ._bare_h11 import exchange

    parts = urlsplit(p["base_url"])
    assert parts.hostname is not None
    assert parts.port is not None
    target = f"/requests/{p['request_id']}/status"
    headers = [("Host", parts.netloc), *_headers(p["key"]).items()]
    connection = h11.Connection(our_role=h11.CLIENT)

    async with await anyio.connect_tcp(parts.hostname, parts.port) as stream, AsyncClient(
        base_url=p["base_url"], api_key=p["key"], transport="trio"
    ) as client:

        async def ours(n: int) -> None:
            for _ in range(n):
                await client.status(p["request_id"])

        async def raw(n: int) -> None:
            for _ in range(n):
                status, body = await exchange(stream, connection, "GET", target, headers)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}")
                _check(json.loads(body))

        if "transport" in p["kinds"]:
            async with TrioTransport() as alone:
                config = ApiConfig(credentials=Credentials.from_string(p["key"]), base_url=p["base_url"])
                request = build_status_request(config, p["request_id"])

                async def transport(n: int) -> None:
                    for _ in range(n):
                        answer = await alone.send(request)
                        if not isinstance(answer, Response) or answer.status != 200:
                            raise RuntimeError(f"unexpected {answer!r}")
                        _check(json.loads(answer.body))

                return await _async_batches({"transport": transport, "raw": raw}, p)
        if "httpx" not in p["kinds"]:
            return await _async_batches({"ours": ours, "raw": raw}, p)
        import httpx

        url = f"{p['base_url']}/requests/{p['request_id']}/status"
        async with httpx.AsyncClient(headers=_headers(p["key"])) as session:

            async def httpx_loop(n: int) -> None:
                for _ in range(n):
                    response = await session.get(url)
                    response.raise_for_status()
                    _check(response.json())

            return await _async_batches({"ours": ours, "httpx": httpx_loop}, p)


def _httpx_sync(p: Dict[str, Any]) -> Rounds:
    import httpx

    from higgsfield_client import SyncClient
    from higgsfield_transports.httpx import HttpxTransport

    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    with HttpxTransport() as transport, httpx.Client(headers=_headers(p["key"])) as session:
        client = SyncClient(base_url=p["base_url"], api_key=p["key"], transport=transport)

        def ours(n: int) -> None:
            for _ in range(n):
                client.status(p["request_id"])

        def raw(n: int) -> None:
            for _ in range(n):
                response = session.get(url)
                response.raise_for_status()
                _check(response.json())

        return _batches({"ours": ours, "raw": raw}, p)


async def _httpx_async(p: Dict[str, Any]) -> Rounds:
    import httpx

    from higgsfield_client import AsyncClient
    from higgsfield_transports.httpx import AsyncHttpxTransport

    url = f"{p['base_url']}/requests/{p['request_id']}/status"
    transport = AsyncHttpxTransport()
    async with transport, AsyncClient(
        base_url=p["base_url"], api_key=p["key"], transport=transport
    ) as client, httpx.AsyncClient(headers=_headers(p["key"])) as session:

        async def ours(n: int) -> None:
            for _ in range(n):
                await client.status(p["request_id"])

        async def raw(n: int) -> None:
            for _ in range(n):
                response = await session.get(url)
                response.raise_for_status()
                _check(response.json())

        return await _async_batches({"ours": ours, "raw": raw}, p)


def worker(p: Dict[str, Any]) -> Dict[str, Any]:
    """Time alternating batches of sequential status checks, ours and raw, on one transport.

    ``p["otel"]`` (``bench/instructions.py``): ``"absent"`` runs as without the otel extra (its
    import fails), ``"api"`` with OpenTelemetry's API loaded and no tracer provider.
    """
    if p.get("otel") == "absent":
        sys.modules["opentelemetry"] = None  # type: ignore[assignment]
    elif p.get("otel") == "api":
        import opentelemetry.trace  # noqa: F401
    transport = p["transport"]
    if transport == "requests":
        return dict(_sync(p))
    if transport == "httpx":
        return dict(_httpx_sync(p))
    if transport in ("aiohttp", "httpx-asyncio"):
        import asyncio

        return dict(asyncio.run(_aiohttp(p) if transport == "aiohttp" else _httpx_async(p)))
    import trio

    return dict(trio.run(_trio, p))


if __name__ == "__main__":
    worker_main(worker)
