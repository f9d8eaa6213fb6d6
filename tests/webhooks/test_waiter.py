"""The webhook waiter under asyncio and trio: completed by the delivery, or by slow polling."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
import trio

from higgsfield_client import AsyncClient, JobFailedError, NotFoundError, PollPolicy, WaitTimeoutError
from higgsfield_client.testing import Emulator
from higgsfield_client.webhooks import WebhookWaiter
from higgsfield_proto import JobState, JobStatus, WebhookEvent

from .servers import receiver
from .support import SECRET

MODEL = "higgsfield-ai/soul/standard"
NEVER = PollPolicy(initial_delay=3600.0, max_delay=3600.0)  # no status check within a test
FAST = PollPolicy(initial_delay=0.2, max_delay=0.2, jitter=0.0)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0, run_time=0.1, webhook_secret=SECRET, webhook_retry_delay=0.05) as emu:
        yield emu


def _run(library: str, scenario: Callable[[Emulator], Awaitable[Any]], emulator: Emulator) -> Any:
    if library == "trio":
        return trio.run(scenario, emulator)
    return asyncio.run(scenario(emulator))  # type: ignore[arg-type]


def _client(emulator: Emulator) -> AsyncClient:
    return AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)


def _submit_and_wait(library: str, emulator: Emulator, fallback: PollPolicy) -> Any:
    """Submit one job with the receiver's URL and wait for it; (request id, result)."""

    async def scenario(emulator: Emulator) -> Any:
        async with _client(emulator) as client:
            waiter = WebhookWaiter(client, fallback=fallback)
            async with receiver(library, waiter) as url:
                controller = await client.submit(MODEL, {"prompt": "a kite"}, webhook_url=url)
                return controller.request_id, await waiter.wait(controller.request_id, timeout=60)

    return _run(library, scenario, emulator)


@pytest.mark.parametrize("shape", ["flat", "nested"])
@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_wait_completes_when_the_webhook_arrives(library: str, shape: str, emulator: Emulator) -> None:
    emulator.webhook_body = shape  # results beside the status, or under "payload"
    request_id, result = _submit_and_wait(library, emulator, NEVER)
    assert result.request_id == request_id
    assert result["status"] == "completed"
    assert result.images
    assert result["images"][0]["url"] == result.images[0]  # the result reads as a status answer
    # The waiter checks once at once (the job is still running), then the webhook ends the wait.
    assert [entry.route for entry in emulator.journal if entry.route != "webhook"] == ["submit", "status"]


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_dropped_delivery_still_completes_through_polling(library: str, emulator: Emulator) -> None:
    emulator.script_fault("webhook", "drop")
    request_id, result = _submit_and_wait(library, emulator, FAST)
    assert result.request_id == request_id
    assert result["status"] == "completed"
    (delivery,) = emulator.webhook_deliveries
    assert (delivery.fault, delivery.attempts) == ("drop", ())
    assert "status" in [entry.route for entry in emulator.journal]


def _event(request_id: str, state: JobState = JobState.COMPLETED, **fields: Any) -> WebhookEvent:
    payload = {"status": state.value, "request_id": request_id, **fields}
    status = JobStatus(state=state, request_id=request_id, payload=payload, error=fields.get("error"))
    return WebhookEvent(status=status, webhook_id="m")


def test_a_delivery_before_wait_is_kept_and_the_oldest_are_dropped(emulator: Emulator) -> None:
    async def scenario(emulator: Emulator) -> Any:
        async with _client(emulator) as client:
            waiter = WebhookWaiter(client, fallback=NEVER, keep=2)
            for request_id in ("a", "b", "c"):
                waiter.deliver(_event(request_id))
            waiter.deliver(_event("d", JobState.IN_PROGRESS))  # not final: ignored
            results = [await waiter.wait(request_id) for request_id in ("c", "b")]
            with pytest.raises(NotFoundError):
                # Dropped: found by polling, if at all; the check made at once finds no such job.
                await waiter.wait("a", timeout=0.2)
            return results

    assert [result.request_id for result in asyncio.run(scenario(emulator))] == ["c", "b"]


