"""200 concurrent submits against a budget never overspend, under asyncio, trio and threads, and
the client's ledger ends equal to the emulator's account."""

from __future__ import annotations

import concurrent.futures
from collections import Counter
from decimal import Decimal
from typing import Any, Callable, Iterator, List

import anyio
import pytest

from higgsfield_client import (
    AsyncClient,
    Budget,
    BudgetExceededError,
    InsufficientCreditsError,
    JobFailedError,
    Spent,
    SyncClient,
)
from higgsfield_client.testing import Emulator

from .harness import ASYNC_TRANSPORTS, FAST_POLL, FAST_RETRY

SOUL = "higgsfield-ai/soul/standard"  # 1.500 credits an image
CAP = Decimal("45")  # 30 jobs in flight at once
JOBS = 200


@pytest.fixture
def account() -> Iterator[Emulator]:
    # The emulator's balance is the cap too: a client that overspent would meet 403 answers.
    with Emulator(queue_time=0.05, run_time=0.1, seed=11, balance=CAP) as emulator:
        yield emulator


def prompt(n: int) -> str:
    return f"picture {n}" + (" [fail]" if n % 7 == 0 else "")


def outcome(call: Callable[[], Any]) -> str:
    try:
        call()
    except BudgetExceededError:
        return "refused"
    except JobFailedError:
        return "failed"
    except InsufficientCreditsError:
        return "overspent"
    return "completed"


def check(outcomes: List[str], spent: Spent, emulator: Emulator) -> None:
    counts = Counter(outcomes)
    assert counts["overspent"] == 0
    assert counts["refused"] > 0
    assert counts["completed"] > 0
    assert counts["failed"] > 0
    assert sum(counts.values()) == JOBS
    assert spent.in_flight.credits == 0
    assert spent.charged.credits <= CAP
    assert emulator.charged <= CAP
    assert emulator.balance is not None
    assert emulator.balance >= 0
    # The ledgers agree: what the client believes it spent is what the account was charged.
    assert spent.charged.credits == emulator.charged == Decimal("1.5") * counts["completed"]
    assert spent.refunded.credits == emulator.refunded == Decimal("1.5") * counts["failed"]
    assert spent.jobs == counts["completed"] + counts["failed"]
    assert emulator.held == 0
    charged = Counter()
    for entry in emulator.ledger:
        if entry.kind == "charge":
            charged[entry.model_id] += entry.credits
    assert {model: part.charged.credits for model, part in spent.by_model.items()} == dict(charged)


@pytest.mark.parametrize("transport", ASYNC_TRANSPORTS)
def test_concurrent_async_submits_never_overspend(account: Emulator, transport: str) -> None:
    async def main() -> tuple[List[str], Spent]:
        outcomes: List[str] = []
        async with AsyncClient(
            account.base_url,
            api_key=account.api_key,
            transport="aiohttp" if transport == "aiohttp" else "trio",
            poll=FAST_POLL,
            retry=FAST_RETRY,
            budget=Budget(max_credits=CAP),
        ) as client:

            async def one(n: int) -> None:
                try:
                    await client.subscribe(SOUL, {"prompt": prompt(n)})
                except BudgetExceededError:
                    outcomes.append("refused")
                except JobFailedError:
                    outcomes.append("failed")
                except InsufficientCreditsError:
                    outcomes.append("overspent")
                else:
                    outcomes.append("completed")

            async with anyio.create_task_group() as group:
                for n in range(JOBS):
                    group.start_soon(one, n)
            return outcomes, client.spent

    outcomes, spent = anyio.run(main, backend="trio" if transport == "trio" else "asyncio")
    check(outcomes, spent, account)


def test_concurrent_submits_from_threads_never_overspend(account: Emulator) -> None:
    with SyncClient(
        account.base_url, api_key=account.api_key, poll=FAST_POLL, retry=FAST_RETRY,
        budget=Budget(max_credits=CAP),
    ) as client, concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:  # fmt: skip
        futures = [
            pool.submit(outcome, lambda n=n: client.subscribe(SOUL, {"prompt": prompt(n)}))
            for n in range(JOBS)
        ]
        outcomes = [future.result() for future in futures]
        spent = client.spent
    check(outcomes, spent, account)
