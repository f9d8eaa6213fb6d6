"""OpenTelemetry spans of jobs, agent turns and HTTP exchanges, checked whole with the SDK's
in-memory exporter, under the sync client, asyncio and trio.

Each scenario runs inside a span of the test's own ("user"), in a task of a task group (an
asyncio task, a trio nursery's task): what the client starts there is a child of the user's span.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Awaitable, Callable, List

import anyio
import pytest

from higgsfield_client import AgentTimeoutError, NotFoundError, WaitTimeoutError
from higgsfield_client.testing import Emulator

from .harness import Harness

MODEL = "higgsfield-ai/soul/standard"
RUNTIMES = ["requests", "aiohttp", "trio"]  # the sync client, asyncio, trio
SUBMIT = f"POST /{MODEL} 200"
STATUS = "GET /requests/{id}/status"
MESSAGES = "GET /v1/agent/sessions/{id}/messages 200"
MESSAGE = "POST /v1/agent/sessions/{id}/messages 202"


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, emulator: Emulator) -> Harness:
    return Harness(transport=request.param, emulator=emulator)


def in_user_span(scenario: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[List[Any]]]:
    """``scenario`` run in a task started inside the user's span; its result in a list."""
    from opentelemetry import trace

    async def run(client: Any) -> List[Any]:
        got: List[Any] = []

        async def task() -> None:
            got.append(await scenario(client))

        with trace.get_tracer("test").start_as_current_span("user"):
            async with anyio.create_task_group() as group:
                group.start_soon(task)
        return got

    return run


def test_a_subscribe_with_two_retries_is_a_job_span_over_its_exchanges(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job(queue_time=0.0, run_time=0.0)
    runtime.emulator.script_fault("status", "503", count=2)

    async def scenario(client: Any) -> Any:
        return await client.subscribe(MODEL, {"prompt": "a lighthouse"})

    (result,) = runtime.run(in_user_span(scenario))
    assert spans.tree() == [
        ("user", [], [
            ("job completed", ["higgsfield.job.status", "higgsfield.job.status"], [
                (SUBMIT, [], []),
                (f"{STATUS} 503", ["higgsfield.retry"], []),
                (f"{STATUS} 503 resend=1", ["higgsfield.retry"], []),
                (f"{STATUS} 200 resend=2", [], []),
            ]),
        ]),
    ]  # fmt: skip
    (job,) = spans.named("higgsfield.job")
    assert job.attributes["higgsfield.model"] == MODEL
    assert job.attributes["higgsfield.request_id"] == result.request_id
    assert job.attributes["higgsfield.job.status_checks"] == 1
    assert job.attributes["higgsfield.job.webhook"] is False
    assert job.attributes["higgsfield.job.queued_seconds"] >= 0
    assert [event.attributes["higgsfield.job.status"] for event in job.events] == ["queued", "completed"]
    first, second = (
        span for span in spans.named("GET") if span.attributes["http.response.status_code"] == 503
    )
    for span, attempt in ((first, 1), (second, 2)):
        (retry,) = span.events
        assert retry.attributes["higgsfield.retry.reason"] == "HTTP 503"
        assert retry.attributes["higgsfield.retry.attempt"] == attempt
        assert retry.attributes["higgsfield.retry.delay"] >= 0
        assert span.attributes["error.type"] == "503"
        assert span.status.status_code.name == "ERROR"
    submit = spans.named("POST")[0]
    assert submit.kind.name == "CLIENT"
    assert submit.attributes["server.address"] == "127.0.0.1"
    assert submit.attributes["server.port"] == int(runtime.emulator.base_url.rsplit(":", 1)[1])
    assert submit.attributes["url.full"] == f"{runtime.emulator.base_url}/{MODEL}"


def test_a_canceled_job_is_one_span_from_its_submit_to_its_cancel(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job(queue_time=60.0, run_time=0.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "never mind"})
        await controller.cancel()
        return controller.request_id

    (request_id,) = runtime.run(in_user_span(scenario))
    assert spans.tree() == [
        ("user", [], [
            ("job canceled", ["higgsfield.job.status", "higgsfield.job.status"], [
                (SUBMIT, [], []),
                ("POST /requests/{id}/cancel 202", [], []),
            ]),
        ]),
    ]  # fmt: skip
    (job,) = spans.named("higgsfield.job")
    assert job.attributes["higgsfield.request_id"] == request_id
    assert job.attributes["higgsfield.job.status_checks"] == 0
    assert job.status.status_code.name == "UNSET"


def test_an_agent_turn_with_a_question_is_a_span_with_its_polls_question_and_cost(
    runtime: Harness, spans: Any
) -> None:
    emulator = runtime.emulator
    emulator.script_agent_turn("question", text="Which colour?", turn_time=0.0, answer_lag=0.0)
    emulator.script_agent_turn("completed", text="Blue it is.", turn_time=0.0, llm_cost_usd="0.0125")

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        return await client.agents.sessions.run(session.session_id, "paint it", on_question=lambda q: "blue")

    (result,) = runtime.run(in_user_span(scenario))
    assert spans.tree() == [
        ("user", [], [
            ("POST /v1/agent/sessions 201", [], []),
            ("turn completed", ["higgsfield.agent.question"], [
                (MESSAGE, [], []),
                (MESSAGES, [], []),
                (MESSAGE, [], []),
                (MESSAGES, [], []),
                (MESSAGES, [], []),
            ]),
        ]),
    ]  # fmt: skip
    (turn,) = spans.named("higgsfield.agent.turn")
    assert turn.attributes["higgsfield.agent.session_id"] == result.session_id
    assert turn.attributes["higgsfield.agent.message_id"] == result.message_id
    assert turn.attributes["higgsfield.agent.turn.polls"] == 2
    assert turn.attributes["higgsfield.agent.turn.questions"] == 1
    assert turn.attributes["higgsfield.agent.turn.cost_usd"] == float(result.cost_usd)
    assert result.cost_usd is not None


def test_a_job_followed_by_later_calls_ends_when_they_see_it_end(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "later"})
        assert spans.named("higgsfield.job") == []  # open while the job runs
        return await controller.get()

    (result,) = runtime.run(in_user_span(scenario))
    assert spans.tree() == [
        ("user", [], [
            ("job completed", ["higgsfield.job.status", "higgsfield.job.status"], [
                (SUBMIT, [], []),
                (f"{STATUS} 200", [], []),
            ]),
        ]),
    ]  # fmt: skip
    assert spans.named("higgsfield.job")[0].attributes["higgsfield.request_id"] == result.request_id


