"""The official client's private surface, used the way real code and users' test suites use it:
``_client`` and ``_upload_client`` (replaced through ``__dict__``, an ``httpx.MockTransport``
among them), ``_transport`` (overridden in a subclass, its ``_retry_strategy`` set, its
``request`` called), ``_get_upload_url``, and the small habits of issue 33."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

import anyio
import httpx
import pytest

from higgsfield_client import (
    AsyncClient,
    CredentialsMissedError,
    ServerError,
    Status,
    SyncClient,
)
from higgsfield_client.http.retry import NoRetry, PolicyRetry
from higgsfield_client.http.transport import AsyncHttpTransport, HttpTransport
from higgsfield_client.testing import Emulator

from .harness import FAST_POLL, FAST_RETRY, Harness

ROOT = Path(__file__).resolve().parents[2]
MODEL = "higgsfield-ai/soul/standard"
BASE_URL = "https://api.higgsfield.ai"
KEY = "key-id:key-secret"
REQUEST_ID = "6a1b9e0c-5d2f-4e7a-8b3c-9f0e1d2c3b4a"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def _count(emulator: Emulator, route: str) -> int:
    return sum(1 for entry in emulator.journal if entry.route == route)


class Api:
    """A user's fake of the API for ``httpx.MockTransport``: submit, status, upload slot, PUT."""

    def __init__(self, *, submit_failures: int = 0) -> None:
        self.seen: List[httpx.Request] = []
        self.submit_failures = submit_failures

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if request.method == "POST" and path == f"/{MODEL}":
            if self.submit_failures:
                self.submit_failures -= 1
                return httpx.Response(503, json={"detail": "busy"})
            return httpx.Response(200, json={"request_id": REQUEST_ID, "status": "queued"})
        if path == f"/requests/{REQUEST_ID}/status":
            return httpx.Response(
                200,
                json={
                    "request_id": REQUEST_ID,
                    "status": "completed",
                    "images": [{"url": "https://cdn.example/o.png"}],
                },
            )
        if path == "/files/generate-upload-url":
            slot = {
                "public_url": "https://cdn.example/in.png",
                "upload_url": "https://storage.example/in.png?X-Amz-Signature=s1g",
                "upload_headers": {"Content-Type": "image/png"},
            }
            return httpx.Response(200, json=slot)
        if request.method == "PUT" and request.url.host == "storage.example":
            return httpx.Response(200)
        return httpx.Response(404, json={"detail": f"no route {request.method} {path}"})

    async def serve(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self(request)

    def posts(self) -> List[httpx.Request]:
        return [
            request for request in self.seen if request.method == "POST" and request.url.path == f"/{MODEL}"
        ]


# -- _client and _upload_client --------------------------------------------------------------------


def test_the_httpx_clients_are_made_on_first_use_with_and_without_credentials() -> None:
    client = SyncClient(base_url=BASE_URL, api_key=KEY, timeout=30.0)
    assert "_client" not in vars(client)
    assert "_upload_client" not in vars(client)
    api, uploads = client._client, client._upload_client
    assert isinstance(api, httpx.Client)
    assert isinstance(uploads, httpx.Client)
    assert {"_client", "_upload_client"} <= set(vars(client))
    assert api.headers["Authorization"] == f"Key {KEY}"
    assert api.headers["Content-Type"] == "application/json"
    assert str(api.base_url).rstrip("/") == BASE_URL
    assert api.timeout.read == 30.0
    assert "Authorization" not in uploads.headers
    assert client._client is api  # cached
    client.close()  # closes what it made; made anew on the next use
    assert api.is_closed
    assert uploads.is_closed
    assert "_client" not in vars(client)


def test_the_async_client_makes_async_httpx_clients() -> None:
    client = AsyncClient(base_url=BASE_URL, api_key=KEY)
    assert isinstance(client._client, httpx.AsyncClient)
    assert isinstance(client._upload_client, httpx.AsyncClient)
    assert isinstance(client._transport, AsyncHttpTransport)
    assert client._transport._client is client._client
    anyio.run(client.aclose)
    assert "_client" not in vars(client)


def test_the_client_made_with_an_httpx_client_hands_it_out_as_its_client() -> None:
    with httpx.Client() as mine:
        client = SyncClient(base_url=BASE_URL, api_key=KEY, http_client=mine)
        assert client._client is mine
        client.close()
        assert not mine.is_closed  # it stays the caller's


def test_without_credentials_the_client_attribute_raises_as_the_official_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    client = SyncClient(base_url=BASE_URL, api_key=None)
    with pytest.raises(CredentialsMissedError):
        client._client  # noqa: B018 - reading it is the test
    assert "_client" not in vars(client)


WITHOUT_HTTPX = r"""
import sys
sys.modules["httpx"] = None  # as if httpx were not installed
import higgsfield_client
client = higgsfield_client.SyncClient(api_key="a:b")
for name in ("_client", "_upload_client", "_transport"):
    try:
        getattr(client, name)
    except ImportError as exc:
        print(name, "[httpx]" in str(exc))
print(sorted(set(vars(client)) & {"_client", "_upload_client", "_transport"}))
"""


def test_without_httpx_the_attributes_say_which_extra_to_install() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", WITHOUT_HTTPX], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert ran.stdout.splitlines() == ["_client True", "_upload_client True", "_transport True", "[]"]


# -- a mock client injected through __dict__ -------------------------------------------------------


def _mocked(client: Any, api: Api) -> Any:
    client.__dict__["_client"] = httpx.Client(transport=httpx.MockTransport(api))
    client.__dict__["_upload_client"] = httpx.Client(transport=httpx.MockTransport(api))
    return client


def test_an_injected_mock_client_receives_every_request_of_the_client() -> None:
    api = Api()
    client = _mocked(SyncClient(base_url=BASE_URL, api_key=KEY, poll=FAST_POLL), api)
    result = client.subscribe(MODEL, {"prompt": "a lake"})
    url = client.upload(PNG, "image/png")
    assert result["status"] == "completed"
    assert url == "https://cdn.example/in.png"
    submit, status, slot, put = api.seen
    assert (submit.method, submit.url.path, json.loads(submit.content)) == (
        "POST",
        f"/{MODEL}",
        {"prompt": "a lake"},
    )
    assert submit.headers["Authorization"] == f"Key {KEY}"
    assert submit.headers["Idempotency-Key"]
    assert status.url.path == f"/requests/{REQUEST_ID}/status"
    assert slot.headers["Authorization"] == f"Key {KEY}"
    assert put.content == PNG
    assert "Authorization" not in put.headers  # the presigned PUT goes through _upload_client, bare


def test_a_users_test_sees_exactly_two_posts_with_the_same_idempotency_key_on_a_503() -> None:
    api = Api(submit_failures=1)
    client = _mocked(SyncClient(base_url=BASE_URL, api_key=KEY), api)
    controller = client.submit(MODEL, {"prompt": "x"})
    first, second = api.posts()
    assert controller.request_id == REQUEST_ID
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.content == second.content


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_injected_async_mock_client_receives_every_request(backend: str) -> None:
    api = Api(submit_failures=1)

    async def main() -> Tuple[Any, str]:
        client = AsyncClient(base_url=BASE_URL, api_key=KEY, poll=FAST_POLL)
        client.__dict__["_client"] = httpx.AsyncClient(transport=httpx.MockTransport(api.serve))
        client.__dict__["_upload_client"] = httpx.AsyncClient(transport=httpx.MockTransport(api.serve))
        return await client.subscribe(MODEL, {"prompt": "x"}), await client.upload(PNG, "image/png")

    result, url = anyio.run(main, backend=backend)
    assert result.request_id == REQUEST_ID
    assert url == "https://cdn.example/in.png"
    assert len(api.posts()) == 2
    assert [request.method for request in api.seen] == ["POST", "POST", "GET", "POST", "PUT"]


def test_an_injected_httpx_client_sends_over_real_http_to_the_emulator(emulator: Emulator) -> None:
    seen: List[httpx.Request] = []
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL)
    client.__dict__["_client"] = httpx.Client(event_hooks={"request": [seen.append]})
    downloads: List[httpx.Request] = []
    client.__dict__["_upload_client"] = httpx.Client(event_hooks={"request": [downloads.append]})
    result = client.subscribe(MODEL, {"prompt": "a kite"})
    data = result.images[0].read()
    assert data.startswith(b"\x89PNG")
    assert [request.method for request in seen][:1] == ["POST"]
    assert {request.url.path for request in seen} >= {f"/{MODEL}", f"/requests/{result.request_id}/status"}
    assert [str(request.url) for request in downloads] == [result.images[0]]
    outputs = [entry for entry in emulator.journal if entry.route == "output"]
    assert all("authorization" not in entry.headers for entry in outputs)


