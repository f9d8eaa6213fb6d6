"""Injected faults: each kind, where they apply, and seeded reproducibility."""

from __future__ import annotations

import time
from typing import Callable, List, Optional

import pytest
import requests
from emu_helpers import SOUL, submit

from higgsfield_client.testing import Emulator

STATUS_URL = "{base}/requests/{rid}/status"
BROKEN = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


def _attempt(send: Callable[[], requests.Response]) -> Optional[requests.Response]:
    """Send, returning None when the connection broke (drop or truncate)."""
    try:
        return send()
    except BROKEN:
        return None


@pytest.mark.parametrize(
    ("kind", "status"), [("500", 500), ("502", 502), ("503", 503), ("504", 504)]
)
def test_server_error_faults_answer_json(
    emu: Emulator, http: requests.Session, kind: str, status: int
) -> None:
    rid = submit(http, emu).json()["request_id"]
    emu.script_fault("status", kind)
    url = STATUS_URL.format(base=emu.base_url, rid=rid)
    response = http.get(url, timeout=10)
    assert response.status_code == status
    assert "detail" in response.json()
    assert response.headers["X-Correlation-ID"]
    assert http.get(url, timeout=10).status_code == 200  # used once, then normal again


def test_429_fault_carries_retry_after(http: requests.Session) -> None:
    with Emulator(retry_after=7) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        emulator.script_fault("estimate", "429")
        emulator.script_fault("submit", "429")
        estimate = http.post(f"{emulator.base_url}/estimate/{SOUL}", json={"prompt": "x"})
        assert estimate.status_code == 429
        assert estimate.headers["Retry-After"] == "7"
        refused = submit(http, emulator)
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "7"
        assert refused.json()["code"] == "account_queue_full"
        assert emulator.jobs() == []


def test_faults_are_decided_before_credentials(emu: Emulator) -> None:
    # As a proxy in front of the API would: the fault answers even a request without credentials.
    emu.script_fault("status", "503")
    url = STATUS_URL.format(base=emu.base_url, rid="0b6f3c52-8d1e-4f7a-9c2b-5e4d3a2f1b0c")
    assert requests.get(url, timeout=10).status_code == 503
    assert requests.get(url, timeout=10).status_code == 401
    assert [entry.fault for entry in emu.journal] == ["503", None]


def test_html_fault_is_a_502_html_page(emu: Emulator, http: requests.Session) -> None:
    emu.script_fault("upload-url", "html")
    response = http.post(
        f"{emu.base_url}/files/generate-upload-url", json={"content_type": "image/png"}
    )
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.lstrip().lower().startswith("<!doctype html")
    assert response.headers["X-Correlation-ID"]


def test_drop_fault_closes_the_connection_unanswered(emu: Emulator, http: requests.Session) -> None:
    rid = submit(http, emu).json()["request_id"]
    emu.script_fault("status", "drop")
    with pytest.raises(requests.ConnectionError):
        http.get(STATUS_URL.format(base=emu.base_url, rid=rid), timeout=10)
    entry = [e for e in emu.journal if e.route == "status"][-1]
    assert entry.fault == "drop"
    assert entry.status is None


def test_truncate_fault_sends_a_short_body(emu: Emulator, http: requests.Session) -> None:
    rid = submit(http, emu).json()["request_id"]
    emu.script_fault("status", "truncate")
    with pytest.raises(BROKEN):
        http.get(STATUS_URL.format(base=emu.base_url, rid=rid), timeout=10)


def test_slow_fault_answers_late_but_normally(emu: Emulator, http: requests.Session) -> None:
    rid = submit(http, emu).json()["request_id"]
    emu.script_fault("status", "slow")
    started = time.monotonic()
    response = http.get(STATUS_URL.format(base=emu.base_url, rid=rid), timeout=10)
    assert time.monotonic() - started >= 0.25  # slow_seconds is 0.3 in the fixture
    assert response.status_code == 200
    assert response.json()["request_id"] == rid


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "html", "drop"])
def test_faults_before_the_handler_create_no_job(
    emu: Emulator, http: requests.Session, kind: str
) -> None:
    emu.script_fault("submit", kind)
    response = _attempt(lambda: submit(http, emu))
    assert response is None or response.status_code >= 400
    assert emu.jobs() == []
    assert submit(http, emu).status_code == 200
    assert len(emu.jobs()) == 1