def test_closing_the_client_ends_the_span_of_a_job_it_still_followed(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job(queue_time=60.0, run_time=0.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "left running"})
        await client.aclose()
        return controller.request_id

    runtime.run(scenario)
    (job,) = spans.named("higgsfield.job")
    assert job.attributes["higgsfield.job.status"] == "queued"  # the last status it knew


def test_a_webhook_submit_says_so_on_its_span(runtime: Harness, spans: Any) -> None:
    async def scenario(client: Any) -> Any:
        await client.submit(MODEL, {"prompt": "call me"}, webhook_url="https://hooks.example/done?token=t0p")
        await client.aclose()

    runtime.run(scenario)
    (job,) = spans.named("higgsfield.job")
    assert job.attributes["higgsfield.job.webhook"] is True


def test_a_failed_job_and_a_refused_submit_end_their_spans_as_errors(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job("failed", queue_time=0.0, run_time=0.0, error="out of paint")

    async def scenario(client: Any) -> Any:
        failed = await client.subscribe(MODEL, {"prompt": "doomed"})  # returned, as officially
        assert failed["status"] == "failed"
        with pytest.raises(NotFoundError):
            await client.submit("nobody/no-such-model", {"prompt": "anything"})

    runtime.run(in_user_span(scenario))
    failed, refused = spans.named("higgsfield.job")
    assert failed.attributes["higgsfield.job.status"] == "failed"
    assert (failed.status.status_code.name, failed.status.description) == ("ERROR", "the job ended failed")
    assert "higgsfield.request_id" not in refused.attributes  # never accepted
    assert "higgsfield.job.status" not in refused.attributes
    assert refused.attributes["error.type"] == "NotFoundError"
    (exception,) = refused.events
    assert exception.name == "exception"
    assert exception.attributes["exception.type"] == "NotFoundError"
    assert refused.status.status_code.name == "ERROR"


def test_a_dropped_connection_is_an_exchange_span_with_its_failure(runtime: Harness, spans: Any) -> None:
    runtime.emulator.script_next_job(queue_time=60.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "patchy"})
        runtime.emulator.script_fault("status", "drop")
        return await controller.status()

    runtime.run(in_user_span(scenario))
    dropped, answered = spans.named("GET")
    assert dropped.attributes["error.type"] in ("read", "connect")  # the connection closed unanswered
    assert "http.response.status_code" not in dropped.attributes
    assert dropped.status.status_code.name == "ERROR"
    assert [event.name for event in dropped.events] == ["higgsfield.retry"]
    assert answered.attributes["http.request.resend_count"] == 1


