"""Batches run against the emulator over loopback, with each async transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, List

import pytest
from client.harness import ASYNC_TRANSPORTS, Harness

from higgsfield_client.batch import Batch, ItemResult
from higgsfield_client.testing import Emulator

MODEL = "higgsfield-ai/soul/standard"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0.05, run_time=0.1, seed=3) as emu:
        yield emu


@pytest.fixture(params=ASYNC_TRANSPORTS)
def harness(request: pytest.FixtureRequest, emulator: Emulator) -> Harness:
    """aiohttp, the trio transport under trio, and the trio transport under asyncio."""
    return Harness(transport=request.param, emulator=emulator)


def items(count: int, *, marker: str = "", start: int = 1) -> List[dict[str, Any]]:
    """``count`` items with ids ``item-N`` and distinct prompts (``marker`` appended)."""
    return [
        {"id": f"item-{n}", "model": MODEL, "arguments": {"prompt": f"picture {n}{marker}"}}
        for n in range(start, start + count)
    ]


def run_batch(harness: Harness, given: Any, out: Path, **options: Any) -> List[ItemResult]:
    """Run a batch with the harness's client to its end; returns the results in arrival order."""
    client_options = options.pop("client_options", {})

    async def scenario(client: Any) -> List[ItemResult]:
        async with Batch(given, out=out, client=client, **options).stream() as results:
            return [result async for result in results]

    return harness.run(scenario, **client_options)


def results_file(out: Path) -> List[dict[str, Any]]:
    """The lines of ``out/results.jsonl``."""
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def submits(emulator: Emulator) -> List[Any]:
    """The submit requests the emulator received."""
    return [entry for entry in emulator.journal if entry.route == "submit"]
