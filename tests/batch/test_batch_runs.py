"""Batches end to end against the emulator, with every async transport: outputs, results, resume
rules, keys, refusals, capacity and stopping."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, List

import anyio
import pytest
from client.harness import FAST_POLL, FAST_RETRY, Harness

from higgsfield_client import AsyncClient, AuthenticationError, RetryPolicy
from higgsfield_client.batch import (
    Batch,
    BatchConflictError,
    BatchInputError,
    ItemResult,
    journal_summary,
)
from higgsfield_client.testing import Emulator

from .conftest import MODEL, items, results_file, run_batch, submits


def _by_id(results: List[ItemResult]) -> dict[str, ItemResult]:
    return {result.id: result for result in results}


def test_every_item_ends_with_its_outputs_in_its_folder_and_in_results_jsonl(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = [
        *items(4),
        {"id": "bad", "model": MODEL, "arguments": {"prompt": "x [fail]"}},
        {"id": "nsfw", "model": MODEL, "arguments": {"prompt": "x [nsfw]"}},
        {"id": "two", "model": MODEL, "arguments": {"prompt": "four", "batch_size": 4}},
    ]
    results = _by_id(run_batch(harness, given, tmp_path, concurrency=3))

    assert {r.id: r.status for r in results.values()} == {
        **{f"item-{n}": "completed" for n in range(1, 5)},
        "bad": "failed",
        "nsfw": "nsfw",
        "two": "completed",
    }
    assert "asked for a failure" in (results["bad"].error or "")
    for result in results.values():
        assert result.attempts == 1
        assert not result.resumed
        for output in result.outputs:
            assert Path(output).parent == tmp_path / result.id
            assert Path(output).stat().st_size > 0
    assert len(results["two"].outputs) == len(set(results["two"].outputs)) == 4
    assert not list(tmp_path.rglob("*.part"))
    lines = results_file(tmp_path)
    assert [line["id"] for line in lines] == [item["id"] for item in given]  # input order
    assert lines[0] == {
        "id": "item-1",
        "request_id": results["item-1"].request_id,
        "status": "completed",
        "outputs": list(results["item-1"].outputs),
        "urls": list(results["item-1"].urls),
        "error": None,
        "attempts": 1,
        "estimate": None,  # priced only under a budget
        "charge": None,
    }
    jobs = emulator.jobs()
    assert len(jobs) == len(given)
    assert len({job.idempotency_key for job in jobs}) == len(given)
    assert {job.request_id for job in jobs} == {r.request_id for r in results.values()}


def test_a_second_run_skips_finished_items_and_sends_no_submit(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = items(3) + items(1, marker=" [fail]", start=9)
    first = _by_id(run_batch(harness, given, tmp_path))
    again = _by_id(run_batch(harness, given, tmp_path))
    assert all(result.resumed for result in again.values())
    assert {r.id: (r.status, r.request_id, r.outputs) for r in again.values()} == {
        r.id: (r.status, r.request_id, r.outputs) for r in first.values()
    }
    assert len(submits(emulator)) == len(emulator.jobs()) == 4


def test_retry_failed_submits_failed_items_again_with_a_new_key(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = items(2) + items(1, marker=" [fail]", start=3)
    first = _by_id(run_batch(harness, given, tmp_path))
    again = _by_id(run_batch(harness, given, tmp_path, retry_failed=True))
    assert again["item-3"].attempts == 2
    assert not again["item-3"].resumed
    assert again["item-3"].request_id != first["item-3"].request_id
    assert again["item-1"].resumed
    keys = Counter(job.idempotency_key for job in emulator.jobs())
    assert len(emulator.jobs()) == 4
    assert set(keys.values()) == {1}


def test_an_item_changed_under_the_same_id_is_refused_before_it_is_sent(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    run_batch(harness, items(2), tmp_path)
    changed = items(2)
    changed[1]["arguments"]["prompt"] = "another picture"
    with pytest.raises(BatchConflictError, match="item 'item-2' changed"):
        run_batch(harness, changed, tmp_path)
    assert len(emulator.jobs()) == 2


def test_an_id_twice_in_the_input_is_refused_whatever_its_case(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = [*items(1), {"id": "ITEM-1", "model": MODEL, "arguments": {"prompt": "other"}}]
    with pytest.raises(BatchInputError, match="appears twice"):
        run_batch(harness, given, tmp_path)
    assert emulator.jobs() == []


def test_a_lost_submit_answer_is_repeated_with_the_same_key_and_makes_one_job(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.script_fault("submit", "truncate")  # the job is created, its answer cut short
    (result,) = run_batch(harness, items(1), tmp_path)
    assert result.status == "completed"
    (job,) = emulator.jobs()
    assert job.request_id == result.request_id
    keys = [entry.headers["Idempotency-Key"] for entry in submits(emulator)]
    assert len(keys) == 2
    assert keys[0] == keys[1] == job.idempotency_key


def test_a_key_committed_whose_answer_never_came_is_sent_again_by_the_next_run(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.script_fault("submit", "slow")  # created, then answered after slow_seconds (2 s)
    once = {"retry": RetryPolicy.never(), "timeout": 0.3}
    (lost,) = run_batch(harness, items(1), tmp_path, client_options=once)
    assert lost.status == "unfinished"
    assert lost.request_id is None
    assert "Timeout" in (lost.error or "")
    (result,) = run_batch(harness, items(1), tmp_path)
    (job,) = emulator.jobs()
    assert (result.status, result.request_id, result.attempts) == ("completed", job.request_id, 1)


def test_a_submitted_item_is_waited_for_by_request_id_without_a_new_submit(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.queue_time = 1.5
    first = _by_id(run_batch(harness, items(2), tmp_path, job_timeout=0.2))
    assert {r.status for r in first.values()} == {"unfinished"}
    assert all("run the batch again" in (r.error or "") for r in first.values())
    second = _by_id(run_batch(harness, items(2), tmp_path))
    assert {r.status for r in second.values()} == {"completed"}
    assert {r.request_id for r in second.values()} == {r.request_id for r in first.values()}
    assert len(submits(emulator)) == len(emulator.jobs()) == 2


def test_without_downloads_only_urls_are_kept_and_a_later_run_fetches_the_files(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    (recorded,) = run_batch(harness, items(1), tmp_path, download=False)
    assert (recorded.status, recorded.outputs) == ("completed", ())
    assert recorded.urls
    assert not (tmp_path / "item-1").exists()
    (fetched,) = run_batch(harness, items(1), tmp_path)
    assert not fetched.resumed
    assert [Path(path).name for path in fetched.outputs] == ["0.png"]
    assert len(emulator.jobs()) == 1


def test_a_broken_download_leaves_no_part_file_and_the_next_run_completes_it(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.script_fault("output", "truncate")
    once = {"retry": RetryPolicy.never()}
    (broken,) = run_batch(harness, items(1), tmp_path, client_options=once)
    assert broken.status == "unfinished"
    assert "download of 0.png" in (broken.error or "")
    assert list((tmp_path / "item-1").iterdir()) == []
    (result,) = run_batch(harness, items(1), tmp_path)
    assert result.status == "completed"
    assert Path(result.outputs[0]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_item_the_api_refuses_is_rejected_and_the_others_go_on(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = [
        *items(2),
        {"id": "no-model", "model": "no/such/model", "arguments": {"prompt": "x"}},
        {"id": "bad-args", "model": MODEL, "arguments": {"prompt": 5}},
    ]
    results = _by_id(run_batch(harness, given, tmp_path))
    assert results["no-model"].status == results["bad-args"].status == "rejected"
    assert "NotFoundError" in (results["no-model"].error or "")
    assert "ValidationError" in (results["bad-args"].error or "")
    assert results["item-1"].status == results["item-2"].status == "completed"
    assert journal_summary(tmp_path / "journal.sqlite3").states["rejected"] == 2


def test_a_refused_account_stops_the_batch_and_raises(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(AuthenticationError):
        run_batch(harness, items(5), tmp_path, concurrency=1, client_options={"api_key": "wrong:key"})
    summary = journal_summary(tmp_path / "journal.sqlite3")
    assert summary.states["submitting"] == 1  # its key kept for the next run
    assert summary.states["pending"] == 4
    assert summary.last_outcome == "failed"
    assert [line["status"] for line in results_file(tmp_path)] == ["unfinished"] + ["pending"] * 4
    (result,) = run_batch(harness, items(1), tmp_path)
    assert result.status == "completed"


def test_a_full_account_slows_the_batch_down_and_it_still_finishes(harness: Harness, tmp_path: Path) -> None:
    # Room for about 10 jobs (8 queued, 2 running) against a ceiling of 32.
    with Emulator(queue_time=0.02, run_time=0.05, queue_limit=8, concurrency_limit=2) as emu:
        harness = Harness(transport=harness.transport, emulator=emu)
        results = run_batch(harness, items(40), tmp_path, concurrency=32)
        refusals = sum(1 for entry in emu.journal if entry.route == "submit" and entry.status == 429)
        assert {result.status for result in results} == {"completed"}
        assert len(emu.jobs()) == 40
    # Keeping 32 in flight meets about two 429s per item here (measured: 124 for 60 items); the
    # window halves instead, and the refusals stay below one per item.
    assert 1 <= refusals < 40


def test_stop_submits_nothing_more_and_finishes_what_is_in_flight(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    async def scenario(client: AsyncClient) -> List[ItemResult]:
        batch = Batch(items(10), out=tmp_path, client=client, concurrency=2)
        async with batch.stream() as results:
            seen = []
            async for result in results:
                seen.append(result)
                batch.stop()
        return seen

    seen = harness.run(scenario)
    done = [r for r in seen if r.status == "completed"]
    # An item that took its place just before stop() ends pending, its key never sent.
    assert {r.status for r in seen[len(done):]} <= {"pending"}
    assert seen[: len(done)] == done
    # Stopped at the first result: two in the API's window, two downloading, one just begun.
    assert 1 <= len(done) <= 5
    assert len(emulator.jobs()) == len(done)
    lines = results_file(tmp_path)
    assert sum(line["status"] == "completed" for line in lines) == len(done)
    assert {line["status"] for line in lines if line["status"] != "completed"} <= {"pending"}
    assert journal_summary(tmp_path / "journal.sqlite3").last_outcome == "stopped"
    rest = run_batch(harness, items(10), tmp_path)
    assert sum(1 for r in rest if not r.resumed) == 10 - len(done)
    assert len(emulator.jobs()) == 10


def test_the_journal_can_be_summarised_while_the_batch_runs(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    async def scenario(client: AsyncClient) -> Any:
        summaries = []
        async with Batch(items(6), out=tmp_path, client=client, concurrency=2).stream() as results:
            async for _ in results:
                journal = tmp_path / "journal.sqlite3"
                summaries.append(await anyio.to_thread.run_sync(journal_summary, journal))
        return summaries

    summaries = harness.run(scenario)
    assert all(summary.total == 6 for summary in summaries)
    assert summaries[0].running is not None  # the last results may arrive after the run ended
    completed = [summary.states["completed"] for summary in summaries]
    assert completed == sorted(completed)
    assert completed[-1] >= 5


def test_the_sync_api_yields_results_and_a_break_leaves_the_rest_for_the_next_run(
    emulator: Emulator, tmp_path: Path
) -> None:
    def batch(**options: Any) -> Batch:
        client = AsyncClient(emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL, retry=FAST_RETRY)
        return Batch(items(6), out=tmp_path, client=client, concurrency=2, **options)

    first = next(iter(batch().run()))  # the generator is dropped at once, as a break leaves it
    assert first.status == "completed"
    assert journal_summary(tmp_path / "journal.sqlite3").last_outcome == "failed"  # cancelled
    results = batch().results()
    assert sorted(r.id for r in results) == sorted(item["id"] for item in items(6))
    assert {r.status for r in results} == {"completed"}
    assert sum(r.resumed for r in results) >= 1
    assert len(emulator.jobs()) == 6
    assert len(set(job.idempotency_key for job in emulator.jobs())) == 6


def test_a_bad_concurrency_or_timeout_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(BatchInputError, match="concurrency"):
        Batch([], out=tmp_path, concurrency=0)
    with pytest.raises(BatchInputError, match="job_timeout"):
        Batch([], out=tmp_path, job_timeout=0)
    assert not (tmp_path / "journal.sqlite3").exists()


def test_an_error_in_the_callers_block_comes_out_as_itself_and_the_journal_keeps_the_rest(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    class Seen(Exception):
        pass

    async def scenario(client: AsyncClient) -> None:
        async with Batch(items(6), out=tmp_path, client=client, concurrency=2).stream() as results:
            async for _ in results:
                raise Seen

    with pytest.raises(Seen):
        harness.run(scenario)
    assert journal_summary(tmp_path / "journal.sqlite3").last_outcome == "failed"
    results = run_batch(harness, items(6), tmp_path)
    assert {r.status for r in results} == {"completed"}
    assert len(emulator.jobs()) == 6
