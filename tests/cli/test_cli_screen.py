"""What the command draws on a terminal through rich, recorded on a console that keeps it; and
that off a terminal nothing of rich is even imported."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, List

import pytest
from rich.console import Console as Screen

from higgsfield_client import Completed, SyncClient
from higgsfield_client.cli import main
from higgsfield_client.cli._output import Console, StatusLine
from higgsfield_client.testing import Emulator

from .conftest import FAST, MODEL, Ran

pytestmark = pytest.mark.higgsfield_emulator(queue_time=0.05, run_time=0.05, agent_turn_time=0.05)
RED = "\x1b[31m"


class Drawn:
    """One run of the command with its live output drawn on a recording screen."""

    def __init__(self, ran: Ran, screen: Screen) -> None:
        self.ran = ran
        # The text as drawn, each run of blanks made one space; and with the colours as ANSI codes.
        self.text = re.sub(r"[ \t]+", " ", screen.export_text(clear=False))
        self.styled = screen.export_text(styles=True)


@pytest.fixture
def draw(capsys: pytest.CaptureFixture[str], higgsfield_emulator: Emulator) -> Any:
    def call(*argv: Any) -> Drawn:
        screen = Screen(record=True, file=io.StringIO(), width=120, color_system="truecolor")
        capsys.readouterr()
        code = main([str(arg) for arg in argv], screen=screen)
        captured = capsys.readouterr()
        return Drawn(Ran(code, captured.out, captured.err), screen)

    return call


def test_a_waited_job_shows_its_state_and_time_and_a_tick_when_it_completes(draw: Any) -> None:
    drawn = draw("submit", MODEL, "prompt=a lake", "--wait", *FAST)
    assert drawn.ran.code == 0
    assert drawn.ran.out.startswith("http")  # results stay plain on stdout
    assert re.search(r"✓ higgsfield-ai/soul/standard completed \d+:\d\d:\d\d", drawn.text)


def test_a_failed_job_shows_its_state_in_red_and_a_cross_instead_of_the_spinner(draw: Any) -> None:
    drawn = draw("submit", MODEL, "prompt=a lake [fail]", "--wait", *FAST)
    assert drawn.ran.code == 4
    assert f"{RED}failed" in drawn.styled
    assert "✓" not in drawn.text
    assert re.search(r"✗ higgsfield-ai/soul/standard failed \d+:\d\d:\d\d", drawn.text)
    assert "higgsfield-sansio: JobFailedError" in drawn.text  # the error, drawn on the same screen


def test_a_wait_that_times_out_leaves_an_ellipsis_not_a_frozen_spinner(
    draw: Any, higgsfield_emulator: Emulator
) -> None:
    higgsfield_emulator.script_next_job(queue_time=30.0)
    with SyncClient(base_url=higgsfield_emulator.base_url, api_key=higgsfield_emulator.api_key) as client:
        request_id = client.submit(MODEL, {"prompt": "slow"}).request_id
    drawn = draw("result", request_id, "--timeout", "0.3", *FAST)
    assert drawn.ran.code == 7
    assert f"… {request_id} queued" in drawn.text


def test_the_clock_of_a_status_line_starts_before_the_submit() -> None:
    # A job that completed at the first status check, 2.5 s after its submit.
    screen = Screen(record=True, file=io.StringIO(), width=80)
    console = Console(out=io.StringIO(), err=io.StringIO(), json=False, screen=screen)
    now = [100.0]
    line = StatusLine(console, "job", state="submitting", clock=lambda: now[0])
    now[0] = 102.5
    line.update(Completed("r", {"status": "completed", "images": []}))
    line.close()
    assert re.search(r"✓ job completed 0:00:02", re.sub(r"\s+", " ", screen.export_text()))


def test_an_upload_and_downloads_draw_byte_bars_with_rate_several_at_once(
    draw: Any, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG" + bytes(300 * 1024))
    uploaded = draw("upload", picture)
    assert uploaded.ran.code == 0
    assert re.search(r"photo\.png ━+ 300\.0/300\.0 KiB [\d.]+ [KMG]?i?B/s", uploaded.text)

    url = uploaded.ran.out.strip()
    name = url.rsplit("/", 1)[1]
    downloaded = draw("download", url, url, "--to", tmp_path / "out")
    assert downloaded.ran.code == 0
    bars = [line.split(" ━")[0] for line in downloaded.text.splitlines() if "━" in line]
    assert bars == [name, name.replace(".png", "-2.png")]
    assert "downloaded 2 file(s)" not in downloaded.text  # the plain summary is for logs


def test_a_batch_draws_its_counts_rate_and_failures_and_status_draws_tables(
    draw: Any, tmp_path: Path
) -> None:
    source = tmp_path / "jobs.jsonl"
    prompts = ["a lake", "a hill", "a storm [fail]"]
    source.write_text("".join(json.dumps({"arguments": {"prompt": p}}) + "\n" for p in prompts))
    ran = draw("batch", source, "--model", MODEL, *FAST)
    assert ran.ran.code == 4
    assert re.search(r"batch ━+ 3/3 2 completed 1 failed 0 in flight [\d.]+/s\n", ran.text)
    assert "ETA" not in ran.text  # nothing is left to wait for
    assert f"{RED}item 3: failed - Generation failed" in ran.styled
    assert "batch: 3 items: 2 completed, 1 failed" in ran.text

    status = draw("batch", "status", tmp_path / "jobs-out")
    assert status.ran.code == 0
    assert status.ran.out == ""  # drawn as tables on the screen instead
    rows: List[str] = [line for line in status.text.splitlines() if line.startswith(("┃", "│"))]
    assert rows[:3] == ["┃ state ┃ items ┃", "│ completed │ 2 │", "│ failed │ 1 │"]
    assert "│ 3 │ Generation failed: the prompt asked for a failure ([fail]) │" in status.text


def test_the_agent_chat_shows_answers_as_markdown(draw: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("**bold** and `code`\n\n"))
    drawn = draw("agent", "chat", "--timeout", "30")
    assert drawn.ran.code == 0
    assert "Echo: bold and code" in drawn.text
    assert "**" not in drawn.text
    assert drawn.ran.out == ""  # the answer went to the screen that draws stdout


def test_markdown_answers_keep_their_line_breaks_and_show_each_asset_url_once(
    draw: Any, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture, clip, page = (f"https://cdn.example/{name}" for name in ("a.png", "b.mp4", "c.html"))
    answer = f"first line\nsecond line\n\n![a picture]({picture})\nthe [clip]({clip}) and {page}"
    higgsfield_emulator.script_agent_turn(text=answer)
    monkeypatch.setattr("sys.stdin", io.StringIO("show me\n\n"))
    drawn = draw("agent", "chat", "--timeout", "30")
    assert drawn.ran.code == 0
    shown = [line.strip() for line in drawn.text.splitlines()]
    assert shown[shown.index("first line") + 1] == "second line"
    # The picture and the clip's link hide their URLs: listed once after the answer. The page's
    # URL is in the text, shown as it is.
    assert [drawn.text.count(url) for url in (picture, clip, page)] == [1, 1, 1]
    assert f"asset: {picture}" in drawn.text
    assert f"asset: {clip}" in drawn.text


def test_importing_the_package_or_printing_plain_lines_imports_no_rich(tmp_path: Path) -> None:
    code = (
        "import sys, higgsfield_client; loaded = 'rich' in sys.modules; "
        "from higgsfield_client.cli import main; "
        f"code = main(['batch', 'status', {str(tmp_path / 'none')!r}]); "
        "print(loaded, code, 'rich' in sys.modules)"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.split() == ["False", "2", "False"]
