"""The command at a real terminal (a pty): the line editor, Ctrl-C and Ctrl-D during the agent's
turns, and the live status line."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Callable, List

import pexpect
import pytest

from higgsfield_client.testing import Emulator

from .conftest import MODEL

pytestmark = pytest.mark.higgsfield_emulator(agent_turn_time=0.05, queue_time=30.0, run_time=30.0)
CODE = "from higgsfield_client.cli import main; raise SystemExit(main())"
# Keys as a terminal sends them.
LEFT, HOME, UP = "\x1b[D", "\x01", "\x1b[A"


def _spawn(emulator: Emulator, *argv: str) -> pexpect.spawn:
    """``higgsfield ARGV`` on a pty of its own (stdin, stdout and stderr), against ``emulator``."""
    env = {
        **os.environ,
        "HF_KEY": emulator.api_key,
        "HIGGSFIELD_BASE_URL": emulator.base_url,
        "TERM": "xterm-256color",
        # Agent turns are polled at once and often; set before the command starts polling.
        "PYTHONUNBUFFERED": "1",
        "PROMPT_TOOLKIT_NO_CPR": "1",  # nobody answers its cursor position requests here
        "COLUMNS": "400",
        "LINES": "40",
    }
    return pexpect.spawn(
        sys.executable,
        ["-c", f"from higgsfield_client import PollPolicy; from higgsfield_client.agents import _calls; "
         f"_calls.TURN_POLL = PollPolicy(initial_delay=0.02, max_delay=0.05); {CODE}", *argv],
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 400),  # wide enough that no message is wrapped
    )


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _routes(emulator: Emulator) -> List[str]:
    return [entry.route for entry in emulator.journal]


def _ended(child: pexpect.spawn) -> str:
    """The text the command printed until it exited, without the terminal's escape sequences."""
    child.expect(pexpect.EOF)
    child.close()
    return re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\r", "", str(child.before))


def test_ctrl_c_during_agent_ask_interrupts_the_turn_and_names_the_session(
    higgsfield_emulator: Emulator,
) -> None:
    child = _spawn(higgsfield_emulator, "agent", "ask", "[hang] forever")
    _until(lambda: "agent-messages" in _routes(higgsfield_emulator), "the command polled no turn")
    child.sendintr()
    shown = _ended(child)
    (session,) = higgsfield_emulator.agent_sessions()
    assert child.exitstatus == 130
    assert f"the agent's turn was stopped (session {session.session_id})" in shown
    assert f"higgsfield agent ask --session {session.session_id}" in shown
    assert "Traceback" not in shown
    assert "agent-interrupt" in _routes(higgsfield_emulator)
    assert higgsfield_emulator.agent_session(session.session_id).status == "idle"


def test_ctrl_d_at_the_agents_question_ends_agent_ask_saying_how_to_answer(
    higgsfield_emulator: Emulator,
) -> None:
    child = _spawn(higgsfield_emulator, "agent", "ask", "paint it [question]")
    child.expect("agent asks: Which style")
    child.expect("you>")
    child.sendeof()
    shown = _ended(child)
    (session,) = higgsfield_emulator.agent_sessions()
    assert child.exitstatus == 0
    assert "EOFError" not in shown
    assert "Traceback" not in shown
    assert f"answer with higgsfield agent ask --session {session.session_id} TEXT" in shown
    assert session.status == "awaiting_input"


def test_the_chat_edits_lines_recalls_history_and_survives_ctrl_c(higgsfield_emulator: Emulator) -> None:
    child = _spawn(higgsfield_emulator, "agent", "chat")
    child.expect("you>")
    child.send("never mind")
    child.sendintr()  # at the prompt, Ctrl-C drops the line
    child.expect("you>")
    child.send("hllo" + HOME + "\x1b[C" + "e")  # to the start, one right, insert "e"
    child.send("\r")
    child.expect("Echo: hello")
    child.expect("you>")
    child.send(UP + "\r")  # the line typed before, again
    child.expect("Echo: hello")
    child.expect("you>")
    child.send("[hang] on" + LEFT * 3 + "\r")  # Enter sends the whole line, wherever the cursor
    _until(lambda: _routes(higgsfield_emulator).count("agent-message") == 3, "the third turn was not sent")
    child.sendintr()
    child.expect("turn interrupted")
    child.expect("you>")
    child.sendeof()
    shown = _ended(child)
    (session,) = higgsfield_emulator.agent_sessions()
    sent = [row["message"]["text"] for row in session.messages if row["role"] == "user"]
    assert sent == ["hello", "hello", "[hang] on"]  # no escape codes in a billed message
    assert child.exitstatus == 0
    assert f"bye (session {session.session_id})" in shown
    assert session.status == "idle"


def test_the_status_line_shows_at_once_and_leaves_no_spinner_after_ctrl_c(
    higgsfield_emulator: Emulator,
) -> None:
    child = _spawn(higgsfield_emulator, "submit", MODEL, "prompt=x", "--wait", "--poll-interval", "30")
    child.expect("queued")
    # Drawn when the job was accepted, long before the first status check (30 s later).
    assert "status" not in _routes(higgsfield_emulator)
    child.sendintr()
    shown = _ended(child)
    assert child.exitstatus == 130
    (job,) = higgsfield_emulator.jobs()
    assert f"higgsfield result {job.request_id}" in shown
    assert "… higgsfield-ai/soul/standard" in shown  # the spinner's place, once the wait ended
