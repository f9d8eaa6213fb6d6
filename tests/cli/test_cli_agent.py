"""``higgsfield agent ask`` and ``higgsfield agent chat`` against the emulator."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from higgsfield_client import SyncClient
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
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\npaint it [question]\nblue\n[fail] oops\nagain\n\n"))
    ran = run("agent", "chat", *FAST)
    assert ran.code == 4, ran.err  # a turn failed: the chat goes on, and says so at the end
    assert lines(ran.out) == [
        "Echo: hello",
        "Echo: blue",
        "Agent turn failed: the message asked for a failure ([fail])",
        "Echo: again",
    ]
    assert "agent asks: Which style" in ran.err
    (session,) = higgsfield_emulator.agent_sessions()
    (failed_row,) = [row for row in session.messages if row["role"] == "user" and "[fail]" in str(row)]
    assert f"✗ the turn failed (message {failed_row['message_id']})" in ran.err
    assert f"bye (session {session.session_id})" in ran.err


@pytest.mark.parametrize(
    "argv",
    [
        ["hello", "--timeout", "0"],
        ["hello", "--timeout", "-5"],
        ["x" * 20_001],
    ],
)
def test_ask_refuses_a_bad_timeout_or_an_over_long_message_before_opening_a_session(
    run: Run, higgsfield_emulator: Emulator, argv: list[str]
) -> None:
    ran = run("--json", "agent", "ask", *argv)
    assert ran.code == 2
    assert json.loads(ran.out)["error"]["exit_code"] == 2
    assert higgsfield_emulator.agent_sessions() == []
    assert higgsfield_emulator.journal == []


# A long turn outlasts --timeout by seconds, so that a loaded machine cannot see it end in time.
@pytest.mark.higgsfield_emulator(agent_turn_time=0.05, agent_long_turn_time=4.0)
def test_after_a_timeout_agent_wait_gets_the_answer_and_the_error_names_both_ids(
    run: Run, higgsfield_emulator: Emulator
) -> None:
    slow = run("--json", "agent", "ask", "a [long] one", "--timeout", "0.2")
    assert slow.code == 7
    error = json.loads(slow.out)["error"]
    (session,) = higgsfield_emulator.agent_sessions()
    (sent,) = [row["message_id"] for row in session.messages if row["role"] == "user"]
    assert (error["session_id"], error["message_id"]) == (session.session_id, sent)
    # What it suggests works while the turn runs; a new message would be refused with 409.
    assert f"higgsfield agent wait --session {session.session_id}" in slow.err
    assert f"higgsfield agent interrupt --session {session.session_id}" in slow.err
    assert "agent ask --session" not in slow.err
    busy = run("agent", "ask", "--session", session.session_id, "more", *FAST)
    assert (busy.code, "SessionBusyError" in busy.err) == (1, True)
    assert "higgsfield agent wait --session ID waits for it" in busy.err
    waited = run("agent", "wait", "--session", session.session_id, *FAST)
    assert waited.code == 0, waited.err
    assert waited.out == "Echo: a [long] one\n"
    again = run("--json", "agent", "wait", "--session", session.session_id, "--message", sent, *FAST)
    assert json.loads(again.out)["message_id"] == sent  # a finished turn: its answer at once


def test_agent_interrupt_stops_a_running_turn(run: Run, higgsfield_emulator: Emulator) -> None:
    slow = run("agent", "ask", "[hang] on", "--timeout", "0.2")
    assert slow.code == 7
    (session,) = higgsfield_emulator.agent_sessions()
    assert session.status == "processing"
    stopped = run("agent", "interrupt", "--session", session.session_id)
    assert (stopped.code, stopped.out) == (0, f"interrupted {session.session_id}\n")
    assert higgsfield_emulator.agent_session(session.session_id).status == "idle"
    with SyncClient(base_url=higgsfield_emulator.base_url, api_key=higgsfield_emulator.api_key) as client:
        empty = client.agents.sessions.create().session_id
    nothing = run("agent", "wait", "--session", empty)
    assert nothing.code == 2
    assert f"session {empty} has no message to wait for" in nothing.err


@pytest.mark.higgsfield_emulator(agent_turn_time=0.05, agent_long_turn_time=3.0)
def test_a_chat_outlives_a_timeout_and_waits_for_the_turn_with_slash_wait(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each /wait lasts at least --timeout: the twenty of them outlast the 3 s turn.
    monkeypatch.setattr("sys.stdin", io.StringIO("a [long] one\nnext\n" + "/wait\n" * 20 + "\n"))
    ran = run("agent", "chat", "--timeout", "0.2")
    assert ran.code == 0, ran.err
    answers = lines(ran.out)
    assert answers
    assert set(answers) == {"Echo: a [long] one"}  # a /wait after the end shows the answer again
    assert "no answer within --timeout; the turn goes on: /wait waits for it, /interrupt stops it" in ran.err
    assert "the agent is still busy with the last turn" in ran.err  # "next", sent while it ran
    (session,) = higgsfield_emulator.agent_sessions()
    assert [row["message"]["text"] for row in session.messages if row["role"] == "user"] == ["a [long] one"]


def test_a_chat_left_with_a_running_turn_exits_7_and_slash_interrupt_stops_one(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("[hang] one\n/interrupt\n[hang] two\n"))
    ran = run("agent", "chat", "--timeout", "0.2")
    assert ran.code == 7
    (session,) = higgsfield_emulator.agent_sessions()
    assert "turn interrupted" in ran.err
    assert f"the last turn goes on: higgsfield agent wait --session {session.session_id}" in ran.err
    assert [entry.route for entry in higgsfield_emulator.journal].count("agent-interrupt") == 1


def test_chat_under_json_prints_a_json_line_per_turn(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n[fail] no\n\n"))
    ran = run("--json", "agent", "chat", *FAST)
    assert ran.code == 4
    documents = [json.loads(line) for line in ran.out.splitlines()]
    assert [(d["status"], d["text"]) for d in documents] == [
        ("completed", "Echo: hello"),
        ("failed", "Agent turn failed: the message asked for a failure ([fail])"),
    ]
    (session,) = higgsfield_emulator.agent_sessions()
    assert {d["session_id"] for d in documents} == {session.session_id}


def test_input_that_ends_at_the_agents_question_ends_the_chat_saying_how_to_answer(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("paint it [question]\n"))
    ran = run("agent", "chat", *FAST)
    assert ran.code == 0, ran.err
    (session,) = higgsfield_emulator.agent_sessions()
    assert session.status == "awaiting_input"
    assert ran.out.startswith("Which style")
    assert f"answer with higgsfield agent ask --session {session.session_id} TEXT" in ran.err
    assert f"bye (session {session.session_id})" in ran.err


def test_control_sequences_of_an_answer_never_reach_the_terminal(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = "red \x1b[31mtext\x1b[0m\x1b]0;new title\x07 and \x1b[2Jclear\x9b1m\x07\r\nnext line"
    higgsfield_emulator.script_agent_turn(text=hostile)
    asked = run("agent", "ask", "hello", *FAST)
    assert asked.out == "red text and clear\nnext line\n"
    higgsfield_emulator.script_agent_turn(text=hostile)
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n\n"))
    chatted = run("agent", "chat", *FAST)
    assert chatted.out == "red text and clear\nnext line\n"
    higgsfield_emulator.script_agent_turn(text=hostile)
    as_json = run("--json", "agent", "ask", "hello", *FAST)
    assert json.loads(as_json.out)["text"] == hostile  # scripts get the answer as it came
