"""Target 4: ``upload_file`` of a 1 GiB file (128 MiB under --quick) with each transport.

The file is written once per run in a temporary directory. Every measurement is its own client
process talking to a fresh emulator process (which streams the PUT to disk). In the client
process a small upload first sets up the session, then the peak RSS is reset (Linux
``clear_refs``) and the big upload runs; growth = peak RSS during the upload minus RSS before.
Baselines, in the same run:

- throughput: the raw library streaming the same file with one PUT to a slot got beforehand
  (``requests.put(data=file)``, ``aiohttp`` ``put(data=file)``, and a hand-written h11-over-anyio
  PUT in 256 KiB writes under trio); ours is timed over the whole ``upload_file`` call, slot
  request included. Raw and ours run back to back, 5 pairs (1 under --quick), in alternating
  order; the figure is the median of the pair ratios (target >= 0.9x raw, issue 29);
- memory: peak RSS growth <= 50 MiB; the official SDK's ``upload_file`` (sync and async; it reads
  the whole file into memory) is measured the same way for comparison. A thread also samples the
  RSS every 50 ms during the big upload (``rss_samples``), for the memory chart of
  ``bench/_charts.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

from ._harness import (
    Context,
    EmulatorProcess,
    Figure,
    RssSampler,
    check,
    failure,
    median,
    proc_status,
    report,
    reset_peak_rss,
    run_official,
    run_worker,
    worker_main,
)

MIB = 1024 * 1024
CONTENT_TYPE = "video/mp4"
MEMORY_TARGET = 50 * MIB
SPEED_TARGET = 0.9
TRANSPORTS = ("requests", "aiohttp", "trio")


def make_file(path: Path, size: int) -> None:
    """Write ``size`` bytes of incompressible data (a 1 MiB random block repeated) to ``path``."""
    block = os.urandom(MIB)
    with path.open("wb") as file:
        for _ in range(size // MIB):
            file.write(block)


def _measure(mode: str, kind: str, paths: Dict[str, str]) -> Dict[str, Any]:
    with EmulatorProcess() as emulator:
        params = {"base_url": emulator.base_url, "key": emulator.api_key, **paths}
        if kind == "official":
            return run_official("upload", {**params, "mode": mode})
        return run_worker("upload", {**params, "transport": mode, "kind": kind})


def run(ctx: Context) -> List[Figure]:
    """Measure each transport against its raw library, and the official SDK's memory."""
    size = ctx.pick(1024, 128) * MIB
    big, small = ctx.scratch / "bench-upload.mp4", ctx.scratch / "bench-warmup.mp4"
    make_file(big, size)
    make_file(small, MIB)
    paths = {"path": str(big), "warmup_path": str(small)}
    figures: List[Figure] = []
    official: Dict[str, Dict[str, Any]] = {}
    for mode in ("sync", "asyncio"):
        try:
            official[mode] = _measure(mode, "official", paths)
        except Exception as exc:
            figures.append(failure(f"upload/official-{mode}", exc))
    for transport in TRANSPORTS:
        runs: Dict[str, List[Dict[str, Any]]] = {"raw": [], "ours": []}
        try:
            for number in range(ctx.pick(5, 1)):
                # Alternating order (raw-ours, ours-raw, ...): the emulator writes each upload
                # to disk, and the page cache's writeback slows whichever run comes later.
                for kind in ("raw", "ours") if number % 2 == 0 else ("ours", "raw"):
                    runs[kind].append(_measure(transport, kind, paths))
        except Exception as exc:
            figures.append(failure(f"upload/{transport}", exc))
            continue
        figures.extend(_figures(transport, size, runs, official))
    return figures


def _figures(
    transport: str, size: int, runs: Dict[str, List[Dict[str, Any]]], official: Dict[str, Dict[str, Any]]
) -> List[Figure]:
    ours_speed = size / median([r["seconds"] for r in runs["ours"]]) / MIB
    raw_speed = size / median([r["seconds"] for r in runs["raw"]]) / MIB
    # Each ours/raw pair ran back to back: the median of the pair ratios resists the drift.
    ratio = median([r["seconds"] / o["seconds"] for o, r in zip(runs["ours"], runs["raw"], strict=True)])
    growth = max(r["rss_growth"] for r in runs["ours"])
    raw_growth = max(r["rss_growth"] for r in runs["raw"])
    mode = "sync" if transport == "requests" else "asyncio"
    theirs = official.get(mode)
    versus = ""
    if theirs is not None:
        their_speed = size / theirs["seconds"] / MIB
        versus = (
            f"; official {'SyncClient' if mode == 'sync' else 'AsyncClient'} peak growth "
            f"{theirs['rss_growth'] / MIB:,.0f} MiB at {their_speed:,.0f} MiB/s"
        )
    label = f"{size // MIB} MiB"
    return [
        report(Figure(
            name=f"upload/{transport}/memory",
            text=(
                f"{label}: peak RSS growth ours {growth / MIB:.1f} MiB (target <= "
                f"{MEMORY_TARGET // MIB} MiB), raw {raw_growth / MIB:.1f} MiB{versus}"
            ),
            met=check(growth, at_most=MEMORY_TARGET),
            data={"ours": growth, "raw": raw_growth, "official": theirs,
                  "ours_samples": runs["ours"][0].get("rss_samples")},
        )),
        report(Figure(
            name=f"upload/{transport}/throughput",
            text=(
                f"{label}: ours {ours_speed:,.0f} MiB/s, raw {raw_speed:,.0f} MiB/s, "
                f"ratio {ratio:.2f} (target >= {SPEED_TARGET})"
            ),
            met=check(ratio, at_least=SPEED_TARGET),
            data={"ours_mib_s": ours_speed, "raw_mib_s": raw_speed, "ratio": ratio},
        )),
    ]


