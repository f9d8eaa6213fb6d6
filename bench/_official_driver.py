"""Measurements of the official ``higgsfield-client==0.2.0``, run by its own venv's interpreter.

Run as ``<official venv>/bin/python -I bench/_official_driver.py MODE JSON``; prints one line
``BENCH-RESULT {...}``. It imports nothing from this project (``-I`` keeps the checkout off
``sys.path``), only the official package, so each figure is the official SDK's own.

The official ``status(request_id)`` builds its URL from the module constant
``higgsfield_client.http.client.BASE_URL`` and ignores the client's ``base_url``; the driver
points that constant at the emulator before the first call. Everything else (submit, subscribe,
upload) uses the client's ``base_url`` and the URLs the emulator returns.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import sys
import threading
import time
from typing import Any, Callable, Coroutine, Dict, List, Optional

# The official package, untyped here: our own higgsfield_client (which type checkers see under
# the same name) must not lend it its types.
higgsfield_client: Any = importlib.import_module("higgsfield_client")
official_http: Any = importlib.import_module("higgsfield_client.http.client")

MODEL = "higgsfield-ai/soul/standard"
RESULT_MARK = "BENCH-RESULT "


def _proc_status(field: str) -> int:
    """A ``VmRSS`` / ``VmHWM`` value of this process, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} is not in /proc/self/status")


def _reset_peak() -> int:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs``); returns the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return _proc_status("VmHWM")  # no reset possible: measure from the peak so far
    return _proc_status("VmRSS")


class _RssSampler:
    """RSS growth over ``baseline`` every 50 ms in a thread: [seconds, MiB] (as bench._harness)."""

    def __init__(self, baseline: int) -> None:
        self.samples: List[List[float]] = []
        self._baseline = baseline
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        started = time.perf_counter()
        while True:
            growth = (_proc_status("VmRSS") - self._baseline) / (1024 * 1024)
            self.samples.append([round(time.perf_counter() - started, 3), round(growth, 1)])
            if self._done.wait(0.05):
                return

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()


def _run_async(mode: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    if mode == "trio":
        import trio

        return trio.run(main)
    return asyncio.run(main())


def status(params: Dict[str, Any]) -> Dict[str, Any]:
    """``calls`` sequential ``status(request_id)`` calls on one client; sync, asyncio or trio."""
    official_http.BASE_URL = params["base_url"]
    rid, calls, warmup, mode = params["request_id"], params["calls"], params["warmup"], params["mode"]
    if mode == "sync":
        client = higgsfield_client.SyncClient(base_url=params["base_url"], api_key=params["key"])
        for _ in range(warmup):
            client.status(rid)
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(calls):
            client.status(rid)
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}

    async def main() -> Dict[str, Any]:
        client = higgsfield_client.AsyncClient(base_url=params["base_url"], api_key=params["key"])
        for _ in range(warmup):
            await client.status(rid)
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await client.status(rid)
        return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu}

    return dict(_run_async(mode, main))


