"""client.agents end to end against the emulator, on every transport: sessions, turns, questions,
interrupts, timeouts and resumes, media, errors, and what is (not) sent twice."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any, List

import anyio
import anyio.lowlevel
import pytest

import higgsfield_client
from higgsfield_client import (
    AgentAccessDeniedError,
    AgentError,
    AgentTimeoutError,
    AgentTurnFailedError,
    HiggsfieldClientError,
    InsufficientCreditsError,
    InvalidArgumentError,
    PermissionDeniedError,
    SessionBusyError,
    SessionStatus,
    SyncClient,
    TransportError,
)

from .harness import FAST_POLL, Harness


def _message_posts(harness: Harness) -> int:
    return sum(entry.route == "agent-message" for entry in harness.emulator.journal)


def test_a_turn_answers_with_its_text_and_cost(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create({"purpose": "test"})
        result = await client.agents.sessions.run(session.session_id, "hello there")
        state = await client.agents.sessions.messages(session.session_id)
        later = await client.agents.sessions.messages(session.session_id, after=result.message_id)
        return session, result, state, later

    session, result, state, later = harness.run(scenario)
    assert session.status is SessionStatus.IDLE
    assert (result.status, result.text, result.session_id) == (
        "completed",
        "Echo: hello there",
        session.session_id,
    )
    assert result.cost_usd == Decimal("0.0010")
    assert [row.role for row in state.messages] == ["user", "assistant"]
    assert state.messages[0].message_id == result.message_id
    assert [row.role for row in later.messages] == ["assistant"]
    assert harness.emulator.agent_session(session.session_id).config == {"purpose": "test"}
    assert _message_posts(harness) == 1


def test_a_question_is_answered_once_even_while_the_api_still_shows_it(harness: Harness) -> None:
    # The emulator keeps reading awaiting_input, with nothing after the answer, for a while: a
    # loop that took that for a new question would answer twice.
    harness.emulator.script_agent_turn("question", text="Which colour?", answer_lag=0.4)
    asked: List[str] = []

    def on_question(question: str) -> str:
        asked.append(question)
        return "blue"

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        return await client.agents.sessions.run(session.session_id, "paint it", on_question=on_question)

    result = harness.run(scenario)
    assert asked == ["Which colour?"]
    assert (result.status, result.text) == ("completed", "Echo: blue")
    assert result.cost_usd == Decimal("0.0020")  # the question's turn and the answer's
    assert _message_posts(harness) == 2


def test_without_on_question_a_question_ends_the_turn(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        return await client.agents.sessions.run(session.session_id, "ask me [question]")

    result = harness.run(scenario)
    assert result.status == "awaiting_input"
    assert result.text.startswith("Which style")


def test_a_failed_turn_is_returned_or_raised_as_asked(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        returned = await client.agents.sessions.run(session.session_id, "[fail] please")
        with pytest.raises(AgentTurnFailedError) as raised:
            await client.agents.sessions.run(session.session_id, "[fail] again", raise_on_failure=True)
        return returned, raised.value

    returned, raised = harness.run(scenario)
    assert (returned.status, returned.failed) == ("failed", True)
    assert raised.result.failed
    assert isinstance(raised, AgentError)


def test_an_interrupted_turn_ends_idle_without_polling_until_the_timeout(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        message_id = await client.agents.sessions.send(session.session_id, "[hang] forever")
        await client.agents.sessions.interrupt(session.session_id)
        return await client.agents.sessions.wait(session.session_id, message_id, timeout=600)

    result = harness.run(scenario)
    assert (result.status, result.message) == ("idle", None)
    polls = [entry for entry in harness.emulator.journal if entry.route == "agent-messages"]
    assert len(polls) <= 3  # the end was seen at once, not after 600 s of polling


def test_a_turn_out_of_time_keeps_running_and_can_be_waited_for_again(harness: Harness) -> None:
    harness.emulator.script_agent_turn(turn_time=1.5, text="worth the wait")

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        with pytest.raises(AgentTimeoutError) as raised:
            await client.agents.sessions.run(session.session_id, "slow one", timeout=0.3)
        error = raised.value
        resumed = await client.agents.sessions.wait(error.session_id, error.message_id, timeout=30)
        return error, resumed

    error, resumed = harness.run(scenario)
    assert isinstance(error, TimeoutError)
    assert (resumed.status, resumed.text, resumed.message_id) == (
        "completed",
        "worth the wait",
        error.message_id,
    )
    assert _message_posts(harness) == 1


def test_polls_go_through_backend_and_network_trouble(harness: Harness) -> None:
    harness.emulator.script_agent_turn(turn_time=0.3)
    harness.emulator.script_fault("agent-messages", "503", count=2)
    harness.emulator.script_fault("agent-messages", "drop")
    harness.emulator.script_fault("agent-messages", "429")

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        return await client.agents.sessions.run(session.session_id, "through the storm")

    assert harness.run(scenario).status == "completed"
    faults = [entry.fault for entry in harness.emulator.journal if entry.fault is not None]
    assert sorted(faults) == ["429", "503", "503", "drop"]


def test_a_message_whose_connection_dropped_is_not_sent_again(harness: Harness) -> None:
    harness.emulator.script_fault("agent-message", "drop")

    async def scenario(client: Any) -> None:
        session = await client.agents.sessions.create()
        await client.agents.sessions.run(session.session_id, "billed once at most")

    with pytest.raises(TransportError) as raised:
        harness.run(scenario)
    assert raised.value.attempts == 1
    assert _message_posts(harness) == 1


@pytest.mark.parametrize(
    ("setting", "error", "also"),
    [
        ("agent_access", AgentAccessDeniedError, PermissionDeniedError),
        ("agent_credits", InsufficientCreditsError, AgentError),
    ],
)
def test_account_refusals_are_typed_errors_of_the_official_names(
    harness: Harness, setting: str, error: type, also: type
) -> None:
    async def scenario(client: Any) -> None:
        session = await client.agents.sessions.create()
        setattr(harness.emulator, setting, False)
        await client.agents.sessions.send(session.session_id, "hello")

    with pytest.raises(error) as raised:
        harness.run(scenario)
    assert isinstance(raised.value, also)
    assert isinstance(raised.value, HiggsfieldClientError)
    assert raised.value.status_code in (402, 403)
    assert "agent_api_access_denied" in str(raised.value) or setting == "agent_credits"


def test_a_busy_session_is_refused_and_nothing_is_charged(harness: Harness) -> None:
    async def scenario(client: Any) -> None:
        session = await client.agents.sessions.create()
        await client.agents.sessions.send(session.session_id, "[hang] first")
        await client.agents.sessions.send(session.session_id, "second")

    with pytest.raises(SessionBusyError) as raised:
        harness.run(scenario)
    assert raised.value.status_code == 409
    (session,) = harness.emulator.agent_sessions()
    assert [row["message"]["text"] for row in session.messages] == ["[hang] first"]


@pytest.mark.parametrize("options", [{"timeout": 0}, {"timeout": -5}])
def test_a_timeout_that_is_not_positive_sends_nothing(harness: Harness, options: Any) -> None:
    async def scenario(client: Any) -> None:
        session = await client.agents.sessions.create()
        await client.agents.sessions.run(session.session_id, "hello", **options)

    with pytest.raises(InvalidArgumentError):
        harness.run(scenario)
    assert _message_posts(harness) == 0


@pytest.mark.parametrize("content", ["", "x" * 20_001])
def test_content_is_checked_before_sending(harness: Harness, content: str) -> None:
    async def scenario(client: Any) -> None:
        session = await client.agents.sessions.create()
        await client.agents.sessions.send(session.session_id, content)

    with pytest.raises(InvalidArgumentError, match="20000"):
        harness.run(scenario)
    assert _message_posts(harness) == 0


@pytest.mark.parametrize("kind", ["bytes", "path", "file"])
def test_media_upload_streams_the_bytes_and_confirms(harness: Harness, tmp_path: Path, kind: str) -> None:
    payload = b"\x89PNG " + bytes(range(256)) * 40
    path = tmp_path / "picture.png"
    path.write_bytes(payload)

    async def scenario(client: Any) -> str:
        if kind == "bytes":
            data: Any = payload
        elif kind == "path":
            data = path
        else:
            data = path.open("rb")
        try:
            url: str = await client.agents.media.upload(data, "png")
        finally:
            if kind == "file":
                data.close()
        return url

    url = harness.run(scenario)
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == payload
    routes = [entry.route for entry in harness.emulator.journal if entry.route != "upload"]
    assert routes[-3:] == ["agent-media", "put", "agent-media-confirm"]
    (put,) = [entry for entry in harness.emulator.journal if entry.route == "put"]
    assert "authorization" not in put.headers
    assert put.headers["content-length"] == str(len(payload))


def test_the_official_names_import_and_belong_to_the_sdks_errors() -> None:
    for name in (
        "AgentError",
        "SessionBusyError",
        "AgentAccessDeniedError",
        "InsufficientCreditsError",
        "AgentBackendError",
        "AgentTimeoutError",
    ):
        assert issubclass(getattr(higgsfield_client, name), HiggsfieldClientError)
    for name in (
        "AgentSession",
        "AgentMessage",
        "SessionState",
        "TurnResult",
        "SessionStatus",
        "MessageStatus",
    ):
        assert hasattr(higgsfield_client, name)
    assert not issubclass(InsufficientCreditsError, AgentError)  # a generation 403 is one too


def test_the_agents_property_looks_credentials_up(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    client = SyncClient()
    with pytest.raises(higgsfield_client.CredentialsMissedError):
        _ = client.agents
    keyed = SyncClient(api_key="k:s")
    assert keyed.agents is keyed.agents


# -- what only one kind of client does ---------------------------------------------------------


def test_the_sync_client_refuses_a_coroutine_function_before_sending(harness: Harness) -> None:
    async def on_question(question: str) -> str:
        return "never"

    emulator = harness.emulator
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL) as client:
        session = client.agents.sessions.create()
        with pytest.raises(InvalidArgumentError, match="AsyncClient"):
            client.agents.sessions.run(session.session_id, "hello", on_question=on_question)
    assert _message_posts(harness) == 0


def test_a_coroutine_function_answers_in_async_code(async_harness: Harness) -> None:
    async def on_question(question: str) -> str:
        await anyio.lowlevel.checkpoint()
        return "asynchronously blue"

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        return await client.agents.sessions.run(session.session_id, "hm [question]", on_question=on_question)

    assert async_harness.run(scenario).text == "Echo: asynchronously blue"


def test_a_blocking_on_question_runs_in_a_worker_thread_and_the_loop_goes_on(async_harness: Harness) -> None:
    # The answer waits for an event that only a task of the event loop sets: were the answer
    # called on the loop's thread, the loop could not run that task, and the wait would give up.
    loop_ran = threading.Event()

    def on_question(question: str) -> str:
        return "unblocked" if loop_ran.wait(10) else "blocked"

    async def tick() -> None:
        while not loop_ran.is_set():
            await anyio.sleep(0.01)
            if async_harness.emulator.agent_sessions()[0].status == "awaiting_input":
                loop_ran.set()

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        async with anyio.create_task_group() as group:
            group.start_soon(tick)
            result = await client.agents.sessions.run(
                session.session_id, "? [question]", on_question=on_question
            )
            loop_ran.set()
        return result

    assert async_harness.run(scenario).text == "Echo: unblocked"
