"""HTTP/2 through the httpx transports: a caller's ``httpx.Client(http2=True)`` (and its async
twin, under asyncio and trio) talks HTTP/2 over TLS (h2 chosen by ALPN) to a real local HTTP/2
server, hypercorn, serving a small ASGI app that forwards each request to the emulator."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List

import anyio
import httpx
import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from higgsfield_client import AsyncClient, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_transports.httpx import AsyncHttpxTransport, HttpxTransport

from .harness import FAST_POLL, FAST_RETRY

MODEL = "bytedance/seedream/v4/text-to-image"
# Connection-specific headers: HTTP/2 forbids them, and the hop to the emulator frames its own.
HOP_BY_HOP = {b"host", b"connection", b"keep-alive", b"transfer-encoding", b"content-length"}

Asgi = Callable[[Dict[str, Any], Callable[[], Awaitable[Dict[str, Any]]], Callable[..., Awaitable[None]]],
                Awaitable[None]]


def forwarding_app(target: str, versions: List[str]) -> Asgi:
    """An ASGI app that records each request's HTTP version and forwards it to ``target``."""

    async def app(scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        versions.append(scope["http_version"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = b"?" + scope["query_string"] if scope["query_string"] else b""
        headers = [(name, value) for name, value in scope["headers"] if name.lower() not in HOP_BY_HOP]
        async with httpx.AsyncClient() as hop:
            answer = await hop.request(
                scope["method"], target + (scope["raw_path"] + query).decode(), headers=headers, content=body
            )
        kept = [(name, value) for name, value in answer.headers.raw if name.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": answer.content})

    return app


class Http2Server:
    """hypercorn on a loopback port with TLS (h2 and http/1.1 offered by ALPN), in a thread."""

    def __init__(self, app: Asgi, certificate: Path) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port: int = listener.getsockname()[1]
        config = Config()
        config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns the socket from here
        config.certfile = config.keyfile = str(certificate)
        config.accesslog = None
        self._config = config
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(serve(self._app, self._config, shutdown_trigger=self._stop.wait))  # type: ignore[arg-type]
        self._loop.close()

    def __enter__(self) -> Http2Server:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture
def http2(tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """The emulator behind an HTTP/2 server; yields its base URL, key, client TLS context, the
    HTTP versions of the requests the server received and the emulator."""
    ca = trustme.CA()
    certificate = tmp_path / "server.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(certificate))
    versions: List[str] = []
    with Emulator(queue_time=0.05, run_time=0.05, seed=9) as emu:
        app = forwarding_app(emu.base_url, versions)
        with Http2Server(app, certificate) as server:
            context = ssl.create_default_context()
            ca.configure_trust(context)
            yield {
                "base_url": f"https://localhost:{server.port}",
                "api_key": emu.api_key,
                "context": context,
                "versions": versions,
                "emulator": emu,
            }


def test_a_sync_client_on_httpx_speaks_http2_to_the_api(
    http2: Dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # hpack's header blocks included
    client = httpx.Client(http2=True, verify=http2["context"])
    with client, SyncClient(
        base_url=http2["base_url"], api_key=http2["api_key"], transport=HttpxTransport(client),
        poll=FAST_POLL, retry=FAST_RETRY,
    ) as api:
        controller = api.submit(MODEL, {"prompt": "over HTTP/2"})
        assert controller.status().request_id == controller.request_id
        result = controller.get()
    assert result["status"] == "completed"
    assert http2["versions"]
    assert set(http2["versions"]) == {"2"}
    assert len(http2["versions"]) >= 3  # submit, status, the polls of get()
    secret = http2["api_key"].split(":", 1)[1]
    assert "hpack" in caplog.text  # hpack logged its header blocks...
    assert secret not in caplog.text  # ...without the key (the server's decoding too)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_async_client_on_httpx_speaks_http2_to_the_api(http2: Dict[str, Any], backend: str) -> None:
    async def main() -> Any:
        client = httpx.AsyncClient(http2=True, verify=http2["context"])
        transport = AsyncHttpxTransport(client)
        async with client, AsyncClient(
            base_url=http2["base_url"], api_key=http2["api_key"], transport=transport,
            poll=FAST_POLL, retry=FAST_RETRY,
        ) as api:
            controller = await api.submit(MODEL, {"prompt": "over HTTP/2"})
            assert (await controller.status()).request_id == controller.request_id
            return await api.subscribe(MODEL, {"prompt": "again"})

    result = anyio.run(main, backend=backend)
    assert result["status"] == "completed"
    assert http2["versions"]
    assert set(http2["versions"]) == {"2"}
    submits = [entry for entry in http2["emulator"].journal if entry.route == "submit"]
    assert len(submits) == 2
