"""Loopback servers for the transport tests, all on one asyncio loop in a background thread.

- ``WebServer`` (aiohttp.web, plain and TLS): echo, fixed, chunked and compressed answers, slow
  answers, big bodies, a redirect, an error status of choice. Each answer names the client's
  address (``peer``), so a test can count the TCP connections its requests used.
- ``RawServer`` (asyncio streams + h11): misbehaviour on demand - dropped connections, truncated,
  malformed, stalled and huge answers, keep-alive connections closed by the server - and counters
  of accepted and still open connections (to see that a client closed its side).
- ``ProxyServer``: a minimal CONNECT and absolute-form forward proxy recording what it was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
import ssl
import threading
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple, TypeVar
from urllib.parse import urlsplit

import h11
from aiohttp import web

T = TypeVar("T")

STALL_SECONDS = 5.0
NO_READ_SECONDS = 2.0
HUGE = 128 * 65536  # 8 MiB
PLAIN = b"compressible " * 1000
GZIPPED = gzip.compress(PLAIN)


class LoopThread:
    """An asyncio loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, factory: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(_call(factory), self.loop)
        return future.result(timeout)

    def stop(self) -> None:
        self.run(_cancel_other_tasks)  # handlers still sleeping (/stall) end here
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


async def _call(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


async def _cancel_other_tasks() -> None:
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _peer(request: web.BaseRequest) -> str:
    transport = request.transport
    assert transport is not None
    host, port = transport.get_extra_info("peername")[:2]
    return f"{host}:{port}"


class WebServer:
    """The well-behaved server (aiohttp.web), on a plain and a TLS port."""

    def __init__(self) -> None:
        self.received_bytes = 0  # request body bytes read so far by /echo, across requests
        self.http_url = ""
        self.https_url = ""
        self._runner: Optional[web.AppRunner] = None

    async def start(self, tls: ssl.SSLContext) -> None:
        app = web.Application()
        app.router.add_route("*", "/echo", self._echo)
        app.router.add_get("/fixed", self._fixed)
        app.router.add_get("/chunked", self._chunked)
        app.router.add_get("/slow", self._slow)
        app.router.add_get("/trickle", self._trickle)
        app.router.add_get("/huge", self._huge)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/gzip", self._gzip)
        app.router.add_get("/status/{code}", self._status)
        self._runner = web.AppRunner(app, shutdown_timeout=0.2, access_log=None)
        await self._runner.setup()
        plain = web.TCPSite(self._runner, "127.0.0.1", 0)
        secure = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await plain.start()
        await secure.start()
        plain_address, secure_address = self._runner.addresses
        self.http_url = f"http://127.0.0.1:{plain_address[1]}"
        self.https_url = f"https://127.0.0.1:{secure_address[1]}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _echo(self, request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        length = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            length += len(chunk)
            self.received_bytes += len(chunk)
        payload = {
            "method": request.method,
            "path": request.path_qs,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body_length": length,
            "sha256": digest.hexdigest(),
            "peer": _peer(request),
        }
        return web.json_response(payload)

    async def _fixed(self, request: web.Request) -> web.Response:
        response = web.Response(body=b"fixed-body" * 100, content_type="application/octet-stream")
        response.headers.add("X-Mixed-Case", "A")
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        return response

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"first-", b"second-", b"third"):
            await response.write(part)
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "1")))
        return web.json_response({"peer": _peer(request)})

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        # A chunked body in `parts` pieces, `delay` seconds apart (each gap below a read timeout).
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(int(request.query["parts"])):
            await asyncio.sleep(float(request.query["delay"]))
            await response.write(b"t" * 10)
        await response.write_eof()
        return response

    async def _huge(self, request: web.Request) -> web.StreamResponse:
        size = int(request.query["size"])
        response = web.StreamResponse()
        if request.query.get("chunked") == "1":
            response.enable_chunked_encoding()
        else:
            response.content_length = size
        await response.prepare(request)
        for start in range(0, size, 65536):
            await response.write(b"h" * min(65536, size - start))
        await response.write_eof()
        return response

    async def _redirect(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/echo"})

    async def _status(self, request: web.Request) -> web.Response:
        code = int(request.match_info["code"])
        return web.json_response({"detail": f"answered {code}"}, status=code)

    async def _gzip(self, request: web.Request) -> web.Response:
        # Compressed whatever the client asked for.
        return web.Response(body=GZIPPED, headers={"Content-Encoding": "gzip"})


class RawServer:
    """A server that misbehaves on demand, by request path (see ``_answer``)."""

    def __init__(self) -> None:
        self.accepted = 0
        self.live = 0
        self.received: Counter[str] = Counter()  # requests read to their end, by target
        self.gave_up = 0  # /no-read requests the server stopped waiting for
        self.url = ""
        self._server: Optional[asyncio.AbstractServer] = None
        self._serving: Dict[asyncio.StreamWriter, asyncio.Task[None]] = {}  # open connections

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self.drop_connections()
        await self._server.wait_closed()

    async def drop_connections(self) -> None:
        """Close every connection still open; returns once their handlers have ended."""
        serving = list(self._serving.items())
        for writer, _ in serving:
            writer.close()
        await asyncio.gather(*(task for _, task in serving), return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.live += 1
        task = asyncio.current_task()
        assert task is not None
        self._serving[writer] = task
        number = self.accepted
        connection = h11.Connection(h11.SERVER)
        served = 0
        try:
            while True:
                target = await self._read_request(reader, connection, stop_at_head=True)
                if target is None:
                    return
                if target == "/drop-early":
                    return  # closes while the client may still be sending its body
                if target == "/no-read":
                    # Reads nothing of the body: a large one fills the buffers and its writes stall.
                    await asyncio.sleep(NO_READ_SECONDS)
                    self.gave_up += 1
                    return
                if await self._read_request(reader, connection, stop_at_head=False) is None:
                    return
                self.received[target] += 1
                served += 1
                if not await self._answer(reader, target, served, number, connection, writer):
                    return
                connection.start_next_cycle()
        except (h11.ProtocolError, ConnectionError):
            return
        finally:
            self.live -= 1
            del self._serving[writer]
            writer.close()

    async def _read_request(
        self, reader: asyncio.StreamReader, connection: h11.Connection, *, stop_at_head: bool
    ) -> Optional[str]:
        """Read up to the request head (returns its target) or to its end (returns "")."""
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Request):
                return event.target.decode()
            elif isinstance(event, h11.EndOfMessage):
                return ""
            elif isinstance(event, h11.ConnectionClosed):
                return None
            elif stop_at_head:
                raise AssertionError(f"unexpected {event!r}")

    async def _answer(
        self,
        reader: asyncio.StreamReader,
        target: str,
        served: int,
        number: int,
        connection: h11.Connection,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one request; False closes the connection."""
        if target in ("/drop", "/requests/drop/status") or (target == "/reuse-drop" and served > 1):
            return False
        if target == "/truncated":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"t" * 10)
            await writer.drain()
            return False
        if target == "/malformed":
            writer.write(b"this is not HTTP\r\n\r\n")
            await writer.drain()
            return False
        if target == "/stall":
            # Half a body, then nothing: the server leaves only when the client hangs up.
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n" + b"s" * 10000)
            await writer.drain()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reader.read(1), STALL_SECONDS)
            return False
        if target.startswith("/huge"):
            framing = (
                ("Transfer-Encoding", "chunked") if "chunked" in target else ("Content-Length", str(HUGE))
            )
            writer.write(connection.send(h11.Response(status_code=200, headers=[framing])) or b"")
            for _ in range(HUGE // 65536):
                writer.write(connection.send(h11.Data(data=b"h" * 65536)) or b"")
                await writer.drain()
            writer.write(connection.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            return True
        body = json.dumps({"connection": number, "served": served}).encode()
        head = h11.Response(
            status_code=200,
            headers=[("Content-Length", str(len(body))), ("Content-Type", "application/json")],
        )
        writer.write(connection.send(head) + connection.send(h11.Data(data=body)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        if target == "/idle-close":
            await asyncio.sleep(0.05)  # a keep-alive answer, then the server drops the idle line
            return False
        return True


@dataclass
class ProxyServer:
    """CONNECT tunnels and absolute-form forwarding; records each connection's first request."""

    seen: List[Tuple[str, str, Dict[str, str]]] = field(default_factory=list)
    url: str = ""
    _server: Optional[asyncio.AbstractServer] = None
    _tasks: List[Any] = field(default_factory=list)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._tasks.append(asyncio.current_task())
        upstream: Optional[asyncio.StreamWriter] = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ")
            headers = dict(line.split(": ", 1) for line in lines[1:] if line)
            self.seen.append((method, target, headers))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                up_reader, upstream = await asyncio.open_connection(host, int(port))
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                origin = urlsplit(target)
                assert origin.hostname is not None
                assert origin.port is not None
                up_reader, upstream = await asyncio.open_connection(origin.hostname, origin.port)
                path = origin.path + (f"?{origin.query}" if origin.query else "")
                kept = [line for line in lines[1:] if line and not line.lower().startswith("proxy-")]
                forwarded = "\r\n".join([f"{method} {path} {version}", *kept]) + "\r\n\r\n"
                upstream.write(forwarded.encode("latin-1"))
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()
            if upstream is not None:
                upstream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()


@dataclass
class Servers:
    """Everything the transport tests talk to."""

    thread: LoopThread
    web: WebServer
    raw: RawServer
    proxy: ProxyServer
    ca_path: str
    client_context: Callable[[], ssl.SSLContext]

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        return self.thread.run(factory)
