"""Agent API turns: the default echo, scripted outcomes, questions, the stale poll, interrupts."""

from __future__ import annotations

import re
from typing import Any, Dict, List

import pytest
import requests
from emu_helpers import (
    ISO_Z,
    UUID,
    accepted,
    agent_url,
    ended,
    open_session,
    read,
    send,
    texts,
    wait_state,
)

from higgsfield_client.testing import Emulator

ROW_KEYS = {"message_id", "role", "status", "message", "created_at", "llm_cost_usd"}


def _interrupt(http: requests.Session, emu: Emulator, session_id: str) -> requests.Response:
    return http.post(agent_url(emu, f"/sessions/{session_id}/interrupt"), timeout=10)


def _assistants(state: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [row for row in state["messages"] if row["role"] == "assistant"]


def test_default_turn_answers_an_echo_and_settles_the_user_row_with_its_cost(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    response = send(http, emu, session_id, "make an image")
    assert response.status_code == 202
    answer = response.json()
    assert set(answer) == {"message_id", "status"}
    assert answer["status"] == "processing"
    assert re.fullmatch(UUID, answer["message_id"])
    state = wait_state(http, emu, session_id, ended, after=answer["message_id"])
    assert state["status"] == "idle"
    (row,) = state["messages"]
    assert set(row) == ROW_KEYS
    assert (row["role"], row["status"], row["llm_cost_usd"]) == ("assistant", "completed", None)
    assert row["message"]["id"] == row["message_id"]
    assert row["message"]["role"] == "assistant"
    parts = row["message"]["parts"]
    assert [part["type"] for part in parts] == ["step-start", "reasoning", "text"]
    assert parts[1]["state"] == "done"
    assert texts(row) == ["Echo: make an image"]
    user, assistant = read(http, emu, session_id)["messages"]
    assert set(user) == ROW_KEYS
    assert user["message_id"] == answer["message_id"]
    assert (user["role"], user["status"]) == ("user", "completed")
    assert user["message"] == {"type": "text", "text": "make an image"}
    assert user["llm_cost_usd"] == "0.0010"
    assert assistant == row
    for listed in (user, assistant):
        assert re.fullmatch(ISO_Z, listed["created_at"])
    assert user["created_at"] <= assistant["created_at"]


def test_a_running_turn_lists_only_its_user_row(emu: Emulator, http: requests.Session) -> None:
    emu.script_agent_turn("hang")
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "long job")
    state = read(http, emu, session_id)
    assert state["status"] == "processing"
    (user,) = state["messages"]
    assert (user["message_id"], user["status"], user["llm_cost_usd"]) == (
        message_id, "processing", None
    )
    assert read(http, emu, session_id, after=message_id) == {
        "status": "processing", "messages": []
    }


def test_interrupt_stops_a_running_turn_without_an_assistant_row(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("hang", llm_cost_usd="0.0500")
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "never ends")
    response = _interrupt(http, emu, session_id)
    assert response.status_code == 202
    assert response.content == b""
    state = read(http, emu, session_id)
    assert state["status"] == "idle"
    (user,) = state["messages"]
    assert (user["message_id"], user["status"], user["llm_cost_usd"]) == (
        message_id, "failed", "0.0500"
    )
    # The session takes the next message as usual.
    next_id = accepted(http, emu, session_id, "again")
    done = wait_state(http, emu, session_id, ended, after=next_id)
    assert texts(done["messages"][0]) == ["Echo: again"]


def test_interrupt_of_an_idle_session_changes_nothing(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "quick")
    before = wait_state(http, emu, session_id, ended, after=message_id)
    full = read(http, emu, session_id)
    assert _interrupt(http, emu, session_id).status_code == 202
    assert read(http, emu, session_id) == full
    assert before["status"] == "idle"


def test_scripted_failure_is_an_assistant_row_with_status_failed(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("failed", text="the tool crashed", llm_cost_usd="0.2626", turn_time=0)
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "make a video")
    state = wait_state(http, emu, session_id, ended, after=message_id)
    assert state["status"] == "idle"
    (row,) = state["messages"]
    assert row["status"] == "failed"
    assert [part["type"] for part in row["message"]["parts"]] == ["step-start", "text"]
    assert texts(row) == ["the tool crashed"]
    user = read(http, emu, session_id)["messages"][0]
    assert (user["status"], user["llm_cost_usd"]) == ("failed", "0.2626")


def test_fail_marker_fails_an_unscripted_turn(emu: Emulator, http: requests.Session) -> None:
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "please [fail] now")
    (row,) = wait_state(http, emu, session_id, ended, after=message_id)["messages"]
    assert row["status"] == "failed"
    assert "[fail]" in texts(row)[0]


