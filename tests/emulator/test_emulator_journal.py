"""The request journal and the connection counter."""

from __future__ import annotations

import json
import time

import requests
from emu_helpers import SOUL

from higgsfield_client.testing import Emulator, JournalEntry


def test_journal_records_each_request(emu: Emulator, http: requests.Session) -> None:
    before = time.time()
    body = {"prompt": "journal"}
    response = http.post(
        f"{emu.base_url}/{SOUL}",
        json=body,
        params={"hf_webhook": "https://example.test/h"},
        headers={"Idempotency-Key": "j-1"},
        timeout=10,
    )
    rid = response.json()["request_id"]
    http.get(f"{emu.base_url}/requests/{rid}/status", timeout=10)
    first, second = emu.journal
    assert isinstance(first, JournalEntry)
    assert (first.method, first.path, first.route, first.status) == ("POST", f"/{SOUL}", "submit",
                                                                     200)
    assert first.query["hf_webhook"] == "https://example.test/h"
    assert first.headers["idempotency-key"] == "j-1"
    assert first.headers["AUTHORIZATION"] == f"Key {emu.api_key}"
    assert first.body_length == len(json.dumps(body).encode())
    assert first.fault is None
    assert first.correlation_id == response.headers["X-Correlation-ID"]
    assert before <= first.time <= second.time
    assert (second.method, second.route, second.body_length) == ("GET", "status", 0)
    assert first.connection_id == second.connection_id  # keep-alive reused the connection
    emu.clear_journal()
    assert emu.journal == []


def test_journal_names_routes(emu: Emulator, http: requests.Session) -> None:
    base = emu.base_url
    http.post(f"{base}/estimate/{SOUL}", json={"prompt": "x"})
    slot = http.post(f"{base}/files/generate-upload-url", json={"content_type": "image/png"}).json()
    requests.put(slot["upload_url"], data=b"abc", headers=slot["upload_headers"])
    requests.get(slot["public_url"])
    http.delete(f"{base}/requests/nope")
    http.post(f"{base}/requests/nope/cancel")
    requests.get(f"{base}/outputs/nope/0.png")
    routes = [entry.route for entry in emu.journal]
    assert routes == ["estimate", "upload-url", "put", "upload", "delete", "cancel", "output"]
    put = emu.journal[2]
    assert put.body_length == 3
    assert "Authorization" not in put.headers


def test_connection_count_counts_tcp_connections() -> None:
    with Emulator() as emulator:
        url = f"{emulator.base_url}/requests/nope/status"
        with requests.Session() as session:
            for _ in range(5):
                session.get(url, timeout=10)
        assert emulator.connection_count == 1
        with requests.Session() as session:
            session.get(url, timeout=10)
        requests.get(url, headers={"Connection": "close"}, timeout=10)
        assert emulator.connection_count == 3
        assert len({entry.connection_id for entry in emulator.journal}) == 3


def test_journal_limit_keeps_the_newest_entries() -> None:
    with Emulator(journal_limit=2) as emulator:
        for name in ("a", "b", "c"):
            requests.get(f"{emulator.base_url}/requests/{name}/status", timeout=10)
        assert [e.path for e in emulator.journal] == ["/requests/b/status", "/requests/c/status"]