def subscribe(params: Dict[str, Any]) -> Dict[str, Any]:
    """``jobs`` concurrent ``subscribe`` calls under asyncio; wall time and process CPU time.

    A call that raises (at high concurrency httpx's pool can time out) is counted, by exception
    type, and the others go on: the CPU time covers every call.
    """
    jobs = params["jobs"]

    async def main() -> Dict[str, Any]:
        client = higgsfield_client.AsyncClient(base_url=params["base_url"], api_key=params["key"])
        cpu, started = time.process_time(), time.perf_counter()
        results = await asyncio.gather(
            *(client.subscribe(MODEL, {"prompt": f"bench job {i}"}) for i in range(jobs)),
            return_exceptions=True,
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        done = sum(1 for r in results if isinstance(r, dict) and r.get("status") == "completed")
        failed: Dict[str, int] = {}
        for result in results:
            if isinstance(result, BaseException):
                name = type(result).__name__
                failed[name] = failed.get(name, 0) + 1
        return {"wall": wall, "cpu": cpu, "completed": done, "failed": failed}

    return dict(asyncio.run(main()))


def upload(params: Dict[str, Any]) -> Dict[str, Any]:
    """``upload_file`` of ``path`` (sync or asyncio); time and peak RSS growth."""
    mode, path = params["mode"], params["path"]
    if mode == "sync":
        client = higgsfield_client.SyncClient(base_url=params["base_url"], api_key=params["key"])
        client.upload_file(params["warmup_path"])
        baseline = _reset_peak()
        started = time.perf_counter()
        with _RssSampler(baseline) as rss:
            client.upload_file(path)
        seconds = time.perf_counter() - started
        growth = _proc_status("VmHWM") - baseline
        return {"seconds": seconds, "rss_growth": growth, "rss_samples": rss.samples}

    async def main() -> Dict[str, Any]:
        client = higgsfield_client.AsyncClient(base_url=params["base_url"], api_key=params["key"])
        await client.upload_file(params["warmup_path"])
        baseline = _reset_peak()
        started = time.perf_counter()
        with _RssSampler(baseline) as rss:
            await client.upload_file(path)
        seconds = time.perf_counter() - started
        growth = _proc_status("VmHWM") - baseline
        return {"seconds": seconds, "rss_growth": growth, "rss_samples": rss.samples}

    return dict(asyncio.run(main()))


def polling(params: Dict[str, Any]) -> Dict[str, Any]:
    """Concurrent ``subscribe`` calls on several emulators; when each was accepted and returned."""

    async def one(client: Any, label: str, index: int) -> Dict[str, Any]:
        accepted: List[float] = []
        request_ids: List[str] = []

        def on_enqueue(request_id: str) -> None:
            accepted.append(time.time())
            request_ids.append(request_id)

        await client.subscribe(MODEL, {"prompt": f"{label} {index}"}, on_enqueue=on_enqueue)
        return {
            "label": label,
            "request_id": request_ids[0],
            "accepted_at": accepted[0],
            "returned_at": time.time(),
        }

    async def main() -> List[Dict[str, Any]]:
        calls: List[Coroutine[Any, Any, Dict[str, Any]]] = []
        for target in params["targets"]:
            client = higgsfield_client.AsyncClient(base_url=target["base_url"], api_key=target["key"])
            calls.extend(one(client, target["label"], i) for i in range(target["jobs"]))
        return list(await asyncio.gather(*calls))

    return {"jobs": asyncio.run(main())}


def connections(params: Dict[str, Any]) -> Dict[str, Any]:
    """``calls`` sequential status calls, then one subscribe, on one client (sync or asyncio)."""
    official_http.BASE_URL = params["base_url"]
    rid, calls = params["request_id"], params["calls"]
    if params["mode"] == "sync":
        client = higgsfield_client.SyncClient(base_url=params["base_url"], api_key=params["key"])
        for _ in range(calls):
            client.status(rid)
        client.subscribe(MODEL, {"prompt": "connections"})
        return {}

    async def main() -> None:
        client = higgsfield_client.AsyncClient(base_url=params["base_url"], api_key=params["key"])
        for _ in range(calls):
            await client.status(rid)
        await client.subscribe(MODEL, {"prompt": "connections"})

    asyncio.run(main())
    return {}


MODES: Dict[str, Callable[[Dict[str, Any]], Dict[str, Any]]] = {
    "status": status,
    "subscribe": subscribe,
    "upload": upload,
    "polling": polling,
    "connections": connections,
}


def main(argv: Optional[List[str]] = None) -> int:
    """Run one mode and print its result line."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in MODES:
        print(f"usage: _official_driver.py {{{','.join(MODES)}}} JSON", file=sys.stderr)
        return 2
    result = MODES[args[0]](json.loads(args[1]))
    result["package"] = higgsfield_client.__file__
    print(RESULT_MARK + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a Ctrl-C of the benchmark ends this run quietly
    sys.exit(main())
