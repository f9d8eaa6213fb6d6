"""What a client is built with: transport options applied or refused, never dropped, and the job
URLs it names built by the core (ids percent-encoded, on the client's own base URL)."""

from __future__ import annotations

from typing import Any

import pytest

from higgsfield_client import AsyncClient, InvalidArgumentError, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_transports.aiohttp import AiohttpTransport
from higgsfield_transports.requests import RequestsTransport
from higgsfield_transports.trio import TrioTransport


@pytest.mark.parametrize(
    "option", [{"timeout": 5.0}, {"timeout": None}, {"verify": False}, {"proxy": "http://proxy.example:3128"}]
)
@pytest.mark.parametrize(
    ("client", "transport"),
    [(SyncClient, RequestsTransport), (AsyncClient, AiohttpTransport), (AsyncClient, TrioTransport)],
)
def test_transport_options_with_a_transport_object_are_refused_by_name(
    client: Any, transport: Any, option: dict[str, Any]
) -> None:
    (name,) = option
    with pytest.raises(InvalidArgumentError) as raised:
        client(api_key="k:s", transport=transport(), **option)
    assert f"{name}=" in str(raised.value)
    assert "transport" in str(raised.value)


@pytest.mark.parametrize("client", [SyncClient, AsyncClient])
def test_a_transport_object_alone_is_used_as_built(client: Any) -> None:
    made = client(api_key="k:s", transport=RequestsTransport() if client is SyncClient else TrioTransport())
    assert made.base_url == "https://api.higgsfield.ai"


def test_options_reach_the_transports_the_client_builds(emulator: Emulator) -> None:
    import anyio

    from higgsfield_client._connections import make_sync_transport

    sync = SyncClient(api_key="k:s", timeout=7.5)
    made = make_sync_transport(sync._calls.settings)
    assert repr(made) == "<RequestsTransport own session, timeout=7.5>"

    async def main() -> str:
        client = AsyncClient(
            base_url=emulator.base_url, api_key=emulator.api_key, timeout=3.5, transport="trio"
        )
        run = await client._transports.current()
        await client.aclose()
        return repr(run.transport)

    assert anyio.run(main) == "<TrioTransport timeout=3.5>"


@pytest.mark.parametrize("client", [SyncClient, AsyncClient])
def test_job_urls_use_the_clients_base_url_and_encode_the_id(client: Any) -> None:
    made = client(api_key="k:s", base_url="http://127.0.0.1:9/api/")
    controller = made.get_request_controller("a/b c")
    assert controller.status_url == "http://127.0.0.1:9/api/requests/a%2Fb%20c/status"
    assert controller.response_url == controller.status_url
    assert controller.cancel_url == "http://127.0.0.1:9/api/requests/a%2Fb%20c/cancel"
    with pytest.raises(InvalidArgumentError):
        _ = made.get_request_controller("..").status_url
