"""``agent_run`` over stdio: turns with progress, and the agent's questions put to the user the
way the connection allows (elicitation in the call, ``input_required`` rounds, or the question
returned with its session id).

The emulator's agent echoes a message; one containing ``[question]`` asks a question first, and
the next message of the session answers it; ``[long]`` runs three seconds, longer than the
servers' ``--max-wait 1.5``.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator, List

import pytest
from mcp import Client
from mcp_support import Progress, call, connected
from mcp_types import ElicitRequestParams, ElicitResult

from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio

WAIT = ["--max-wait", "1.5"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(agent_turn_time=0.2, agent_long_turn_time=3.0, seed=3) as emulator:
        yield emulator


@pytest.fixture(scope="module")
async def plain(emulator: Emulator) -> AsyncIterator[Client]:
    """A client without elicitation, sharing one server."""
    async with connected(emulator, *WAIT) as client:
        yield client


class Answering:
    """An elicitation callback: the user answers ``answer``, or declines when it is None."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: List[str] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params.message)
        if self.answer is None:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"answer": self.answer})


def user_messages(emulator: Emulator, session_id: str) -> List[str]:
    """The texts the session's user sent, in order (the emulator's rows)."""
    rows = emulator.agent_session(session_id).messages
    return [row["message"]["text"] for row in rows if row["role"] == "user"]


async def test_a_turn_answers_with_progress_and_a_session_goes_on(plain: Client) -> None:
    progress = Progress()
    failed, first = await call(plain, "agent_run", {"text": "hello"}, progress_callback=progress)
    assert not failed, first
    assert (first["status"], first["text"]) == ("completed", "Echo: hello")
    assert first["cost_usd"] == "0.0010"
    assert any(message and message.startswith("agent: ") for message in progress.messages)
    failed, second = await call(plain, "agent_run", {"text": "again", "session_id": first["session_id"]})
    assert (failed, second["session_id"], second["text"]) == (False, first["session_id"], "Echo: again")


async def test_without_elicitation_the_question_comes_back_with_the_session_and_the_next_call_answers_it(
    plain: Client, emulator: Emulator
) -> None:
    failed, asked = await call(plain, "agent_run", {"text": "a poster [question]"})
    assert not failed, asked
    assert asked["status"] == "awaiting_input"
    assert asked["question"] == "Which style do you want for: a poster [question]?"
    assert asked["session_id"]
    failed, done = await call(plain, "agent_run", {"text": "art deco", "session_id": asked["session_id"]})
    assert (failed, done["status"], done["text"]) == (False, "completed", "Echo: art deco")
    assert user_messages(emulator, asked["session_id"]) == ["a poster [question]", "art deco"]


async def test_a_turn_still_running_at_the_bound_is_waited_for_again_with_its_message_id(
    plain: Client, emulator: Emulator
) -> None:
    failed, running = await call(plain, "agent_run", {"text": "a long film [long]"})
    assert not failed, running
    assert running["status"] == "running"
    assert "message_id" in running["next"]
    arguments = {"session_id": running["session_id"], "message_id": running["message_id"]}
    for _ in range(10):
        failed, outcome = await call(plain, "agent_run", arguments)
        assert not failed, outcome
        if outcome["status"] != "running":
            break
    assert (outcome["status"], outcome["text"]) == ("completed", "Echo: a long film [long]")
    assert user_messages(emulator, running["session_id"]) == ["a long film [long]"]


async def test_waiting_again_needs_the_session_and_no_text(plain: Client) -> None:
    failed, refused = await call(
        plain, "agent_run", {"text": "more", "message_id": "m-1", "session_id": "s-1"}
    )
    assert (failed, refused["error"]["type"]) == (True, "invalid_call")
    failed, refused = await call(plain, "agent_run", {"text": "  "})
    assert (failed, refused["error"]["type"]) == (True, "invalid_call")


async def test_a_client_with_elicitation_answers_the_question_within_the_call(emulator: Emulator) -> None:
    user = Answering("art nouveau")
    async with connected(emulator, *WAIT, mode="legacy", elicitation_callback=user) as client:
        failed, done = await call(client, "agent_run", {"text": "a label [question]"})
    assert not failed, done
    assert user.asked == ["The Higgsfield agent asks: Which style do you want for: a label [question]?"]
    assert (done["status"], done["text"]) == ("completed", "Echo: art nouveau")
    assert user_messages(emulator, done["session_id"]) == ["a label [question]", "art nouveau"]


async def test_a_declined_question_comes_back_to_the_model(emulator: Emulator) -> None:
    async with connected(emulator, *WAIT, mode="legacy", elicitation_callback=Answering(None)) as client:
        failed, asked = await call(client, "agent_run", {"text": "a mug [question]"})
    assert not failed, asked
    assert asked["status"] == "awaiting_input"
    assert "declined" in asked["next"]


async def test_on_a_2026_connection_a_declined_question_comes_back_to_the_model(emulator: Emulator) -> None:
    async with connected(emulator, *WAIT, elicitation_callback=Answering(None)) as client:
        failed, asked = await call(client, "agent_run", {"text": "a lamp [question]"})
    assert not failed, asked
    assert (asked["status"], asked["question"]) == (
        "awaiting_input",
        "Which style do you want for: a lamp [question]?",
    )
    assert "declined" in asked["next"]


async def test_on_a_2026_connection_the_question_is_an_input_required_round(emulator: Emulator) -> None:
    user = Answering("bauhaus")
    async with connected(emulator, *WAIT, elicitation_callback=user) as client:
        assert client.protocol_version == "2026-07-28"
        failed, done = await call(client, "agent_run", {"text": "a chair [question]"})
    assert not failed, done
    assert len(user.asked) == 1
    assert (done["status"], done["text"]) == ("completed", "Echo: bauhaus")
    assert user_messages(emulator, done["session_id"]) == ["a chair [question]", "bauhaus"]
