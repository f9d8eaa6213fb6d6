"""``http_client=``: a client sends through the caller's own httpx client, with its settings kept, and
leaves it open; options the httpx client should carry are refused, never dropped."""

from __future__ import annotations

from typing import Any, List

import anyio
import httpx
import pytest
import requests

from higgsfield_client import AsyncClient, InvalidArgumentError, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_transports.requests import RequestsTransport

MODEL = "higgsfield-ai/soul/standard"
ARGUMENTS = {"prompt": "a lighthouse"}


def test_a_sync_client_sends_through_the_callers_httpx_client_and_leaves_it_open(emulator: Emulator) -> None:
    seen: List[str] = []
    http = httpx.Client(event_hooks={"request": [lambda request: seen.append(request.url.path)]})
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, http_client=http) as client:
        result = client.subscribe(MODEL, ARGUMENTS)
        assert result["status"] == "completed"
    assert seen[0] == f"/{MODEL}"
    assert f"/requests/{result.request_id}/status" in seen
    assert not http.is_closed
    # The client closed its own wrapper only: used again, it still sends through the caller's client.
    before = len(seen)
    client.status(result.request_id)
    assert len(seen) == before + 1
    http.close()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_client_sends_through_the_callers_async_httpx_client(
    emulator: Emulator, backend: str
) -> None:
    seen: List[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async def main() -> str:
        async with httpx.AsyncClient(event_hooks={"request": [hook]}) as http:
            client = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key, http_client=http)
            result = await client.subscribe(MODEL, ARGUMENTS)
            await client.aclose()
            assert not http.is_closed
            return str(result["status"])

    assert anyio.run(main, backend=backend) == "completed"
    assert seen[0] == f"/{MODEL}"


@pytest.mark.parametrize("option", [{"timeout": 5.0}, {"verify": False}, {"proxy": "http://proxy.example:3128"}])
@pytest.mark.parametrize(("client", "http"), [(SyncClient, httpx.Client), (AsyncClient, httpx.AsyncClient)])
def test_transport_options_beside_an_httpx_client_are_refused_by_name(
    client: Any, http: Any, option: dict[str, Any]
) -> None:
    (name,) = option
    with pytest.raises(InvalidArgumentError) as raised:
        client(api_key="k:s", http_client=http(), **option)
    assert f"{name}=" in str(raised.value)
    assert "httpx" in str(raised.value)


def test_a_transport_and_an_httpx_client_together_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="not both"):
        SyncClient(api_key="k:s", transport=RequestsTransport(), http_client=httpx.Client())


def test_a_callers_transport_survives_close_and_is_never_replaced(emulator: Emulator) -> None:
    session = requests.Session()
    seen: List[str] = []
    session.hooks["response"].append(lambda response, **_: seen.append(response.request.method))
    transport = RequestsTransport(session)
    client = SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, transport=transport)
    request_id = client.submit(MODEL, ARGUMENTS).request_id
    client.close()
    client.status(request_id)  # after close(): still the caller's transport, not a new one
    assert seen == ["POST", "GET"]
    transport.close()
