"""Duplicate stores: the claim contract, in memory and in SQLite, and SQLite across processes."""

from __future__ import annotations

import multiprocessing
import os
import queue
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from higgsfield_client.webhooks import Claim, MemoryStore, SQLiteStore, WebhookStore

StoreFactory = Callable[..., WebhookStore]


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    def make(**options: float) -> WebhookStore:
        if request.param == "memory":
            return MemoryStore(**options)  # type: ignore[arg-type]
        return SQLiteStore(tmp_path / "events.sqlite3", **options)

    return make


def test_a_claim_is_new_then_in_progress_then_done(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("a", 100.0) is Claim.NEW
    assert store.claim("a", 101.0) is Claim.IN_PROGRESS
    assert store.claim("b", 101.0) is Claim.NEW
    store.complete("a", 102.0)
    assert store.claim("a", 103.0) is Claim.DONE
    assert store.claim("a", 10_000.0) is Claim.DONE


def test_a_released_claim_is_new_again(make_store: StoreFactory) -> None:
    store = make_store()
    assert store.claim("a", 100.0) is Claim.NEW
    store.release("a")
    assert store.claim("a", 100.5) is Claim.NEW
    store.complete("a", 101.0)
    store.release("a")  # a handled event stays handled
    assert store.claim("a", 102.0) is Claim.DONE


def test_an_abandoned_claim_can_be_taken_again_after_the_claim_timeout(make_store: StoreFactory) -> None:
    store = make_store(claim_timeout=60.0)
    assert store.claim("a", 100.0) is Claim.NEW
    assert store.claim("a", 159.0) is Claim.IN_PROGRESS
    assert store.claim("a", 160.0) is Claim.NEW
    assert store.claim("a", 161.0) is Claim.IN_PROGRESS


def test_the_memory_store_forgets_the_oldest_events_past_its_limit() -> None:
    store = MemoryStore(limit=2)
    for name in "abc":
        store.claim(name, 1.0)
        store.complete(name, 1.0)
    assert [store.claim(name, 2.0) for name in "cba"] == [Claim.DONE, Claim.DONE, Claim.NEW]
    with pytest.raises(ValueError, match="limit"):
        MemoryStore(limit=0)


def test_the_sqlite_store_keeps_events_across_instances_then_forgets_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    SQLiteStore(path).claim("a", 100.0)
    SQLiteStore(path).complete("a", 100.0)
    store = SQLiteStore(path, keep=3600.0)
    assert store.claim("a", 200.0) is Claim.DONE
    assert store.claim("b", 4000.0) is Claim.NEW
    store.complete("b", 4000.0)  # prunes what was handled before 400
    assert store.claim("a", 4001.0) is Claim.NEW


def _claim_in_a_process(path: str, ready: queue.Queue[int]) -> Claim:
    ready.put(os.getpid())
    return SQLiteStore(path).claim("same-event", 1000.0)


def test_the_sqlite_store_gives_one_claim_to_one_of_several_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "events.sqlite3")
    SQLiteStore(path)  # the table exists before the race
    # Another writer holds the database while the processes claim: they all queue up on its lock,
    # so a claim that read before it wrote would see no row in each of them.
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        ready = manager.Queue()
        with context.Pool(4) as pool:
            results = [pool.apply_async(_claim_in_a_process, (path, ready)) for _ in range(4)]
            for _ in range(4):
                ready.get(timeout=60)
            time.sleep(0.2)  # lets each process reach the lock; the outcome never depends on it
            blocker.execute("ROLLBACK")
            claims = [result.get(60) for result in results]
    blocker.close()
    assert sorted(claim.value for claim in claims) == ["in_progress"] * 3 + ["new"]