def test_a_wait_that_cancels_its_job_at_the_deadline_ends_the_span_canceled(
    runtime: Harness, spans: Any
) -> None:
    runtime.emulator.script_next_job(queue_time=60.0)

    async def scenario(client: Any) -> Any:
        with pytest.raises(WaitTimeoutError) as raised:
            await client.subscribe(MODEL, {"prompt": "too slow"}, timeout=2.0, cancel_on_timeout=True)
        return raised.value

    (error,) = runtime.run(in_user_span(scenario))
    assert error.cancelled
    (job,) = spans.named("higgsfield.job")
    assert job.attributes["higgsfield.job.status"] == "canceled"
    assert job.attributes["error.type"] == "WaitTimeoutError"


def test_a_failed_turn_and_a_turn_out_of_time_are_error_spans(runtime: Harness, spans: Any) -> None:
    emulator = runtime.emulator
    emulator.script_agent_turn("failed", text="no brushes", turn_time=0.0)
    emulator.script_agent_turn("hang")

    async def scenario(client: Any) -> Any:
        session = await client.agents.sessions.create()
        failed = await client.agents.sessions.run(session.session_id, "paint it")
        with pytest.raises(AgentTimeoutError):
            await client.agents.sessions.run(session.session_id, "wait forever", timeout=0.5)
        return failed

    runtime.run(in_user_span(scenario))
    failed, late = spans.named("higgsfield.agent.turn")
    assert failed.attributes["higgsfield.agent.turn.status"] == "failed"
    assert (failed.status.status_code.name, failed.status.description) == ("ERROR", "the turn failed")
    assert "higgsfield.agent.turn.status" not in late.attributes
    assert late.attributes["error.type"] == "AgentTimeoutError"
    assert late.attributes["higgsfield.agent.turn.polls"] >= 1


def test_a_client_following_too_many_jobs_ends_the_oldest_span_first(
    runtime: Harness, spans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from higgsfield_client._watch import JobBook

    monkeypatch.setattr(JobBook, "LIMIT", 2)
    for _ in range(3):
        runtime.emulator.script_next_job(queue_time=60.0)

    async def scenario(client: Any) -> Any:
        submitted = [(await client.submit(MODEL, {"prompt": f"job {n}"})).request_id for n in range(3)]
        ended = [span.attributes["higgsfield.request_id"] for span in spans.named("higgsfield.job")]
        return submitted, ended

    ((submitted, ended),) = runtime.run(in_user_span(scenario))
    assert ended == submitted[:1]  # pushed out by the third, with the last status it knew
    assert [span.attributes["higgsfield.job.status"] for span in spans.named("higgsfield.job")] == [
        "queued"
    ] * 3


def test_a_job_a_budget_priced_carries_its_cost_and_a_job_without_one_none(
    runtime: Harness, spans: Any
) -> None:
    from higgsfield_client import Budget

    for _ in range(3):
        runtime.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> Any:
        await client.subscribe(MODEL, {"prompt": "a lake"})
        submitted = await client.submit(MODEL, {"prompt": "a lake", "num_images": 2})
        await submitted.get()
        return client.spent

    (spent,) = runtime.run(in_user_span(scenario), budget=Budget(max_credits=100))
    assert spent.charged.credits == Decimal("4.5")  # 1.5 credits an image, by the account's estimate
    one, two = spans.named("higgsfield.job")
    assert (one.attributes["higgsfield.job.cost.credits"], one.attributes["higgsfield.job.cost.usd"]) == (
        1.5,
        0.094,
    )
    assert one.attributes["higgsfield.job.cost.source"] == "estimate"
    assert (two.attributes["higgsfield.job.cost.credits"], two.attributes["higgsfield.job.cost.usd"]) == (
        3.0,
        0.188,
    )
    spans.clear()

    async def unpriced(client: Any) -> Any:
        return await client.subscribe(MODEL, {"prompt": "free of budgets"})

    runtime.run(in_user_span(unpriced))
    (job,) = spans.named("higgsfield.job")
    assert not [name for name in job.attributes if name.startswith("higgsfield.job.cost")]
