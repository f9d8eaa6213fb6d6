"""Every transport: requests and responses on the wire, bodies, keep-alive, redirects."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from _transport_servers import GZIPPED, PLAIN, Servers
from _transport_support import H11_FLAVORS, REQUESTS_FLAVORS, Make, request_with

from higgsfield_proto._http import Outcome, Response, StreamedBody

pytestmark = pytest.mark.anyio


def answer(outcome: Outcome) -> Dict[str, Any]:
    assert isinstance(outcome, Response), outcome
    assert outcome.status == 200, outcome
    data: Dict[str, Any] = json.loads(outcome.body)
    return data


def header_names(echo: Dict[str, Any]) -> List[str]:
    return [name.lower() for name, _ in echo["headers"]]


def values_of(echo: Dict[str, Any], name: str) -> List[str]:
    return [value for key, value in echo["headers"] if key.lower() == name.lower()]


class CountingBody:
    """A StreamedBody source that counts how often it is opened and how far it was pulled."""

    def __init__(self, chunks: int, chunk_size: int = 65536, servers: Optional[Servers] = None):
        self.chunks = chunks
        self.chunk_size = chunk_size
        self.opened = 0
        self.pulled = 0
        self.max_lead = 0  # bytes pulled but not yet read by the server, at most
        self._servers = servers
        self._baseline = servers.web.received_bytes if servers is not None else 0

    def open(self) -> Iterator[bytes]:
        self.opened += 1
        for index in range(self.chunks):
            if self._servers is not None:
                server_read = self._servers.web.received_bytes - self._baseline
                self.max_lead = max(self.max_lead, self.pulled - server_read)
            self.pulled += self.chunk_size
            yield bytes([index % 256]) * self.chunk_size

    @property
    def total(self) -> int:
        return self.chunks * self.chunk_size

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for index in range(self.chunks):
            digest.update(bytes([index % 256]) * self.chunk_size)
        return digest.hexdigest()


async def test_round_trip_carries_method_path_headers_and_body(
    make: Make, servers: Servers, flavor: Tuple[str, str]
) -> None:
    driver = make()
    body = b"hello body" * 100
    request_headers = (("X-Test", "yes"), ("Authorization", "Key abc:def"))
    echo = answer(
        await driver.send(
            request_with(servers.web.http_url + "/echo?x=1&y=%20", "POST", request_headers, body)
        )
    )
    assert echo["method"] == "POST"
    assert echo["path"] == "/echo?x=1&y=%20"
    assert echo["body_length"] == len(body)
    assert echo["sha256"] == hashlib.sha256(body).hexdigest()
    assert values_of(echo, "X-Test") == ["yes"]
    assert values_of(echo, "Authorization") == ["Key abc:def"]
    assert values_of(echo, "Content-Length") == [str(len(body))]
    if flavor[0] == "h11":
        host = servers.web.http_url.split("//")[1]
        assert echo["headers"] == [
            ["Host", host],
            ["X-Test", "yes"],
            ["Authorization", "Key abc:def"],
            ["Content-Length", str(len(body))],
        ]


@pytest.mark.parametrize("flavor", H11_FLAVORS, indirect=True)
async def test_h11_get_sends_only_host_and_the_request_headers(make: Make, servers: Servers) -> None:
    # (requests and aiohttp add their default headers)
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "GET", (("A", "1"),))))
    assert echo["headers"] == [["Host", servers.web.http_url.split("//")[1]], ["A", "1"]]


async def test_response_keeps_status_header_names_and_repeated_headers(make: Make, servers: Servers) -> None:
    outcome = await make().send(request_with(servers.web.http_url + "/fixed"))
    assert isinstance(outcome, Response)
    assert outcome.status == 200
    assert outcome.body == b"fixed-body" * 100
    assert ("X-Mixed-Case", "A") in outcome.headers
    assert [value for name, value in outcome.headers if name == "Set-Cookie"] == ["a=1", "b=2"]
    assert outcome.header("content-length") == "1000"


async def test_chunked_response_is_reassembled(make: Make, servers: Servers) -> None:
    outcome = await make().send(request_with(servers.web.http_url + "/chunked"))
    assert isinstance(outcome, Response)
    assert outcome.body == b"first-second-third"
    assert outcome.header("Transfer-Encoding") == "chunked"


async def test_sequential_requests_share_one_keep_alive_connection(make: Make, servers: Servers) -> None:
    driver = make()
    peers = set()
    for _ in range(5):
        peers.add(answer(await driver.send(request_with(servers.web.http_url + "/echo")))["peer"])
    assert len(peers) == 1


@pytest.mark.parametrize("known_length", [True, False], ids=["content-length", "chunked"])
async def test_streamed_body_arrives_whole_with_the_right_framing(
    make: Make, servers: Servers, known_length: bool
) -> None:
    source = CountingBody(chunks=20, chunk_size=10000)
    body = StreamedBody(open=source.open, length=source.total if known_length else None)
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "PUT", (), body)))
    assert echo["body_length"] == source.total
    assert echo["sha256"] == source.sha256()
    assert source.opened == 1
    if known_length:
        assert values_of(echo, "Content-Length") == [str(source.total)]
        assert "transfer-encoding" not in header_names(echo)
    else:
        assert values_of(echo, "Transfer-Encoding") == ["chunked"]
        assert "content-length" not in header_names(echo)


async def test_framing_headers_in_the_request_are_replaced_by_the_transports_own(
    make: Make, servers: Servers
) -> None:
    source = CountingBody(chunks=3, chunk_size=1000)
    stale = (("Content-Length", "999"), ("Transfer-Encoding", "chunked"), ("X-Kept", "1"))
    body = StreamedBody(open=source.open, length=source.total)
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "PUT", stale, body)))
    assert values_of(echo, "Content-Length") == [str(source.total)]
    assert values_of(echo, "Transfer-Encoding") == []
    assert values_of(echo, "X-Kept") == ["1"]
    assert echo["sha256"] == source.sha256()


async def test_streamed_body_is_pulled_as_it_is_sent(make: Make, servers: Servers) -> None:
    # 48 MiB, pulled chunk by chunk: what was pulled but not yet read by the server stays
    # within socket buffers, far below the body's size.
    source = CountingBody(chunks=768, servers=servers)
    body = StreamedBody(open=source.open, length=source.total)
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "PUT", (), body)))
    assert echo["body_length"] == source.total
    assert source.max_lead < source.total // 3, source.max_lead


def socket_buffers() -> int:
    """The most a loopback TCP connection can buffer: the kernel's largest receive and send
    buffers (autotuning grows them up to these while a reader lags), 36 MiB if unknown."""
    total = 0
    for name in ("tcp_rmem", "tcp_wmem"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as limits:
                total += int(limits.read().split()[2])
        except (OSError, IndexError, ValueError):
            return 36 * 2**20
    return total


async def test_a_256_mib_upload_holds_no_more_than_socket_buffers(make: Make, servers: Servers) -> None:
    # As above at 256 MiB: what the transport pulled but the server had not yet read (the
    # memory an upload holds) stays within the kernel's socket buffers and 8 MiB of the
    # libraries' own: a bound that does not grow with the body.
    source = CountingBody(chunks=4096, servers=servers)
    body = StreamedBody(open=source.open, length=source.total)
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "PUT", (), body)))
    assert echo["body_length"] == source.total == 256 * 2**20
    assert source.opened == 1
    assert source.max_lead < min(socket_buffers() + 8 * 2**20, source.total // 4), source.max_lead


async def test_each_send_opens_the_streamed_body_afresh(make: Make, servers: Servers) -> None:
    driver = make()
    source = CountingBody(chunks=4, chunk_size=1000)
    request = request_with(
        servers.web.http_url + "/echo", "POST", (), StreamedBody(open=source.open, length=4000)
    )
    first = answer(await driver.send(request))
    second = answer(await driver.send(request))
    assert source.opened == 2
    assert first["sha256"] == second["sha256"] == source.sha256()


@pytest.mark.parametrize(
    ("method", "body", "length"),
    [
        ("GET", None, None),
        ("POST", None, "0"),
        ("POST", StreamedBody(open=lambda: iter([b""]), length=0), "0"),
    ],
    ids=["get-none", "post-none", "post-empty-stream"],
)
async def test_an_empty_body_is_framed_as_its_method_asks(
    make: Make, servers: Servers, method: str, body: Optional[StreamedBody], length: Optional[str]
) -> None:
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", method, (), body)))
    assert echo["body_length"] == 0
    assert values_of(echo, "Content-Length") == ([length] if length else [])
    assert values_of(echo, "Transfer-Encoding") == []


@pytest.mark.parametrize("flavor", REQUESTS_FLAVORS, indirect=True)
async def test_requests_frames_a_bodiless_delete_as_requests_does(make: Make, servers: Servers) -> None:
    # requests sends Content-Length: 0 for any method but GET and HEAD (urllib3 alone would
    # not, for DELETE): the transport's own session keeps requests' framing.
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "DELETE")))
    assert values_of(echo, "Content-Length") == ["0"]


async def test_a_request_header_replaces_the_librarys_default_of_that_name(
    make: Make, servers: Servers
) -> None:
    headers = (("user-agent", "mine/1.0"), ("ACCEPT", "application/json"))
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "GET", headers)))
    assert values_of(echo, "User-Agent") == ["mine/1.0"]
    assert values_of(echo, "Accept") == ["application/json"]


async def test_a_repeated_request_header_arrives_with_every_value(make: Make, servers: Servers) -> None:
    headers = (("X-Repeated", "a"), ("X-Single", "s"), ("X-Repeated", "b"))
    echo = answer(await make().send(request_with(servers.web.http_url + "/echo", "GET", headers)))
    # On one line joined with ", " (requests) or on one line each: the same header to HTTP.
    assert ", ".join(values_of(echo, "X-Repeated")) == "a, b"
    assert values_of(echo, "X-Single") == ["s"]


async def test_compressed_body_is_decoded_by_libraries_that_ask_for_it(
    make: Make, servers: Servers, flavor: Tuple[str, str]
) -> None:
    outcome = await make().send(request_with(servers.web.http_url + "/gzip"))
    assert isinstance(outcome, Response)
    assert outcome.header("Content-Encoding") == "gzip"
    # requests and aiohttp send Accept-Encoding and decode; the h11 transport asks for nothing
    # and hands over the body as sent.
    assert outcome.body == (GZIPPED if flavor[0] == "h11" else PLAIN)


async def test_redirect_is_returned_not_followed(make: Make, servers: Servers) -> None:
    outcome = await make().send(request_with(servers.web.http_url + "/redirect"))
    assert isinstance(outcome, Response)
    assert outcome.status == 302
    assert outcome.header("Location") == "/echo"


async def test_head_response_has_no_body(make: Make, servers: Servers) -> None:
    driver = make()
    outcome = await driver.send(request_with(servers.web.http_url + "/fixed", "HEAD"))
    assert isinstance(outcome, Response)
    assert outcome.status == 200
    assert outcome.body == b""
    # and the connection is still good for the next exchange
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo")))


async def test_header_value_with_line_break_is_refused_without_echoing_it(
    make: Make, servers: Servers
) -> None:
    request = request_with(servers.web.http_url + "/echo", "GET", (("Authorization", "Key s3cret\n"),))
    with pytest.raises(ValueError, match="Authorization") as raised:
        await make().send(request)
    assert "s3cret" not in str(raised.value)


async def test_headers_checked_once_are_still_checked_when_they_change(
    make: Make, servers: Servers
) -> None:
    # Transports skip re-checking the very tuple of headers they checked last; headers that can
    # change after the check (a list) must be checked again on every send.
    driver = make()
    good = (("Authorization", "Key k:s"),)
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo", "GET", good)))
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo", "GET", good)))
    pair = ["Authorization", "Key k:s"]
    mutable: Any = (pair,)
    assert answer(await driver.send(request_with(servers.web.http_url + "/echo", "GET", mutable)))
    pair[1] = "Key k:s\r\nX-Injected: 1"
    with pytest.raises(ValueError, match="Authorization"):
        await driver.send(request_with(servers.web.http_url + "/echo", "GET", mutable))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "ftp://127.0.0.1/file"),
        ("GET", "http:///no-host"),
        ("GET", "http://127.0.0.1/a b"),
        ("GET", "http://127.0.0.1/caf\u00e9"),
        ("GET", "http://127.0.0.1:99999/"),
        ("GE T", "http://127.0.0.1/"),
    ],
)
async def test_requests_no_client_could_send_are_refused(make: Make, method: str, url: str) -> None:
    with pytest.raises(ValueError, match=r"method|URL|port"):
        await make().send(request_with(url, method))


async def test_failing_body_source_raises_its_own_error(make: Make, servers: Servers) -> None:
    class SourceGone(OSError):
        pass

    def broken() -> Iterator[bytes]:
        yield b"x" * 65536
        raise SourceGone("the file went away")

    request = request_with(servers.web.http_url + "/echo", "PUT", (), StreamedBody(open=broken, length=10**6))
    with pytest.raises(SourceGone):
        await make().send(request)


async def test_body_source_shorter_than_its_length_is_refused(make: Make, servers: Servers) -> None:
    request = request_with(
        servers.web.http_url + "/echo", "PUT", (), StreamedBody(open=lambda: [b"abc"], length=10)
    )
    with pytest.raises(ValueError, match="3 of its 10 bytes"):
        await make().send(request)
