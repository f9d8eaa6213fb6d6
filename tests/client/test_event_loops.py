"""Nothing is bound to one event loop: module-level functions across asyncio.run and trio.run."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import warnings
from typing import Any, List

import anyio
import pytest
import trio

import higgsfield_client
from higgsfield_client import AsyncClient
from higgsfield_client.testing import Emulator

from .harness import FAST_POLL

MODEL = "bytedance/seedream/v4/text-to-image"


def test_module_functions_work_in_two_asyncio_runs_then_a_trio_run(higgsfield_emulator: Emulator) -> None:
    async def job() -> Any:
        controller = await higgsfield_client.submit_async(MODEL, {"prompt": "x"})
        return await higgsfield_client.status_async(controller.request_id)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Unclosed client session" and friends fail the test
        first = asyncio.run(job())
        second = asyncio.run(job())
        third = trio.run(job)
        gc.collect()
    ids = {first.request_id, second.request_id, third.request_id}
    assert len(ids) == 3
    assert len([e for e in higgsfield_emulator.journal if e.route == "submit"]) == 3


def test_one_async_client_serves_several_runs_and_closes_each_transport(emulator: Emulator) -> None:
    client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL)
    connections: List[int] = []

    async def job() -> Any:
        result = await client.subscribe(MODEL, {"prompt": "x"})
        connections.append(emulator.connection_count)
        return result

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        results = [asyncio.run(job()), trio.run(job), anyio.run(job, backend="asyncio")]
        gc.collect()
    assert all(result["status"] == "completed" for result in results)
    # Each run opened its own connection(s), and status polling reused them within a run.
    statuses = [e for e in emulator.journal if e.route == "status"]
    assert len({e.connection_id for e in statuses}) < len(statuses)
    assert connections == sorted(connections)


def test_a_client_can_be_created_outside_any_event_loop(emulator: Emulator) -> None:
    client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)

    async def job() -> Any:
        async with client:
            return await client.estimate(MODEL, {"prompt": "x"})

    assert trio.run(job).credits > 0
    assert asyncio.run(job()).credits > 0


NEVER_CLOSED = r"""
import asyncio, os, sys
import higgsfield_client
from higgsfield_client import AsyncClient, PollPolicy

client = AsyncClient(poll=PollPolicy(initial_delay=0.05, max_delay=0.05))  # never closed


async def main():
    result = await higgsfield_client.subscribe_async(sys.argv[1], {"prompt": "x"})
    print(result.status, (await client.status(result.request_id)).state)

if sys.argv[2] == "asyncio.run":
    asyncio.run(main())
else:  # the older way: a loop run and left open, never told to finalize anything
    asyncio.new_event_loop().run_until_complete(main())
"""


@pytest.mark.parametrize("runs", ["asyncio.run", "run_until_complete"])
def test_async_clients_never_closed_print_nothing_at_interpreter_exit(emulator: Emulator, runs: str) -> None:
    emulator.script_next_job(queue_time=0.0, run_time=0.0)
    environment = {**os.environ, "HIGGSFIELD_BASE_URL": emulator.base_url, "HF_KEY": emulator.api_key}
    ran = subprocess.run(
        [sys.executable, "-c", NEVER_CLOSED, MODEL, runs],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "completed completed\n", "")
