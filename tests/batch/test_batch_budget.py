"""Batches under a budget: priced first, submitted in input order while charged plus in flight
stays within the budget, counted from the journal across runs and a SIGKILL, and ``--dry-run``."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, List

import pytest
from cli.conftest import Ran

from higgsfield_client.batch import Batch, journal_summary
from higgsfield_client.batch._journal import Journal
from higgsfield_client.cli import main
from higgsfield_client.testing import Emulator

from .conftest import MODEL, Harness, items, results_file, run_batch, submits
from .test_batch_crashes import _kill, _source, _start, _until

PRICE = Decimal("1.500")


def _finish(emulator: Emulator, source: Path, *extra: str) -> int:
    process = _start(emulator, source, *extra)
    return process.wait(timeout=120)


def test_a_budget_submits_in_input_order_until_it_is_reached_and_the_rest_stay_pending(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = items(10)
    results = run_batch(harness, given, tmp_path, budget=Decimal("6"), concurrency=3)
    by_id = {result.id: result for result in results}
    completed = [f"item-{n}" for n in range(1, 5)]
    assert sorted(r.id for r in results if r.status == "completed") == completed  # 4 x 1.5 = 6
    assert [line["status"] for line in results_file(tmp_path)] == ["completed"] * 4 + ["pending"] * 6
    assert by_id["item-1"].estimate == by_id["item-1"].charge == "1.500"
    assert emulator.charged == PRICE * 4
    assert len(submits(emulator)) == 4
    summary = journal_summary(tmp_path / "journal.sqlite3")
    assert (summary.estimated, summary.charged, summary.in_flight) == (PRICE * 4, PRICE * 4, 0)
    assert summary.last_outcome == "stopped at the budget"

    # A run with a larger budget goes on from there, counting what the journal says was spent.
    run_batch(harness, given, tmp_path, budget=Decimal("9"), concurrency=3)
    assert [line["status"] for line in results_file(tmp_path)] == ["completed"] * 6 + ["pending"] * 4
    assert emulator.charged == PRICE * 6
    assert len(submits(emulator)) == 6


def test_failed_items_are_refunded_in_the_journal_and_charged_nothing(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = [*items(2), {"id": "bad", "model": MODEL, "arguments": {"prompt": "x [fail]"}}]
    results = run_batch(harness, given, tmp_path, budget=Decimal("100"))
    (bad,) = [result for result in results if result.id == "bad"]
    assert (bad.status, bad.estimate, bad.charge) == ("failed", "1.500", "0")
    summary = journal_summary(tmp_path / "journal.sqlite3")
    assert (summary.estimated, summary.charged) == (PRICE * 3, PRICE * 2)
    assert emulator.charged == PRICE * 2
    assert emulator.refunded == PRICE


def test_a_batch_without_a_budget_prices_nothing(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    run_batch(harness, items(3), tmp_path)
    assert [entry for entry in emulator.journal if entry.route == "estimate"] == []
    assert {line["estimate"] for line in results_file(tmp_path)} == {None}
    assert journal_summary(tmp_path / "journal.sqlite3").estimated is None


def test_a_journal_from_before_prices_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE runs (run INTEGER PRIMARY KEY, pid INTEGER NOT NULL, started REAL NOT NULL,
                           ended REAL, outcome TEXT);
        CREATE TABLE items (id TEXT PRIMARY KEY COLLATE NOCASE, position INTEGER NOT NULL,
            run INTEGER NOT NULL, model TEXT NOT NULL, digest TEXT NOT NULL, state TEXT NOT NULL,
            idempotency_key TEXT, request_id TEXT, urls TEXT NOT NULL DEFAULT '[]',
            paths TEXT NOT NULL DEFAULT '[]', error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            created REAL NOT NULL, updated REAL NOT NULL, finished REAL);
        INSERT INTO meta VALUES ('schema', '1');
        INSERT INTO items (id, position, run, model, digest, state, created, updated)
            VALUES ('a', 1, 1, 'm', 'd', 'pending', 0, 0);
        """
    )
    db.close()
    assert journal_summary(path).estimated is None  # read as it is, without writing
    journal = Journal(path)
    (record,) = journal.records()
    assert (record.estimate, record.charge) == (None, None)
    assert journal.commit_key(record, "key", PRICE).estimate == "1.500"
    journal.close()
    assert journal_summary(path).in_flight == PRICE


def _run(emulator: Emulator, *argv: Any) -> Ran:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    connection = ["--base-url", emulator.base_url, "--api-key", emulator.api_key, "--poll-interval", "0.05"]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in argv] + connection)
    return Ran(code, out.getvalue(), err.getvalue())


