"""A batch process killed (SIGKILL) mid-submit, mid-wait and mid-download, or stopped with
Ctrl-C, and run again: exactly one job per item, every output on disk, nothing partial left."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from higgsfield_client.batch import Batch, BatchInputError, journal_summary, read_jsonl
from higgsfield_client.testing import Emulator

from .conftest import MODEL, results_file, submits

COMMAND = [sys.executable, "-c", "from higgsfield_client.cli import main; raise SystemExit(main())"]


def _source(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"id": f"p{n}", "arguments": {"prompt": f"picture {n}"}}) + "\n"
                            for n in range(1, count + 1)))
    return path


def _start(emulator: Emulator, source: Path, *extra: str, killed: bool = False
           ) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_KEY": emulator.api_key, "HIGGSFIELD_BASE_URL": emulator.base_url}
    if killed:  # coverage in a process killed mid-write would leave a broken data file
        env.pop("COVERAGE_PROCESS_CONFIG", None)
    argv = ["batch", str(source), "--model", MODEL, "--poll-interval", "0.05", *extra]
    log = open(source.with_suffix(f".{time.monotonic_ns()}.log"), "wb")  # noqa: SIM115 - the child owns it
    return subprocess.Popen([*COMMAND, *argv], env=env, stdout=log, stderr=subprocess.STDOUT)


def _until(condition: Callable[[], bool], process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert process.poll() is None, f"the batch ended (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} within 30 s"
        time.sleep(0.02)


def _submitted(out: Path) -> int:
    journal = out / "journal.sqlite3"
    try:
        return journal_summary(journal).states["submitted"] if journal.exists() else 0
    except BatchInputError:  # the file exists, its tables not yet: the batch is creating it
        return 0


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def _finish(emulator: Emulator, source: Path) -> subprocess.CompletedProcess[bytes]:
    process = _start(emulator, source)
    process.wait(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode)


def _assert_whole(emulator: Emulator, out: Path, count: int) -> None:
    """One job per item, each item completed with its output on disk and in results.jsonl."""
    jobs = emulator.jobs()
    assert len(jobs) == count
    assert len({job.idempotency_key for job in jobs}) == count
    lines = results_file(out)
    assert [line["id"] for line in lines] == [f"p{n}" for n in range(1, count + 1)]
    assert {line["status"] for line in lines} == {"completed"}
    assert {line["request_id"] for line in lines} == {job.request_id for job in jobs}
    for line in lines:
        (output,) = line["outputs"]
        assert Path(output).parent == out / line["id"]
        assert Path(output).read_bytes()[:4] == b"\x89PNG"
    assert not list(out.rglob("*.part"))


@pytest.mark.higgsfield_emulator(slow_seconds=8.0)
def test_killed_mid_submit_the_next_run_sends_the_same_key_and_gets_the_same_job(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    emulator.queue_time, emulator.run_time = 0.05, 0.1
    emulator.script_fault("submit", "slow")  # the job is made; its answer comes 8 s later
    source = _source(tmp_path, 4)
    process = _start(emulator, source, "--concurrency", "1", killed=True)
    _until(lambda: len(emulator.jobs()) == 1, process, "a job")
    time.sleep(0.2)
    _kill(process)
    out = tmp_path / "jobs-out"
    summary = journal_summary(out / "journal.sqlite3")
    assert summary.states["submitting"] == 1  # the key committed, the answer lost
    (job,) = emulator.jobs()

    assert _finish(emulator, source).returncode == 0
    _assert_whole(emulator, out, 4)
    (first,) = [line for line in results_file(out) if line["id"] == "p1"]
    assert first["request_id"] == job.request_id


@pytest.mark.higgsfield_emulator(queue_time=1.5, run_time=0.1)
def test_killed_mid_wait_the_next_run_waits_for_the_same_jobs_without_submitting(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 5)
    process = _start(emulator, source, "--concurrency", "8", killed=True)
    out = tmp_path / "jobs-out"
    _until(lambda: len(emulator.jobs()) == 5, process, "five jobs")
    _until(lambda: _submitted(out) == 5, process, "five submitted")
    _kill(process)
    summary = journal_summary(out / "journal.sqlite3")
    assert (summary.running, summary.last_outcome) == (None, "killed")

    assert _finish(emulator, source).returncode == 0
    _assert_whole(emulator, out, 5)
    assert len(submits(emulator)) == 5


@pytest.mark.higgsfield_emulator(queue_time=0.05, run_time=0.1, slow_seconds=20.0)
def test_killed_mid_download_the_part_file_goes_and_the_next_run_completes_the_file(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    emulator.script_fault("output", "stall")  # half the file, then a pause of 20 s
    source = _source(tmp_path, 3)
    process = _start(emulator, source, "--concurrency", "1", killed=True)
    out = tmp_path / "jobs-out"
    _until(lambda: bool(list(out.rglob("*.part"))), process, "a part file")
    _kill(process)
    (part,) = out.rglob("*.part")
    assert part.parent == out / "p1"

    assert _finish(emulator, source).returncode == 0
    _assert_whole(emulator, out, 3)


@pytest.mark.higgsfield_emulator(queue_time=1.0, run_time=0.1)
def test_ctrl_c_stops_submitting_finishes_what_is_in_flight_and_says_how_to_resume(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 8)
    process = _start(emulator, source, "--concurrency", "2")
    _until(lambda: len(emulator.jobs()) == 2, process, "two jobs")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    log = _log(source)
    assert "stopping - no new submits" in log
    assert "8 items: 2 completed, 0 failed, 6 pending in" in log  # the word of results.jsonl
    assert "unfinished" not in log
    assert "run the same command again to resume" in log
    assert "Traceback" not in log
    out = tmp_path / "jobs-out"
    lines = results_file(out)
    done = [line for line in lines if line["status"] == "completed"]
    assert len(done) == len(emulator.jobs()) == 2
    assert {line["status"] for line in lines if line not in done} == {"pending"}
    assert journal_summary(out / "journal.sqlite3").last_outcome == "stopped"

    assert _finish(emulator, source).returncode == 0
    _assert_whole(emulator, out, 8)


@pytest.mark.higgsfield_emulator(queue_time=30.0, run_time=0.1)
def test_a_second_ctrl_c_exits_at_once_and_leaves_the_journal_consistent(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 3)
    process = _start(emulator, source, "--concurrency", "3")
    out = tmp_path / "jobs-out"
    _until(lambda: _submitted(out) == 3, process, "three jobs")
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    pressed = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 130
    assert time.monotonic() - pressed < 10  # not the 30 s the jobs take
    summary = journal_summary(out / "journal.sqlite3")
    assert (summary.states["submitted"], summary.last_outcome) == (3, "stopped")
    assert [line["status"] for line in results_file(out)] == ["unfinished"] * 3
    assert "3 items: 0 completed, 0 failed, 3 unfinished in" in _log(source)
    assert "Traceback" not in _log(source)


def _log(source: Path) -> str:
    logs: List[Path] = sorted(source.parent.glob(f"{source.stem}.*.log"))
    return logs[-1].read_text()


def _running(out: Path) -> bool:
    journal = out / "journal.sqlite3"
    try:
        return journal.exists() and journal_summary(journal).running is not None
    except BatchInputError:  # the file exists, its tables not yet
        return False


@contextlib.contextmanager
def _first_run(emulator: Emulator, source: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A batch process running on ``source``'s default folder (its jobs take long), killed after."""
    process = _start(emulator, source, killed=True)
    try:
        _until(lambda: _running(source.with_name(f"{source.stem}-out")), process, "the first run")
        yield process
    finally:
        _kill(process)


