"""Budgets in the clients, end to end against the emulator's account with every transport: jobs
priced before they are sent, refused past a cap, charged and refunded as the API bills them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, List

import pytest

from higgsfield_client import (
    Budget,
    BudgetExceededError,
    HiggsfieldClientError,
    InvalidArgumentError,
    JobNSFWError,
)
from higgsfield_client.testing import Emulator

from .harness import FAST_RETRY, Harness

SOUL = "higgsfield-ai/soul/standard"  # 1.5 credits an image in the emulator's catalog
KLING = "kling-video/v2.1/pro/image-to-video"  # 10 credits per 5 s
PRICE = Decimal("1.500")


def routes(emulator: Emulator, route: str) -> List[Any]:
    return [entry for entry in emulator.journal if entry.route == route]


def emulator_totals(emulator: Emulator) -> tuple[Decimal, Decimal]:
    return emulator.charged, emulator.refunded


def test_a_budget_prices_each_job_by_the_accounts_estimate_once_per_body(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        for _ in range(3):
            await client.subscribe(SOUL, {"prompt": "a lake"})
        await client.subscribe(SOUL, {"prompt": "a lake", "num_images": 2})
        return client.spent

    spent = harness.run(scenario, budget=Budget(max_credits=100))
    assert len(routes(harness.emulator, "estimate")) == 2  # one per distinct body
    assert spent.charged.credits == PRICE * 5
    assert spent.charged.usd == Decimal("0.094") * 3 + Decimal("0.188")
    assert spent.in_flight.credits == 0
    assert spent.jobs == 4
    assert spent.by_source == {"estimate": 4}
    assert spent.by_model[SOUL].charged.credits == PRICE * 5
    assert emulator_totals(harness.emulator) == (PRICE * 5, Decimal(0))


def test_a_job_past_the_cap_is_refused_before_anything_is_sent(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        await client.submit(SOUL, {"prompt": "one"})
        await client.submit(SOUL, {"prompt": "two"})
        with pytest.raises(BudgetExceededError) as refused:
            await client.submit(SOUL, {"prompt": "three"})
        assert isinstance(refused.value, HiggsfieldClientError)
        assert "nothing was sent" in str(refused.value)
        assert refused.value.price is not None
        assert refused.value.price.amount.credits == PRICE
        return client.spent

    spent = harness.run(scenario, budget=Budget(max_credits=Decimal("4")))
    assert spent.in_flight.credits == PRICE * 2
    assert len(routes(harness.emulator, "submit")) == 2


def test_failed_and_nsfw_jobs_are_refunded_completed_ones_charged(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        await client.subscribe(SOUL, {"prompt": "ok"})
        failed = await client.subscribe(SOUL, {"prompt": "x [fail]"})  # returned, as officially
        assert failed["status"] == "failed"
        with pytest.raises(JobNSFWError):
            await client.subscribe(SOUL, {"prompt": "x [nsfw]"}, raise_on_failure=True)
        return client.spent

    spent = harness.run(scenario, budget=Budget(max_credits=4))  # room for two at once, not three
    assert spent.charged.credits == PRICE
    assert spent.refunded.credits == PRICE * 2
    assert spent.committed.credits == PRICE
    assert emulator_totals(harness.emulator) == (PRICE, PRICE * 2)


def test_a_job_canceled_before_it_started_is_refunded(harness: Harness) -> None:
    harness.emulator.script_next_job(queue_time=5.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(SOUL, {"prompt": "slow"})
        assert client.spent.in_flight.credits == PRICE
        await controller.cancel()
        return client.spent

    spent = harness.run(scenario, budget=Budget(max_credits=10))
    assert spent.refunded.credits == PRICE
    assert spent.in_flight.credits == 0
    assert emulator_totals(harness.emulator) == (Decimal(0), PRICE)


def test_a_submit_repeated_with_its_idempotency_key_is_one_job_counted_once(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        first = await client.submit(SOUL, {"prompt": "a lake"}, idempotency_key="lake-1")
        again = await client.submit(SOUL, {"prompt": "a lake"}, idempotency_key="lake-1")
        assert again.request_id == first.request_id
        assert client.spent.in_flight.credits == PRICE
        await again.get()
        after_its_end = await client.submit(SOUL, {"prompt": "a lake"}, idempotency_key="lake-1")
        assert after_its_end.request_id == first.request_id
        return client.spent

    # Room for two: the repeat is priced before the answer shows that it is the same job.
    spent = harness.run(scenario, budget=Budget(max_credits=4))
    assert spent.charged.credits == PRICE
    assert spent.in_flight.credits == 0
    assert spent.refunded.credits == 0
    assert spent.jobs == 1
    assert spent.by_source == {"estimate": 1}
    assert len(routes(harness.emulator, "submit")) == 3
    assert emulator_totals(harness.emulator) == (PRICE, Decimal(0))


def test_the_catalog_prices_a_job_when_the_estimate_cannot_be_had(harness: Harness) -> None:
    harness.emulator.script_fault("estimate", "500", 10)

    async def scenario(client: Any) -> Any:
        await client.subscribe(KLING, {"prompt": "p", "image_url": "https://x/y.png", "duration": 10})
        return client.spent

    spent = harness.run(scenario, budget=Budget(max_credits=100), retry=FAST_RETRY)
    assert spent.by_source == {"catalog": 1}
    assert spent.charged.credits == Decimal("20.000")  # 10 credits per 5 s in the catalog


def test_a_block_has_a_budget_of_its_own(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        await client.subscribe(SOUL, {"prompt": "before"})
        with client.budget(max_credits=2) as block:
            await client.subscribe(SOUL, {"prompt": "inside"})
            with pytest.raises(BudgetExceededError):
                await client.submit(SOUL, {"prompt": "one too many"})
        await client.subscribe(SOUL, {"prompt": "after"})  # the block is closed
        return block.spent, client.spent

    block, spent = harness.run(scenario, budget=Budget(max_credits=10))
    assert block.charged.credits == PRICE
    assert block.jobs == 1
    assert spent.charged.credits == PRICE * 3


def test_a_block_alone_prices_and_counts_and_async_with_works(async_harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        await client.subscribe(SOUL, {"prompt": "unpriced"})
        assert client.spent.jobs == 0
        async with client.budget(max_usd="0.1") as block:
            await client.subscribe(SOUL, {"prompt": "priced"})
            with pytest.raises(BudgetExceededError, match=r"\$0.1"):
                await client.submit(SOUL, {"prompt": "past a tenth of a dollar"})
        return block.spent, client.spent

    block, spent = async_harness.run(scenario)
    assert block.charged.usd == Decimal("0.094")
    assert spent.jobs == 1
    # Each job priced under the block was estimated first, the refused one too; the first, made
    # while no budget applied, was not.
    assert len(routes(async_harness.emulator, "estimate")) == 2
    assert len(routes(async_harness.emulator, "submit")) == 2


def test_bad_budgets_are_refused() -> None:
    with pytest.raises(InvalidArgumentError):
        Budget()
    for bad in (-1, "x", float("nan"), True):
        with pytest.raises(InvalidArgumentError):
            Budget(max_credits=bad)  # type: ignore[arg-type]
    assert Budget(max_credits=0.1).max_credits == Decimal("0.1")  # type: ignore[arg-type]
