"""``higgsfield agent ask`` and ``higgsfield agent chat`` against the emulator."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from higgsfield_client.testing import Emulator

from .conftest import Run, lines

pytestmark = pytest.mark.higgsfield_emulator(agent_turn_time=0.05)
FAST = ["--timeout", "30"]


@pytest.fixture(autouse=True)
def _fast_turn_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    from higgsfield_client import PollPolicy
    from higgsfield_client.agents import _calls

    monkeypatch.setattr(_calls, "TURN_POLL", PollPolicy(initial_delay=0.02, max_delay=0.05))


def test_ask_prints_the_answer_and_names_the_session(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("agent", "ask", "hello agent", *FAST)
    assert ran.code == 0, ran.err
    assert ran.out == "Echo: hello agent\n"
    (session,) = higgsfield_emulator.agent_sessions()
    assert f"session {session.session_id}" in ran.err


def test_ask_as_json_continues_a_session_and_downloads_linked_assets(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    picture = tmp_path / "in.png"
    picture.write_bytes(b"\x89PNG bytes")
    uploaded = lines(run("upload", picture).out)[0]
    first = json.loads(run("--json", "agent", "ask", "one", *FAST).out)
    higgsfield_emulator.script_agent_turn(text="Here it is", asset_urls=[uploaded])
    ran = run(
        "agent",
        "ask",
        "--session",
        first["session_id"],
        "two",
        "--json",
        "--download",
        tmp_path / "out",
        *FAST,
    )
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert document["session_id"] == first["session_id"]
    assert (document["status"], document["asset_urls"]) == ("completed", [uploaded])
    assert document["cost_usd"] == "0.0010"
    (saved,) = document["files"]
    assert Path(saved).read_bytes() == b"\x89PNG bytes"
    again = run(
        "agent", "ask", "--session", first["session_id"], "three", "--download", tmp_path / "out", *FAST
    )
    assert again.code == 0  # an answer without assets downloads nothing
    higgsfield_emulator.script_agent_turn(text="Same again", asset_urls=[uploaded])
    clash = run(
        "agent", "ask", "--session", first["session_id"], "four", "--download", tmp_path / "out", *FAST
    )
    assert clash.code == 1
    assert "--overwrite" in clash.err


def test_a_failed_turn_exits_4_and_a_turn_out_of_time_7_with_its_ids(
    run: Run, higgsfield_emulator: Emulator
) -> None:
    failed = run("agent", "ask", "[fail] now", *FAST)
    assert failed.code == 4
    assert "failure" in failed.out
    slow = run("agent", "ask", "[hang] forever", "--timeout", "0.3")
    assert slow.code == 7
    (_, hanging) = higgsfield_emulator.agent_sessions()
    assert f"session {hanging.session_id}, message " in slow.err
    assert f"--session {hanging.session_id}" in slow.err


def test_no_access_exits_3(run: Run, higgsfield_emulator: Emulator) -> None:
    higgsfield_emulator.agent_access = False
    ran = run("--json", "agent", "ask", "hello", *FAST)
    assert ran.code == 3
    assert json.loads(ran.out)["error"]["type"] == "AgentAccessDeniedError"


def test_ask_without_a_terminal_leaves_a_question_unanswered(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    ran = run("agent", "ask", "ask me [question]", *FAST)
    assert ran.code == 0
    assert ran.out.startswith("Which style")
    assert "answer with higgsfield agent ask --session" in ran.err


def test_chat_takes_a_turn_per_line_and_answers_questions_from_the_next(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\npaint it [question]\nblue\n[fail] oops\n\n"))
    ran = run("agent", "chat", *FAST)
    assert ran.code == 0, ran.err
    assert lines(ran.out) == [
        "Echo: hello",
        "Echo: blue",
        "Agent turn failed: the message asked for a failure ([fail])",
    ]
    assert "agent asks: Which style" in ran.err
    (session,) = higgsfield_emulator.agent_sessions()
    assert f"bye (session {session.session_id})" in ran.err
