"""The turn loop on any script of polls (hypothesis): it ends, keeps its deadline, sends the turn
once, asks each question once, and stops polling at the end."""

from __future__ import annotations

import json
import math
from typing import Any, List

from agent_support import MESSAGE_ID, SESSION_ID, assistant_row, sent, slice_of
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_support import ScriptedRunner

from higgsfield_proto import (
    AgentTimeoutError,
    ApiConfig,
    Ask,
    Credentials,
    FailureKind,
    FlowEnv,
    HiggsfieldError,
    Now,
    PollPolicy,
    Response,
    RetryPolicy,
    Send,
    Sleep,
    TransportFailure,
    TurnResult,
    run_turn_flow,
)

CONFIG = ApiConfig(credentials=Credentials(key_id="k", secret="s"))
STATUSES = ["idle", "processing", "awaiting_input", "terminated", "something_new"]
ROW_STATUSES = ["processing", "completed", "failed", "streaming"]

rows = st.lists(
    st.tuples(st.sampled_from(["assistant", "user"]), st.sampled_from(ROW_STATUSES)), max_size=3
)
polls = st.one_of(
    st.builds(lambda status, found: ("slice", status, found), st.sampled_from(STATUSES), rows),
    st.just(("failure",)),
    st.just(("503",)),
)


def materialise(poll: Any, index: int) -> Any:
    if poll[0] == "failure":
        return TransportFailure(kind=FailureKind.READ, detail="reset", request_written=True)
    if poll[0] == "503":
        return Response(status=503)
    _, status, found = poll
    made = []
    for number, (role, row_status) in enumerate(found):
        row = assistant_row(f"r{index}-{number}", row_status, "?")
        row["role"] = role
        made.append(row)
    return slice_of(status, *made)


class Server:
    """Answers the message POSTs with ids, the polls from the script (then 'processing')."""

    def __init__(self, script: List[Any]) -> None:
        self.script = script
        self.answers = 0

    def __call__(self, request: Any) -> Any:
        if request.method == "POST":
            self.answers += 1
            return sent(MESSAGE_ID if self.answers == 1 else f"m-answer-{self.answers}")
        if "after=" not in request.url:
            return slice_of("idle")  # the history read for the cost, at the end
        return self.script.pop(0) if self.script else slice_of("processing")


@settings(max_examples=300, deadline=None)
@given(
    script=st.lists(polls, max_size=30),
    answering=st.booleans(),
    timeout=st.floats(min_value=0.5, max_value=120.0),
    retry=st.integers(min_value=1, max_value=3),
)
def test_the_turn_loop_keeps_its_promises_on_any_script(
    script: List[Any], answering: bool, timeout: float, retry: int
) -> None:
    answers = [materialise(poll, index) for index, poll in enumerate(script)]
    server = Server(answers)
    env = FlowEnv(
        retry=RetryPolicy(max_attempts=retry, backoff_base=0.1, backoff_cap=0.5),
        poll=PollPolicy(initial_delay=2.0, multiplier=1.5, max_delay=10.0, jitter=0.0),
    )
    runner = ScriptedRunner([server] * 10_000, answers=["an answer"] * 100)
    try:
        result: Any = runner.run(
            run_turn_flow(CONFIG, SESSION_ID, "hello", env, timeout=timeout, answering=answering)
        )
    except AgentTimeoutError as exc:
        result = exc
    except HiggsfieldError as exc:  # anything else is a bug of the flow, not of the script
        raise AssertionError(f"unexpected {exc!r}") from exc

    effects = [effect for _, effect in runner.effects if not isinstance(effect, Now)]
    # The deadline holds: no sleep past it, and the flow ends by it (the last poll is at it).
    for when, effect in runner.effects:
        if isinstance(effect, Sleep):
            assert when + effect.seconds <= timeout + 1e-6
            assert math.isfinite(effect.seconds)
    assert runner.now <= timeout + 1e-6
    # The turn's message is sent once, first; every other POST answers a question just asked.
    posts = [i for i, e in enumerate(effects) if isinstance(e, Send) and e.request.method == "POST"]
    assert posts[0] == 0
    for index in posts[1:]:
        assert isinstance(effects[index - 1], Ask)
    asks = [i for i, e in enumerate(effects) if isinstance(e, Ask)]
    assert answering or not asks
    assert len(asks) == len(posts) - 1
    # A question is answered once: after an answer, another needs a poll that showed something
    # new (an assistant row, or the session out of awaiting_input).
    outcomes = iter(runner.outcomes)
    moved = False
    answered = False
    for effect in effects:
        if isinstance(effect, Send):
            outcome = next(outcomes)
            if effect.request.method == "GET" and isinstance(outcome, Response) and outcome.status == 200:
                seen = json.loads(outcome.body)
                shown = any(row["role"] == "assistant" for row in seen["messages"])
                moved = moved or shown or seen["status"] != "awaiting_input"
        elif isinstance(effect, Ask):
            assert moved or not answered, "a question answered twice"
            answered, moved = True, False
    if isinstance(result, AgentTimeoutError):
        assert result.session_id == SESSION_ID
    # A result ends the polling: after the poll that told it, only the history read for the cost.
    if isinstance(result, TurnResult):
        assert result.status in ("completed", "failed", "awaiting_input", "idle", "terminated")
        assert result.session_id == SESSION_ID
        gets = [e for e in effects if isinstance(e, Send) and e.request.method == "GET"]
        assert "after=" not in gets[-1].request.url
        assert all("after=" in get.request.url for get in gets[:-1])
