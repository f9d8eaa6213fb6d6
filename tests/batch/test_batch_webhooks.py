"""A batch that waits for its jobs by webhook: one status check per item, then the deliveries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest
import trio
from webhooks.servers import receiver
from webhooks.support import SECRET

from higgsfield_client import AsyncClient, PollPolicy
from higgsfield_client.batch import Batch, BatchInputError
from higgsfield_client.testing import Emulator
from higgsfield_client.webhooks import WebhookWaiter

from .conftest import MODEL, items

NEVER = PollPolicy(initial_delay=3600.0, max_delay=3600.0)  # the waiter never polls in a test
FAST = PollPolicy(initial_delay=0.2, max_delay=0.2, jitter=0.0)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # Jobs run long enough that the first status check finds them unfinished.
    with Emulator(queue_time=0.1, run_time=0.4, webhook_secret=SECRET, webhook_retry_delay=0.05) as emu:
        yield emu


def _run(library: str, emulator: Emulator, out: Path, count: int, fallback: PollPolicy) -> list[Any]:
    async def scenario() -> list[Any]:
        async with AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
            waiter = WebhookWaiter(client, fallback=fallback)
            async with receiver(library, waiter) as url:
                batch = Batch(items(count), out=out, client=client, webhook_url=url, waiter=waiter,
                              concurrency=3, download=False)
                async with batch.stream() as results:
                    return [result async for result in results]

    if library == "trio":
        return trio.run(scenario)
    return asyncio.run(scenario())


def _routes(emulator: Emulator, route: str) -> int:
    return sum(1 for entry in emulator.journal if entry.route == route)


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_jobs_end_by_their_webhooks_after_one_status_check_each(
    library: str, emulator: Emulator, tmp_path: Path
) -> None:
    results = _run(library, emulator, tmp_path, 6, NEVER)
    assert sorted(result.id for result in results) == [f"item-{n}" for n in range(1, 7)]
    assert {result.status for result in results} == {"completed"}
    assert all(result.urls for result in results)
    # One check per item, nothing after: the waiter's, at once (it finds a job that ended long
    # ago); the webhooks end the rest.
    assert _routes(emulator, "status") == 6
    assert {job.webhook_url for job in emulator.jobs()} == {emulator.webhook_deliveries[0].url}
    assert len(emulator.webhook_deliveries) == 6


def test_a_lost_webhook_is_found_by_the_waiters_polling(emulator: Emulator, tmp_path: Path) -> None:
    emulator.script_fault("webhook", "drop")
    results = _run("asyncio", emulator, tmp_path, 3, FAST)
    assert {result.status for result in results} == {"completed"}
    assert _routes(emulator, "status") > 3  # the first check of each, and the waiter's for the lost one


def test_a_waiter_needs_the_url_its_receiver_serves_and_the_stream(
    emulator: Emulator, tmp_path: Path
) -> None:
    client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)
    waiter = WebhookWaiter(client)
    with pytest.raises(BatchInputError, match="webhook_url"):
        Batch(items(1), out=tmp_path, model=MODEL, client=client, waiter=waiter)
    batch = Batch(items(1), out=tmp_path, client=client, waiter=waiter, webhook_url="http://x/hook")
    with pytest.raises(BatchInputError, match="stream"):
        next(batch.run())
    assert emulator.journal == []


def test_a_job_ended_by_its_webhook_ends_its_span_with_its_final_status(
    emulator: Emulator, tmp_path: Path, spans: Any
) -> None:
    results = _run("asyncio", emulator, tmp_path, 2, NEVER)
    jobs = spans.named("higgsfield.job")
    assert sorted(job.attributes["higgsfield.request_id"] for job in jobs) == sorted(
        result.request_id for result in results
    )
    for job in jobs:
        # the one status check saw it unfinished; the webhook told its end
        assert job.attributes["higgsfield.job.status"] == "completed"
        assert job.attributes["higgsfield.job.status_checks"] == 1
        assert job.attributes["higgsfield.job.webhook"] is True
