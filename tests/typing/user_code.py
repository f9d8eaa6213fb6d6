"""A user's program written against the documented API; ``mypy --strict`` must accept it as is.

It is type-checked, never run (tests/typing/test_user_typing.py). Every call is written the way
the docs show it, so a gap in the public annotations fails the check.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Iterator, List, Optional

import trio
from PIL import Image

import higgsfield_client
from higgsfield_client import (
    DONE_STATUSES,
    NSFW,
    AsyncClient,
    AsyncRequestController,
    Budget,
    Cancelled,
    Completed,
    Failed,
    HiggsfieldClientError,
    InProgress,
    JobFailedError,
    JobPrice,
    JobResult,
    PollPolicy,
    Queued,
    RateLimitError,
    RateLimits,
    RequestInfo,
    ResponseInfo,
    Retrying,
    RetryPolicy,
    Spent,
    Status,
    SyncClient,
    SyncRequestController,
    ValidationError,
    WaitTimeoutError,
)
from higgsfield_client.models.arguments import (
    BytedanceSeedreamV4TextToImageArguments,
    HiggsfieldAiSoulStandardArguments,
)
from higgsfield_client.testing import Emulator
from higgsfield_proto import (
    ApiConfig,
    Credentials,
    build_status_request,
    parse_status_response,
    verify_webhook,
)

MODEL = "bytedance/seedream/v4/text-to-image"


def on_enqueue(request_id: str) -> None:
    print(f"Request {request_id} was enqueued")


def on_status_update(status: Status) -> None:
    print(f"Status: {status.state} for {status.request_id}")


def module_level() -> str:
    result: JobResult = higgsfield_client.subscribe(
        MODEL,
        arguments={"prompt": "A serene lake", "resolution": "2K"},
        on_enqueue=on_enqueue,
        on_queue_update=on_status_update,
        timeout=600.0,
    )
    first: str = result["images"][0]["url"]
    images: tuple[str, ...] = result.images
    video: Optional[str] = result.video
    print(result.request_id, result.expires_at, images, video, dict(result.artifacts))
    return first


def typed_arguments() -> str:
    soul: HiggsfieldAiSoulStandardArguments = {"prompt": "A lake", "resolution": "4K", "num_images": 2}
    seedream: BytedanceSeedreamV4TextToImageArguments = {
        "prompt": "A serene lake", "resolution": "2K", "aspect_ratio": "16:9", "camera_fixed": False,
    }
    higgsfield_client.submit("higgsfield-ai/soul/standard", arguments=soul)
    result: JobResult = higgsfield_client.subscribe(MODEL, seedream)
    return result.request_id


def controllers() -> None:
    controller: SyncRequestController = higgsfield_client.submit(
        MODEL, arguments={"prompt": "Football ball"}, webhook_url="https://example.com/webhook"
    )
    for status in controller.poll_request_status(delay=1.0, timeout=60.0):
        if isinstance(status, Queued):
            print("Queued")
        elif isinstance(status, InProgress):
            print("In progress")
        elif isinstance(status, Completed):
            print("Completed", status.images, status.video)
        elif isinstance(status, Failed):
            print("Failed:", status.error)
        elif isinstance(status, (NSFW, Cancelled)):
            print("Oops!")
    done: bool = isinstance(controller.status(), DONE_STATUSES)
    print(done, controller.status_url, controller.cancel_url)
    result = controller.get(timeout=30.0, cancel_on_timeout=True)
    print(result["images"][0]["url"])
    controller.cancel()
    default_client: SyncClient = higgsfield_client.sync_client
    print(default_client.base_url, higgsfield_client.async_client.base_url)
    status = higgsfield_client.status(request_id="cdbe9381-e617-438f-ac99-b18eb52a05a0")
    result = higgsfield_client.result(request_id="cdbe9381-e617-438f-ac99-b18eb52a05a0")
    higgsfield_client.cancel(request_id="cdbe9381-e617-438f-ac99-b18eb52a05a0")
    print(status.payload, result)


def errors() -> None:
    result = higgsfield_client.subscribe(MODEL, {"prompt": "x"})
    if result["status"] != "completed":  # the official SDK's way: the payload comes back
        failure: Optional[str] = result.error
        print(result.status, failure, result.payload)
    try:
        higgsfield_client.subscribe(MODEL, {"prompt": "x"}, raise_on_failure=True).raise_for_status()
    except JobFailedError as exc:
        print(exc.request_id, exc.error, exc.payload)
    except WaitTimeoutError as exc:
        print(exc.request_id, exc.last_status, exc.cancelled)
    except RateLimitError as exc:
        retry_after: Optional[float] = exc.retry_after
        print(retry_after, exc.status_code, exc.correlation_id)
    except ValidationError as exc:
        print([str(error) for error in exc.errors], exc.body)
    except higgsfield_client.DownloadError as exc:
        print(exc.received, exc.expected, exc.url)
    except HiggsfieldClientError as exc:
        print(exc)


def uploads_and_downloads(folder: Path) -> List[Path]:
    with SyncClient(
        timeout=30.0,
        retry=RetryPolicy(max_attempts=3),
        poll=PollPolicy(initial_delay=1.0, timeout=300.0),
    ) as client:
        url: str = client.upload(b"bytes", "image/png")
        url = client.upload_file("photo.jpg", progress=lambda sent, total: print(sent, total))
        url = client.upload_image(Image.new("RGB", (8, 8)), format="png")
        url = higgsfield_client.upload_image(Image.new("RGB", (8, 8)), format="jpeg")
        price = client.estimate(MODEL, {"prompt": "x"})
        credits: Decimal = price.credits
        print(url, credits)
        saved = client.download(url, folder, progress=lambda written, total: print(written, total))
        return [saved, higgsfield_client.download(url, folder / "copy.png")]


async def asynchronous(folder: Path) -> Path:
    result = await higgsfield_client.subscribe_async(
        MODEL, arguments={"prompt": "x"}, on_queue_update=on_status_update
    )
    async with AsyncClient(transport="trio") as client:
        controller: AsyncRequestController = await client.submit(MODEL, {"prompt": "x"})
        async for status in controller.poll_request_status():
            print(status.state)
        final = await controller.get()
        print(final.images, result.images)
        await client.cancel(controller.request_id)
        return await client.download(final.images[0], folder)


def run_both(folder: Path) -> None:
    asyncio.run(asynchronous(folder))
    trio.run(asynchronous, folder)
    path: Path = asyncio.run(higgsfield_client.download_async("https://cdn.example/x.png", folder))
    print(path)


def own_tests() -> Iterator[str]:
    with Emulator(queue_time=0.1, run_time=0.2, seed=1) as emulator:
        emulator.script_next_job("failed", error="broken")
        emulator.script_fault("status", "503")
        client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key)
        yield client.submit(MODEL, {"prompt": "x"}).request_id
        yield from (entry.route for entry in emulator.journal)


def protocol_core(body: bytes, headers: dict[str, str]) -> None:
    config = ApiConfig(credentials=Credentials.from_string("id:secret"))
    request = build_status_request(config, "request-id")
    print(request.method, request.url)
    event = verify_webhook("whsec_c2VjcmV0", headers, body, now=0.0)
    print(event.status.state, parse_status_response)


def observed() -> Optional[float]:
    def on_request(request: RequestInfo) -> None:
        print(request.method, request.url, dict(request.headers), request.attempt)

    def on_response(response: ResponseInfo) -> None:
        print(response.status, response.elapsed, response.failure, response.request.url)

    async def on_retry(event: Retrying) -> None:
        print(event.reason, event.delay, event.retry_after)

    with SyncClient(event_hooks={"request": [on_request], "response": [on_response]}) as client:
        client.status("request-id")
        limits: RateLimits = client.rate_limits
        print(limits.remaining, limits.headers.get("x-ratelimit-reset"), limits.status)
    AsyncClient(event_hooks={"retry": [on_retry], "response": [on_response]})
    return limits.retry_after
def models_and_budgets() -> Decimal:
    """The model catalog and budgets, as docs/models.md and docs/costs.md show them."""
    with SyncClient(validate="strict", budget=Budget(max_credits=200)) as client:
        for entry in client.models.list(kind="video"):
            print(entry.model_id, entry.price)
        client.models.validate("higgsfield-ai/soul/standard", {"prompt": "a lake"})
        client.submit("higgsfield-ai/soul/standard", {"prompt": "a lake"}, validate=False)
        price: Optional[JobPrice] = client.price("higgsfield-ai/soul/standard", {"prompt": "a lake"})
        print(price.source if price is not None else "unknown")
        with client.budget(max_usd="0.50") as block:
            client.subscribe("higgsfield-ai/soul/standard", {"prompt": "one more"})
        spent: Spent = client.spent
        print(block.spent.charged.usd, spent.by_model["higgsfield-ai/soul/standard"].charged.credits)
        return spent.committed.credits