@pytest.mark.parametrize("kind", ["sync", "asyncio", "trio"])
def test_an_injected_client_with_its_own_credentials_needs_no_other(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    headers = {"Authorization": f"Key {emulator.api_key}"}  # as a user's fixture builds it
    if kind == "sync":
        client = SyncClient(base_url=emulator.base_url, poll=FAST_POLL)
        client.__dict__["_client"] = httpx.Client(base_url=emulator.base_url, headers=headers)
        status = client.subscribe(MODEL, {"prompt": "x"})["status"]
    else:

        async def main() -> Any:
            client = AsyncClient(base_url=emulator.base_url, poll=FAST_POLL)
            client.__dict__["_client"] = httpx.AsyncClient(base_url=emulator.base_url, headers=headers)
            return (await client.subscribe(MODEL, {"prompt": "x"}))["status"]

        status = anyio.run(main, backend=kind)
    assert status == "completed"
    api = [entry for entry in emulator.journal if entry.route in ("submit", "status")]
    assert {entry.headers["authorization"] for entry in api} == {f"Key {emulator.api_key}"}


def test_an_injected_client_without_credentials_still_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    api = Api()
    client = _mocked(SyncClient(base_url=BASE_URL), api)
    with pytest.raises(CredentialsMissedError, match="HF_KEY"):
        client.submit(MODEL, {"prompt": "x"})
    assert api.seen == []


# -- _transport -------------------------------------------------------------------------------------


class NoRetryClient(SyncClient):
    """A user's subclass: every request sent once."""

    @functools.cached_property
    def _transport(self) -> HttpTransport:
        return HttpTransport(self._client, NoRetry())


def test_a_subclass_that_overrides_the_transport_with_no_retry_sends_once(emulator: Emulator) -> None:
    client = NoRetryClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=FAST_RETRY)
    controller = client.submit(MODEL, {"prompt": "x"})
    emulator.script_fault("status", "503", 2)
    with pytest.raises(ServerError):
        controller.status()
    assert _count(emulator, "status") == 1
    assert isinstance(client._transport._retry_strategy, NoRetry)


