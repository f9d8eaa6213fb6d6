"""Money over stdio: the per-call cap, the server's budget, confirmations, unknown prices.

The server of this module: ``--max-credits-per-call 5 --budget 1000 --confirm-above 2 --retries 0``
(no retry, so that one scripted estimate fault makes the API's estimate unavailable); the budget
spent to its end has a server of its own. Prices are the emulator's: 1.5 credits per image of
``higgsfield-ai/soul/standard``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, AsyncIterator, Dict

import pytest
from mcp import Client
from mcp_support import FAST, MODEL, call, connected, submits

from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio

UNPRICED = "higgsfield-ai/popcorn/auto"  # the catalog has no price for it


@pytest.fixture(scope="module")
async def client(emulator: Emulator) -> AsyncIterator[Client]:
    options = ["--max-credits-per-call", "5", "--budget", "1000", "--confirm-above", "2", "--retries", "0"]
    async with connected(emulator, *options, *FAST) as client:
        yield client


def images(count: int, prompt: str = "a lighthouse") -> Dict[str, Any]:
    return {"model_id": MODEL, "arguments": {"prompt": prompt, "num_images": count}}


def spent(document: Dict[str, Any]) -> Decimal:
    return Decimal(document["spending"]["spent_credits"])


async def test_a_generation_under_every_limit_goes_through_and_is_counted(client: Client) -> None:
    _, before = await call(client, "estimate", images(1))
    failed, document = await call(client, "generate", images(1))
    assert not failed, document
    assert document["status"] == "queued"
    assert document["price"]["credits"] == "1.500"
    assert spent(document) == spent(before) + Decimal("1.5")
    assert document["spending"]["budget_credits"] == "1000"
    assert document["spending"]["max_credits_per_call"] == "5"


async def test_above_the_threshold_generate_asks_for_confirmation_and_submits_nothing(
    client: Client, emulator: Emulator
) -> None:
    before = submits(emulator)
    failed, asked = await call(client, "generate", images(2))
    assert not failed
    assert asked["status"] == "confirmation_required"
    assert asked["price"]["credits"] == "3.000"
    assert asked["confirmation_token"].startswith("confirm-")
    assert submits(emulator) == before


async def test_the_token_lets_the_same_call_through_once(client: Client, emulator: Emulator) -> None:
    _, asked = await call(client, "generate", images(2))
    token = asked["confirmation_token"]
    jobs = len(emulator.jobs())
    failed, done = await call(client, "generate", {**images(2), "confirmation_token": token})
    assert not failed, done
    assert done["status"] == "queued"
    assert spent(done) == spent(asked) + 3
    assert len(emulator.jobs()) == jobs + 1
    failed, again = await call(client, "generate", {**images(2), "confirmation_token": token})
    assert failed
    assert again["error"]["type"] == "confirmation_invalid"
    assert len(emulator.jobs()) == jobs + 1


async def test_the_token_is_bound_to_the_exact_arguments(client: Client, emulator: Emulator) -> None:
    _, asked = await call(client, "generate", images(2, "a fox"))
    token = asked["confirmation_token"]
    before = submits(emulator)
    failed, refused = await call(client, "generate", {**images(2, "a wolf"), "confirmation_token": token})
    assert failed
    assert refused["error"]["type"] == "confirmation_invalid"
    assert "other arguments" in refused["error"]["message"]
    # Spent by the mismatch: not even the right arguments get through with it now.
    failed, refused = await call(client, "generate", {**images(2, "a fox"), "confirmation_token": token})
    assert (failed, refused["error"]["type"]) == (True, "confirmation_invalid")
    assert submits(emulator) == before


async def test_a_generation_over_the_per_call_limit_is_refused(client: Client, emulator: Emulator) -> None:
    before = submits(emulator)
    failed, refused = await call(client, "generate", images(4))
    assert failed
    error = refused["error"]
    assert error["type"] == "over_per_call_limit"
    assert error["price"]["credits"] == "6.000"
    assert error["max_credits_per_call"] == "5"
    assert submits(emulator) == before


async def test_the_budget_holds_for_the_servers_life_and_a_retry_is_not_charged_again(
    emulator: Emulator,
) -> None:
    async with connected(emulator, "--budget", "3", *FAST) as client:
        for prompt in ("the first", "the last"):
            failed, document = await call(client, "generate", images(1, prompt))
            assert not failed, document
        spending = document["spending"]
        assert (spending["spent_credits"], spending["in_flight_credits"]) == ("3.000", "3.000")
        assert (spending["budget_credits"], spending["remaining_credits"]) == ("3", "0.000")
        before = submits(emulator)
        failed, refused = await call(client, "generate", images(1, "one too many"))
        assert failed
        assert refused["error"]["type"] == "budget_exceeded"
        assert refused["error"]["remaining_credits"] == "0.000"
        assert "budget of 3 credits (--budget)" in refused["error"]["message"]
        assert submits(emulator) == before
        # The budget is spent, but the same call with the key of a job made already is no new bill.
        jobs = emulator.jobs()
        last = next(job for job in jobs if job.arguments.get("prompt") == "the last")
        failed, again = await call(
            client, "generate", {**images(1, "the last"), "idempotency_key": last.idempotency_key}
        )
        assert not failed, again
        assert again["request_id"] == last.request_id
        assert "not billed again" in again["note"]
        assert again["spending"]["spent_credits"] == "3.000"
        assert len(emulator.jobs()) == len(jobs)


async def test_estimate_is_free(client: Client, emulator: Emulator) -> None:
    jobs = len(emulator.jobs())
    _, before = await call(client, "estimate", images(3))
    failed, document = await call(client, "estimate", images(3))
    assert not failed
    assert document["price"] == {"credits": "4.500", "usd": "0.281", "source": "api"}
    assert spent(document) == spent(before)
    assert len(emulator.jobs()) == jobs


async def test_without_the_apis_estimate_the_catalog_price_stands_in(
    client: Client, emulator: Emulator
) -> None:
    emulator.script_fault("estimate", "500")
    failed, document = await call(client, "estimate", images(1, "a price not asked before"))
    assert not failed, document
    assert Decimal(document["price"]["credits"]) == Decimal("1.5")
    assert document["price"]["source"].startswith("catalog")


async def test_an_unknown_price_is_refused_while_limits_are_set(client: Client, emulator: Emulator) -> None:
    emulator.script_fault("estimate", "500")
    before = submits(emulator)
    failed, refused = await call(client, "generate", {"model_id": UNPRICED, "arguments": {"prompt": "x"}})
    assert failed
    assert refused["error"]["type"] == "price_unknown"
    assert submits(emulator) == before