# -- worker ---------------------------------------------------------------------------------


Job = Tuple[str, str, Dict[str, str]]
"""A raw upload: file path, presigned URL, headers to send."""


def _jobs(p: Dict[str, Any]) -> Tuple[Job, Job]:
    """Slots for the warm-up and the big upload, asked for with plain requests beforehand."""
    warm_url, warm_headers = _slot(p)
    url, headers = _slot(p)
    return (p["warmup_path"], warm_url, warm_headers), (p["path"], url, headers)


def _slot(p: Dict[str, Any]) -> Tuple[str, Dict[str, str]]:
    import requests

    response = requests.post(
        f"{p['base_url']}/files/generate-upload-url",
        json={"content_type": CONTENT_TYPE},
        headers={"Authorization": f"Key {p['key']}"},
        timeout=30,
    )
    response.raise_for_status()
    answer = response.json()
    return str(answer["upload_url"]), dict(answer["upload_headers"])


def _timed_upload(upload: Any, warm: Any, big: Any) -> Dict[str, Any]:
    upload(warm)
    baseline = reset_peak_rss()
    started = time.perf_counter()
    with RssSampler(baseline) as rss:
        upload(big)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_growth": proc_status("VmHWM") - baseline, "rss_samples": rss.samples}


async def _timed_upload_async(upload: Any, warm: Any, big: Any) -> Dict[str, Any]:
    await upload(warm)
    baseline = reset_peak_rss()
    started = time.perf_counter()
    with RssSampler(baseline) as rss:
        await upload(big)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rss_growth": proc_status("VmHWM") - baseline, "rss_samples": rss.samples}


def _requests(p: Dict[str, Any]) -> Dict[str, Any]:
    if p["kind"] == "ours":
        from higgsfield_client import SyncClient

        client = SyncClient(base_url=p["base_url"], api_key=p["key"])
        return _timed_upload(client.upload_file, p["warmup_path"], p["path"])
    import requests

    session = requests.Session()

    def put(job: Job) -> None:
        path, url, headers = job
        with open(path, "rb") as file:
            response = session.put(url, data=file, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"PUT answered {response.status_code}: {response.text[:200]}")

    return _timed_upload(put, *_jobs(p))


async def _ours_async(p: Dict[str, Any]) -> Dict[str, Any]:
    from higgsfield_client import AsyncClient

    async with AsyncClient(base_url=p["base_url"], api_key=p["key"], transport=p["transport"]) as client:
        return await _timed_upload_async(client.upload_file, p["warmup_path"], p["path"])


async def _raw_aiohttp(p: Dict[str, Any]) -> Dict[str, Any]:
    import aiohttp

    jobs = _jobs(p)
    async with aiohttp.ClientSession() as session:

        async def put(job: Job) -> None:
            path, url, headers = job
            # aiohttp's own way to stream a file: it reads the object in a thread.
            with open(path, "rb") as file:  # noqa: ASYNC230
                async with session.put(url, data=file, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"PUT answered {response.status}")

        return await _timed_upload_async(put, *jobs)


async def _raw_h11(p: Dict[str, Any]) -> Dict[str, Any]:
    from urllib.parse import urlsplit

    import anyio
    import h11

    jobs = _jobs(p)

    async def put(job: Job) -> None:
        path, url, slot_headers = job
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        headers = [("Host", parts.netloc), ("Content-Length", str(os.stat(path).st_size))]
        headers += list(slot_headers.items())
        connection = h11.Connection(our_role=h11.CLIENT)
        async with await anyio.connect_tcp(parts.hostname, parts.port) as stream:
            target = f"{parts.path}?{parts.query}"
            await stream.send(connection.send(h11.Request(method="PUT", target=target, headers=headers)))
            # Blocking reads of a local file on the loop, as our transport does: a fair baseline.
            with open(path, "rb") as file:  # noqa: ASYNC230
                while chunk := file.read(256 * 1024):
                    await stream.send(connection.send(h11.Data(data=chunk)))
            await stream.send(connection.send(h11.EndOfMessage()))
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive(65536))
                elif isinstance(event, h11.Response):
                    if event.status_code != 200:
                        raise RuntimeError(f"PUT answered {event.status_code}")
                elif isinstance(event, h11.EndOfMessage):
                    return

    return await _timed_upload_async(put, *jobs)


def worker(p: Dict[str, Any]) -> Dict[str, Any]:
    """Upload the file once (after a small warm-up upload); seconds and peak RSS growth."""
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
