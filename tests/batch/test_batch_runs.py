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
from higgsfield_client.batch._journal import Journal
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


def test_an_out_that_is_a_file_is_refused_before_anything_is_sent(
    emulator: Emulator, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    client = AsyncClient(emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL, retry=FAST_RETRY)
    with pytest.raises(BatchInputError, match="is a file"):
        Batch(items(1), out=taken, client=client).results()
    assert taken.read_text() == "mine"
    assert emulator.jobs() == []


@pytest.mark.parametrize("gone", ["expired", "deleted"])
def test_outputs_gone_before_their_download_make_the_item_expired_until_retry_failed(
    harness: Harness, emulator: Emulator, tmp_path: Path, gone: str
) -> None:
    (recorded,) = run_batch(harness, items(1), tmp_path, download=False)
    assert recorded.request_id is not None
    if gone == "expired":
        emulator.expire(recorded.request_id)
    else:
        harness.run(lambda client: client.delete(recorded.request_id))

    (expired,) = run_batch(harness, items(1), tmp_path)
    assert (expired.status, expired.outputs, expired.urls) == ("expired", (), recorded.urls)
    assert "0.png is gone from the storage: OutputExpiredError" in (expired.error or "")
    assert journal_summary(tmp_path / "journal.sqlite3").states["expired"] == 1
    assert [line["status"] for line in results_file(tmp_path)] == ["expired"]
    (again,) = run_batch(harness, items(1), tmp_path)  # final: a plain run leaves it alone
    assert (again.status, again.resumed) == ("expired", True)
    assert len(submits(emulator)) == 1

    (retried,) = run_batch(harness, items(1), tmp_path, retry_failed=True)
    assert (retried.status, retried.attempts) == ("completed", 2)
    assert retried.request_id != recorded.request_id
    assert [Path(path).name for path in retried.outputs] == ["0.png"]
    jobs = emulator.jobs()
    assert len(jobs) == 2
    assert len({job.idempotency_key for job in jobs}) == 2


def test_files_deleted_or_cut_short_in_the_outputs_folder_are_downloaded_again(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    given = [*items(1), {"id": "four", "model": MODEL, "arguments": {"prompt": "four", "batch_size": 4}}]
    first = _by_id(run_batch(harness, given, tmp_path))
    deleted = Path(first["item-1"].outputs[0])
    cut = Path(first["four"].outputs[2])
    kept = Path(first["four"].outputs[0])
    kept_inode = kept.stat().st_ino
    deleted.unlink()
    cut.write_bytes(cut.read_bytes()[:50])
    journal = tmp_path / "journal.sqlite3"
    assert journal_summary(journal).downloads_pending == 2  # `batch status` sees it
    emulator.clear_journal()

    again = _by_id(run_batch(harness, given, tmp_path))
    assert {r.id: (r.status, r.resumed) for r in again.values()} == {
        "item-1": ("completed", False),
        "four": ("completed", False),
    }
    for result in again.values():
        assert result.outputs == first[result.id].outputs
        for path, url in zip(result.outputs, result.urls, strict=True):
            stored = emulator.storage_dir / "outputs" / "/".join(url.rsplit("/", 2)[-2:])
            assert Path(path).read_bytes() == stored.read_bytes()
    fetched = sorted(entry.path for entry in emulator.journal if entry.route == "output")
    assert fetched == sorted(
        [f"/outputs/{first['item-1'].request_id}/0.png", f"/outputs/{first['four'].request_id}/2.png"]
    )
    assert kept.stat().st_ino == kept_inode
    assert not submits(emulator)
    assert journal_summary(journal).downloads_pending == 0
    assert {line["status"] for line in results_file(tmp_path)} == {"completed"}


def test_a_journal_used_again_with_another_out_downloads_the_files_there(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite3"
    first = run_batch(harness, items(2), tmp_path / "a", journal=journal)
    moved = _by_id(run_batch(harness, items(2), tmp_path / "b", journal=journal))
    for result in first:
        elsewhere = moved[result.id]
        assert not elsewhere.resumed
        (output,) = elsewhere.outputs
        assert Path(output).parent == tmp_path / "b" / result.id
        assert Path(output).read_bytes() == Path(result.outputs[0]).read_bytes()
    assert [line["outputs"] for line in results_file(tmp_path / "b")] == [
        list(moved[f"item-{n}"].outputs) for n in (1, 2)
    ]
    assert len(submits(emulator)) == 2


def test_the_progress_counts_every_item_from_the_start_and_so_does_the_journal(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    async def scenario(client: AsyncClient) -> Any:
        batch = Batch(items(300), out=tmp_path, client=client, concurrency=2)
        async with batch.stream() as results:
            async for _ in results:
                progress = batch.progress()
                journal = tmp_path / "journal.sqlite3"
                return progress, await anyio.to_thread.run_sync(journal_summary, journal)

    progress, summary = harness.run(scenario)
    assert (progress.total, progress.total_known, progress.input_done) == (300, True, False)
    assert summary.total == 300  # 256 before: the input was registered a chunk at a time
    assert summary.states["pending"] >= 290


def test_downloads_do_not_count_as_in_flight_but_apart(harness: Harness, tmp_path: Path) -> None:
    with Emulator(queue_time=0.02, run_time=0.02, slow_seconds=3.0) as emu:
        harness = Harness(transport=harness.transport, emulator=emu)
        emu.script_fault("output", "stall")  # the first download stops half way for 3 s

        async def scenario(client: AsyncClient) -> List[Any]:
            batch = Batch(items(3), out=tmp_path, client=client, concurrency=1)
            seen = []

            async def watch() -> None:
                while True:
                    progress = batch.progress()
                    if progress is not None:
                        seen.append(progress)
                    await anyio.sleep(0.01)

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group, batch.stream() as results:
                    group.start_soon(watch)
                    async for _ in results:
                        pass
                    group.cancel_scope.cancel()
            return seen

        seen = harness.run(scenario)
    assert max(progress.in_flight for progress in seen) == 1  # the concurrency, never more
    # The second item's job ran while the first one's outputs were downloading.
    assert any(progress.in_flight == 1 and progress.downloading == 1 for progress in seen)
    assert {progress.window for progress in seen} == {1}


def test_the_rate_counts_only_the_items_this_run_submitted(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.queue_time = 0.5
    first = run_batch(harness, items(3), tmp_path, job_timeout=0.1)
    assert {result.status for result in first} == {"unfinished"}  # submitted, not waited for

    async def scenario(client: AsyncClient) -> Any:
        await anyio.sleep(0.7)  # the jobs end meanwhile: the next run finds them ended
        batch = Batch(items(3), out=tmp_path, client=client)
        async with batch.stream() as results:
            statuses = [result.status async for result in results]
        return statuses, batch.progress()

    statuses, progress = harness.run(scenario)
    assert statuses == ["completed"] * 3
    assert (progress.completed, progress.rate, progress.eta) == (3, None, None)
    assert len(submits(emulator)) == 3


def test_the_window_grows_back_to_its_ceiling_after_one_transient_429(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.script_fault("submit", "429")  # once: the window halves to 4

    async def scenario(client: AsyncClient) -> Any:
        batch = Batch(items(31), out=tmp_path, client=client, concurrency=8)
        async with batch.stream() as results:
            statuses = [result.status async for result in results]
        return statuses, batch.progress()

    statuses, progress = harness.run(scenario)
    assert statuses == ["completed"] * 31
    assert progress.capacity_waits == 1
    # From 4, 31 accepted submits (1 / window each) bring it back to 8 (about 24 would do).
    assert progress.window == 8


def test_a_submit_that_keeps_failing_with_500_stays_unfinished_and_a_later_run_makes_one_job(
    harness: Harness, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.script_fault("submit", "500", count=20)  # more than the client's attempts
    (first,) = run_batch(harness, items(1), tmp_path)
    assert first.status == "unfinished"
    assert "ServerError" in (first.error or "")
    journal = Journal(tmp_path / "journal.sqlite3", read_only=True)
    (record,) = journal.records()
    journal.close()
    assert record.state == "submitting"  # the key kept: the 500 may have hidden a job
    assert record.idempotency_key is not None
    assert emulator.jobs() == []

    emulator.clear_faults()
    (second,) = run_batch(harness, items(1), tmp_path)
    assert (second.status, second.attempts, second.resumed) == ("completed", 1, False)
    (job,) = emulator.jobs()
    assert job.idempotency_key == record.idempotency_key
    assert {entry.headers["Idempotency-Key"] for entry in submits(emulator)} == {record.idempotency_key}
