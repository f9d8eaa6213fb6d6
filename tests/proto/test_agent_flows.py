"""The Agent API's flows, fed scripted answers: the turn loop, its questions, its ends and its
deadline, what is (not) sent twice, media uploads."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, List

import pytest
from agent_support import (
    MESSAGE_ID,
    SESSION_ID,
    answer,
    assistant_row,
    detail,
    history,
    sent,
    slice_of,
    user_row,
)
from proto_support import ScriptedRunner, Slow, expect_error, run_flow

from higgsfield_proto import (
    AgentTimeoutError,
    AgentTurnFailedError,
    ApiConfig,
    Ask,
    FailureKind,
    FlowEnv,
    InvalidArgumentError,
    MessageStatus,
    Notify,
    PollPolicy,
    ProtocolError,
    Response,
    RetryPolicy,
    SessionBusyError,
    StreamedBody,
    TransportError,
    TransportFailure,
    TurnUpdate,
    create_session_flow,
    interrupt_flow,
    media_upload_flow,
    messages_flow,
    run_turn_flow,
    send_message_flow,
    wait_turn_flow,
)

POLL = PollPolicy(initial_delay=2.0, multiplier=1.5, max_delay=10.0, jitter=0.0)
ENV = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.1, backoff_cap=0.1), poll=POLL)
WRITTEN = TransportFailure(kind=FailureKind.READ, detail="reset", request_written=True)
UNWRITTEN = TransportFailure(kind=FailureKind.CONNECT, detail="refused")


def run_turn(config: ApiConfig, **options: Any) -> Any:
    options.setdefault("timeout", 60.0)
    return run_turn_flow(config, SESSION_ID, "hello", ENV, **options)


def done(status: str = "completed", text: str = "the answer") -> Response:
    return slice_of("idle", assistant_row("a1", status, text))


def costs(*rows: Any) -> Response:
    """The whole history read at the end of a turn, for its cost."""
    return history(*rows)


# -- the turn loop ------------------------------------------------------------------------------


def test_a_turn_sends_once_then_polls_on_the_official_schedule_until_its_answer(config: ApiConfig) -> None:
    script = [
        sent(MESSAGE_ID),
        slice_of("processing"),
        slice_of("processing"),
        done(),
        costs(user_row(status="completed", cost="0.2626")),
    ]
    result, runner = run_flow(run_turn(config), script)
    assert (result.status, result.text, result.session_id, result.message_id) == (
        "completed",
        "the answer",
        SESSION_ID,
        MESSAGE_ID,
    )
    assert result.cost_usd == Decimal("0.2626")
    assert runner.sleeps == [2.0, 3.0, 4.5]
    urls = [send.request.url for send in runner.sends]
    assert urls[0].endswith(f"/sessions/{SESSION_ID}/messages")
    assert all(url.endswith(f"/messages?after={MESSAGE_ID}") for url in urls[1:4])
    assert urls[4].endswith("/messages")  # the whole history: the user row is behind the cursor
    assert [type(e.event) for e in (effect for _, effect in runner.effects) if isinstance(e, Notify)] == [
        TurnUpdate
    ] * 3


def test_the_latest_terminal_assistant_row_wins_over_the_session_status(config: ApiConfig) -> None:
    slice_ = slice_of(
        "awaiting_input",
        assistant_row("a1", "completed", "first"),
        assistant_row("a2", "failed", "second"),
        assistant_row("a3", "processing", "a question?"),
    )
    result, _ = run_flow(run_turn(config, answering=True), [sent(MESSAGE_ID), slice_, costs()])
    assert (result.status, result.text) == ("failed", "second")
    assert result.cost_usd is None


def test_a_question_is_asked_once_answered_and_polled_from_the_first_delay_again(config: ApiConfig) -> None:
    question = assistant_row("q1", "processing", "Which colour?")
    script = [
        sent(MESSAGE_ID),
        slice_of("processing"),
        slice_of("awaiting_input", question),
        sent("m-answer"),
        slice_of("awaiting_input"),  # the API has not caught up with the answer yet
        slice_of("processing"),
        done(text="Blue it is"),
        costs(user_row(MESSAGE_ID, "completed", "0.1"), user_row("m-answer", "completed", "0.2")),
    ]
    runner = ScriptedRunner(list(script), answers=["blue"])
    result = runner.run(run_turn(config, answering=True))
    assert (result.status, result.text, result.cost_usd) == ("completed", "Blue it is", Decimal("0.3"))
    asks = [effect for _, effect in runner.effects if isinstance(effect, Ask)]
    assert [ask.question for ask in asks] == ["Which colour?"]
    answer_send = runner.sends[3]
    assert json.loads(answer_send.request.body) == {"content": "blue"}  # type: ignore[arg-type]
    assert runner.sends[4].request.url.endswith("after=m-answer")
    assert runner.sleeps == [2.0, 3.0, 2.0, 3.0, 4.5]  # the delay resets after the answer


def test_a_second_question_after_the_answer_is_answered_too(config: ApiConfig) -> None:
    script = [
        sent(MESSAGE_ID),
        slice_of("awaiting_input", assistant_row("q1", "processing", "First?")),
        sent("m-a1"),
        slice_of("awaiting_input", assistant_row("q2", "processing", "Second?")),
        sent("m-a2"),
        done(),
        costs(),
    ]
    runner = ScriptedRunner(list(script), answers=["one", "two"])
    assert runner.run(run_turn(config, answering=True)).status == "completed"
    assert [e.question for _, e in runner.effects if isinstance(e, Ask)] == ["First?", "Second?"]


def test_a_question_without_a_row_is_asked_with_empty_text_after_the_session_moved_on(
    config: ApiConfig,
) -> None:
    script = [
        sent(MESSAGE_ID),
        slice_of("awaiting_input"),
        sent("m-a1"),
        slice_of("processing"),
        slice_of("awaiting_input"),  # a new question: the session had moved on in between
        sent("m-a2"),
        done(),
        costs(),
    ]
    runner = ScriptedRunner(list(script), answers=["x", "y"])
    runner.run(run_turn(config, answering=True))
    assert [e.question for _, e in runner.effects if isinstance(e, Ask)] == ["", ""]


def test_without_answering_a_question_ends_the_turn_as_awaiting_input(config: ApiConfig) -> None:
    question = assistant_row("q1", "processing", "Which colour?")
    result, runner = run_flow(
        run_turn(config), [sent(MESSAGE_ID), slice_of("awaiting_input", question), costs()]
    )
    assert (result.status, result.text) == ("awaiting_input", "Which colour?")
    assert not any(isinstance(effect, Ask) for _, effect in runner.effects)


@pytest.mark.parametrize("status", ["idle", "terminated"])
def test_a_session_back_to_rest_without_an_answer_ends_the_turn(config: ApiConfig, status: str) -> None:
    result, runner = run_flow(
        run_turn(config), [sent(MESSAGE_ID), slice_of("processing"), slice_of(status), costs()]
    )
    assert (result.status, result.message) == (status, None)
    assert len(runner.sends) == 4  # no polling until the timeout


@pytest.mark.parametrize(
    "trouble",
    [WRITTEN, Response(status=503), detail(500, "backend down"), detail(429, "slow down"), answer(["junk"])],
)
def test_network_and_backend_trouble_during_the_wait_is_polled_through(
    config: ApiConfig, trouble: Any
) -> None:
    env = FlowEnv(retry=RetryPolicy.never(), poll=POLL)
    flow = run_turn_flow(config, SESSION_ID, "hello", env, timeout=60.0)
    if isinstance(trouble, Response) and trouble.status == 200:
        error, _ = expect_error(flow, [sent(MESSAGE_ID), trouble])
        assert isinstance(error, ProtocolError)  # a broken answer is no network trouble
        return
    result, runner = run_flow(flow, [sent(MESSAGE_ID), trouble, trouble, done(), costs()])
    assert result.status == "completed"
    assert len(runner.sends) == 5


def test_an_error_that_is_no_trouble_of_the_moment_ends_the_wait(config: ApiConfig) -> None:
    error, _ = expect_error(run_turn(config), [sent(MESSAGE_ID), detail(404, "Session not found")])
    assert type(error).__name__ == "NotFoundError"


def test_at_the_deadline_one_last_poll_then_a_resumable_timeout(config: ApiConfig) -> None:
    script = [sent(MESSAGE_ID), slice_of("processing"), slice_of("processing"), slice_of("processing")]
    error, runner = expect_error(run_turn(config, timeout=7.0), script)
    assert isinstance(error, AgentTimeoutError)
    assert isinstance(error, TimeoutError)
    assert (error.session_id, error.message_id, error.status_code) == (SESSION_ID, MESSAGE_ID, None)
    assert runner.sleeps == [2.0, 3.0, 2.0]  # the last sleep is cut at the deadline
    assert runner.now == 7.0
    last = runner.sends[-1]
    assert last.timeout is None  # the last poll: sent once, bounded by the transport alone


def test_a_failed_last_poll_still_ends_in_the_timeout(config: ApiConfig) -> None:
    error, runner = expect_error(run_turn(config, timeout=2.0), [sent(MESSAGE_ID), WRITTEN])
    assert isinstance(error, AgentTimeoutError)
    assert len(runner.sends) == 2


def test_the_timeout_after_an_answer_names_the_answer(config: ApiConfig) -> None:
    script = [
        sent(MESSAGE_ID),
        slice_of("awaiting_input", assistant_row("q1", "processing", "?")),
        sent("m-answer"),
        slice_of("processing"),
    ]
    runner = ScriptedRunner(list(script), answers=["yes"])
    with pytest.raises(AgentTimeoutError) as raised:
        runner.run(run_turn(config, timeout=3.0, answering=True))
    assert raised.value.message_id == "m-answer"


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan")])
def test_a_timeout_that_is_not_positive_sends_nothing(config: ApiConfig, timeout: float) -> None:
    error, runner = expect_error(run_turn(config, timeout=timeout), [])
    assert isinstance(error, InvalidArgumentError)
    assert runner.sends == []


def test_bad_content_sends_nothing(config: ApiConfig) -> None:
    error, runner = expect_error(run_turn_flow(config, SESSION_ID, "", ENV, timeout=5.0), [])
    assert isinstance(error, InvalidArgumentError)
    assert runner.sends == []


def test_an_answer_that_is_no_text_is_refused_before_it_is_sent(config: ApiConfig) -> None:
    script = [sent(MESSAGE_ID), slice_of("awaiting_input")]
    runner = ScriptedRunner(list(script), answers=[42])
    with pytest.raises(InvalidArgumentError, match="text"):
        runner.run(run_turn(config, answering=True))
    assert len(runner.sends) == 2


def test_a_failed_turn_is_returned_or_raised_as_asked(config: ApiConfig) -> None:
    script = [sent(MESSAGE_ID), done("failed", "it broke"), costs()]
    result, _ = run_flow(run_turn(config), script)
    assert (result.status, result.failed, result.text) == ("failed", True, "it broke")
    error, _ = expect_error(run_turn(config, raise_on_failure=True), script)
    assert isinstance(error, AgentTurnFailedError)
    assert error.result.text == "it broke"
    assert "it broke" in str(error)


def test_an_unknown_message_status_does_not_end_the_turn(config: ApiConfig) -> None:
    script = [sent(MESSAGE_ID), slice_of("processing", assistant_row("a1", "streaming")), done(), costs()]
    result, _ = run_flow(run_turn(config), script)
    assert result.status == MessageStatus.COMPLETED.value


def test_waiting_for_a_sent_turn_polls_at_once_and_sends_no_message(config: ApiConfig) -> None:
    result, runner = run_flow(
        wait_turn_flow(config, SESSION_ID, "m-7", ENV, timeout=30.0),
        [slice_of("processing"), done(), costs()],
    )
    assert result.status == "completed"
    assert result.message_id == "m-7"
    assert runner.sleeps == [2.0]
    assert all(send.request.method == "GET" for send in runner.sends)


# -- what is sent again -----------------------------------------------------------------------


def test_a_message_that_may_have_been_written_is_never_sent_again(config: ApiConfig) -> None:
    error, runner = expect_error(send_message_flow(config, SESSION_ID, "hello", ENV), [WRITTEN])
    assert isinstance(error, TransportError)
    assert len(runner.sends) == 1
    error, runner = expect_error(run_turn(config), [WRITTEN])
    assert isinstance(error, TransportError)
    assert len(runner.sends) == 1


def test_a_message_that_never_left_is_sent_again(config: ApiConfig) -> None:
    message_id, runner = run_flow(
        send_message_flow(config, SESSION_ID, "hello", ENV), [UNWRITTEN, sent("m9")]
    )
    assert message_id == "m9"
    assert len(runner.sends) == 2


def test_a_busy_session_is_refused_at_once(config: ApiConfig) -> None:
    error, runner = expect_error(
        send_message_flow(config, SESSION_ID, "hello", ENV), [detail(409, "session_busy")]
    )
    assert isinstance(error, SessionBusyError)
    assert len(runner.sends) == 1


def test_session_create_is_sent_again_only_when_it_never_left(config: ApiConfig) -> None:
    created = answer({"session_id": "s2", "status": "idle"}, 201)
    session, runner = run_flow(create_session_flow(config, ENV), [UNWRITTEN, created])
    assert session.session_id == "s2"
    error, runner = expect_error(create_session_flow(config, ENV), [WRITTEN])
    assert isinstance(error, TransportError)
    assert len(runner.sends) == 1


def test_reads_and_interrupts_are_repeated_as_any_safe_call(config: ApiConfig) -> None:
    state, runner = run_flow(
        messages_flow(config, SESSION_ID, ENV), [WRITTEN, Response(status=503), history()]
    )
    assert state.messages == ()
    assert len(runner.sends) == 3
    _, runner = run_flow(interrupt_flow(config, SESSION_ID, ENV), [WRITTEN, Response(status=202)])
    assert len(runner.sends) == 2


# -- media --------------------------------------------------------------------------------------

SLOT = {
    "id": "m1.png",
    "type": "image",
    "content_type": "image/png",
    "upload_url": "https://storage.example/put/m1.png?X-Amz-Signature=s3cr3t",
    "url": "https://cdn.example/m1.png",
}


def test_a_media_upload_takes_a_slot_puts_without_credentials_and_confirms(config: ApiConfig) -> None:
    body = StreamedBody(open=lambda: [b"\x89PNG", b" bytes"], length=10)
    slot, runner = run_flow(
        media_upload_flow(config, body, "png", ENV),
        [answer(SLOT, 201), WRITTEN, Response(status=200), answer({"id": "m1.png", "status": "uploaded"})],
    )
    assert slot.url == "https://cdn.example/m1.png"
    methods = [(send.request.method, send.request.url.split("?")[0]) for send in runner.sends]
    assert methods == [
        ("POST", "https://api.higgsfield.ai/v1/agent/media"),
        ("PUT", "https://storage.example/put/m1.png"),
        ("PUT", "https://storage.example/put/m1.png"),  # a PUT is repeated, its body reopened
        ("POST", "https://api.higgsfield.ai/v1/agent/media/m1.png/confirm"),
    ]
    put = runner.sends[1].request
    assert put.headers == (("Content-Type", "image/png"),)
    assert not put.carries_credentials
    assert put.body is body
    assert json.loads(runner.sends[3].request.body) == {"type": "image"}  # type: ignore[arg-type]


def test_a_refused_media_put_names_no_signed_url(config: ApiConfig) -> None:
    error, runner = expect_error(
        media_upload_flow(config, b"x", "png", ENV), [answer(SLOT, 201), detail(403, "SignatureDoesNotMatch")]
    )
    assert type(error).__name__ == "UploadRejectedError"
    assert "s3cr3t" not in str(error)
    assert len(runner.sends) == 2  # no confirm for bytes that were not stored


def test_a_media_upload_cut_short_by_the_network_names_no_signed_url(config: ApiConfig) -> None:
    error, _ = expect_error(media_upload_flow(config, b"x", "png", ENV), [answer(SLOT, 201), *[WRITTEN] * 3])
    assert isinstance(error, TransportError)
    assert "s3cr3t" not in str(error)
    assert "storage.example" in str(error)


def test_the_turn_sleeps_only_on_the_poll_schedule(config: ApiConfig) -> None:
    # Slow answers eat into the wait: the next sleep still follows the schedule, cut at the end.
    script = [
        sent(MESSAGE_ID),
        Slow(slice_of("processing"), 4.0),
        Slow(slice_of("processing"), 4.0),
        done(),
        costs(),
    ]
    _, runner = run_flow(run_turn(config, timeout=14.0), script)
    assert runner.sleeps == [2.0, 3.0, 1.0]
    assert runner.now == 14.0


def test_asks_and_sleeps_in_order(config: ApiConfig) -> None:
    script: List[Any] = [sent(MESSAGE_ID), slice_of("awaiting_input"), sent("m-a"), done(), costs()]
    runner = ScriptedRunner(list(script), answers=["ok"])
    runner.run(run_turn(config, answering=True))
    assert runner.kinds() == [
        "send:POST",
        "sleep",
        "send:GET",
        "notify:TurnUpdate",
        "ask",
        "send:POST",
        "sleep",
        "send:GET",
        "notify:TurnUpdate",
        "send:GET",
    ]


@pytest.mark.parametrize("history_answer", [WRITTEN, Response(status=503), detail(500, "down")])
def test_a_cost_that_cannot_be_read_is_left_unknown(config: ApiConfig, history_answer: Any) -> None:
    result, runner = run_flow(run_turn(config), [sent(MESSAGE_ID), done(), history_answer])
    assert (result.status, result.cost_usd) == ("completed", None)
    assert len(runner.sends) == 3  # the history is read once, not repeated for the cost
