"""``higgsfield batch`` and ``higgsfield batch status``, run in-process against the emulator."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any, Callable, List

import pytest
from cli.conftest import Ran

from higgsfield_client.batch import BatchProgress
from higgsfield_client.cli import main
from higgsfield_client.cli._batch import BatchView, describe
from higgsfield_client.cli._output import Console
from higgsfield_client.testing import Emulator

from .conftest import MODEL, results_file

Run = Callable[..., Ran]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], emulator: Emulator) -> Run:
    """``run("batch", FILE, ...)`` runs ``higgsfield`` on the emulator, polling fast."""

    def call(*argv: Any) -> Ran:
        capsys.readouterr()
        connection = ["--base-url", emulator.base_url, "--api-key", emulator.api_key]
        code = main([str(arg) for arg in argv] + connection)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return call


def _jobs_file(tmp_path: Path, *prompts: str, name: str = "jobs.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"arguments": {"prompt": p}}) + "\n" for p in prompts))
    return path


FAST = ["--model", MODEL, "--poll-interval", "0.05"]


def test_a_file_of_jobs_runs_into_its_output_folder_and_prints_a_summary(run: Run, tmp_path: Path) -> None:
    source = _jobs_file(tmp_path, "a lake", "a hill", "a fail [fail]")
    ran = run("batch", source, *FAST)
    out = tmp_path / "jobs-out"
    assert ran.code == 4  # one item failed
    assert ran.out == ""
    assert f"batch: 3 items from {source} -> {out}/" in ran.err
    assert "item 3: failed - Generation failed" in ran.err
    assert "3 items: 2 completed, 1 failed" in ran.err
    assert f"results in {out / 'results.jsonl'}" in ran.err
    assert sorted(p.name for p in out.iterdir()) == ["1", "2", "journal.sqlite3", "results.jsonl"]
    assert [line["status"] for line in results_file(out)] == ["completed", "completed", "failed"]
    assert (out / "1" / "0.png").is_file()


def test_json_prints_one_line_per_finished_item_and_a_rerun_redoes_nothing(
    run: Run, emulator: Emulator, tmp_path: Path
) -> None:
    source = _jobs_file(tmp_path, "one", "two")
    out = tmp_path / "shots"
    first = run("batch", source, *FAST, "--out", out, "--json")
    assert first.code == 0
    lines = [json.loads(line) for line in first.out.splitlines()]
    assert sorted(line["id"] for line in lines) == ["1", "2"]
    assert {line["status"] for line in lines} == {"completed"}
    again = run("batch", source, *FAST, "--out", out, "--json")
    assert again.code == 0
    assert "2 finished before" in again.err
    assert len(emulator.jobs()) == 2


def test_no_download_and_a_journal_elsewhere(run: Run, tmp_path: Path) -> None:
    source = _jobs_file(tmp_path, "one")
    journal = tmp_path / "elsewhere" / "j.sqlite3"
    ran = run("batch", source, *FAST, "--out", tmp_path / "o", "--journal", journal, "--no-download")
    assert ran.code == 0
    assert journal.is_file()
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["results.jsonl"]
    (line,) = results_file(tmp_path / "o")
    assert line["outputs"] == []
    assert line["urls"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"arguments": {"prompt": "x"}}\n{oops\n', "line 2: not JSON"),
        ('{"id": "../x", "arguments": {}}\n', "line 1: item id '../x' cannot name a folder"),
        ('{"id": "a", "arguments": {"prompt": "x"}}\n{"id": "A", "arguments": {"prompt": "y"}}\n', "twice"),
    ],
)
def test_bad_input_is_refused_before_anything_is_sent(
    run: Run, emulator: Emulator, tmp_path: Path, content: str, message: str
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(content)
    ran = run("batch", source, *FAST)
    assert ran.code == 2
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert emulator.jobs() == []


def test_a_changed_item_is_a_usage_error_that_names_it(run: Run, emulator: Emulator, tmp_path: Path) -> None:
    run("batch", _jobs_file(tmp_path, "one", "two"), *FAST)
    ran = run("batch", _jobs_file(tmp_path, "one", "three"), *FAST)
    assert ran.code == 2
    assert "item '2' changed since it was journaled" in ran.err
    assert len(emulator.jobs()) == 2


def test_a_missing_input_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    ran = run("batch", tmp_path / "nope.jsonl", *FAST)
    assert ran.code == 2
    assert "no input file" in ran.err


def test_status_summarises_a_journal_as_text_and_as_json(run: Run, tmp_path: Path) -> None:
    run("batch", _jobs_file(tmp_path, "one", "x [nsfw]"), *FAST)
    out = tmp_path / "jobs-out"
    text = run("batch", "status", out / "journal.sqlite3")
    assert text.code == 0
    assert f"journal {out / 'journal.sqlite3'}: 2 items" in text.out
    assert "completed          1" in text.out
    assert "nsfw               1" in text.out
    assert "runs: 1; the last started" in text.out
    assert "2: rejected by moderation (nsfw)" in text.out
    folder = run("--json", "batch", "status", out)  # the outputs folder names its journal
    document = json.loads(folder.out)
    assert document["items"] == 2
    assert document["states"]["nsfw"] == 1
    assert document["last_outcome"] == "finished"


def test_status_of_something_that_is_not_a_journal_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    assert run("batch", "status", tmp_path / "none.sqlite3").code == 2
    not_journal = tmp_path / "x.sqlite3"
    not_journal.write_text("text " * 500)
    ran = run("batch", "status", not_journal)
    assert ran.code == 2
    assert "not a batch journal" in ran.err
    assert run("batch", "status").code == 2


def test_the_help_explains_the_input_resume_and_exit_codes(run: Run) -> None:
    ran = run("batch", "--help")
    assert ran.code == 0
    for words in ("INPUT.jsonl", "higgsfield batch status", "--retry-failed", "resumes", "exit codes"):
        assert words in ran.out


def _lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line]


def test_an_out_that_is_a_file_is_a_usage_error_that_says_so(
    run: Run, emulator: Emulator, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.write_text("mine")
    ran = run("batch", _jobs_file(tmp_path, "one"), *FAST, "--out", taken)
    assert ran.code == 2
    assert f"the outputs folder {taken} is a file" in ran.err
    assert "--overwrite" not in ran.err
    assert taken.read_text() == "mine"
    assert emulator.jobs() == []


def test_a_journal_that_cannot_be_opened_is_a_usage_error(
    run: Run, emulator: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    ran = run("batch", _jobs_file(tmp_path, "one"), *FAST, "--journal", folder)
    assert ran.code == 2
    assert f"{folder} cannot be opened as a batch journal" in ran.err
    assert "Traceback" not in ran.err
    under_a_file = tmp_path / "jobs.jsonl" / "journal.sqlite3"
    ran = run("batch", _jobs_file(tmp_path, "one"), *FAST, "--journal", under_a_file)
    assert ran.code == 2
    assert "cannot make the batch's files at" in ran.err
    assert emulator.jobs() == []


def test_a_utf8_bom_at_the_start_of_the_input_is_read_as_nothing(run: Run, tmp_path: Path) -> None:
    source = tmp_path / "windows.jsonl"
    line = json.dumps({"id": "first", "arguments": {"prompt": "x"}})
    source.write_bytes(b"\xef\xbb\xbf" + line.encode() + b"\r\n")
    ran = run("batch", source, *FAST)
    assert ran.code == 0, ran.err
    assert [line["id"] for line in results_file(tmp_path / "windows-out")] == ["first"]


def test_an_empty_input_is_a_usage_error_and_leaves_the_results_alone(
    run: Run, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "shots"
    assert run("batch", _jobs_file(tmp_path, "one", "two"), *FAST, "--out", out).code == 0
    before = (out / "results.jsonl").read_text()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    ran = run("batch", empty, *FAST, "--out", out)
    assert ran.code == 2
    assert f"{empty} holds no items" in ran.err
    assert (out / "results.jsonl").read_text() == before


def test_results_jsonl_describes_the_whole_journal_after_a_run_of_part_of_it(
    run: Run, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "shots"
    three = tmp_path / "three.jsonl"
    lines = [json.dumps({"id": f"i{n}", "arguments": {"prompt": f"p{n}"}}) for n in (1, 2, 3)]
    three.write_text("\n".join(lines) + "\n")
    assert run("batch", three, *FAST, "--out", out).code == 0
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps({"id": "i2", "arguments": {"prompt": "p2"}}) + "\n")
    ran = run("batch", one, *FAST, "--out", out)
    assert ran.code == 0
    assert sorted(line["id"] for line in results_file(out)) == ["i1", "i2", "i3"]
    assert {line["status"] for line in results_file(out)} == {"completed"}
    assert len(emulator.jobs()) == 3


def test_the_live_bar_shows_the_known_total_and_downloads_apart() -> None:
    from rich.console import Console as Screen

    screen = Screen(record=True, file=io.StringIO(), width=120)
    view = BatchView(Console(out=io.StringIO(), err=io.StringIO(), json=False, screen=screen))
    progress = BatchProgress(
        total=300, total_known=True, input_done=False, completed=11, failed=1, expired=0, unfinished=0,
        in_flight=8, downloading=3, window=8, resumed=0, retries=0, capacity_waits=0, elapsed=6.0,
        rate=2.0, eta=144.0,
    )  # fmt: skip
    view.update(progress)
    view.close()
    text = re.sub(r"\s+", " ", screen.export_text())
    drawn = r"batch ━+ 12/300 11 completed 1 failed 8 in flight 3 downloading 2.00/s ETA 2m24s"
    assert re.search(drawn, text)
    assert describe(progress) == (
        "batch: 12/300 done (1 failed), 8 in flight, 3 downloading, 2.00/s, ETA 2m24s"
    )


def test_status_of_an_outputs_folder_checks_its_files_even_once_moved(run: Run, tmp_path: Path) -> None:
    assert run("batch", _jobs_file(tmp_path, "one", "two"), *FAST, "--out", tmp_path / "first").code == 0
    moved = tmp_path / "moved"
    (tmp_path / "first").rename(moved)
    (moved / "1" / "0.png").unlink()
    document = json.loads(run("--json", "batch", "status", moved).out)
    assert (document["states"]["completed"], document["downloads_pending"]) == (2, 1)
    text = run("batch", "status", moved)
    assert "(1 completed with outputs still to download)" in text.out
