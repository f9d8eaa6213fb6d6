"""The Agent API's values, builders and parsers: the official shapes, the family's error table."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from agent_support import SESSION_ID, answer, assistant_row, detail, user_row

from higgsfield_proto import (
    AgentAccessDeniedError,
    AgentBackendError,
    AgentError,
    AgentInsufficientCreditsError,
    AgentMessage,
    ApiConfig,
    APIError,
    AuthenticationError,
    InsufficientCreditsError,
    InvalidArgumentError,
    MessageStatus,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    Response,
    SessionBusyError,
    SessionState,
    SessionStatus,
    TurnResult,
    ValidationError,
    build_interrupt_request,
    build_media_request,
    build_message_request,
    build_messages_request,
    build_session_request,
    parse_interrupt_response,
    parse_media_confirm_response,
    parse_media_response,
    parse_message_response,
    parse_messages_response,
    parse_session_response,
)

# -- values -----------------------------------------------------------------------------------


def test_a_message_reads_its_text_from_text_parts_joined_by_newlines() -> None:
    row = AgentMessage(
        "a1",
        "assistant",
        MessageStatus.COMPLETED,
        {
            "parts": [
                {"type": "step-start"},
                {"type": "reasoning", "text": "hm"},
                {"type": "text", "text": "one"},
                {"type": "text", "text": "two"},
                {"type": "text"},
                "junk",
            ]
        },
    )
    assert row.text == "one\ntwo"
    assert row.is_terminal
    assert AgentMessage("u1", "user", "processing", {"type": "text", "text": "hi"}).text == "hi"
    assert AgentMessage("u1", "user", "completed", {"parts": "not a list"}).text == ""


def test_asset_urls_are_found_in_order_once_without_trailing_punctuation() -> None:
    text = (
        "See https://cdn.example/a.png, and (https://cdn.example/b.mp4) or [http://x.example/c]."
        ' Again https://cdn.example/a.png; "https://q.example/d" <https://e.example/f>'
    )
    row = AgentMessage("a1", "assistant", "completed", {"text": text})
    assert row.asset_urls == [
        "https://cdn.example/a.png",
        "https://cdn.example/b.mp4",
        "http://x.example/c",
        "https://q.example/d",
        "https://e.example/f",
    ]
    assert TurnResult("completed", row).asset_urls == row.asset_urls
    assert TurnResult("idle").asset_urls == []
    assert TurnResult("idle").text == ""


def test_the_official_types_keep_their_positional_order() -> None:
    row = AgentMessage(
        "m1", "user", "completed", {"type": "text", "text": "x"}, "2026-09-01T00:00:00Z", "0.1"
    )
    assert (row.created_at, row.llm_cost_usd) == ("2026-09-01T00:00:00Z", "0.1")
    result = TurnResult("completed", row)
    assert result.message is row
    assert not result.failed
    assert TurnResult("failed").failed


# -- builders ---------------------------------------------------------------------------------


def test_every_agent_request_carries_the_api_headers_and_encodes_ids(config: ApiConfig) -> None:
    requests = [
        build_session_request(config),
        build_message_request(config, "s/1", "hello"),
        build_messages_request(config, "s/1", after="m 1"),
        build_interrupt_request(config, "s/1"),
        build_media_request(config, "jpeg"),
    ]
    assert [(r.method, r.url) for r in requests] == [
        ("POST", "https://api.higgsfield.ai/v1/agent/sessions"),
        ("POST", "https://api.higgsfield.ai/v1/agent/sessions/s%2F1/messages"),
        ("GET", "https://api.higgsfield.ai/v1/agent/sessions/s%2F1/messages?after=m+1"),
        ("POST", "https://api.higgsfield.ai/v1/agent/sessions/s%2F1/interrupt"),
        ("POST", "https://api.higgsfield.ai/v1/agent/media"),
    ]
    for request in requests:
        assert request.header("Authorization") == config.credentials.authorization
        assert request.header("Content-Type") == "application/json"  # as the official client sends
    assert json.loads(requests[0].body) == {"config": {}}  # type: ignore[arg-type]
    assert json.loads(requests[1].body) == {"content": "hello"}  # type: ignore[arg-type]
    assert requests[3].body is None
    assert build_messages_request(config, "s", after="").url.endswith("/messages")


def test_a_session_config_is_sent_as_given_and_must_be_a_mapping(config: ApiConfig) -> None:
    request = build_session_request(config, {"model": "x", "n": 2})
    assert json.loads(request.body) == {"config": {"model": "x", "n": 2}}  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        build_session_request(config, ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        build_session_request(config, {"x": object()})


@pytest.mark.parametrize("content", ["", "x" * 20_001, None, b"bytes"])
def test_content_outside_one_to_twenty_thousand_characters_is_refused(
    config: ApiConfig, content: Any
) -> None:
    with pytest.raises(InvalidArgumentError):
        build_message_request(config, SESSION_ID, content)


def test_content_of_twenty_thousand_characters_is_accepted(config: ApiConfig) -> None:
    request = build_message_request(config, SESSION_ID, "é" * 20_000)
    assert len(json.loads(request.body)["content"]) == 20_000  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("extension", "kind"), [("", "image"), ("../x", "image"), ("jpeg", "photo"), ("a" * 17, "file")]
)
def test_a_media_slot_needs_a_known_type_and_a_plain_extension(
    config: ApiConfig, extension: str, kind: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        build_media_request(config, extension, kind)


def test_a_media_extension_may_start_with_a_dot(config: ApiConfig) -> None:
    body = json.loads(build_media_request(config, ".mp4", "video").body)  # type: ignore[arg-type]
    assert body == {"extension": "mp4", "type": "video"}


# -- parsers and errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "cls", "also"),
    [
        (402, "insufficient_credits", AgentInsufficientCreditsError, InsufficientCreditsError),
        (403, "agent_api_access_denied", AgentAccessDeniedError, PermissionDeniedError),
        (409, "session_busy", SessionBusyError, APIError),
        (500, "boom", AgentBackendError, APIError),
        (503, "down", AgentBackendError, APIError),
        (401, "Invalid credentials", AuthenticationError, APIError),
        (404, "Session not found", NotFoundError, APIError),
        (422, "bad", ValidationError, APIError),
        (429, "slow down", RateLimitError, APIError),
    ],
)
def test_the_agent_family_reads_its_statuses_its_own_way(
    status: int, text: str, cls: type, also: type
) -> None:
    with pytest.raises(cls) as raised:
        parse_message_response(detail(status, text))
    error = raised.value
    assert isinstance(error, also)
    assert error.status_code == status  # type: ignore[attr-defined]
    assert text in str(error)  # the server's detail is kept, 403 included
    assert isinstance(error, AgentError) is (status in (402, 403, 409) or status >= 500)


def test_a_session_answer_is_read_and_an_unknown_status_kept() -> None:
    session = parse_session_response(answer({"session_id": "s1", "status": "warming_up"}, 201))
    assert (session.session_id, session.status) == ("s1", "warming_up")
    assert parse_session_response(answer({"session_id": "s1"})).status is SessionStatus.IDLE
    with pytest.raises(ProtocolError):
        parse_session_response(answer({"status": "idle"}, 201))
    with pytest.raises(ProtocolError):
        parse_session_response(answer({"session_id": "s1", "status": 3}, 201))


def test_a_history_is_read_row_by_row() -> None:
    state = parse_messages_response(
        answer({"status": "processing", "messages": [user_row(cost="0.2"), assistant_row("a1", "brand-new")]})
    )
    assert state.status is SessionStatus.PROCESSING
    user, assistant = state.messages
    assert (user.status, user.llm_cost_usd, user.created_at) == (
        MessageStatus.PROCESSING,
        "0.2",
        "2026-09-01T00:00:00Z",
    )
    assert assistant.status == "brand-new"
    assert not assistant.is_terminal
    assert parse_messages_response(answer({})).status is SessionStatus.IDLE


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"messages": "nope"},
        {"messages": [{"role": "user", "status": "completed"}]},
        {"messages": [{"message_id": 1, "role": "user", "status": "completed"}]},
        {"messages": [{"message_id": "m", "role": "user", "status": None}]},
        {"messages": ["row"]},
        {"status": ["idle"], "messages": []},
    ],
)
def test_a_malformed_history_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_messages_response(answer(payload))
    if isinstance(payload, dict):  # the official SessionState.from_dict reads the same object
        with pytest.raises(ProtocolError):
            SessionState.from_dict(payload)


def test_session_state_from_dict_reads_a_history_as_the_official_does() -> None:
    data = {"status": "awaiting_input", "messages": [user_row(cost="0.2"), assistant_row("a1", "completed")]}
    state = SessionState.from_dict(data)
    assert state == parse_messages_response(answer(data))
    assert state.status is SessionStatus.AWAITING_INPUT
    assert [row.message_id for row in state.messages][1] == "a1"
    assert SessionState.from_dict({}) == SessionState(SessionStatus.IDLE, ())


def test_a_media_slot_is_read_and_its_signed_url_kept_out_of_its_repr() -> None:
    slot = parse_media_response(
        answer(
            {
                "id": "m1.jpeg",
                "type": "image",
                "content_type": "image/jpeg",
                "upload_url": "https://storage.example/put?X-Amz-Signature=s3cr3t",
                "url": "https://cdn.example/m1.jpeg",
            },
            201,
        )
    )
    assert slot.upload_headers == (("Content-Type", "image/jpeg"),)
    assert "s3cr3t" not in repr(slot)
    headers = {"Content-Type": "image/jpeg", "x-amz-tagging": "t"}
    fields = {"id": "m1.jpeg", "type": "image", "content_type": "image/jpeg", "url": "https://cdn.example/m"}
    signed = parse_media_response(answer({**fields, "upload_url": "https://s/p", "upload_headers": headers}))
    assert signed.upload_headers == (("Content-Type", "image/jpeg"), ("x-amz-tagging", "t"))


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "m", "type": "image", "content_type": "image/png", "upload_url": "ftp://x", "url": "https://c/m"},
        {"id": "m", "type": "image", "content_type": "image/png", "upload_url": "https://s", "url": ""},
        {"id": "m", "type": "image", "content_type": "image/png", "upload_url": "https://s", "url": "https://c",
         "upload_headers": {"a": 1}},
    ],
)  # fmt: skip
def test_a_malformed_media_slot_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_media_response(answer(payload))


def test_a_media_confirmation_must_say_uploaded() -> None:
    parse_media_confirm_response(answer({"id": "m1", "status": "uploaded"}))
    with pytest.raises(ProtocolError, match="pending"):
        parse_media_confirm_response(answer({"id": "m1", "status": "pending"}))


def test_costs_of_a_turns_rows_add_up_exactly() -> None:
    from higgsfield_proto._agent import turn_cost

    state = parse_messages_response(
        answer({"messages": [user_row("u1", "completed", "0.1"), user_row("u2", "completed", "0.2"),
                             user_row("u3", "completed", "junk"), user_row("u4", "completed", "9")]})
    )  # fmt: skip
    assert turn_cost(state.messages, frozenset({"u1", "u2", "u3"})) == Decimal("0.3")
    assert turn_cost(state.messages, frozenset({"u9"})) is None


def test_an_answer_that_is_no_json_object_is_a_protocol_error() -> None:
    html = Response(status=200, headers=(("Content-Type", "text/html"),), body=b"<html>portal</html>")
    with pytest.raises(ProtocolError, match="JSON object"):
        parse_session_response(html)


def test_an_interrupt_accepts_any_2xx_and_reads_errors_the_agent_way() -> None:
    parse_interrupt_response(Response(status=202))
    parse_interrupt_response(answer({"ok": True}))
    with pytest.raises(NotFoundError):
        parse_interrupt_response(detail(404, "Session not found"))
