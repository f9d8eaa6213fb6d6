"""docs/protocol-core.md: its Python blocks run, in order, against a tiny local HTTP server."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar, Dict, Iterator, List, Tuple

import pytest

from higgsfield_proto import Enqueued, JobState, StatusUpdate

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol-core.md"
KEY = "doc-key-id:doc-key-secret"
MODEL_PATH = "/higgsfield-ai/soul/v2/standard"


def python_blocks(markdown: str) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


class FakeApi(BaseHTTPRequestHandler):
    """Submit and status endpoints only; each job answers queued, 503, in_progress, completed."""

    script: ClassVar[List[Any]] = ["queued", 503, "in_progress", "completed"]
    seen: ClassVar[List[Tuple[str, str, Dict[str, str]]]] = []
    jobs: ClassVar[Dict[str, int]] = {}

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass

    def _reply(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Correlation-ID", "doc-corr")
        self.end_headers()
        self.wfile.write(body)

    def _record(self) -> bool:
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.headers.get("Authorization") != f"Key {KEY}":
            self._reply(401, {"detail": "Invalid credentials"})
            return False
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        arguments = json.loads(self.rfile.read(length) or b"null")
        if not self._record():
            return
        if self.path != MODEL_PATH or not isinstance(arguments, dict) or "prompt" not in arguments:
            self._reply(
                422, {"detail": [{"type": "missing", "loc": ["body", "prompt"], "msg": "Field required"}]}
            )
            return
        request_id = f"job-{len(self.jobs) + 1}"
        self.jobs[request_id] = 0
        base = f"http://{self.headers['Host']}/requests/{request_id}"
        self._reply(
            200,
            {
                "status": "queued",
                "request_id": request_id,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
            },
        )

    def do_GET(self) -> None:
        if not self._record():
            return
        match = re.fullmatch(r"/requests/([^/]+)/status", self.path)
        if match is None or match.group(1) not in self.jobs:
            self._reply(404, {"detail": "Not found"})
            return
        request_id = match.group(1)
        step = self.script[min(self.jobs[request_id], len(self.script) - 1)]
        self.jobs[request_id] += 1
        if isinstance(step, int):
            self._reply(step, {"detail": "Service temporarily unavailable"})
            return
        payload: Dict[str, Any] = {"status": step, "request_id": request_id}
        if step == "completed":
            payload["images"] = [{"url": f"https://cdn.example/{request_id}.png"}]
        self._reply(200, payload)


@pytest.fixture
def fake_api() -> Iterator[str]:
    FakeApi.seen = []
    FakeApi.jobs = {}
    server = HTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_the_doc_has_runnable_examples() -> None:
    blocks = python_blocks(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    assert any("subscribe_flow" in block for block in blocks)
    assert any("urllib.request" in block for block in blocks)
    assert not any("higgsfield_client" in block or "higgsfield_transports" in block for block in blocks)


def test_the_doc_examples_run_against_a_local_server(
    fake_api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_KEY", KEY)
    monkeypatch.setenv("HIGGSFIELD_BASE_URL", fake_api)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    slept: List[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)  # the flow's waits, without waiting

    namespace: Dict[str, Any] = {"__name__": "protocol_core_doc"}
    code = "\n\n".join(python_blocks(DOC.read_text(encoding="utf-8")))
    exec(compile(code, str(DOC), "exec"), namespace)

    # Level 1: one submit and one status check, parsed.
    job, status = namespace["job"], namespace["status"]
    assert job.request_id == "job-1"
    assert job.state is JobState.QUEUED
    assert status.request_id == "job-1"
    assert status.state is JobState.QUEUED
    out = capsys.readouterr().out
    assert "submitted job-1 queued" in out
    assert "now queued" in out

    # Level 2: the flow submitted once, retried the 503, and stopped at the terminal answer.
    final = namespace["final"]
    assert final.state is JobState.COMPLETED
    assert final.images == ("https://cdn.example/job-2.png",)
    flow_requests = [(method, path) for method, path, _ in FakeApi.seen[2:]]
    assert flow_requests == [("POST", MODEL_PATH)] + [("GET", "/requests/job-2/status")] * 4
    events = namespace["events"]
    assert events[0] == Enqueued("job-2")
    assert [e.status.state.value for e in events[1:] if isinstance(e, StatusUpdate)] == [
        "queued",
        "in_progress",
        "completed",
    ]
    # three poll ticks, one backoff after the 503, and one clock reading (a zero sleep) before it
    assert len(slept) == 5
    assert slept.count(0.0) == 1
    assert all(0 <= seconds <= 5.0 for seconds in slept)

    # Credentials on every API request; the flow's submit carried an Idempotency-Key.
    assert all(headers.get("authorization") == f"Key {KEY}" for _, _, headers in FakeApi.seen)
    submits = [headers for method, _, headers in FakeApi.seen if method == "POST"]
    assert "idempotency-key" not in submits[0]
    assert submits[1].get("idempotency-key")
