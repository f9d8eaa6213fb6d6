"""The Agent API's calls and its turn loop, as flows on the one exchange loop. No I/O here.

A turn: the message is sent once (a repeat would be a second, billed turn), then the session's
history after the cursor is polled on ``env.poll``'s schedule until the turn ends:

1. The latest terminal assistant row (``completed`` or ``failed``) ends the turn; it wins over
   the session's status, as in the official client.
2. Otherwise, a session ``awaiting_input`` asks a question: the flow yields ``Ask`` with the
   question's text (the last assistant row's, or empty), sends the answer as a new message, moves
   the cursor to it and polls again from the first delay. A poll that still shows the question
   with nothing after the answer (the API has not caught up) is not a new question: a question is
   answered once. Without an answering function, the turn ends as ``awaiting_input``.
3. Otherwise, a session back to ``idle`` or ``terminated`` ends the turn without an answer row
   (after an interrupt, say): no polling until the timeout.

Network failures, 429 and 5xx during the wait are polled through: the turn goes on server-side.
At the deadline, one last poll is made; then ``AgentTimeoutError`` names the session and the last
message, so that ``wait_turn_flow`` can resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union

from ._agent import (
    INTERRUPT,
    MEDIA,
    MEDIA_CONFIRM,
    MESSAGE,
    MESSAGES,
    SESSIONS,
    AgentMessage,
    AgentSession,
    MediaSlot,
    MessageStatus,
    SessionState,
    SessionStatus,
    TurnResult,
    TurnUpdate,
    build_interrupt_request,
    build_media_confirm_request,
    build_media_put_request,
    build_media_request,
    build_message_request,
    build_messages_request,
    build_session_request,
    check_content,
    parse_interrupt_response,
    parse_media_confirm_response,
    parse_media_response,
    parse_message_response,
    parse_messages_response,
    parse_session_response,
    turn_cost,
)
from ._config import ApiConfig
from ._effects import Ask, Flow, Notify, Sleep
from ._errors import (
    AgentTimeoutError,
    AgentTurnFailedError,
    InvalidArgumentError,
    RateLimitError,
    ServerError,
    TransportError,
)
from ._exchange import Deadline, FlowEnv, exchange, send_once, start_deadline
from ._flows import call
from ._http import Body, Response
from ._parse import parse_upload_put_response
from ._poll import PollPolicy

_WAITING = (TransportError, ServerError, RateLimitError)
"""What a poll during a turn may meet and poll through: the turn goes on server-side."""


def create_session_flow(
    config: ApiConfig, env: FlowEnv, agent_config: Optional[Mapping[str, Any]] = None
) -> Flow[AgentSession]:
    """Open a session. Sent again only if it never left (a repeat could open a second one)."""
    response = yield from call(SESSIONS, build_session_request(config, agent_config), env)
    return parse_session_response(response)


def send_message_flow(config: ApiConfig, session_id: str, content: str, env: FlowEnv) -> Flow[str]:
    """Send a message (a turn); returns its id. Sent again only if it never left: a repeated
    message is a second, billed turn."""
    response = yield from call(MESSAGE, build_message_request(config, session_id, content), env)
    return parse_message_response(response)


def messages_flow(
    config: ApiConfig, session_id: str, env: FlowEnv, after: Optional[str] = None
) -> Flow[SessionState]:
    """Read the session's status and its rows (after the message ``after``, if given)."""
    response = yield from call(MESSAGES, build_messages_request(config, session_id, after), env)
    return parse_messages_response(response)


def interrupt_flow(config: ApiConfig, session_id: str, env: FlowEnv) -> Flow[None]:
    """Stop the session's running turn."""
    response = yield from call(INTERRUPT, build_interrupt_request(config, session_id), env)
    parse_interrupt_response(response)