def test_dry_run_prices_the_file_and_submits_nothing(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "jobs.jsonl"
    lines = [{"arguments": {"prompt": f"p{n}"}} for n in range(3)]
    lines += [{"arguments": {"prompt": "four", "num_images": 4}}]
    lines += [{"model": "acme/not-in-the-catalog", "arguments": {"x": 1}}]
    lines += [{"model": "kling-video/v2.1/pro/image-to-video",
               "arguments": {"prompt": "p", "image_url": "https://x/y.png", "duration": 10}}]  # fmt: skip
    source.write_text("".join(json.dumps(line) + "\n" for line in lines))
    ran = _run(emulator, "batch", source, "--model", MODEL, "--dry-run", "--budget", "10")
    assert ran.code == 0
    printed: List[str] = ran.out.splitlines()
    assert printed[0] == "6 items: 30.500 credits ($1.907) in all, 1 of unknown price"
    assert printed[1:3] == [
        f"  {MODEL}: 4 items, 10.500 credits",
        "  kling-video/v2.1/pro/image-to-video: 1 items, 20.000 credits",
    ]
    assert "price unknown (not counted): 5" in printed
    assert printed[-1] == "a budget of 10 credits covers 3 of the 6 items to submit"
    assert submits(emulator) == []
    assert not (tmp_path / "jobs-out").exists()
    document = json.loads(_run(emulator, "--json", "batch", source, "--model", MODEL, "--dry-run").out)
    assert (document["credits"], document["unknown"], document["covered"]) == ("30.500", ["5"], 6)


def test_the_command_says_how_far_the_budget_goes_and_how_to_go_on(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = _source(tmp_path, 5)
    ran = _run(emulator, "batch", source, "--model", MODEL, "--budget", "3", "--no-download")
    assert ran.code == 1  # items left pending
    assert "the budget of 3 credits covers 2 of the 5 items to submit" in ran.err
    assert "--budget 7.500 covers them all" in ran.err
    assert len(submits(emulator)) == 2
    status = _run(emulator, "batch", "status", tmp_path / "jobs-out")
    assert "credits: estimated 3.000, spent 3.000, in flight 0" in status.out


def test_200_items_killed_mid_run_never_charge_past_the_budget_nor_submit_an_item_twice(
    tmp_path: Path,
) -> None:
    budget = PRICE * 120
    with Emulator(queue_time=0.1, run_time=0.2, seed=5) as emulator:
        source = _source(tmp_path, 200)
        extra = ("--budget", str(budget), "--concurrency", "16", "--no-download")
        process = _start(emulator, source, *extra, killed=True)
        _until(lambda: len(emulator.jobs()) >= 40, process, "forty jobs")
        _kill(process)
        assert emulator.charged + emulator.held <= budget

        assert _finish(emulator, source, *extra) == 1  # 80 items stay pending
        jobs = emulator.jobs()
        prompts = [job.arguments["prompt"] for job in jobs]
        assert len(prompts) == len(set(prompts)) == 120  # no item twice, and the budget's worth
        assert set(prompts) == {f"picture {n}" for n in range(1, 121)}  # in input order
        assert emulator.charged == budget
        assert emulator.held == 0
        lines = results_file(tmp_path / "jobs-out")
        assert [line["status"] for line in lines] == ["completed"] * 120 + ["pending"] * 80
        assert {line["charge"] for line in lines[:120]} == {"1.500"}
        summary = journal_summary(tmp_path / "jobs-out" / "journal.sqlite3")
        assert (summary.charged, summary.in_flight) == (budget, 0)

        # Run again with the same budget: nothing more is submitted.
        assert _finish(emulator, source, *extra) == 1
        assert len(emulator.jobs()) == 120


def test_a_negative_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="budget"):
        Batch(items(1), out=tmp_path, budget=-1)


def test_on_a_terminal_the_dry_run_draws_a_table_and_counts_the_journal(
    emulator: Emulator, tmp_path: Path
) -> None:
    import io
    import re

    from rich.console import Console as Screen

    source = _source(tmp_path, 4)
    _run(emulator, "batch", source, "--model", MODEL, "--budget", "3", "--no-download")  # 2 of 4
    screen = Screen(record=True, file=io.StringIO(), width=120)
    connection = ["--base-url", emulator.base_url, "--api-key", emulator.api_key]
    argv = ["batch", str(source), "--model", MODEL, "--dry-run", "--budget", "6", *connection]
    code = main(argv, screen=screen)
    text = re.sub(r"[ \t]+", " ", screen.export_text())
    assert code == 0
    assert f"│ {MODEL} │ 4 │ 6.000 │" in text
    plain = _run(emulator, "batch", source, "--model", MODEL, "--dry-run", "--budget", "6").out.splitlines()
    assert plain[-2:] == [
        "already charged or in flight (journal): 3.000 credits",
        "a budget of 6 credits covers 2 of the 2 items to submit",
    ]
    assert len(submits(emulator)) == 2


def test_items_admitted_but_stopped_before_their_submit_give_their_price_back(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.queue_time = 0.5

    async def scenario(client: Any) -> Any:
        batch = Batch(items(6), out=tmp_path, client=client, budget=Decimal("100"), concurrency=2)
        async with batch.stream() as results:
            async for _ in results:
                batch.stop()  # after the first item: the others in the window are not sent
        return batch.spending

    spending = harness.run(scenario)
    assert spending is not None
    assert spending.committed == PRICE * len(emulator.jobs())
    assert len(emulator.jobs()) < 6
