"""Download throughput: a 512 MiB output (64 MiB under --quick) streamed to disk by each transport.

The file is written once per run in a temporary directory and put into one emulator process by a
presigned PUT; the emulator serves it back from disk (``GET /uploads/NAME``, an
``aiohttp.web.FileResponse``, so sendfile), the way a CDN serves an output. Every measurement is
its own client process: a 1 MiB warm-up download first opens the connection, then the peak RSS
is reset (Linux ``clear_refs``) and the big download runs; growth = peak RSS during the download
minus RSS before. Each downloaded file is checked for its size and removed.

- ours: ``SyncClient.download`` (requests transport), ``AsyncClient.download`` with the aiohttp
  transport under asyncio, and with the trio transport under trio;
- raw: the library streaming the same URL to a file in 256 KiB reads: ``requests`` with
  ``iter_content(256 KiB)``, ``aiohttp`` with ``content.iter_chunked(256 KiB)``, and an
  h11-over-anyio GET under trio (``receive(256 KiB)``);
- ``curl -s -o FILE URL``, run by the suite itself next to each pair, as the near-limit.

Raw and ours run back to back, 5 pairs (1 under --quick), in alternating order; the figure is the
median of the pair ratios (target >= 0.9x raw), and the RSS growth is the largest of ours (target
<= 32 MiB).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from ._harness import (
    Context,
    EmulatorProcess,
    Figure,
    check,
    failure,
    median,
    proc_status,
    report,
    reset_peak_rss,
    run_worker,
    worker_main,
)
from .upload import MIB, make_file

SPEED_TARGET = 0.9
MEMORY_TARGET = 32 * MIB
CHUNK = 256 * 1024
TRANSPORTS = ("requests", "aiohttp", "trio")


def _put(emulator: EmulatorProcess, path: Path) -> str:
    """Upload ``path`` with plain requests; returns the URL the emulator serves it at."""
    import requests

    answer = requests.post(
        f"{emulator.base_url}/files/generate-upload-url",
        json={"content_type": "video/mp4"},
        headers={"Authorization": f"Key {emulator.api_key}"},
        timeout=30,
    )
    answer.raise_for_status()
    slot = answer.json()
    with path.open("rb") as file:
        put = requests.put(slot["upload_url"], data=file, headers=dict(slot["upload_headers"]), timeout=600)
    put.raise_for_status()
    return str(slot["public_url"])


def _curl(url: str, target: Path, size: int) -> float:
    started = time.perf_counter()
    subprocess.run(["curl", "-s", "-f", "-o", str(target), url], check=True, timeout=600)
    seconds = time.perf_counter() - started
    if target.stat().st_size != size:
        raise RuntimeError(f"curl wrote {target.stat().st_size} bytes, not {size}")
    target.unlink()
    return seconds


def run(ctx: Context) -> List[Figure]:
    """Measure each transport against its raw library and curl, in one emulator process."""
    size = ctx.pick(512, 64) * MIB
    big, small = ctx.scratch / "bench-download.mp4", ctx.scratch / "bench-download-warmup.mp4"
    make_file(big, size)
    make_file(small, MIB)
    figures: List[Figure] = []
    with EmulatorProcess() as emulator:
        url = _put(emulator, big)
        params: Dict[str, Any] = {
            "url": url, "warmup_url": _put(emulator, small), "size": size,
            "base_url": emulator.base_url, "key": emulator.api_key,
            "target": str(ctx.scratch / "downloaded.mp4"),
        }
        for transport in TRANSPORTS:
            runs: Dict[str, List[Dict[str, Any]]] = {"raw": [], "ours": []}
            curl: List[float] = []
            try:
                for number in range(ctx.pick(5, 1)):
                    # Alternating order (raw-ours, ours-raw, ...), curl between them.
                    first, second = ("raw", "ours") if number % 2 == 0 else ("ours", "raw")
                    for kind in (first, second):
                        if kind == second:
                            curl.append(_curl(url, ctx.scratch / "curl.mp4", size))
                        worker_params = {**params, "transport": transport, "kind": kind}
                        runs[kind].append(run_worker("download", worker_params))
            except Exception as exc:
                figures.append(failure(f"download/{transport}", exc))
                continue
            figures.extend(_figures(transport, size, runs, curl))
    return figures


def _figures(
    transport: str, size: int, runs: Dict[str, List[Dict[str, Any]]], curl: List[float]
) -> List[Figure]:
    ours_speed = size / median([r["seconds"] for r in runs["ours"]]) / MIB
    raw_speed = size / median([r["seconds"] for r in runs["raw"]]) / MIB
    curl_speed = size / median(curl) / MIB
    ratio = median([r["seconds"] / o["seconds"] for o, r in zip(runs["ours"], runs["raw"], strict=True)])
    growth = max(r["rss_growth"] for r in runs["ours"])
    raw_growth = max(r["rss_growth"] for r in runs["raw"])
    cpu = median([r["cpu"] for r in runs["ours"]]) / median([r["cpu"] for r in runs["raw"]])
    label = f"{size // MIB} MiB"
    return [
        report(Figure(
            name=f"download/{transport}/throughput",
            text=(
                f"{label}: ours {ours_speed:,.0f} MiB/s, raw {raw_speed:,.0f} MiB/s, curl "
                f"{curl_speed:,.0f} MiB/s: ratio {ratio:.2f} (target >= {SPEED_TARGET}); client CPU "
                f"ours/raw {cpu:.2f}"
            ),
            met=check(ratio, at_least=SPEED_TARGET),
            data={"ours_mib_s": ours_speed, "raw_mib_s": raw_speed, "curl_mib_s": curl_speed,
                  "ratio": ratio, "cpu_ratio": cpu},
        )),
        report(Figure(
            name=f"download/{transport}/memory",
            text=(
                f"{label}: peak RSS growth ours {growth / MIB:.1f} MiB (target <= "
                f"{MEMORY_TARGET // MIB} MiB), raw {raw_growth / MIB:.1f} MiB"
            ),
            met=check(growth, at_most=MEMORY_TARGET),
            data={"ours": growth, "raw": raw_growth},
        )),
    ]


# -- worker ---------------------------------------------------------------------------------


def _done(p: Dict[str, Any], started: Tuple[float, float], baseline: int) -> Dict[str, Any]:
    seconds, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
    growth = proc_status("VmHWM") - baseline
    target = Path(p["target"])
    written = target.stat().st_size
    target.unlink()
    if written != p["size"]:
        raise RuntimeError(f"{written} bytes written, not {p['size']}")
    return {"seconds": seconds, "cpu": cpu, "rss_growth": growth}


def _start() -> Tuple[Tuple[float, float], int]:
    baseline = reset_peak_rss()
    return (time.perf_counter(), time.process_time()), baseline


def _requests(p: Dict[str, Any]) -> Dict[str, Any]:
    if p["kind"] == "ours":
        from higgsfield_client import SyncClient

        with SyncClient(base_url=p["base_url"], api_key=p["key"]) as client:
            client.download(p["warmup_url"], p["target"], overwrite=True)
            started, baseline = _start()
            client.download(p["url"], p["target"], overwrite=True)
            return _done(p, started, baseline)
    import requests

    with requests.Session() as session:

        def get(url: str) -> None:
            with session.get(url, stream=True) as response, open(p["target"], "wb") as file:
                response.raise_for_status()
                for chunk in response.iter_content(CHUNK):
                    file.write(chunk)

        get(p["warmup_url"])
        started, baseline = _start()
        get(p["url"])
        return _done(p, started, baseline)


async def _ours_async(p: Dict[str, Any]) -> Dict[str, Any]:
    from higgsfield_client import AsyncClient

    async with AsyncClient(base_url=p["base_url"], api_key=p["key"], transport=p["transport"]) as client:
        await client.download(p["warmup_url"], p["target"], overwrite=True)
        started, baseline = _start()
        await client.download(p["url"], p["target"], overwrite=True)
        return _done(p, started, baseline)


async def _raw_aiohttp(p: Dict[str, Any]) -> Dict[str, Any]:
    import aiohttp

    async with aiohttp.ClientSession() as session:

        async def get(url: str) -> None:
            # Blocking writes of a local file on the loop, as our transport does: a fair baseline.
            async with session.get(url) as response:
                response.raise_for_status()
                with open(p["target"], "wb") as file:  # noqa: ASYNC230
                    async for chunk in response.content.iter_chunked(CHUNK):
                        file.write(chunk)

        await get(p["warmup_url"])
        started, baseline = _start()
        await get(p["url"])
        return _done(p, started, baseline)


async def _raw_h11(p: Dict[str, Any]) -> Dict[str, Any]:
    from urllib.parse import urlsplit

    import anyio
    import h11

    parts = urlsplit(p["url"])
    assert parts.hostname is not None
    assert parts.port is not None
    async with await anyio.connect_tcp(parts.hostname, parts.port) as stream:
        connection = h11.Connection(our_role=h11.CLIENT)

        async def get(url: str) -> None:
            target = urlsplit(url)
            request = h11.Request(method="GET", target=target.path, headers=[("Host", parts.netloc)])
            await stream.send(connection.send(request) + connection.send(h11.EndOfMessage()))
            with open(p["target"], "wb") as file:  # noqa: ASYNC230
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        connection.receive_data(await stream.receive(CHUNK))
                    elif isinstance(event, h11.Response):
                        if event.status_code != 200:
                            raise RuntimeError(f"GET answered {event.status_code}")
                    elif isinstance(event, h11.Data):
                        file.write(event.data)
                    elif isinstance(event, h11.EndOfMessage):
                        connection.start_next_cycle()
                        return

        await get(p["warmup_url"])
        started, baseline = _start()
        await get(p["url"])
        return _done(p, started, baseline)


def worker(p: Dict[str, Any]) -> Dict[str, Any]:
    """Download the big file once (after a small warm-up); seconds, CPU and peak RSS growth."""
    transport, kind = p["transport"], p["kind"]
    if transport == "requests":
        return _requests(p)
    if transport == "aiohttp":
        import asyncio

        return dict(asyncio.run(_ours_async(p) if kind == "ours" else _raw_aiohttp(p)))
    import trio

    return dict(trio.run(_ours_async if kind == "ours" else _raw_h11, p))


if __name__ == "__main__":
    worker_main(worker)