def media_upload_flow(
    config: ApiConfig, body: Body, extension: str, env: FlowEnv, *, type: str = "image"
) -> Flow[MediaSlot]:
    """Ask for a media slot, PUT ``body`` to it without credentials, confirm it; returns the slot
    (its ``url`` goes into a message's text).

    The PUT carries the slot's ``upload_headers`` (else its Content-Type) and is repeated, from
    the start of a ``StreamedBody``, as any upload is.
    """
    response = yield from call(MEDIA, build_media_request(config, extension, type), env)
    slot = parse_media_response(response)
    put = yield from exchange(build_media_put_request(slot, body), env, repeatable=True)
    assert isinstance(put, Response), "a Send is answered with a Response"
    parse_upload_put_response(put)
    confirmed = yield from call(MEDIA_CONFIRM, build_media_confirm_request(config, slot), env)
    parse_media_confirm_response(confirmed)
    return slot


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnEnded:
    """A poll showed the end of the turn: ``status`` and the row that tells it, if any."""

    status: str
    message: Optional[AgentMessage] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionAsked:
    """A poll showed a question to answer (``message`` is its row, if it has one)."""

    message: Optional[AgentMessage] = None


def _wire(status: Union[SessionStatus, MessageStatus, str]) -> str:
    return status.value if isinstance(status, (SessionStatus, MessageStatus)) else status


def assess_turn(
    state: SessionState, *, answering: bool, answered: bool
) -> Union[TurnEnded, QuestionAsked, None]:
    """What one poll of a turn says: it ended, a question waits, or None (keep polling).

    Args:
        state: the session's status and its rows after the cursor.
        answering: a question is to be answered (else it ends the turn as ``awaiting_input``).
        answered: the question the cursor answers may still show (nothing new has come since).
    """
    assistant = [row for row in state.messages if row.role == "assistant"]
    for row in reversed(assistant):
        if row.is_terminal:
            return TurnEnded(status=_wire(row.status), message=row)
    last = assistant[-1] if assistant else None
    if state.status == SessionStatus.AWAITING_INPUT:
        if not answering:
            return TurnEnded(status=SessionStatus.AWAITING_INPUT.value, message=last)
        if answered and last is None:
            return None  # the question just answered, seen again before the API caught up
        return QuestionAsked(message=last)
    if state.status in (SessionStatus.IDLE, SessionStatus.TERMINATED):
        return TurnEnded(status=_wire(state.status), message=last)
    return None


def _poll(
    config: ApiConfig, session_id: str, cursor: str, env: FlowEnv, deadline: Deadline, last: bool
) -> Flow[Optional[SessionState]]:
    """One poll of the turn; None when the network or the backend failed (the turn goes on)."""
    request = build_messages_request(config, session_id, cursor)
    if last:
        response = yield from send_once(request)  # at the deadline: no time for repeats
        if response is None:
            return None
    else:
        try:
            response = yield from call(MESSAGES, request, env, deadline)
        except _WAITING:
            return None
    try:
        return parse_messages_response(response)
    except _WAITING:
        return None


def _await_turn(
    config: ApiConfig,
    session_id: str,
    message_id: str,
    env: FlowEnv,
    deadline: Deadline,
    *,
    answering: bool,
    check_first: bool,
) -> Flow[TurnResult]:
    cursor = message_id
    sent = {message_id}
    answered = False
    check = 0
    while True:
        left = yield from deadline.remaining()
        if check_first:
            delay = 0.0 if check == 0 else env.poll.delay(check - 1, env.jitter())
        else:
            delay = env.poll.delay(check, env.jitter())
        last = delay >= left
        if delay > 0:
            deadline.now = yield Sleep(seconds=min(delay, left))
        check += 1
        state = yield from _poll(config, session_id, cursor, env, deadline, last)
        if state is not None:
            yield Notify(event=TurnUpdate(session_id=session_id, state=state))
            seen = assess_turn(state, answering=answering, answered=answered)
            if isinstance(seen, TurnEnded):
                return (yield from _result(config, session_id, message_id, seen, frozenset(sent)))
            if isinstance(seen, QuestionAsked):
                reply = yield Ask(question=seen.message.text if seen.message is not None else "")
                cursor = yield from _answer(config, session_id, reply, env, deadline)
                sent.add(cursor)
                answered, check, check_first = True, 0, False
                continue
            answered = answered and state.status == SessionStatus.AWAITING_INPUT
        if last:
            raise AgentTimeoutError(
                f"the turn did not finish in time (session {session_id}); it keeps running "
                f"server-side: wait for it again with message id {cursor}",
                session_id=session_id,
                message_id=cursor,
            )