class AsyncNoRetryClient(AsyncClient):
    """The async form of a user's subclass: every request sent once."""

    @functools.cached_property
    def _transport(self) -> AsyncHttpTransport:
        return AsyncHttpTransport(self._client, NoRetry())


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_subclass_that_overrides_the_transport_with_no_retry_sends_once(
    emulator: Emulator, backend: str
) -> None:
    async def main() -> Any:
        client = AsyncNoRetryClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=FAST_RETRY)
        try:
            controller = await client.submit(MODEL, {"prompt": "x"})
            emulator.script_fault("status", "503", 2)
            with pytest.raises(ServerError):
                await controller.status()
            return client._transport._retry_strategy
        finally:
            await client.aclose()

    assert isinstance(anyio.run(main, backend=backend), NoRetry)
    assert _count(emulator, "status") == 1


def test_a_transport_set_through_dict_is_sent_through(emulator: Emulator) -> None:
    seen: List[httpx.Request] = []
    own = httpx.Client(event_hooks={"request": [seen.append]})
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=FAST_RETRY)
    client.__dict__["_transport"] = HttpTransport(own, NoRetry())
    emulator.script_fault("estimate", "503", 1)
    with pytest.raises(ServerError):
        client.estimate(MODEL, {"prompt": "x"})
    assert [request.url.path for request in seen] == [f"/estimate/{MODEL}"]


def test_a_strategy_set_on_the_clients_transport_takes_effect(emulator: Emulator) -> None:
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=FAST_RETRY)
    strategy = client._transport._retry_strategy
    assert isinstance(strategy, PolicyRetry)  # reading it changes nothing: the client's policy
    assert strategy.retry_policy() is FAST_RETRY
    controller = client.submit(MODEL, {"prompt": "x"})
    emulator.script_fault("status", "503", 2)
    assert isinstance(controller.status(), Status)  # repeated by the client's own policy
    client._transport._retry_strategy = NoRetry()
    emulator.script_fault("status", "503", 1)
    with pytest.raises(ServerError):
        controller.status()
    assert _count(emulator, "status") == 4


