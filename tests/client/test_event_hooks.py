"""``event_hooks``: request, response and retry hooks on every transport, with redacted values;
coroutine functions awaited by the AsyncClient and refused by the SyncClient."""

from __future__ import annotations

import gc
import warnings
from typing import Any, List

import anyio
import pytest

from higgsfield_client import (
    AsyncClient,
    InvalidArgumentError,
    RequestInfo,
    ResponseInfo,
    Retrying,
    SyncClient,
)
from higgsfield_client.testing import Emulator

from .harness import Harness

MODEL = "higgsfield-ai/soul/standard"


def test_hooks_see_each_exchange_and_each_retry_with_secrets_redacted(harness: Harness) -> None:
    emulator = harness.emulator
    emulator.script_next_job(queue_time=0.0, run_time=0.0)
    emulator.script_fault("status", "503")
    seen: List[Any] = []
    hooks = {"request": [seen.append], "response": [seen.append], "retry": [seen.append]}

    async def scenario(client: Any) -> Any:
        url = await client.upload(b"\x89PNG not really", "image/png")
        return await client.subscribe(MODEL, {"prompt": "a harbour", "image_url": url})

    harness.run(scenario, event_hooks=hooks)
    kinds = [type(value).__name__ for value in seen]
    # the upload slot, the PUT, the submit, a status check answered 503, its repeat
    assert kinds == ["RequestInfo", "ResponseInfo"] * 4 + ["Retrying"] + ["RequestInfo", "ResponseInfo"]
    requests = [value for value in seen if isinstance(value, RequestInfo)]
    responses = [value for value in seen if isinstance(value, ResponseInfo)]
    assert [(r.method, r.attempt) for r in requests] == [
        ("POST", 1),
        ("PUT", 1),
        ("POST", 1),
        ("GET", 1),
        ("GET", 2),
    ]
    assert [r.status for r in responses] == [200, 200, 200, 503, 200]
    assert all(response.request is request for request, response in zip(requests, responses, strict=True))
    assert all(response.elapsed >= 0 for response in responses)
    (retry,) = [value for value in seen if isinstance(value, Retrying)]
    assert (retry.status, retry.attempt, retry.reason) == (503, 1, "HTTP 503")

    (put,) = [entry for entry in emulator.journal if entry.route == "put"]
    signature = put.query["X-Amz-Signature"]
    secret = emulator.api_key.split(":", 1)[1]
    assert requests[1].url.endswith(put.path)  # the presigned URL, without its signed query
    for value in seen:
        url = value.request.url if isinstance(value, ResponseInfo) else value.url
        assert "?" not in url
        assert signature not in repr(value)
        assert secret not in repr(value)
    submit = requests[2]
    assert dict(submit.headers)["Authorization"] == "[redacted]"
    assert dict(submit.headers)["Content-Type"] == "application/json"


def test_async_hooks_are_awaited_and_plain_ones_called(async_harness: Harness) -> None:
    async_harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)
    seen: List[str] = []

    async def slow_hook(info: RequestInfo) -> None:
        await anyio.sleep(0.01)
        seen.append(f"awaited {info.method}")

    hooks = {"request": [slow_hook, lambda info: seen.append(f"called {info.method}")]}

    async def scenario(client: Any) -> Any:
        return await client.subscribe(MODEL, {"prompt": "a quay"})

    async_harness.run(scenario, event_hooks=hooks)
    assert seen[:4] == ["awaited POST", "called POST", "awaited GET", "called GET"]


def test_a_hook_that_raises_ends_the_call_with_its_error(harness: Harness) -> None:
    def refuse(info: RequestInfo) -> None:
        raise RuntimeError(f"no {info.method} today")

    async def scenario(client: Any) -> Any:
        with pytest.raises(RuntimeError, match="no POST today"):
            await client.submit(MODEL, {"prompt": "blocked"})

    harness.run(scenario, event_hooks={"request": [refuse]})
    assert [entry.route for entry in harness.emulator.journal] == []  # nothing was sent


def test_the_sync_client_refuses_a_coroutine_function_hook_before_anything_is_sent() -> None:
    async def hook(info: RequestInfo) -> None:
        pass

    with pytest.raises(InvalidArgumentError, match="coroutine function: use AsyncClient"):
        SyncClient(api_key="k:s", event_hooks={"request": [hook]})


def test_a_plain_hook_returning_an_awaitable_is_a_clear_error_in_the_sync_client(emulator: Emulator) -> None:
    async def later(info: Any) -> None:
        pass

    hooks = {"response": [lambda info: later(info)]}
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, event_hooks=hooks)
    with client, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="an event hook returned an awaitable in the sync client"):
            client.submit(MODEL, {"prompt": "x"})
        gc.collect()
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        ({"before": [print]}, "unknown event hook 'before'"),
        ({"request": print}, r"event_hooks\['request'\] must be a list of functions"),
        ({"request": "print"}, r"event_hooks\['request'\] must be a list of functions"),
        ({"response": [print, 3]}, r"event_hooks\['response'\] holds int, not a function"),
        ([("request", [print])], "event_hooks must be a mapping"),
    ],
)
def test_malformed_event_hooks_are_refused(hooks: Any, message: str) -> None:
    for client in (SyncClient, AsyncClient):
        with pytest.raises(InvalidArgumentError, match=message):
            client(api_key="k:s", event_hooks=hooks)


def test_empty_hook_lists_watch_nothing() -> None:
    client = SyncClient(api_key="k:s", event_hooks={"request": [], "retry": []})
    assert client._observer.hooks is None
