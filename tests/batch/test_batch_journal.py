"""The batch journal: states written before each step, conflicts refused, readable while written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from higgsfield_client.batch import BatchConflictError, BatchInputError, BatchItem, journal_summary
from higgsfield_client.batch._journal import (
    COMPLETED,
    FAILED,
    PENDING,
    SUBMITTED,
    SUBMITTING,
    Journal,
)

MODEL = "higgsfield-ai/soul/standard"


def _item(item_id: str, prompt: str = "x") -> BatchItem:
    return BatchItem(id=item_id, model=MODEL, arguments={"prompt": prompt})


def test_an_item_moves_through_its_states_and_every_step_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    run = journal.start_run()
    (record,) = journal.register([(1, _item("a"))], run)
    assert (record.state, record.attempts, record.idempotency_key) == (PENDING, 0, None)
    record = journal.commit_key(record, "key-1")
    assert record.state == SUBMITTING
    record = journal.submitted(record, "req-1")
    record = journal.completed(record, ["https://cdn/0.png", "https://cdn/1.png"])
    written = journal.downloaded(record, [("a/0.png", 1234)])
    journal.close()  # no explicit commit: each step was committed when it was written

    reopened = Journal(path)
    (record,) = reopened.records()
    assert record == written  # what a step returns is what it wrote
    assert record.state == COMPLETED
    assert (record.idempotency_key, record.request_id, record.attempts) == ("key-1", "req-1", 1)
    assert record.urls == ("https://cdn/0.png", "https://cdn/1.png")
    assert (record.paths, record.sizes) == (("a/0.png",), (1234,))
    assert record.finished is not None
    assert record.created <= record.updated
    assert reopened.summary().downloads_pending == 1
    reopened.close()


def test_the_journal_is_in_wal_mode(tmp_path: Path) -> None:
    Journal(tmp_path / "j.sqlite3").close()
    with sqlite3.connect(tmp_path / "j.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_new_key_for_a_failed_item_clears_its_old_job(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    run = journal.start_run()
    (record,) = journal.register([(1, _item("a"))], run)
    record = journal.submitted(journal.commit_key(record, "key-1"), "req-1")
    failed = journal.ended(record, FAILED, "boom")
    assert failed.state == FAILED
    again = journal.commit_key(failed, "key-2")
    assert (again.state, again.request_id, again.error, again.attempts) == (SUBMITTING, None, None, 2)
    assert journal.records() == [again]


def test_an_id_seen_with_other_content_is_a_conflict_and_nothing_of_its_chunk_is_kept(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.register([(1, _item("a"))], journal.start_run())
    run = journal.start_run()
    with pytest.raises(BatchConflictError, match="item 'a' changed"):
        journal.register([(1, _item("b")), (2, _item("a", prompt="changed"))], run)
    assert [record.id for record in journal.records()] == ["a"]  # "b" rolled back with the chunk


def test_an_id_twice_in_one_run_is_refused_whatever_its_case(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    run = journal.start_run()
    with pytest.raises(BatchInputError, match="appears twice") as caught:
        journal.register([(1, _item("Cat")), (2, _item("cat"))], run)
    assert not isinstance(caught.value, BatchConflictError)


def test_the_same_items_in_a_later_run_are_kept_and_renumbered(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    journal.register([(1, _item("a")), (2, _item("b"))], journal.start_run())
    run = journal.start_run()
    records = journal.register([(1, _item("b")), (2, _item("a"))], run)
    assert [(r.id, r.position, r.run) for r in records] == [("b", 1, run), ("a", 2, run)]
    assert [r.id for r in journal.records()] == ["b", "a"]


def test_the_summary_is_read_while_another_connection_holds_a_write(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    writer = Journal(path)
    run = writer.start_run()
    first, second, _ = writer.register([(n, _item(f"i{n}")) for n in range(1, 4)], run)
    writer.submitted(writer.commit_key(first, "k"), "r")
    writer.flush()
    # A step that waits for its commit: the writer holds a write transaction from here on.
    writer.note_error(second, "TransportError: refused")
    summary = journal_summary(path)
    assert summary.total == 3
    assert (summary.states[SUBMITTED], summary.states[PENDING], summary.states[FAILED]) == (1, 2, 0)
    assert summary.running == os.getpid()
    assert summary.errors == ()  # not committed yet
    writer.end_run(run, "finished")  # commits what waits first
    after = journal_summary(path)
    assert after.running is None
    assert after.last_ended is not None
    assert after.as_dict()["states"][SUBMITTED] == 1
    assert after.errors == (("i2", "TransportError: refused"),)
    writer.close()


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(BatchInputError, match="not a batch journal"):
        journal_summary(other)
    text = tmp_path / "text.sqlite3"
    text.write_text("hello, this is not a database at all" * 100)
    with pytest.raises(BatchInputError, match="not a batch journal"):
        Journal(text)
    with pytest.raises(FileNotFoundError):
        journal_summary(tmp_path / "missing.sqlite3")


def _dead_pid() -> int:
    code = "print(__import__('os').getpid())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(child.stdout)


def test_a_run_of_a_live_process_keeps_others_out_and_a_killed_one_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.start_run()
    journal._db.execute("UPDATE runs SET pid = ?", (os.getppid(),))  # as if pytest's parent ran it
    with pytest.raises(BatchInputError, match=f"process {os.getppid()} is running a batch"):
        journal.start_run()
    assert journal_summary(path).running == os.getppid()
    journal._db.execute("UPDATE runs SET pid = ?", (_dead_pid(),))
    summary = journal_summary(path)
    assert (summary.running, summary.last_outcome) == (None, "killed")
    run = journal.start_run()
    outcomes = [row[0] for row in journal._db.execute("SELECT outcome FROM runs ORDER BY run")]
    assert outcomes == ["killed", None]
    journal.end_run(run, "finished")
    assert journal_summary(path).last_outcome == "finished"


def _states(path: Path) -> dict[str, str]:
    """Each item's state as another process sees it (committed rows only)."""
    with sqlite3.connect(path) as other:
        return dict(other.execute("SELECT id, state FROM items").fetchall())