async def _queued_job(client: AsyncClient, emulator: Emulator) -> str:
    """A job that stays queued for the whole test: only deliveries can end a wait for it."""
    emulator.script_next_job(queue_time=3600)
    controller = await client.submit(MODEL, {"prompt": "a kite"})
    return controller.request_id


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_failed_job_raises_from_its_webhook_and_several_waiters_complete(
    library: str, emulator: Emulator
) -> None:
    async def scenario(emulator: Emulator) -> list[Any]:
        async with _client(emulator) as client:
            waiter = WebhookWaiter(client, fallback=NEVER)
            request_id = await _queued_job(client, emulator)
            outcomes: list[Any] = []

            async def wait() -> None:
                try:
                    outcomes.append(await waiter.wait(request_id, timeout=60))
                except JobFailedError as exc:
                    outcomes.append(exc)

            async def deliver_later() -> None:
                # Once both waiters made their check at once (the job was queued).
                while [entry.route for entry in emulator.journal].count("status") < 2:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
                assert len(waiter._waiting[request_id]) == 2
                waiter.deliver(_event(request_id, JobState.FAILED, error="out of ink"))

            if library == "trio":
                async with trio.open_nursery() as nursery:
                    for job in (wait, wait, deliver_later):
                        nursery.start_soon(job)
            else:
                await asyncio.gather(wait(), wait(), deliver_later())
            return outcomes

    outcomes = _run(library, scenario, emulator)
    assert [type(outcome) for outcome in outcomes] == [JobFailedError, JobFailedError]
    assert outcomes[0].error == "out of ink"
    # The submit, and each waiter's check at once (the job was queued): no polling after.
    assert [entry.route for entry in emulator.journal] == ["submit", "status", "status"]


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_job_that_ended_long_ago_is_found_by_the_check_made_at_once(
    library: str, emulator: Emulator
) -> None:
    # Its delivery went nowhere (no webhook_url): only a status check can find it, and the
    # fallback's first delay is an hour. The check made when the wait starts finds it.
    async def scenario(emulator: Emulator) -> Any:
        async with _client(emulator) as client:
            controller = await client.submit(MODEL, {"prompt": "a kite"})
            while emulator.job(controller.request_id).status != "completed":  # noqa: ASYNC110
                await anyio.sleep(0.02)
            waiter = WebhookWaiter(client, fallback=NEVER)
            with anyio.fail_after(60):  # a bound against a hang of an hour, not a measurement
                return await waiter.wait(controller.request_id)

    result = _run(library, scenario, emulator)
    assert result["status"] == "completed"
    assert [entry.route for entry in emulator.journal] == ["submit", "status"]


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_delivery_of_a_state_that_is_not_final_does_not_end_a_wait(
    library: str, emulator: Emulator
) -> None:
    # An in_progress delivery must leave final_status() waiting (else a webhook-driven batch
    # records a running job as canceled); the completed delivery after it ends the wait.
    async def scenario(emulator: Emulator) -> Any:
        async with _client(emulator) as client:
            waiter = WebhookWaiter(client, fallback=NEVER)
            request_id = await _queued_job(client, emulator)
            ended: list[JobStatus] = []
            seen_after_in_progress: list[Any] = []

            async def wait() -> None:
                ended.append(await waiter.final_status(request_id, timeout=60))

            async def deliver() -> None:
                while not waiter._waiting.get(request_id):  # noqa: ASYNC110 - private state
                    await anyio.sleep(0.01)
                waiter.deliver(_event(request_id, JobState.IN_PROGRESS))
                for _ in range(20):  # let an ended wait run to its end
                    await anyio.lowlevel.checkpoint()
                seen_after_in_progress.append((list(ended), len(waiter._waiting.get(request_id, ()))))
                waiter.deliver(_event(request_id, JobState.COMPLETED))

            async with anyio.create_task_group() as group:
                group.start_soon(wait)
                group.start_soon(deliver)
            return seen_after_in_progress[0], ended

    after_in_progress, ended = _run(library, scenario, emulator)
    assert after_in_progress == ([], 1)  # nothing ended, and the wait is still registered
    assert [(status.state, status.request_id) for status in ended] == [
        (JobState.COMPLETED, emulator.jobs()[0].request_id)
    ]


def test_wait_times_out_when_neither_the_webhook_nor_a_check_finds_the_job_finished() -> None:
    with Emulator(queue_time=30) as emulator:

        async def scenario(emulator: Emulator) -> None:
            async with _client(emulator) as client:
                controller = await client.submit(MODEL, {"prompt": "a kite"})
                await WebhookWaiter(client, fallback=FAST).wait(controller.request_id, timeout=0.5)

        with pytest.raises(WaitTimeoutError, match="did not finish in time"):
            asyncio.run(scenario(emulator))
        assert "status" in [entry.route for entry in emulator.journal]


@pytest.mark.parametrize("library", ["asyncio", "trio"])
def test_a_job_a_delivery_ends_has_its_span_ended_with_its_final_status(
    library: str, emulator: Emulator, spans: Any
) -> None:
    request_id, result = _submit_and_wait(library, emulator, NEVER)
    assert result["status"] == "completed"
    (job,) = spans.named("higgsfield.job")  # ended by the delivery, not by the client's close
    assert job.attributes["higgsfield.request_id"] == request_id
    assert job.attributes["higgsfield.job.status"] == "completed"
    assert job.attributes["higgsfield.job.webhook"] is True

    async def delivered_first(emulator: Emulator) -> Any:
        async with _client(emulator) as client:
            request_id = await _queued_job(client, emulator)
            ended = spans.named("higgsfield.job")
            waiter = WebhookWaiter(client, fallback=NEVER)
            waiter.deliver(_event(request_id, JobState.FAILED, error="no paint"))
            with pytest.raises(JobFailedError):
                await waiter.wait(request_id)  # the delivery kept before the wait
            return request_id, ended, spans.named("higgsfield.job")

    spans.clear()
    request_id, before, after = _run(library, delivered_first, emulator)
    assert before == []
    (job,) = after
    assert (job.attributes["higgsfield.request_id"], job.attributes["higgsfield.job.status"]) == (
        request_id,
        "failed",
    )