@pytest.mark.parametrize("kind", ["truncate", "slow"])
def test_faults_after_the_handler_create_the_job_and_a_key_replay_finds_it(
    emu: Emulator, http: requests.Session, kind: str
) -> None:
    emu.script_fault("submit", kind)
    headers = {"Idempotency-Key": f"ambiguous-{kind}"}
    _attempt(lambda: submit(http, emu, headers=headers))
    assert len(emu.jobs()) == 1
    replay = submit(http, emu, headers=headers)
    assert replay.json()["request_id"] == emu.jobs()[0].request_id
    assert len(emu.jobs()) == 1


def test_same_host_redirect_points_at_the_same_url(emu: Emulator, http: requests.Session) -> None:
    emu.script_fault("estimate", "redirect_samehost")
    url = f"{emu.base_url}/estimate/{SOUL}"
    response = http.post(url, json={"prompt": "x"}, allow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Location"] == url
    followed = http.post(response.headers["Location"], json={"prompt": "x"})
    assert followed.status_code == 200


def test_off_host_redirect_swaps_the_host_name(emu: Emulator, http: requests.Session) -> None:
    emu.script_fault("estimate", "redirect_offhost")
    url = f"{emu.base_url}/estimate/{SOUL}?a=1"
    response = http.post(url, json={"prompt": "x"}, allow_redirects=False)
    assert response.status_code == 307
    assert response.headers["Location"] == url.replace("127.0.0.1", "localhost")


def test_scripted_faults_are_fifo_per_route_and_star_matches_any(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_fault("estimate", "503", count=2)
    emu.script_fault("*", "500")
    url = f"{emu.base_url}/estimate/{SOUL}"
    codes = [http.post(url, json={"prompt": "x"}).status_code for _ in range(4)]
    assert codes == [503, 503, 500, 200]
    with pytest.raises(ValueError, match="route"):
        emu.script_fault("nope", "500")
    with pytest.raises(ValueError, match="kind"):
        emu.script_fault("status", "418")


def test_put_fault_stores_nothing(emu: Emulator, http: requests.Session) -> None:
    slot = http.post(
        f"{emu.base_url}/files/generate-upload-url", json={"content_type": "image/png"}
    ).json()
    emu.script_fault("put", "503")
    put = requests.put(slot["upload_url"], data=b"abc", headers=slot["upload_headers"])
    assert put.status_code == 503
    assert requests.get(slot["public_url"]).status_code == 404
    assert requests.put(slot["upload_url"], data=b"abc", headers=slot["upload_headers"]).ok


def _fault_sequence(seed: int) -> List[Optional[str]]:
    with Emulator(seed=seed, fault_rate=0.5, slow_seconds=0.01) as emulator:
        url = f"{emulator.base_url}/estimate/{SOUL}"
        headers = {"Authorization": f"Key {emulator.api_key}"}
        for _ in range(30):
            _attempt(lambda: requests.post(url, json={"prompt": "x"}, headers=headers, timeout=10))
        return [entry.fault for entry in emulator.journal]


def test_fault_rate_with_a_seed_is_reproducible() -> None:
    first, again, other = _fault_sequence(11), _fault_sequence(11), _fault_sequence(12)
    assert len(first) == 30
    assert first == again
    assert first != other
    assert 5 <= sum(kind is not None for kind in first) <= 25
    assert not {"redirect_samehost", "redirect_offhost"} & set(first)


def test_fault_rate_changes_at_runtime_and_spares_files(
    emu: Emulator, http: requests.Session
) -> None:
    rid = submit(http, emu).json()["request_id"]
    emu.fault_rate = 1.0
    url = STATUS_URL.format(base=emu.base_url, rid=rid)
    for _ in range(5):
        _attempt(lambda: http.get(url, timeout=10))
    assert all(e.fault for e in emu.journal if e.route == "status")
    assert requests.get(f"{emu.base_url}/uploads/none.png").status_code == 404  # never faulted
    emu.fault_rate = 0.0
    assert http.get(url, timeout=10).status_code == 200
    with pytest.raises(ValueError, match="fault_rate"):
        emu.fault_rate = 1.5
