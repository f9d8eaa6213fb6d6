"""The HTTP test tools users already have work with this SDK's transports: respx mocks the httpx
transports, and vcrpy records and replays the requests, aiohttp and httpx transports (with the
credentials filtered out of the cassette). vcrpy patches HTTP libraries, not sockets: the trio
transport (h11 over anyio streams) goes past it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Dict

import anyio
import httpx
import pytest
import respx
import vcr

from higgsfield_client import AsyncClient, InProgress, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_transports.httpx import AsyncHttpxTransport, HttpxTransport

from .harness import FAST_POLL

MODEL = "bytedance/seedream/v4/text-to-image"
BASE_URL = "https://api.example.test"
REQUEST_ID = "0b7a3c1e-2a7d-4e8b-9c41-0d2f6a7b8e90"


# --- respx ----------------------------------------------------------------------------------


def mocked_api(router: respx.MockRouter) -> None:
    router.post(f"/{MODEL}").respond(200, json={"request_id": REQUEST_ID, "status": "queued"})
    router.get(f"/requests/{REQUEST_ID}/status").respond(
        200, json={"request_id": REQUEST_ID, "status": "in_progress"}
    )


def test_respx_mocks_a_submit_and_a_status_through_the_httpx_transport() -> None:
    with respx.mock(base_url=BASE_URL, assert_all_called=True) as router:
        mocked_api(router)
        with SyncClient(base_url=BASE_URL, api_key="key-id:key-secret", transport=HttpxTransport()) as client:
            controller = client.submit(MODEL, {"prompt": "a lake"})
            status = controller.status()
        submit = router.calls[0].request  # respx forgets its calls when its context ends
    assert controller.request_id == REQUEST_ID
    assert isinstance(status, InProgress)
    assert submit.headers["Authorization"] == "Key key-id:key-secret"
    assert json.loads(submit.content) == {"prompt": "a lake"}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_respx_mocks_the_async_httpx_transport_too(backend: str) -> None:
    async def main() -> Any:
        async with AsyncClient(
            base_url=BASE_URL, api_key="key-id:key-secret", transport=AsyncHttpxTransport()
        ) as client:
            controller = await client.submit(MODEL, {"prompt": "a lake"})
            return await controller.status()

    with respx.mock(base_url=BASE_URL, assert_all_called=True) as router:
        mocked_api(router)
        status = anyio.run(main, backend=backend)
    assert isinstance(status, InProgress)


# --- vcrpy ----------------------------------------------------------------------------------

Subscribe = Callable[[str, str], Any]


def sync_subscribe(transport: Callable[[], Any]) -> Subscribe:
    """A subscribe with a SyncClient on ``transport()`` (None: the client's own); a transport
    object made for it is closed after (the client leaves it open)."""

    def run(base_url: str, api_key: str) -> Any:
        made = transport()
        try:
            with SyncClient(base_url=base_url, api_key=api_key, poll=FAST_POLL, transport=made) as client:
                return client.subscribe(MODEL, {"prompt": "a recorded lake"})
        finally:
            if made is not None:
                made.close()

    return run


def async_subscribe(transport: Callable[[], Any], backend: str = "asyncio") -> Subscribe:
    """A subscribe with an AsyncClient on ``transport()`` (a name or a transport object, closed
    after), under ``backend``."""

    def run(base_url: str, api_key: str) -> Any:
        async def main() -> Any:
            made = transport()
            try:
                async with AsyncClient(
                    base_url=base_url, api_key=api_key, poll=FAST_POLL, transport=made
                ) as client:
                    return await client.subscribe(MODEL, {"prompt": "a recorded lake"})
            finally:
                if not isinstance(made, str):
                    await made.aclose()

        return anyio.run(main, backend=backend)

    return run


RECORDABLE: Dict[str, Callable[[], Subscribe]] = {
    "requests": lambda: sync_subscribe(lambda: None),
    "aiohttp": lambda: async_subscribe(lambda: "aiohttp"),
    "httpx": lambda: sync_subscribe(HttpxTransport),
    "httpx-asyncio": lambda: async_subscribe(AsyncHttpxTransport),
}


def outcome_of(result: Any) -> Dict[str, Any]:
    return {"request_id": result.request_id, "status": result["status"], "images": result.images}


@pytest.mark.parametrize("transport", list(RECORDABLE))
def test_vcrpy_records_a_subscribe_without_credentials_and_replays_it_offline(
    transport: str, tmp_path: Path
) -> None:
    cassette = tmp_path / "subscribe.yaml"
    subscribe = RECORDABLE[transport]()
    recorder = vcr.VCR(filter_headers=["authorization"], record_mode="once")
    with Emulator(queue_time=0.05, run_time=0.05, seed=4) as emu:
        base_url, api_key = emu.base_url, emu.api_key
        with recorder.use_cassette(str(cassette)):
            recorded = subscribe(base_url, api_key)
        served = len(emu.journal)
    text = cassette.read_text()
    assert f"/requests/{recorded.request_id}/status" in text
    assert api_key.split(":", 1)[1] not in text  # the secret was filtered out
    assert "authorization" not in text.lower()
    # The emulator is gone: the cassette alone answers, and nothing may be recorded any more.
    with vcr.VCR(record_mode="none").use_cassette(str(cassette)) as tape:
        replayed = subscribe(base_url, api_key)
        assert tape.all_played
        assert tape.play_count == served
    assert outcome_of(replayed) == outcome_of(recorded)
    assert recorded["status"] == "completed"


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_vcrpy_cannot_see_the_trio_transport(backend: str, tmp_path: Path) -> None:
    # With record_mode="none" any request vcrpy sees and has no recording for is refused: the trio
    # transport's requests reach the emulator anyway, and nothing goes into the cassette.
    cassette = tmp_path / "trio.yaml"
    with Emulator(queue_time=0.05, run_time=0.05, seed=4) as emu:
        with vcr.VCR(record_mode="none").use_cassette(str(cassette)) as tape:
            result = async_subscribe(lambda: "trio", backend)(emu.base_url, emu.api_key)
            assert len(tape) == 0
        assert [entry.route for entry in emu.journal][:1] == ["submit"]
    assert result["status"] == "completed"
    assert not cassette.exists()


def test_vcrpy_refuses_what_it_has_not_recorded(tmp_path: Path) -> None:
    # The control for the test above: the same setting refuses an unrecorded httpx request.
    from vcr.errors import CannotOverwriteExistingCassetteException

    with (
        vcr.VCR(record_mode="none").use_cassette(str(tmp_path / "none.yaml")),
        pytest.raises(CannotOverwriteExistingCassetteException),
    ):
        httpx.get("http://127.0.0.1:9/requests/x/status")


def without_signature(text: str) -> str:
    return re.sub(r"X-Amz-[A-Za-z]+=[^&\"]*", "X-Amz-redacted=1", text)


def scrub_request(request: Any) -> Any:
    request.uri = without_signature(request.uri)
    return request


def scrub_response(response: Dict[str, Any]) -> Dict[str, Any]:
    response["body"]["string"] = without_signature(response["body"]["string"].decode()).encode()
    return response


def test_the_testing_pages_scrubbing_keeps_an_uploads_signature_out_of_the_cassette(tmp_path: Path) -> None:
    # The recipe of docs/testing.md: the presigned PUT's signature is cut from its URL and from
    # the answer that handed the URL out, and the replay PUTs to the scrubbed URL it reads back.
    cassette = tmp_path / "upload.yaml"
    recorder = vcr.VCR(
        filter_headers=["authorization"],
        before_record_request=scrub_request,
        before_record_response=scrub_response,
        record_mode="once",
    )

    def upload(base_url: str, api_key: str) -> str:
        with HttpxTransport() as transport, SyncClient(
            base_url=base_url, api_key=api_key, transport=transport
        ) as client:
            url: str = client.upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png")
        return url

    with Emulator(seed=4) as emu:
        with recorder.use_cassette(str(cassette)):
            recorded = upload(emu.base_url, emu.api_key)
        signatures = {value for entry in emu.journal if entry.route == "put"
                      for value in entry.query.getall("X-Amz-Signature")}
        base_url, api_key = emu.base_url, emu.api_key
    text = cassette.read_text()
    assert signatures
    assert "X-Amz-redacted=1" in text
    assert not any(signature in text for signature in signatures)
    with vcr.VCR(record_mode="none").use_cassette(str(cassette)) as tape:
        assert upload(base_url, api_key) == recorded
        assert tape.all_played