def test_question_parks_the_turn_until_the_answer_and_the_answer_completes_it(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("question", text="Which style?", llm_cost_usd="0.0100")
    emu.script_agent_turn("completed", text="photoreal it is", llm_cost_usd="0.0200")
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "make an image")
    parked = wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input",
                        after=asked)
    (question,) = parked["messages"]
    # Not terminal: a client that lets a terminal row win must still see the question.
    assert (question["role"], question["status"]) == ("assistant", "processing")
    assert texts(question) == ["Which style?"]
    user = read(http, emu, session_id)["messages"][0]
    assert (user["status"], user["llm_cost_usd"]) == ("processing", None)
    answered = accepted(http, emu, session_id, "photoreal")
    state = wait_state(http, emu, session_id, ended, after=answered)
    assert state["status"] == "idle"
    (reply,) = state["messages"]
    assert (reply["status"], texts(reply)) == ("completed", ["photoreal it is"])
    rows = read(http, emu, session_id)["messages"]
    assert [(row["role"], row["status"], row["llm_cost_usd"]) for row in rows] == [
        ("user", "completed", "0.0100"),
        ("assistant", "completed", None),
        ("user", "completed", "0.0200"),
        ("assistant", "completed", None),
    ]
    assert [rows[0]["message_id"], rows[1]["message_id"], rows[2]["message_id"]] == [
        asked, question["message_id"], answered
    ]


def _reasoning(row: Dict[str, Any]) -> str:
    (part,) = [part for part in row["message"]["parts"] if part["type"] == "reasoning"]
    text: str = part["text"]
    return text


def test_the_default_answer_to_a_question_echoes_the_reply_and_reasons_on_the_question(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "a poster [question]")
    parked = wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input",
                        after=asked)
    (question,) = texts(parked["messages"][0])
    assert question == "Which style do you want for: a poster [question]?"
    answered = accepted(http, emu, session_id, "flat pastel colours")
    (reply,) = wait_state(http, emu, session_id, ended, after=answered)["messages"]
    assert reply["status"] == "completed"
    assert texts(reply) == ["Echo: flat pastel colours"]
    assert _reasoning(reply) == f"The user answered 'flat pastel colours' to: {question}"
    # A scripted question is quoted as scripted; the next question gets its own answer.
    emu.script_agent_turn("question", text="Which size?")
    asked = accepted(http, emu, session_id, "another one")
    wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input", after=asked)
    answered = accepted(http, emu, session_id, "A4")
    (reply,) = wait_state(http, emu, session_id, ended, after=answered)["messages"]
    assert texts(reply) == ["Echo: A4"]
    assert _reasoning(reply) == "The user answered 'A4' to: Which size?"
    # A message that answers nothing is reasoned on plainly.
    plain = accepted(http, emu, session_id, "thanks")
    (reply,) = wait_state(http, emu, session_id, ended, after=plain)["messages"]
    assert texts(reply) == ["Echo: thanks"]
    assert _reasoning(reply) == "The user wrote: thanks"


