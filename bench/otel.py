"""Observability's cost when nothing observes: ``status()`` CPU per call with OpenTelemetry's API
loaded and no tracer provider, against the same calls as without the ``otel`` extra.

A worker process makes sequential ``status()`` calls on one connection, in alternating batches of
three kinds: ``absent`` (``opentelemetry.trace`` is taken out of ``sys.modules`` for the batch,
so the client finds what it finds when the extra is not installed), ``api`` (the API loaded, no
tracer provider: what a program that imports an instrumented library but configures nothing
pays) and ``traced`` (the SDK's ``TracerProvider`` with no span processor: spans are made and
dropped, the cost of tracing itself). The figure is the median of the per-batch CPU ratios,
``api`` over ``absent`` (target <= 1.02), pooled over the worker processes, for the requests
transport (sync), aiohttp (asyncio) and the trio transport (trio); ``traced`` over ``absent`` is
printed for the record. The same comparison in instructions, steadier on a shared machine, is
part of ``python -m bench instructions`` (``instructions/otel-*``).
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Awaitable, Callable, Dict, Iterator, List

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
from .status import _async_batches, _batches

TARGET = 1.02
TRANSPORTS = ("requests", "aiohttp", "trio")
KINDS = ["absent", "api", "traced"]


def run(ctx: Context) -> List[Figure]:
    """Measure each transport's three kinds in alternating batches."""
    figures: List[Figure] = []
    with EmulatorProcess() as emulator:
        request_id = create_job(emulator)
        for transport in TRANSPORTS:
            pooled: Dict[str, List[float]] = {kind: [] for kind in KINDS}
            try:
                for _ in range(ctx.pick(3, 2)):
                    params = {
                        "kinds": KINDS, "transport": transport, "base_url": emulator.base_url,
                        "key": emulator.api_key, "request_id": request_id, "batch": ctx.pick(200, 100),
                        "rounds": ctx.pick(16, 6),
                    }  # fmt: skip
                    result = run_worker("otel", params)
                    for kind in KINDS:
                        pooled[kind].extend(result[kind]["cpu"])
            except Exception as exc:
                figures.append(failure(f"otel/{transport}", exc))
                continue
            figures.append(report(_figure(transport, pooled, params["batch"])))
    return figures


def _figure(transport: str, pooled: Dict[str, List[float]], batch: int) -> Figure:
    absent, api, traced = (pooled[kind] for kind in KINDS)
    ratio = median([a / b for a, b in zip(api, absent, strict=True)])
    traced_ratio = median([t / b for t, b in zip(traced, absent, strict=True)])
    cpu = {kind: median(pooled[kind]) / batch for kind in KINDS}
    return Figure(
        name=f"otel/{transport}",
        text=(
            f"client CPU per status() call: without the extra {cpu['absent'] * 1e6:.0f} us, API loaded "
            f"and no provider {cpu['api'] * 1e6:.0f} us: ratio {ratio:.3f} (target <= {TARGET}); "
            f"traced (SDK provider, no processor) {cpu['traced'] * 1e6:.0f} us: ratio {traced_ratio:.2f}"
        ),
        met=check(ratio, at_most=TARGET),
        data={"ratio": ratio, "traced_ratio": traced_ratio, "batches": len(api), **cpu},
    )


# -- worker: alternating batches in one process ----------------------------------------------


@contextlib.contextmanager
def _setting(kind: str) -> Iterator[None]:
    """Run the block as the client would run in ``kind``'s setting (see the module docstring)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    global _provider
    _provider = _provider or TracerProvider()  # no span processor: spans are made, then dropped
    # The bench's own switch, not an API: the global provider is set for the batch only.
    trace._TRACER_PROVIDER = _provider if kind == "traced" else None  # type: ignore[attr-defined]
    if kind == "absent":
        sys.modules.pop("opentelemetry.trace")
    try:
        yield
    finally:
        sys.modules["opentelemetry.trace"] = trace


_provider: Any = None


def _worker(p: Dict[str, Any]) -> Dict[str, Any]:
    from higgsfield_client import AsyncClient, SyncClient

    if p["transport"] == "requests":
        client = SyncClient(base_url=p["base_url"], api_key=p["key"])

        def calls(kind: str) -> Callable[[int], None]:
            def loop(n: int) -> None:
                with _setting(kind):
                    for _ in range(n):
                        client.status(p["request_id"])

            return loop

        return dict(_batches({kind: calls(kind) for kind in KINDS}, p))

    async def main() -> Dict[str, Any]:
        async with AsyncClient(base_url=p["base_url"], api_key=p["key"], transport=p["transport"]) as client:

            def calls(kind: str) -> Callable[[int], Awaitable[None]]:
                async def loop(n: int) -> None:
                    with _setting(kind):
                        for _ in range(n):
                            await client.status(p["request_id"])

                return loop

            return dict(await _async_batches({kind: calls(kind) for kind in KINDS}, p))

    if p["transport"] == "trio":
        import trio

        return dict(trio.run(main))
    import asyncio

    return asyncio.run(main())


if __name__ == "__main__":
    worker_main(_worker)