def test_steps_that_can_wait_are_committed_with_the_next_key_or_a_flush(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, flush_after=3600)
    run = journal.start_run()
    a, b, c = journal.register([(n, _item(f"i{n}")) for n in range(1, 4)], run)
    a = journal.commit_key(a, "key-a")
    assert _states(path)["i1"] == SUBMITTING  # a key is committed before it returns
    a = journal.submitted(a, "req-a")
    assert _states(path)["i1"] == SUBMITTING  # the request id waits
    journal.commit_key(b, "key-b")  # the next key takes it along
    assert _states(path) == {"i1": SUBMITTED, "i2": SUBMITTING, "i3": PENDING}
    journal.completed(a, ["https://cdn/x.png"])
    journal.note_error(c, "TransportError: refused")
    assert _states(path)["i1"] == SUBMITTED
    journal.flush()
    assert _states(path)["i1"] == COMPLETED
    assert journal_summary(path).errors == (("i3", "TransportError: refused"),)
    journal.close()


def test_a_step_that_waited_flush_after_is_committed_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, flush_after=0.0)
    run = journal.start_run()
    (a,) = journal.register([(1, _item("i1"))], run)
    journal.submitted(journal.commit_key(a, "key-a"), "req-a")
    assert _states(path)["i1"] == SUBMITTED
    journal.close()


def test_a_crash_loses_only_the_steps_that_waited_never_a_key_or_a_file(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, flush_after=3600)
    run = journal.start_run()
    a, b = journal.register([(1, _item("i1")), (2, _item("i2"))], run)
    b = journal.completed(journal.submitted(journal.commit_key(b, "key-b"), "req-b"), ["https://cdn/b.png"])
    journal.downloaded(b, [("i2/0.png", 5)])  # committed at once, with what waited
    a = journal.submitted(journal.commit_key(a, "key-a"), "req-a")
    journal._db.close()  # the process dies: what waits is rolled back
    again = Journal(path)
    first, second = again.records()
    assert (first.state, first.idempotency_key, first.request_id) == (SUBMITTING, "key-a", None)
    assert (second.state, second.request_id, second.paths) == (COMPLETED, "req-b", ("i2/0.png",))
    again.close()


def test_reading_a_summary_leaves_no_files_beside_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path)
    journal.register([(1, _item("i1"))], journal.start_run())
    journal.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite3"]
    assert journal_summary(path).total == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["j.sqlite3"]
    reader = Journal(path, read_only=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader._db.execute("UPDATE items SET state = 'failed'")
    reader.close()


def test_a_journal_of_version_1_is_upgraded_and_its_files_are_trusted_by_name(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    with sqlite3.connect(path) as db:  # as version 1 made it: no sizes
        db.execute("ALTER TABLE items DROP COLUMN sizes")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
        db.execute(
            "INSERT INTO items (id, position, run, model, digest, state, urls, paths, created, updated)"
            " VALUES ('a', 1, 1, 'm', 'd', 'completed', '[\"https://cdn/0.png\"]', '[\"a/0.png\"]', 0, 0)"
        )
    db.close()
    summary = journal_summary(path)  # read as it is, without writing
    assert summary.states[COMPLETED] == 1
    journal = Journal(path)
    (record,) = journal.records()
    assert (record.paths, record.sizes, record.files()) == (("a/0.png",), (), [("a/0.png", None)])
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.png").write_bytes(b"any size")
    assert record.outputs_on_disk(tmp_path) == ["a/0.png"]
    journal.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
        assert "sizes" in {row[1] for row in db.execute("PRAGMA table_info(items)")}
    db.close()