@pytest.mark.higgsfield_emulator(queue_time=30.0, run_time=0.1)
def test_a_second_batch_on_the_same_folder_is_refused_at_once_naming_the_first(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 3)
    out = tmp_path / "jobs-out"
    with _first_run(emulator, source) as first:
        second = _start(emulator, source)
        try:
            code = second.wait(timeout=90)  # it hung for good before
        finally:
            if second.poll() is None:
                _kill(second)
        log = _log(source)
        assert code == 2, log
        assert f"process {first.pid} is running a batch on {out / 'journal.sqlite3'}" in log
        assert "Traceback" not in log
        assert "unfinished" not in log
        assert first.poll() is None
        assert len(submits(emulator)) == 3  # the second one sent nothing


@pytest.mark.higgsfield_emulator(queue_time=30.0, run_time=0.1)
def test_batch_run_from_python_raises_the_refusal_at_once(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 2)
    outcome: List[BaseException] = []

    def second_run() -> None:
        connection = {"api_key": emulator.api_key, "base_url": emulator.base_url}
        batch = Batch(read_jsonl(source, MODEL), out=tmp_path / "jobs-out", **connection)
        try:
            batch.results()
        except BaseException as exc:
            outcome.append(exc)

    with _first_run(emulator, source) as first:
        worker = threading.Thread(target=second_run, daemon=True)  # daemon: a hang cannot keep pytest
        worker.start()
        worker.join(timeout=90)
        assert not worker.is_alive(), "Batch.run() hung instead of refusing"
        (error,) = outcome
        assert isinstance(error, BatchInputError)
        assert f"process {first.pid} is running a batch" in str(error)


@pytest.mark.higgsfield_emulator(queue_time=0.3, run_time=0.1)
def test_a_closed_stdout_stops_the_batch_quietly_as_a_first_ctrl_c(
    higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    emulator = higgsfield_emulator
    source = _source(tmp_path, 12)
    env = {**os.environ, "HF_KEY": emulator.api_key, "HIGGSFIELD_BASE_URL": emulator.base_url}
    argv = ["batch", str(source), "--model", MODEL, "--poll-interval", "0.05", "--concurrency", "2", "--json"]
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen([*COMMAND, *argv], env=env, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    try:
        first = json.loads(process.stdout.readline())  # `| head -1`: one line, then the pipe closes
        process.stdout.close()
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            _kill(process)
    err = log.read_text()
    assert "Traceback" not in err
    assert "BrokenPipeError" not in err
    assert "stdout was closed; stopping" in err
    assert code == 1, err  # items are left pending: run again to resume
    out = tmp_path / "jobs-out"
    assert journal_summary(out / "journal.sqlite3").last_outcome == "stopped"
    lines = {line["id"]: line for line in results_file(out)}
    assert lines[first["id"]]["status"] == "completed"
    done = [line for line in lines.values() if line["status"] == "completed"]
    assert {line["status"] for line in lines.values()} == {"completed", "pending"}
    # Nothing abandoned: every job submitted was waited for and its outputs downloaded.
    assert {job.request_id for job in emulator.jobs()} == {line["request_id"] for line in done}
    assert all(Path(line["outputs"][0]).is_file() for line in done)
    assert len(done) < 12

    assert _finish(emulator, source).returncode == 0
    _assert_whole(emulator, out, 12)
