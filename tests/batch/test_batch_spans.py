"""A batch's spans: the batch's own, one per item under it (with the item id), and each item's job
and downloads under the item; from plain Python (``Batch.run``), asyncio and trio
(``Batch.stream``), started inside a span of the caller's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import anyio
import pytest

from higgsfield_client.batch import Batch, ItemResult
from higgsfield_client.testing import Emulator

from .conftest import MODEL, items

SUBMIT = f"POST /{MODEL} 200"
JOB = ("job completed", ["higgsfield.job.status", "higgsfield.job.status"], [
    (SUBMIT, [], []),
    ("GET /requests/{id}/status 200", [], []),
])  # fmt: skip
DOWNLOAD = ("GET /outputs/{id}/{id} 200", [], [])


@pytest.fixture
def quick() -> Any:
    with Emulator(queue_time=0.0, run_time=0.0, seed=3) as emu:
        yield emu


def _batch(emulator: Emulator, out: Path) -> Batch:
    return Batch(items(5), out=out, api_key=emulator.api_key, base_url=emulator.base_url)


async def _stream(emulator: Emulator, out: Path) -> List[ItemResult]:
    from opentelemetry import trace

    with trace.get_tracer("test").start_as_current_span("user"):
        async with _batch(emulator, out).stream() as results:
            return [result async for result in results]


def _results(runtime: str, emulator: Emulator, out: Path) -> List[ItemResult]:
    if runtime == "sync":
        from opentelemetry import trace

        with trace.get_tracer("test").start_as_current_span("user"):
            return _batch(emulator, out).results()  # the batch runs in a worker thread
    return anyio.run(_stream, emulator, out, backend=runtime)


@pytest.mark.parametrize("runtime", ["sync", "asyncio", "trio"])
def test_each_item_is_a_span_under_the_batch_with_its_job_and_downloads(
    runtime: str, quick: Emulator, tmp_path: Path, spans: Any
) -> None:
    results = _results(runtime, quick, tmp_path)
    assert sorted(result.status for result in results) == ["completed"] * 5
    ((user, user_events, (batch,)),) = spans.tree()
    assert (user, user_events) == ("user", [])
    name, events, children = batch
    assert (name, events) == ("higgsfield.batch", [])
    assert sorted(children) == [(f"item item-{n} completed", [], [JOB, DOWNLOAD]) for n in range(1, 6)]

    (made,) = spans.named("higgsfield.batch")
    assert made.attributes["higgsfield.batch.items"] == 5
    assert made.attributes["higgsfield.batch.completed"] == 5
    assert made.attributes["higgsfield.batch.failed"] == 0
    jobs = spans.named("higgsfield.job")
    by_item = {
        job.attributes["higgsfield.batch.item_id"]: job.attributes["higgsfield.request_id"] for job in jobs
    }
    assert by_item == {result.id: result.request_id for result in results}
    assert {
        span.attributes["higgsfield.batch.item_id"] for span in spans.named("higgsfield.batch.item")
    } == set(by_item)


def test_a_batch_stopped_by_a_refused_account_is_an_error_span(
    quick: Emulator, tmp_path: Path, spans: Any
) -> None:
    from higgsfield_client import AuthenticationError

    batch = Batch(items(2), out=tmp_path, api_key="someone:else", base_url=quick.base_url)
    with pytest.raises(AuthenticationError):
        batch.results()
    (made,) = spans.named("higgsfield.batch")
    assert made.status.status_code.name == "ERROR"
    assert made.attributes["error.type"] == "AuthenticationError"
    assert made.attributes["higgsfield.batch.completed"] == 0
    assert {
        span.attributes["higgsfield.batch.item_status"] for span in spans.named("higgsfield.batch.item")
    } == {"unfinished"}


def test_the_job_of_an_item_a_batch_budget_priced_carries_its_cost(
    quick: Emulator, tmp_path: Path, spans: Any
) -> None:
    from decimal import Decimal

    budget = Decimal("100")
    batch = Batch(items(2), out=tmp_path, api_key=quick.api_key, base_url=quick.base_url, budget=budget)
    assert [result.estimate for result in batch.results()] == ["1.500"] * 2
    jobs = spans.named("higgsfield.job")
    assert [job.attributes["higgsfield.job.cost.credits"] for job in jobs] == [1.5, 1.5]
    assert {job.attributes["higgsfield.job.cost.source"] for job in jobs} == {"estimate"}
