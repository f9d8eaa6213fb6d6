"""What the reliability tests share: running a scenario on every transport against any endpoint,
and ``ScriptServer``, a raw loopback HTTP/1.1 server that misbehaves on demand."""

from __future__ import annotations

import json
import select
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from client.harness import ASYNC_TRANSPORTS, FAST_POLL, FAST_RETRY, TRANSPORTS, Harness

from higgsfield_client import PollPolicy
from higgsfield_client.testing import Emulator

__all__ = [
    "ASYNC_TRANSPORTS",
    "FAST_POLL",
    "FAST_RETRY",
    "IMAGE_MODEL",
    "REQUEST_ID",
    "TRANSPORTS",
    "Answer",
    "Endpoint",
    "Received",
    "ScriptServer",
    "harness_for",
    "on_every_transport",
]

IMAGE_MODEL = "bytedance/seedream/v4/text-to-image"
REQUEST_ID = "5b0f3c1e-2a7d-4e8b-9c41-0d2f6a7b8e90"
API_KEY = "script-key:script-secret-2f9c"


@dataclass(frozen=True)
class Endpoint:
    """Where a client goes: what a Harness reads from an emulator."""

    base_url: str
    api_key: str = API_KEY


QUICK_POLL = PollPolicy(initial_delay=0.02, multiplier=1.0, max_delay=0.02, jitter=0.0)


class QuickHarness(Harness):
    """A Harness whose clients poll every 20 ms: the emulator's jobs here last about as long."""

    def client(self, **options: Any) -> Any:
        options.setdefault("poll", QUICK_POLL)
        return super().client(**options)


def harness_for(transport: str, endpoint: Any) -> Harness:
    """A Harness on ``endpoint``: an ``Emulator`` or anything with ``base_url`` and ``api_key``."""
    return QuickHarness(transport=transport, emulator=cast(Emulator, endpoint))


@dataclass(frozen=True)
class Answer:
    """What ``ScriptServer`` does with one request.

    ``mode``: "reply" (send status, headers and body, keep the connection), "hang" (read the
    request, never answer), "huge" (declare ``Content-Length: declared`` and stream zeros), or
    "stall" (send the head and half the body, then nothing until the server stops).
    """

    status: int = 200
    body: bytes = b""
    headers: Tuple[Tuple[str, str], ...] = ()
    mode: str = "reply"
    declared: int = 100 * 2**20

    @classmethod
    def json(cls, payload: Any, status: int = 200, *headers: Tuple[str, str]) -> Answer:
        return cls(status, json.dumps(payload).encode(), (("Content-Type", "application/json"), *headers))


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Dict[str, str]
    connection: int
    time: float


Script = Callable[[Received], Answer]


@dataclass
class _State:
    script: Script
    received: List[Received] = field(default_factory=list)
    connections: int = 0
    closed_by_client: int = 0  # connections that ended (held ones end when the client closes)
    stalled: int = 0  # answers cut off mid-body ("stall") so far
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body leave in separate writes: no 40 ms ACK stalls
    server: _Server

    def setup(self) -> None:
        super().setup()
        state = self.server.state
        with state.lock:
            state.connections += 1
            self.connection_id = state.connections

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.state.lock:
                self.server.state.closed_by_client += 1

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True

    def _serve(self) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        received = Received(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            connection=self.connection_id,
            time=time.monotonic(),
        )
        with state.lock:
            state.received.append(received)
        answer = state.script(received)
        if answer.mode == "hang":
            self._hold()
            return
        self.send_response(answer.status)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.mode == "huge":
            self.send_header("Content-Length", str(answer.declared))
            self.end_headers()
            self.close_connection = True
            zeros = b"\0" * 65536
            sent = 0
            while sent < answer.declared and not state.release.is_set():
                self.wfile.write(zeros)  # until the client hangs up (BrokenPipe ends the handler)
                sent += len(zeros)
            return
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.mode == "stall":
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.wfile.flush()
            with state.lock:
                state.stalled += 1
            self._hold()
            return
        self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def _hold(self) -> None:
        """Keep the connection unanswered until the server stops or the client hangs up."""
        self.close_connection = True
        while not self.server.state.release.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.02)
            if readable:
                try:
                    if not self.connection.recv(65536):
                        return  # the client closed its side
                except OSError:
                    return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class ScriptServer:
    """A raw HTTP/1.1 server on a loopback port whose answers come from ``script(received)``.

    It records every request (``received``) with the number of the TCP connection it came on,
    counts accepted connections and connections that ended (``closed_by_client``).
    """

    def __init__(self, script: Script) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = _State(script)
        # A short poll interval: shutdown() waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def state(self) -> _State:
        return self._server.state

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_key(self) -> str:
        return API_KEY

    @property
    def received(self) -> List[Received]:
        with self.state.lock:
            return list(self.state.received)

    def __enter__(self) -> ScriptServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.state.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (bounded, as a hang guard only) until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "condition not met in time"
            time.sleep(0.01)


def on_every_transport(check: Callable[[str], None], timeout: float = 60.0) -> None:
    """Run ``check(transport)`` for every transport at once, each in its own thread.

    For tests that mostly wait (Retry-After, slow answers, timeouts): the waits overlap instead
    of adding up. Raises an AssertionError naming the transports whose check failed.
    """
    failures: Dict[str, BaseException] = {}

    def run(transport: str) -> None:
        try:
            check(transport)
        except BaseException as exc:  # reported below, with the transport's name
            failures[transport] = exc

    threads = [threading.Thread(target=run, args=(name,), name=f"check-{name}") for name in TRANSPORTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a check did not finish (a hang)"
    if failures:
        name, first = sorted(failures.items())[0]
        raise AssertionError(f"failed on {sorted(failures)}; {name}: {first!r}") from first




def route_of(received: Received) -> str:
    """The API route a request was meant for."""
    path = received.path.split("?")[0]
    if path.endswith("/status"):
        return "status"
    if path.endswith("/cancel"):
        return "cancel"
    if path.startswith("/estimate/"):
        return "estimate"
    if path.endswith("/generate-upload-url"):
        return "upload-url"
    if received.method == "PUT":
        return "put"
    return "submit"


def answers_by_route(answers: Dict[str, Answer], default: Optional[Answer] = None) -> Script:
    """A script answering each route with a fixed answer (``default`` for the others)."""

    def script(received: Received) -> Answer:
        answer = answers.get(route_of(received), default)
        assert answer is not None, f"no answer scripted for {received.method} {received.path}"
        return answer

    return script
