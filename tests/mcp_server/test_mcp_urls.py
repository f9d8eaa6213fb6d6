"""``upload`` from a URL: the address rules, and the fetch itself.

The fetch is tested in process (the MCP SDK's client connected to the server object), since a
test has no public host to fetch from: the server is given an address check that admits
127.0.0.1 only. What the rule refuses is tested with the real check, over stdio, in
``test_mcp_stdio``; here, that every connection of the fetch is held to the check, redirects
included, and the rule's table of addresses.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from typing import AsyncContextManager, AsyncIterator

import pytest
from aiohttp import web
from mcp import Client
from mcp_support import call, in_process

from higgsfield_client.mcp import ServerOptions
from higgsfield_client.mcp._places import PublicSockets, check_url, is_public
from higgsfield_client.mcp._results import ToolFailure
from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def only_this_machine(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address == ipaddress.ip_address("127.0.0.1")


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    """A web server on 127.0.0.1: ``/x.png`` a PNG, ``/bounce`` a redirect to 127.0.0.2."""

    async def picture(request: web.Request) -> web.Response:
        return web.Response(body=PNG, content_type="application/octet-stream")

    async def bounce(request: web.Request) -> web.Response:
        port = request.url.port
        raise web.HTTPFound(f"http://127.0.0.2:{port}/x.png")

    app = web.Application()
    app.router.add_get("/x.png", picture)
    app.router.add_get("/bounce", bounce)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def serving(emulator: Emulator, max_fetch_bytes: int) -> AsyncContextManager[Client]:
    """A client connected in process to a server that may fetch from 127.0.0.1."""
    options = ServerOptions(max_fetch_bytes=max_fetch_bytes)
    return in_process(emulator, options, url_addresses=only_this_machine)


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[Client]:
    async with serving(emulator, 4096) as client:
        yield client


async def test_a_url_is_fetched_and_uploaded_and_its_public_url_returned(
    client: Client, origin: str, emulator: Emulator
) -> None:
    failed, document = await call(client, "upload", {"source": f"{origin}/x.png"})
    assert not failed, document
    assert document["content_type"] == "image/png"  # from the bytes: the server said octet-stream
    assert document["bytes"] == len(PNG)
    stored = [size for name, size in emulator.uploads if document["url"].endswith("/" + name)]
    assert stored == [len(PNG)]


async def test_a_redirect_to_an_address_the_check_refuses_is_not_followed_there(
    client: Client, origin: str
) -> None:
    failed, document = await call(client, "upload", {"source": f"{origin}/bounce"})
    assert failed
    assert document["error"]["type"] == "url_refused"
    assert "127.0.0.2" in document["error"]["message"]


async def test_a_url_nothing_answers_is_a_network_error(client: Client) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    failed, document = await call(client, "upload", {"source": f"http://127.0.0.1:{port}/x.png"})
    assert failed
    assert document["error"]["type"] == "TransportError"


async def test_a_file_larger_than_the_limit_is_refused_and_nothing_uploaded(
    emulator: Emulator, origin: str
) -> None:
    before = len(emulator.uploads)
    async with serving(emulator, len(PNG) - 1) as client:
        failed, document = await call(client, "upload", {"source": f"{origin}/x.png"})
    assert failed
    assert document["error"]["type"] == "too_large"
    assert len(emulator.uploads) == before


def test_the_socket_factory_refuses_an_address_the_check_refuses() -> None:
    sockets = PublicSockets()
    refused = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))
    with pytest.raises(OSError, match="not a public address") as raised:
        sockets(refused)
    assert raised.value.errno == errno.EACCES
    assert sockets.refused == ["127.0.0.1"]
    public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))
    made = sockets(public)
    made.close()
    assert sockets.refused == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.1.2.3", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:5db8:d822::", True),  # 6to4 of 93.184.216.34
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo, client 127.0.0.1
    ],
)
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.fixture
def resolving(monkeypatch: pytest.MonkeyPatch) -> None:
    """``cdn.example`` resolves to a public address and a private one."""
    import anyio

    async def getaddrinfo(host: str, port: int, **options: object) -> list[object]:
        if host != "cdn.example":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(anyio, "getaddrinfo", getaddrinfo)


async def test_every_address_of_the_host_is_checked(resolving: None) -> None:
    with pytest.raises(ToolFailure, match=r"10\.0\.0\.7") as raised:
        await check_url("https://cdn.example/x.png")
    assert raised.value.kind == "url_refused"
    with pytest.raises(ToolFailure, match="cannot be resolved"):
        await check_url("https://nowhere.example/x.png")