def _answer(
    config: ApiConfig, session_id: str, reply: object, env: FlowEnv, deadline: Deadline
) -> Flow[str]:
    if not isinstance(reply, str):
        raise InvalidArgumentError(f"on_question must return the answer as text, got {type(reply).__name__}")
    response = yield from call(MESSAGE, build_message_request(config, session_id, reply), env, deadline)
    return parse_message_response(response)


def _result(
    config: ApiConfig, session_id: str, message_id: str, ended: TurnEnded, sent: frozenset[str]
) -> Flow[TurnResult]:
    """The turn's result, with its cost: the user rows carry it, behind the cursor, so the whole
    history is read once (a failure there leaves the cost unknown, nothing more)."""
    cost = None
    response = yield from send_once(build_messages_request(config, session_id))
    if response is not None:
        try:
            cost = turn_cost(parse_messages_response(response).messages, sent)
        except _WAITING:
            cost = None
    return TurnResult(ended.status, ended.message, session_id, message_id, cost)


def _start(timeout: float) -> Flow[Deadline]:
    if not timeout > 0:
        raise InvalidArgumentError(f"timeout must be a positive number of seconds, got {timeout!r}")
    deadline = yield from start_deadline(timeout)
    assert deadline is not None
    return deadline


def run_turn_flow(
    config: ApiConfig,
    session_id: str,
    content: str,
    env: FlowEnv,
    *,
    timeout: float,
    answering: bool = False,
    raise_on_failure: bool = False,
) -> Flow[TurnResult]:
    """Send ``content`` and wait for the turn to end (see the module docstring).

    Args:
        config: where and who.
        session_id: the session.
        content: the message, 1 to 20,000 characters.
        env: the retry policy and the poll schedule (``env.poll``; its timeout is not used).
        timeout: seconds for the whole turn, from before the message is sent.
        answering: questions are answered with ``Ask`` (else they end the turn).
        raise_on_failure: a turn that ends ``failed`` raises ``AgentTurnFailedError``.

    Raises:
        InvalidArgumentError: ``timeout`` is not positive, or the content is not 1 to 20,000
            characters; nothing is sent.
        AgentTimeoutError: the deadline passed (the turn goes on; resume with its ids).
        AgentError, APIError, TransportError: the message could not be sent.
    """
    check_content(content)
    deadline = yield from _start(timeout)
    response = yield from call(MESSAGE, build_message_request(config, session_id, content), env, deadline)
    message_id = parse_message_response(response)
    result = yield from _await_turn(
        config, session_id, message_id, env, deadline, answering=answering, check_first=False
    )
    return _checked(result, raise_on_failure)


def wait_turn_flow(
    config: ApiConfig,
    session_id: str,
    message_id: str,
    env: FlowEnv,
    *,
    timeout: float,
    answering: bool = False,
    raise_on_failure: bool = False,
) -> Flow[TurnResult]:
    """Wait for the turn of a message already sent (after an ``AgentTimeoutError``, say).

    As ``run_turn_flow`` without the send; the first poll is made at once.
    """
    deadline = yield from _start(timeout)
    result = yield from _await_turn(
        config, session_id, message_id, env, deadline, answering=answering, check_first=True
    )
    return _checked(result, raise_on_failure)


def _checked(result: TurnResult, raise_on_failure: bool) -> TurnResult:
    if raise_on_failure and result.failed:
        raise AgentTurnFailedError(
            f"the agent turn failed (session {result.session_id}): {result.text or 'no reason given'}",
            result=result,
        )
    return result


TURN_POLL = PollPolicy(initial_delay=2.0, multiplier=1.5, max_delay=10.0, jitter=0.1)
"""The official client's turn schedule (2, 3, 4.5, 6.75, then every 10 s), with a little jitter."""
