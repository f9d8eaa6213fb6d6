"""Leaving the emulator: connections of every kind are dropped and nothing is left running."""

from __future__ import annotations

import gc
import http.client
import socket
import ssl
from typing import Iterator, Tuple

import pytest
import requests
import trustme
from emu_helpers import wait_until

from higgsfield_client.testing import Emulator

STATUS = "/requests/00000000-0000-4000-8000-000000000000/status"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(context)
    return context


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the peer has closed ``sock`` (waits up to 10 s for a sign either way)."""
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True
    except TimeoutError:
        return False


@pytest.fixture(params=["http", "https"])
def idle_connection(
    request: pytest.FixtureRequest, authority: trustme.CA
) -> Iterator[Tuple[Emulator, http.client.HTTPConnection]]:
    """A running emulator and a keep-alive connection to it, its answer read, left idle."""
    tls = request.param == "https"
    emulator = Emulator(ssl_context=server_context(authority) if tls else None).start()
    port = int(emulator.base_url.rsplit(":", 1)[1])
    connection: http.client.HTTPConnection
    if tls:
        client_context = ssl.create_default_context()
        authority.configure_trust(client_context)
        connection = http.client.HTTPSConnection("localhost", port, context=client_context, timeout=10)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", STATUS, headers={"Authorization": f"Key {emulator.api_key}"})
    response = connection.getresponse()
    response.read()
    assert response.status == 404
    assert not response.will_close
    try:
        yield emulator, connection
    finally:
        connection.close()
        emulator.stop()


def test_stop_drops_an_idle_keep_alive_connection(
    idle_connection: Tuple[Emulator, http.client.HTTPConnection],
) -> None:
    # Over TLS the server's close waits for the client's close_notify, which an idle client
    # never sends; since Python 3.12.1 that made stop() wait for the TLS shutdown timeout.
    emulator, connection = idle_connection
    emulator.stop()
    assert connection.sock is not None
    assert closed_by_server(connection.sock)


def test_stop_drops_a_connection_still_in_its_tls_handshake(authority: trustme.CA) -> None:
    with Emulator(ssl_context=server_context(authority)) as emulator:
        port = int(emulator.base_url.rsplit(":", 1)[1])
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
        wait_until(lambda: emulator.connection_count or None)
    with client:
        assert closed_by_server(client)


def test_leaving_after_a_client_timed_out_on_a_slow_answer_leaves_no_task_behind(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The handler still sleeps when the emulator stops; left pending on the closed loop, it
    # was reported as "Task was destroyed but it is pending!" once collected.
    gc.collect()  # what earlier tests left is not this test's business
    caplog.clear()
    emulator = Emulator(slow_seconds=60)
    with emulator, requests.Session() as session:
        emulator.script_fault("status", "slow")
        with pytest.raises(requests.exceptions.Timeout):
            session.get(
                emulator.base_url + STATUS,
                headers={"Authorization": f"Key {emulator.api_key}"},
                timeout=0.2,
            )
    del emulator
    gc.collect()
    assert [record.getMessage() for record in caplog.records if record.name == "asyncio"] == []
