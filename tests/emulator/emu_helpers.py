"""Small helpers shared by the emulator tests (plain HTTP, no SDK)."""

from __future__ import annotations

import subprocess
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, TypeVar

import requests

from higgsfield_client.testing import Emulator

T = TypeVar("T")
SOUL = "higgsfield-ai/soul/standard"
KLING = "kling-video/v2.6/pro/image-to-video"
TERMINAL = {"completed", "failed", "nsfw", "canceled"}


def submit(
    http: requests.Session,
    emu: Emulator,
    body: Optional[Dict[str, Any]] = None,
    model: str = SOUL,
    **kwargs: Any,
) -> requests.Response:
    """POST a submit; ``body`` defaults to a valid soul prompt."""
    payload = {"prompt": "a lake at dawn"} if body is None else body
    return http.post(f"{emu.base_url}/{model}", json=payload, timeout=10, **kwargs)


def wait_until(probe: Callable[[], Optional[T]], timeout: float = 10.0) -> T:
    """Call ``probe`` every 20 ms until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def wait_status(
    http: requests.Session, emu: Emulator, request_id: str, wanted: Iterable[str] = TERMINAL
) -> Dict[str, Any]:
    """Poll the status route until the status is one of ``wanted``; return the payload."""
    targets = set(wanted)

    def probe() -> Optional[Dict[str, Any]]:
        response = http.get(f"{emu.base_url}/requests/{request_id}/status", timeout=10)
        assert response.status_code == 200, response.text
        payload: Dict[str, Any] = response.json()
        return payload if payload["status"] in targets else None

    return wait_until(probe)


@contextmanager
def in_the_foreground(
    argv: Sequence[str], printed: Optional[List[str]] = None
) -> Iterator[Tuple[subprocess.Popen[str], Dict[str, str]]]:
    """The emulator's command ``argv`` run as a user would; yields the process and the values
    of the ``export`` lines it printed (``HF_KEY``, ``HIGGSFIELD_BASE_URL``); every line read
    up to them is added to ``printed``. Killed if still running at the end."""
    process = subprocess.Popen(list(argv), stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        exports: Dict[str, str] = {}
        while "HIGGSFIELD_BASE_URL" not in exports:
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its URL"
            if printed is not None:
                printed.append(line)
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                exports[name] = value.strip("'")
        yield process, exports
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


class Receiver:
    """A loopback webhook endpoint that answers 500 to the first ``failures`` deliveries, and
    the first ``stalls`` only after ``stall`` seconds."""

    def __init__(self, failures: int = 0, stalls: int = 0, stall: float = 0.0) -> None:
        self.failures = failures
        self.stalls = stalls
        self.stall = stall
        self.received: List[Tuple[Dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers.items()), body))
                    fail = len(receiver.received) <= receiver.failures
                    stall = len(receiver.received) <= receiver.stalls
                if stall:
                    time.sleep(receiver.stall)
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?tenant=1"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def deliveries(self) -> List[Tuple[Dict[str, str], bytes]]:
        with self.lock:
            return list(self.received)



# -- the Agent API ------------------------------------------------------------------------------

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
ISO_Z = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"


def agent_url(emu: Emulator, path: str) -> str:
    """The URL of an Agent API path such as ``/sessions``."""
    return f"{emu.base_url}/v1/agent{path}"


def open_session(http: requests.Session, emu: Emulator) -> str:
    """Create an agent session; return its id."""
    response = http.post(agent_url(emu, "/sessions"), json={"config": {}}, timeout=10)
    assert response.status_code == 201, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def send(http: requests.Session, emu: Emulator, session_id: str, content: Any) -> requests.Response:
    """POST a message to a session (any JSON ``content``, to test validation too)."""
    return http.post(
        agent_url(emu, f"/sessions/{session_id}/messages"), json={"content": content}, timeout=10
    )


def accepted(http: requests.Session, emu: Emulator, session_id: str, content: str) -> str:
    """Send a message that must be accepted; return its message id."""
    response = send(http, emu, session_id, content)
    assert response.status_code == 202, response.text
    message_id: str = response.json()["message_id"]
    return message_id


def read(
    http: requests.Session, emu: Emulator, session_id: str, after: Optional[str] = None
) -> Dict[str, Any]:
    """GET a session's status and rows (those after ``after`` when given)."""
    params = {"after": after} if after is not None else None
    response = http.get(
        agent_url(emu, f"/sessions/{session_id}/messages"), params=params, timeout=10
    )
    assert response.status_code == 200, response.text
    state: Dict[str, Any] = response.json()
    return state


def wait_state(
    http: requests.Session,
    emu: Emulator,
    session_id: str,
    until: Callable[[Dict[str, Any]], bool],
    after: Optional[str] = None,
) -> Dict[str, Any]:
    """Poll a session until ``until(state)`` holds (bounded); return that state."""

    def probe() -> Optional[Dict[str, Any]]:
        state = read(http, emu, session_id, after)
        return state if until(state) else None

    return wait_until(probe)


def ended(state: Dict[str, Any]) -> bool:
    """True when the state lists a completed or failed assistant row."""
    return any(
        row["role"] == "assistant" and row["status"] in ("completed", "failed")
        for row in state["messages"]
    )


def texts(row: Dict[str, Any]) -> List[str]:
    """The text parts of an assistant row, in order."""
    return [part["text"] for part in row["message"]["parts"] if part["type"] == "text"]
