"""Fixtures for the transport tests: loopback servers and every transport behind one driver."""

from __future__ import annotations

import os
import socket
import ssl
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, List, Tuple

import pytest
import trustme
from _transport_servers import LoopThread, ProxyServer, RawServer, Servers, WebServer
from _transport_support import FLAVORS, Driver, Make, build_driver

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUEST_METHOD",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NETRC",
)


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    ca_path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))

    def client_context() -> ssl.SSLContext:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        return context

    thread = LoopThread()
    web, raw, proxy = WebServer(), RawServer(), ProxyServer()
    thread.run(lambda: web.start(server_context))
    thread.run(raw.start)
    thread.run(proxy.start)
    yield Servers(thread, web, raw, proxy, str(ca_path), client_context)
    thread.run(proxy.stop)
    thread.run(raw.stop)
    thread.run(web.stop)
    thread.stop()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, servers: Servers) -> Iterator[None]:
    # Proxies, CA bundles and netrc from the developer's shell must not steer the tests.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    servers.proxy.seen.clear()
    yield
    # Tests count the raw server's open connections, so each must leave none: by now the test's
    # transports are closed (this fixture is torn down after `make`), and the server may take a
    # moment to see the last of them go. A leak fails the test that leaked; the server then
    # drops what is left, so that the next test starts from none.
    deadline = time.monotonic() + 3
    while servers.raw.live and time.monotonic() < deadline:
        time.sleep(0.01)
    left = servers.raw.live
    if left:
        servers.run(servers.raw.drop_connections)
        pytest.fail(f"the test left {left} connection(s) to the raw server open", pytrace=False)


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest) -> Tuple[str, str]:
    value: Tuple[str, str] = request.param
    return value


@pytest.fixture
def anyio_backend(flavor: Tuple[str, str]) -> str:
    return flavor[1]


@pytest.fixture
async def make(flavor: Tuple[str, str]) -> AsyncIterator[Make]:
    """Build transports of the test's flavor; all are closed after the test."""
    drivers: List[Driver] = []

    def factory(**options: Any) -> Driver:
        driver = build_driver(flavor[0], **options)
        drivers.append(driver)
        return driver

    yield factory
    for driver in drivers:
        await driver.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on: bound and never listening for the whole test, so that
    no other process (tests run beside other suites) can take it meanwhile; connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


@pytest.fixture
def netrc_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ~/.netrc holding credentials for 127.0.0.1, pointed to by NETRC."""
    path = tmp_path / "netrc"
    path.write_text("machine 127.0.0.1 login netrc-user password netrc-secret\n")
    os.chmod(path, 0o600)
    monkeypatch.setenv("NETRC", str(path))
    return path