def test_an_answer_reads_awaiting_input_with_nothing_after_it_during_the_lag(
    emu: Emulator, http: requests.Session
) -> None:
    # A lag far longer than this test: every poll below falls inside it.
    emu.script_agent_turn("question", text="Which style?", answer_lag=600)
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "make an image")
    wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input", after=asked)
    answered = accepted(http, emu, session_id, "photoreal")
    assert read(http, emu, session_id, after=answered) == {
        "status": "awaiting_input", "messages": []
    }
    # The turn is running behind the stale status: a second answer is refused, creating nothing.
    rows = read(http, emu, session_id)["messages"]
    twice = send(http, emu, session_id, "photoreal")
    assert twice.status_code == 409
    assert twice.json() == {"detail": "session_busy"}
    assert read(http, emu, session_id)["messages"] == rows
    assert _interrupt(http, emu, session_id).status_code == 202
    state = read(http, emu, session_id)
    assert state["status"] == "idle"
    assert state["messages"][-1]["message_id"] == answered
    assert state["messages"][-1]["status"] == "failed"


def test_after_the_lag_the_answer_turns_processing(emu: Emulator, http: requests.Session) -> None:
    emu.script_agent_turn("question", answer_lag=0.1)
    emu.script_agent_turn("hang")
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "make an image")
    wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input", after=asked)
    answered = accepted(http, emu, session_id, "photoreal")
    state = wait_state(http, emu, session_id, lambda s: s["status"] == "processing",
                       after=answered)
    assert state["messages"] == []


def test_the_emulator_wide_answer_lag_applies_to_marked_questions(http: requests.Session) -> None:
    with Emulator(agent_turn_time=0.01, agent_answer_lag=600) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        session_id = open_session(http, emulator)
        asked = accepted(http, emulator, session_id, "a poster [question]")
        parked = wait_state(http, emulator, session_id,
                            lambda s: s["status"] == "awaiting_input", after=asked)
        assert texts(parked["messages"][0]) == ["Which style do you want for: a poster [question]?"]
        answered = accepted(http, emulator, session_id, "blue")
        assert read(http, emulator, session_id, after=answered)["status"] == "awaiting_input"


def test_interrupting_a_parked_question_settles_it_failed(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("question", text="Which style?")
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "make an image")
    wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input", after=asked)
    assert _interrupt(http, emu, session_id).status_code == 202
    state = read(http, emu, session_id)
    assert state["status"] == "idle"
    assert [(row["role"], row["status"]) for row in state["messages"]] == [
        ("user", "failed"), ("assistant", "failed")
    ]
    assert state["messages"][0]["llm_cost_usd"] == "0.0010"


def test_hang_marker_runs_until_interrupted(emu: Emulator, http: requests.Session) -> None:
    session_id = open_session(http, emu)
    accepted(http, emu, session_id, "spin [hang]")
    assert emu.agent_session(session_id).status == "processing"
    assert _interrupt(http, emu, session_id).status_code == 202
    assert emu.agent_session(session_id).status == "idle"


def test_long_marker_outlasts_a_default_turn_sent_after_it(
    emu: Emulator, http: requests.Session
) -> None:
    assert emu.agent_long_turn_time == 10 * emu.agent_turn_time  # follows agent_turn_time
    emu.agent_long_turn_time = 600
    slow_session, quick_session = open_session(http, emu), open_session(http, emu)
    slow = accepted(http, emu, slow_session, "a film [long]")
    quick = accepted(http, emu, quick_session, "a still")
    # The default turn, accepted later, has ended: the long one is still running.
    wait_state(http, emu, quick_session, ended, after=quick)
    assert read(http, emu, slow_session, after=slow) == {"status": "processing", "messages": []}
    (user,) = emu.agent_session(slow_session).messages
    assert (user["message_id"], user["status"]) == (slow, "processing")
    assert _interrupt(http, emu, slow_session).status_code == 202


