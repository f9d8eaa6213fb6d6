"""Jobs end to end against the emulator, for every transport."""

from __future__ import annotations

from typing import Any, List

import pytest

from higgsfield_client import (
    Completed,
    Failed,
    JobCancelledError,
    JobFailedError,
    JobNSFWError,
    JobResult,
    NotCancellableError,
    Queued,
    Status,
)

from .harness import Harness

IMAGE_MODEL = "bytedance/seedream/v4/text-to-image"
VIDEO_MODEL = "kling-video/v2.6/pro/image-to-video"


def _status_requests(harness: Harness, request_id: str) -> int:
    return sum(
        1 for entry in harness.emulator.journal if entry.route == "status" and request_id in entry.path
    )


def test_subscribe_returns_the_images_of_an_image_job(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        return await client.subscribe(IMAGE_MODEL, {"prompt": "a lake", "aspect_ratio": "16:9"})

    result = harness.run(scenario)
    assert result["status"] == "completed"
    assert result["images"][0]["url"].startswith(harness.emulator.base_url)
    assert result.images == (result["images"][0]["url"],)
    assert result.request_id == result["request_id"]


def test_subscribe_returns_the_video_of_a_video_job(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        arguments = {"prompt": "slow dolly in", "image_url": "https://example.com/a.png"}
        return await client.subscribe(VIDEO_MODEL, arguments)

    result = harness.run(scenario)
    assert result.video == result["video"]["url"]
    assert "images" not in result


def test_subscribe_polls_once_per_tick_and_never_after_the_end(harness: Harness) -> None:
    enqueued: List[str] = []
    updates: List[Status] = []

    async def scenario(client: Any) -> Any:
        return await client.subscribe(
            IMAGE_MODEL,
            {"prompt": "a lake"},
            on_enqueue=enqueued.append,
            on_queue_update=updates.append,
        )

    result = harness.run(scenario)
    assert enqueued == [result.request_id]
    assert isinstance(updates[-1], Completed)
    assert all(not isinstance(update, Completed) for update in updates[:-1])
    assert all(update.request_id == result.request_id for update in updates)
    # One status request per callback, i.e. per tick, and none once the job was seen finished.
    assert _status_requests(harness, result.request_id) == len(updates)


def test_coroutine_callbacks_are_awaited(async_harness: Harness) -> None:
    seen: List[str] = []

    async def on_enqueue(request_id: str) -> None:
        seen.append(f"enqueued {request_id}")

    async def on_update(status: Status) -> None:
        seen.append(type(status).__name__)

    async def scenario(client: Any) -> Any:
        return await client.subscribe(
            IMAGE_MODEL, {"prompt": "x"}, on_enqueue=on_enqueue, on_queue_update=on_update
        )

    result = async_harness.run(scenario)
    assert seen[0] == f"enqueued {result.request_id}"
    assert seen[-1] == "Completed"


def test_controller_polls_then_get_sends_nothing_more(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        controller = await client.submit(IMAGE_MODEL, {"prompt": "ball"})
        first = await controller.status()
        statuses = [status async for status in controller.poll_request_status()]
        before = _status_requests(harness, controller.request_id)
        result = await controller.get()
        after = _status_requests(harness, controller.request_id)
        return controller.request_id, first, statuses, result, before, after

    request_id, first, statuses, result, before, after = harness.run(scenario)
    assert isinstance(first, Status)
    assert first.request_id == request_id
    assert isinstance(statuses[-1], Completed)
    assert result["request_id"] == request_id
    assert before == after


@pytest.mark.parametrize(("marker", "state"), [("[fail]", "failed"), ("[nsfw]", "nsfw")])
def test_an_unsuccessful_job_returns_its_result_as_the_official_sdk_returns_the_payload(
    harness: Harness, marker: str, state: str
) -> None:
    updates: List[Status] = []

    async def scenario(client: Any) -> Any:
        arguments = {"prompt": f"x {marker}"}
        result = await client.subscribe(IMAGE_MODEL, arguments, on_queue_update=updates.append)
        # Code written for the official SDK checks the status and handles the rest in its else:
        outcome = "ok" if result["status"] == "completed" else f"handled {result['status']}"
        return result, outcome

    result, outcome = harness.run(scenario)
    assert isinstance(result, JobResult)
    assert outcome == f"handled {state}"
    assert result.status == state
    assert result.request_id == updates[-1].request_id
    assert result.payload == dict(result)
    assert result.payload["status"] == state
    assert (result.images, result.video, result.outputs) == ((), None, [])
    assert not hasattr(result, "__dict__")  # like the plain dict the official SDK returns
    if state == "failed":
        assert isinstance(updates[-1], Failed)
        assert result.error
        assert result.error == updates[-1].error == result["error"]
    else:
        assert result.error is None


@pytest.mark.parametrize(("marker", "error_type"), [("[fail]", JobFailedError), ("[nsfw]", JobNSFWError)])
def test_raise_for_status_raises_the_typed_error_of_an_unsuccessful_job(
    harness: Harness, marker: str, error_type: type
) -> None:
    async def scenario(client: Any) -> Any:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": f"x {marker}"})
        with pytest.raises(error_type) as caught:
            result.raise_for_status()
        return result, caught.value

    result, error = harness.run(scenario)
    assert error.request_id == result.request_id
    assert error.status == result.status
    assert error.payload == result.payload
    if error_type is JobFailedError:
        assert error.error == result.error


def test_raise_for_status_returns_a_completed_result(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": "a lake"})
        return result, result.raise_for_status()

    result, returned = harness.run(scenario)
    assert returned is result
    assert result.status == "completed"
    assert result.error is None


@pytest.mark.parametrize(("marker", "error_type"), [("[fail]", JobFailedError), ("[nsfw]", JobNSFWError)])
def test_raise_on_failure_on_the_client_raises_typed_errors(
    harness: Harness, marker: str, error_type: type
) -> None:
    updates: List[Status] = []

    async def scenario(client: Any) -> Any:
        with pytest.raises(error_type) as caught:
            await client.subscribe(IMAGE_MODEL, {"prompt": f"x {marker}"}, on_queue_update=updates.append)
        return caught.value

    error = harness.run(scenario, raise_on_failure=True)
    assert error.request_id == updates[-1].request_id
    assert error.payload["status"] == error.status
    if error_type is JobFailedError:
        assert isinstance(updates[-1], Failed)
        assert error.error
        assert error.error == updates[-1].error


def test_raise_on_failure_per_call_overrides_the_client(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        controller = await client.submit(IMAGE_MODEL, {"prompt": "x [fail]"})
        returned = await controller.get(raise_on_failure=False)  # the client raises by default
        with pytest.raises(JobFailedError):
            await controller.get()  # the final status is known: no request, the same decision
        again = await client.result(controller.request_id, raise_on_failure=False)
        with pytest.raises(JobFailedError):
            await client.subscribe(IMAGE_MODEL, {"prompt": "y [fail]"})
        return returned, again

    returned, again = harness.run(scenario, raise_on_failure=True)
    assert returned.status == again.status == "failed"
    assert returned.request_id == again.request_id


def test_raise_on_failure_per_call_on_a_client_that_returns(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        with pytest.raises(JobFailedError) as by_subscribe:
            await client.subscribe(IMAGE_MODEL, {"prompt": "x [fail]"}, raise_on_failure=True)
        request_id = by_subscribe.value.request_id
        with pytest.raises(JobFailedError):
            await client.result(request_id, raise_on_failure=True)
        return request_id, await client.result(request_id)

    request_id, result = harness.run(scenario)
    assert result.status == "failed"
    assert result.request_id == request_id


def test_a_scripted_failure_carries_its_error_text(harness: Harness) -> None:
    harness.emulator.script_next_job("failed", error="the GPU melted")

    async def scenario(client: Any) -> Any:
        controller = await client.submit(IMAGE_MODEL, {"prompt": "x"})
        result = await controller.get()
        with pytest.raises(JobFailedError) as caught:
            result.raise_for_status()
        return result, caught.value

    result, error = harness.run(scenario)
    assert result.error == error.error == "the GPU melted"
    assert "the GPU melted" in str(error)
    assert "the GPU melted" in repr(result)
    assert "status='failed'" in repr(result)


def test_cancel_while_queued_then_the_result_is_canceled(harness: Harness) -> None:
    harness.emulator.script_next_job("completed", queue_time=30.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(IMAGE_MODEL, {"prompt": "x"})
        assert isinstance(await controller.status(), Queued)
        await controller.cancel()
        result = await client.result(controller.request_id)
        with pytest.raises(JobCancelledError) as caught:
            await client.result(controller.request_id, raise_on_failure=True)
        return result, caught.value

    result, error = harness.run(scenario)
    assert result.status == "canceled"
    assert result.outputs == []
    assert error.status == "canceled"


def test_cancel_after_start_raises_not_cancellable(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": "x"})
        with pytest.raises(NotCancellableError) as caught:
            await client.cancel(result.request_id)
        return result.request_id, caught.value

    request_id, error = harness.run(scenario)
    assert error.status_code == 400
    assert error.request_id == request_id
