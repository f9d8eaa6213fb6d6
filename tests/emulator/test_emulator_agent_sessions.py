"""Agent API sessions: creation, message validation, busy and terminated sessions, the after
cursor, account modes, snapshots, the journal and faults."""

from __future__ import annotations

import contextlib
import re
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests
from emu_helpers import UUID, accepted, agent_url, ended, open_session, read, send, wait_state

from higgsfield_client.testing import Emulator

SESSION = "50eeb94c-c396-439d-b504-aee2147b7ec0"
BROKEN = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


Route = Tuple[str, str, str, Optional[Any]]


def _session_routes(emu: Emulator, session_id: str) -> List[Route]:
    """(route name, method, URL, JSON body) of each route of one session."""
    base = agent_url(emu, f"/sessions/{session_id}")
    return [
        ("agent-message", "POST", f"{base}/messages", {"content": "hi"}),
        ("agent-messages", "GET", f"{base}/messages", None),
        ("agent-interrupt", "POST", f"{base}/interrupt", None),
    ]


def _all_routes(emu: Emulator, session_id: str) -> List[Route]:
    """The session routes and the session creation route first."""
    return [("agent-sessions", "POST", agent_url(emu, "/sessions"), {"config": {}}),
            *_session_routes(emu, session_id)]


@pytest.mark.parametrize(
    ("body", "config"),
    [
        ({"json": {"config": {"model": "x", "temperature": 0.1}}}, {"model": "x",
                                                                     "temperature": 0.1}),
        ({"json": {"config": {}}}, {}),
        ({"json": {}}, {}),
        ({}, {}),
        ({"json": {"config": None}}, {}),
        ({"data": b"  "}, {}),
    ],
    ids=["config", "empty-config", "empty-object", "no-body", "null-config", "blank-body"],
)
def test_create_session_answers_201_idle(
    emu: Emulator, http: requests.Session, body: Dict[str, Any], config: Dict[str, Any]
) -> None:
    response = http.post(agent_url(emu, "/sessions"), timeout=10, **body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"session_id", "status"}
    assert answer["status"] == "idle"
    assert re.fullmatch(UUID, answer["session_id"])
    info = emu.agent_session(answer["session_id"])
    assert info.status == "idle"
    assert info.messages == []
    assert info.config == config
    assert read(http, emu, answer["session_id"]) == {"status": "idle", "messages": []}


@pytest.mark.parametrize(
    "raw", [b"[1]", b"{not json", b'{"config": "fast"}', b'{"config": [1]}', b"null"]
)
def test_create_session_refuses_a_body_or_config_that_is_not_an_object(
    emu: Emulator, http: requests.Session, raw: bytes
) -> None:
    response = http.post(
        agent_url(emu, "/sessions"), data=raw, headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert emu.agent_sessions() == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({}, "missing"),
        ({"content": 42}, "string_type"),
        ({"content": None}, "string_type"),
        ({"content": ""}, "string_too_short"),
        ({"content": "x" * 20_001}, "string_too_long"),
    ],
    ids=["missing", "number", "null", "empty", "20001-chars"],
)
def test_message_content_must_be_1_to_20000_characters(
    emu: Emulator, http: requests.Session, body: Dict[str, Any], kind: str
) -> None:
    session_id = open_session(http, emu)
    response = http.post(
        agent_url(emu, f"/sessions/{session_id}/messages"), json=body, timeout=10
    )
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert (item["type"], item["loc"]) == (kind, ["body", "content"])
    assert emu.agent_session(session_id).messages == []


def test_message_of_20000_characters_is_accepted(emu: Emulator, http: requests.Session) -> None:
    session_id = open_session(http, emu)
    content = "é" * 20_000  # characters, not bytes
    response = send(http, emu, session_id, content)
    assert response.status_code == 202
    # The user's row; the agent's answer may be there too on a slow machine (a 0.05 s turn).
    (user,) = [row for row in emu.agent_session(session_id).messages if row["role"] == "user"]
    assert user["message"]["text"] == content