def test_long_marker_turn_runs_the_long_turn_time_and_completes(
    http: requests.Session,
) -> None:
    # The reverse timing: a [long] turn ends first when the long turn time is the shorter one.
    with Emulator(agent_turn_time=600, agent_long_turn_time=0.05) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        assert emulator.agent_long_turn_time == 0.05
        plain_session, long_session = open_session(http, emulator), open_session(http, emulator)
        plain = accepted(http, emulator, plain_session, "a still")
        slow = accepted(http, emulator, long_session, "a film [long]")
        state = wait_state(http, emulator, long_session, ended, after=slow)
        assert state["status"] == "idle"
        (row,) = state["messages"]
        assert (row["status"], texts(row)) == ("completed", ["Echo: a film [long]"])
        assert read(http, emulator, plain_session, after=plain)["status"] == "processing"
        # A script beats the marker: this [long] message runs the script's time.
        emulator.script_agent_turn("completed", text="scripted", turn_time=0)
        emulator.agent_long_turn_time = 600
        scripted = accepted(http, emulator, long_session, "again [long]")
        (row,) = wait_state(http, emulator, long_session, ended, after=scripted)["messages"]
        assert texts(row) == ["scripted"]


def test_scripts_are_first_in_first_out_and_beat_the_markers(
    emu: Emulator, http: requests.Session
) -> None:
    slot = http.post(
        f"{emu.base_url}/files/generate-upload-url", json={"content_type": "image/png"}, timeout=10
    ).json()
    assert requests.put(slot["upload_url"], data=b"png!", headers=slot["upload_headers"],
                        timeout=10).ok
    emu.script_agent_turn("completed", text="first")
    emu.script_agent_turn("completed", text="Here it is:", asset_urls=[slot["public_url"]])
    session_id = open_session(http, emu)
    one = accepted(http, emu, session_id, "one [fail]")
    (first,) = wait_state(http, emu, session_id, ended, after=one)["messages"]
    assert (first["status"], texts(first)) == ("completed", ["first"])
    two = accepted(http, emu, session_id, "two")
    (second,) = wait_state(http, emu, session_id, ended, after=two)["messages"]
    assert texts(second) == ["Here it is:", slot["public_url"]]
    assert requests.get(texts(second)[1], timeout=10).content == b"png!"
    three = accepted(http, emu, session_id, "three")
    (third,) = wait_state(http, emu, session_id, ended, after=three)["messages"]
    assert texts(third) == ["Echo: three"]


def test_a_scripted_turn_time_keeps_the_turn_processing(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("completed", turn_time=600)
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "slow")
    assert read(http, emu, session_id, after=message_id)["status"] == "processing"
    assert emu.agent_session(session_id).status == "processing"


@pytest.mark.parametrize(
    ("outcome", "options"),
    [
        ("nsfw", {}),
        ("completed", {"turn_time": -1}),
        ("completed", {"llm_cost_usd": "cheap"}),
        ("completed", {"llm_cost_usd": "1e-3"}),
        ("completed", {"answer_lag": 1.0}),
        ("question", {"answer_lag": -1.0}),
        ("failed", {"asset_urls": ["https://cdn.test/a.png"]}),
        ("question", {"images": 1}),
        ("completed", {"images": -1}),
        ("hang", {"text": "never shown"}),
    ],
)
def test_script_agent_turn_refuses_a_script_it_cannot_play(
    emu: Emulator, outcome: str, options: Dict[str, Any]
) -> None:
    with pytest.raises(
        ValueError, match=r"outcome|negative|decimal|question|asset_urls|images|text"
    ):
        emu.script_agent_turn(outcome, **options)


def test_agent_turn_time_changes_at_runtime_for_new_turns(
    emu: Emulator, http: requests.Session
) -> None:
    assert emu.agent_turn_time == 0.05
    emu.agent_turn_time = 600
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "slow")
    emu.agent_turn_time = 0  # the running turn keeps its timing
    assert read(http, emu, session_id, after=message_id)["status"] == "processing"
    with pytest.raises(ValueError, match="negative"):
        emu.agent_turn_time = -1
    with pytest.raises(ValueError, match="negative"):
        Emulator(agent_answer_lag=-1)
    with pytest.raises(ValueError, match="negative"):
        emu.agent_long_turn_time = -1
    with pytest.raises(ValueError, match="negative"):
        Emulator(agent_long_turn_time=-1)
