"""Every transport's ``stream``: a 2xx body goes to the sink, errors stay in the Response."""

from __future__ import annotations

import gc
import hashlib
import json
from typing import List, Type

import pytest
from _transport_servers import HUGE, Servers
from _transport_support import Make, request_with

from higgsfield_proto._http import FailureKind, Response, TransportFailure
from higgsfield_transports import StreamingAsyncTransport, StreamingSyncTransport

pytestmark = pytest.mark.anyio


class Collector:
    """A sink and a head callback recording what they were handed, in order."""

    def __init__(self) -> None:
        self.events: List[str] = []
        self.chunks: List[bytes] = []
        self.heads: List[Response] = []

    def sink(self, chunk: bytes) -> None:
        self.events.append("chunk")
        self.chunks.append(chunk)

    def head(self, response: Response) -> None:
        self.events.append("head")
        self.heads.append(response)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


def test_every_transport_has_the_streaming_capability() -> None:
    from higgsfield_transports.aiohttp import AiohttpTransport
    from higgsfield_transports.requests import RequestsTransport
    from higgsfield_transports.trio import TrioTransport

    assert issubclass(RequestsTransport, StreamingSyncTransport)
    assert issubclass(AiohttpTransport, StreamingAsyncTransport)
    assert issubclass(TrioTransport, StreamingAsyncTransport)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_2xx_body_goes_to_the_sink_chunk_by_chunk_without_the_size_limit(
    make: Make, servers: Servers, chunked: bool
) -> None:
    driver = make(max_response_bytes=1024)
    size = 3 * 2**20 + 123
    seen = Collector()
    url = f"{servers.web.http_url}/huge?size={size}" + ("&chunked=1" if chunked else "")
    outcome = await driver.stream(request_with(url), seen.sink, seen.head)
    assert isinstance(outcome, Response), outcome
    assert outcome.status == 200
    assert outcome.body == b""
    assert seen.body == b"h" * size
    assert len(seen.chunks) > 1
    assert all(seen.chunks)
    assert seen.events[0] == "head"
    assert seen.events.count("head") == 1
    (head,) = seen.heads
    assert head.status == 200
    assert head.body == b""
    assert (head.header("Content-Length") is None) is chunked
    assert outcome.header("Content-Length") == head.header("Content-Length")


async def test_the_raw_server_body_arrives_whole_and_the_connection_is_reused(
    make: Make, servers: Servers
) -> None:
    driver = make()
    seen = Collector()
    outcome = await driver.stream(request_with(servers.raw.url + "/huge"), seen.sink)
    assert isinstance(outcome, Response)
    assert hashlib.sha256(seen.body).digest() == hashlib.sha256(b"h" * HUGE).digest()
    accepted = servers.raw.accepted
    after = await driver.send(request_with(servers.raw.url + "/plain"))
    assert isinstance(after, Response)
    # A fully read streamed answer leaves a clean connection: the next request may reuse it.
    assert json.loads(after.body)["served"] == 2
    assert servers.raw.accepted == accepted


async def test_an_error_answer_is_read_into_the_response_and_the_sink_is_not_called(
    make: Make, servers: Servers
) -> None:
    driver = make()
    seen = Collector()
    outcome = await driver.stream(request_with(servers.web.http_url + "/status/404"), seen.sink, seen.head)
    assert isinstance(outcome, Response)
    assert outcome.status == 404
    assert json.loads(outcome.body) == {"detail": "answered 404"}
    assert seen.events == []


async def test_an_error_answer_stays_bounded_by_the_size_limit(make: Make, servers: Servers) -> None:
    driver = make(max_response_bytes=8)
    seen = Collector()
    outcome = await driver.stream(request_with(servers.web.http_url + "/status/503"), seen.sink)
    assert isinstance(outcome, TransportFailure)
    assert outcome.kind is FailureKind.TOO_LARGE
    assert seen.events == []


async def test_a_body_cut_short_is_a_read_failure(make: Make, servers: Servers) -> None:
    driver = make()
    seen = Collector()
    outcome = await driver.stream(request_with(servers.raw.url + "/truncated"), seen.sink, seen.head)
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.READ
    assert outcome.request_written
    assert len(seen.body) <= 10


@pytest.mark.parametrize("error_type", [OSError, ValueError])
async def test_a_sink_exception_propagates_and_its_connection_is_not_pooled(
    make: Make, servers: Servers, error_type: Type[Exception]
) -> None:
    driver = make()

    def failing_sink(chunk: bytes) -> None:
        raise error_type("disk full")

    # Not kept with ``as``: an exception held past the test keeps its response's frames alive.
    with pytest.raises(error_type, match="disk full"):
        await driver.stream(request_with(servers.raw.url + "/huge"), failing_sink)
    accepted = servers.raw.accepted
    after = await driver.send(request_with(servers.raw.url + "/plain"))
    assert isinstance(after, Response)
    assert json.loads(after.body)["served"] == 1
    assert servers.raw.accepted == accepted + 1
    # urllib3 2 closes a pool's idle connections only when the pool is garbage collected, and
    # the failed exchange's traceback (kept in a cycle by the worker thread) still refers to it.
    gc.collect()


async def test_a_head_callback_exception_propagates_before_any_chunk(make: Make, servers: Servers) -> None:
    driver = make()
    seen = Collector()

    def refusing_head(response: Response) -> None:
        raise PermissionError("cannot create the file")

    with pytest.raises(PermissionError):
        await driver.stream(request_with(servers.web.http_url + "/fixed"), seen.sink, refusing_head)
    assert seen.chunks == []