def test_message_body_that_is_not_a_json_object_is_422(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    url = agent_url(emu, f"/sessions/{session_id}/messages")
    for raw in (b"", b"[]", b"{bad"):
        response = http.post(url, data=raw, headers={"Content-Type": "application/json"},
                             timeout=10)
        assert response.status_code == 422
    assert emu.agent_session(session_id).messages == []


def test_unknown_session_is_404_on_every_session_route(
    emu: Emulator, http: requests.Session
) -> None:
    for name, method, url, body in _session_routes(emu, SESSION):
        response = http.request(method, url, json=body, timeout=10)
        assert response.status_code == 404, name
        assert response.json() == {"detail": "Session not found"}


def test_busy_session_answers_409_and_the_losing_message_creates_nothing(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("hang")
    emu.script_agent_turn("completed", text="kept for the next turn")
    session_id = open_session(http, emu)
    first = accepted(http, emu, session_id, "first")
    losing = send(http, emu, session_id, "second")
    assert losing.status_code == 409
    assert losing.json() == {"detail": "session_busy"}
    (only,) = emu.agent_session(session_id).messages
    assert only["message_id"] == first
    http.post(agent_url(emu, f"/sessions/{session_id}/interrupt"), timeout=10)
    third = accepted(http, emu, session_id, "third")
    (reply,) = wait_state(http, emu, session_id, ended, after=third)["messages"]
    assert reply["message"]["parts"][-1]["text"] == "kept for the next turn"


def test_after_returns_only_later_rows_in_order(emu: Emulator, http: requests.Session) -> None:
    session_id = open_session(http, emu)
    first = accepted(http, emu, session_id, "one")
    wait_state(http, emu, session_id, ended, after=first)
    second = accepted(http, emu, session_id, "two")
    wait_state(http, emu, session_id, ended, after=second)
    rows = read(http, emu, session_id)["messages"]
    ids = [row["message_id"] for row in rows]
    assert [row["role"] for row in rows] == ["user", "assistant", "user", "assistant"]
    assert ids[0] == first
    assert ids[2] == second
    assert len(set(ids)) == 4
    for position, row_id in enumerate(ids):
        assert read(http, emu, session_id, after=row_id)["messages"] == rows[position + 1:]
    assert read(http, emu, session_id, after="")["messages"] == rows
    unknown = http.get(
        agent_url(emu, f"/sessions/{session_id}/messages"), params={"after": "nope"}, timeout=10
    )
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Message not found"}


def test_terminated_session_refuses_messages_and_still_reads(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_agent_turn("hang")
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, "running")
    emu.terminate_agent_session(session_id)
    state = read(http, emu, session_id)
    assert state["status"] == "terminated"
    (user,) = state["messages"]
    assert (user["message_id"], user["status"]) == (message_id, "failed")
    refused = send(http, emu, session_id, "more")
    assert refused.status_code == 409
    assert refused.json() == {"detail": "session_terminated"}
    interrupt = http.post(agent_url(emu, f"/sessions/{session_id}/interrupt"), timeout=10)
    assert interrupt.status_code == 202
    assert read(http, emu, session_id) == state
    assert emu.agent_session(session_id).status == "terminated"
    with pytest.raises(KeyError):
        emu.terminate_agent_session(SESSION)
    with pytest.raises(KeyError):
        emu.agent_session(SESSION)


def test_access_denied_answers_403_on_every_agent_route(http: requests.Session) -> None:
    with Emulator(agent_access=False) as emu:
        assert emu.agent_access is False
        http.headers["Authorization"] = f"Key {emu.api_key}"
        denied = http.post(agent_url(emu, "/sessions"), timeout=10)
        assert denied.status_code == 403
        assert emu.agent_sessions() == []
        emu.agent_access = True
        session_id = open_session(http, emu)
        emu.agent_access = False
        _check_denied(emu, http, session_id)


def _check_denied(emu: Emulator, http: requests.Session, session_id: str) -> None:
    for name, method, url, body in _all_routes(emu, session_id):
        response = http.request(method, url, json=body, timeout=10)
        assert response.status_code == 403, name
        assert response.json() == {"detail": "agent_api_access_denied"}
        assert emu.journal[-1].route == name
    # Credentials are still checked first.
    assert requests.post(agent_url(emu, "/sessions"), timeout=10).status_code == 401
    assert len(emu.agent_sessions()) == 1
    assert emu.agent_session(session_id).messages == []
    emu.agent_access = True
    assert send(http, emu, session_id, "hi").status_code == 202


def test_insufficient_credits_answers_402_to_messages_and_creates_nothing(
    http: requests.Session,
) -> None:
    with Emulator(agent_credits=False, agent_turn_time=0.01) as emu:
        assert emu.agent_credits is False
        http.headers["Authorization"] = f"Key {emu.api_key}"
        _check_credits(emu, http)


def _check_credits(emu: Emulator, http: requests.Session) -> None:
    emu.script_agent_turn("completed", text="scripted")
    session_id = open_session(http, emu)
    refused = send(http, emu, session_id, "hi")
    assert refused.status_code == 402
    assert refused.json() == {"detail": "insufficient_credits"}
    assert read(http, emu, session_id) == {"status": "idle", "messages": []}
    emu.agent_credits = True
    message_id = accepted(http, emu, session_id, "hi")
    (reply,) = wait_state(http, emu, session_id, ended, after=message_id)["messages"]
    assert reply["message"]["parts"][-1]["text"] == "scripted"  # the refusal used no script


def test_snapshots_list_every_session_in_creation_order(
    emu: Emulator, http: requests.Session
) -> None:
    response = http.post(agent_url(emu, "/sessions"), json={"config": {"mode": "a"}}, timeout=10)
    first = response.json()["session_id"]
    second = open_session(http, emu)
    message_id = accepted(http, emu, second, "hello")
    wait_state(http, emu, second, ended, after=message_id)
    one, two = emu.agent_sessions()
    assert (one.session_id, one.config, one.status, one.messages) == (
        first, {"mode": "a"}, "idle", []
    )
    assert two.session_id == second
    assert two.messages == read(http, emu, second)["messages"]
    assert one.created_at <= two.created_at
    two.messages.clear()  # a copy: the emulator's rows are untouched
    assert len(emu.agent_session(second).messages) == 2


def test_journal_names_the_agent_routes(emu: Emulator, http: requests.Session) -> None:
    session_id = open_session(http, emu)
    for _, method, url, body in _session_routes(emu, session_id):
        http.request(method, url, json=body, timeout=10)
    assert [entry.route for entry in emu.journal] == [
        "agent-sessions", "agent-message", "agent-messages", "agent-interrupt"
    ]
    assert [entry.status for entry in emu.journal] == [201, 202, 200, 202]


@pytest.mark.parametrize("route", ["agent-sessions", "agent-message", "agent-messages",
                                   "agent-interrupt"])
def test_agent_routes_take_scripted_faults(
    emu: Emulator, http: requests.Session, route: str
) -> None:
    session_id = open_session(http, emu)
    _, method, url, body = next(entry for entry in _all_routes(emu, session_id)
                                if entry[0] == route)
    emu.script_fault(route, "503")
    emu.script_fault(route, "429")
    unavailable = http.request(method, url, json=body, timeout=10)
    assert unavailable.status_code == 503
    limited = http.request(method, url, json=body, timeout=10)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert [entry.fault for entry in emu.journal if entry.route == route][-2:] == ["503", "429"]
    # Answered instead of the route: nothing was created.
    assert len(emu.agent_sessions()) == 1
    assert emu.agent_session(session_id).messages == []
    assert http.request(method, url, json=body, timeout=10).status_code < 300


def test_a_message_faulted_after_the_handler_was_accepted(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    emu.script_fault("agent-message", "truncate")
    with pytest.raises(BROKEN):
        send(http, emu, session_id, "ambiguous")
    (user,) = emu.agent_session(session_id).messages
    assert user["message"]["text"] == "ambiguous"


def test_fault_rate_applies_to_agent_routes(emu: Emulator, http: requests.Session) -> None:
    emu.fault_rate = 1.0
    for _ in range(5):
        with contextlib.suppress(*BROKEN):  # the drop and truncate faults break the connection
            http.post(agent_url(emu, "/sessions"), json={}, timeout=10)
    faults = [entry.fault for entry in emu.journal if entry.route == "agent-sessions"]
    assert len(faults) == 5
    assert all(faults)