def test_transport_request_reaches_an_endpoint_with_the_credentials(emulator: Emulator) -> None:
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL)
    estimate = client._transport.request("POST", f"/estimate/{MODEL}", json={"prompt": "x"})
    assert isinstance(estimate, httpx.Response)
    assert set(estimate.json()) >= {"credits", "usd"}
    controller = client.submit(MODEL, {"prompt": "x"})
    assert controller._transport is client._transport
    status = controller._transport.request("GET", controller.status_url, params={"x": "1"})
    assert status.json()["request_id"] == controller.request_id
    entries = [entry for entry in emulator.journal if entry.route in ("estimate", "status")]
    assert {entry.headers["authorization"] for entry in entries} == {f"Key {emulator.api_key}"}


def test_an_async_clients_transport_request(emulator: Emulator) -> None:
    async def main() -> Any:
        client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key)
        try:
            response = await client._transport.request("POST", f"/estimate/{MODEL}", json={"prompt": "x"})
            return response.json()
        finally:
            await client.aclose()

    assert anyio.run(main)["credits"]


def test_a_transport_of_another_kind_is_refused_with_what_to_do() -> None:
    client = SyncClient(base_url=BASE_URL, api_key=KEY)
    client.__dict__["_transport"] = object()
    with pytest.raises(TypeError, match="HttpTransport"):
        client.status(REQUEST_ID)


# -- _get_upload_url ---------------------------------------------------------------------------------


def test_get_upload_url_returns_the_three_values_of_0_2(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(PNG)

    async def scenario(client: Any) -> Any:
        return await client._get_upload_url("image/png")

    slot = harness.run(scenario)
    assert isinstance(slot, tuple)
    public_url, upload_url, upload_headers = slot  # 0.1.0's two values would not unpack
    assert upload_headers["Content-Type"] == "image/png"
    put = httpx.put(upload_url, content=path.read_bytes(), headers=upload_headers)
    assert put.status_code == 200
    assert httpx.get(public_url).content == PNG
    assert [entry.route for entry in harness.emulator.journal][:1] == ["upload-url"]


# -- small habits -----------------------------------------------------------------------------------


def test_none_is_accepted_wherever_the_official_takes_a_default(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_KEY", harness.emulator.api_key)

    async def scenario(client: Any) -> Tuple[Any, Any]:
        controller = await client.submit(MODEL, {"prompt": "x"}, webhook_url=None)
        result = await client.subscribe(
            MODEL, {"prompt": "x"}, on_enqueue=None, on_queue_update=None, webhook_url=None
        )
        return controller, result

    controller, result = harness.run(scenario, api_key=None)  # the key from HF_KEY
    assert controller.request_id
    assert result.status == "completed"
    submits = [entry for entry in harness.emulator.journal if entry.route == "submit"]
    assert {entry.headers["authorization"] for entry in submits} == {f"Key {harness.emulator.api_key}"}


class Stop(Exception):
    """A user's own exception, raised in a callback."""


def _subscribe_raising(harness: Harness, on_queue_update: Any) -> Optional[BaseException]:
    """Subscribe with ``on_queue_update`` and return what it raised out of ``subscribe``."""

    async def scenario(client: Any) -> Optional[BaseException]:
        try:
            await client.subscribe(MODEL, {"prompt": "x"}, on_queue_update=on_queue_update)
        except Stop as error:
            return error
        return None

    error: Optional[BaseException] = harness.run(scenario)
    return error


def test_an_exception_raised_in_on_queue_update_leaves_subscribe_unchanged(harness: Harness) -> None:
    raised = Stop("enough")
    seen: List[Status] = []

    def on_queue_update(status: Status) -> None:
        seen.append(status)
        raise raised

    assert _subscribe_raising(harness, on_queue_update) is raised
    assert len(seen) == 1


def test_an_exception_raised_in_an_async_on_queue_update_too(async_harness: Harness) -> None:
    raised = Stop("enough")

    async def on_queue_update(status: Status) -> None:
        raise raised

    assert _subscribe_raising(async_harness, on_queue_update) is raised
