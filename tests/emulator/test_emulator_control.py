"""The control routes under /_emulator/: jobs, journal, webhooks, faults and expiry, for loopback
clients only, from Python and from a shell (``higgsfield emulator jobs`` and friends)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
import requests
from emu_helpers import SOUL, in_the_foreground, submit, wait_status, wait_until

from higgsfield_client.testing import Emulator
from higgsfield_client.testing._control import is_loopback

SECRET = "whsec_" + "a2V5IG9mIHRoZSBjb250cm9sIHRlc3RzIDEyMzQ1Ng=="  # 30 bytes


def control(emu: Emulator, path: str) -> str:
    return f"{emu.base_url}/_emulator/{path}"


# -- from Python --------------------------------------------------------------------------------


def test_jobs_are_listed_without_credentials_and_the_control_requests_stay_out_of_the_journal(
    emu: Emulator, http: requests.Session
) -> None:
    first = submit(http, emu, headers={"Idempotency-Key": "item-1"}).json()["request_id"]
    second = submit(http, emu, body={"prompt": "x [fail]"}).json()["request_id"]
    wait_status(http, emu, second)
    journal_before = emu.journal
    answer = requests.get(control(emu, "jobs"), timeout=10)  # no Authorization header
    assert answer.status_code == 200
    jobs = answer.json()["jobs"]
    assert [(job["request_id"], job["model"], job["idempotency_key"]) for job in jobs] == [
        (first, SOUL, "item-1"),
        (second, SOUL, None),
    ]
    assert jobs[1]["status"] == "failed"
    assert jobs[1]["submitted_at"] <= jobs[1]["started_at"] <= jobs[1]["finished_at"]
    assert jobs[1]["arguments"] == {"prompt": "x [fail]"}
    assert emu.journal == journal_before  # reading it added nothing, faults untouched


def test_the_journal_is_filtered_and_keeps_secrets_out(emu: Emulator, http: requests.Session) -> None:
    hook = "https://hooks.example/in?hf_ref=item-1&hf_token=t0ps3cret"
    emu.script_next_job(queue_time=3600)  # it never ends: no delivery goes to hooks.example
    submit(http, emu, params={"hf_webhook": hook}, headers={"Idempotency-Key": "k-1"})
    slot = http.post(f"{emu.base_url}/files/generate-upload-url", json={"content_type": "image/png"},
                     timeout=10).json()
    requests.put(slot["upload_url"], data=b"\x89PNG", headers=slot["upload_headers"], timeout=10)
    entries = requests.get(control(emu, "journal"), timeout=10).json()["entries"]
    assert [entry["route"] for entry in entries] == ["submit", "upload-url", "put"]
    text = json.dumps(entries)
    assert emu.api_key.split(":")[1] not in text
    assert "t0ps3cret" not in text
    assert slot["upload_url"].split("X-Amz-Signature=")[1][:12] not in text
    submitted = entries[0]
    assert submitted["headers"]["authorization"] == "[redacted]"
    assert submitted["query"] == {"hf_webhook": ["https://hooks.example/in"]}
    assert (submitted["idempotency_key"], submitted["status"]) == ("k-1", 200)
    assert entries[2]["query"]["X-Amz-Signature"] == ["[redacted]"]
    only_puts = requests.get(control(emu, "journal"), params={"route": "put"}, timeout=10).json()
    assert [entry["route"] for entry in only_puts["entries"]] == ["put"]
    both = [("route", "put"), ("route", "submit")]
    several = requests.get(control(emu, "journal"), params=both, timeout=10)
    assert [entry["route"] for entry in several.json()["entries"]] == ["submit", "put"]
    last = requests.get(control(emu, "journal"), params={"last": 2}, timeout=10).json()["entries"]
    assert [entry["route"] for entry in last] == ["upload-url", "put"]
    assert requests.get(control(emu, "journal"), params={"last": 0}, timeout=10).json() == {"entries": []}
    assert requests.get(control(emu, "journal"), params={"last": "-1"}, timeout=10).status_code == 400


def test_faults_are_scripted_and_cleared_at_run_time(emu: Emulator, http: requests.Session) -> None:
    scripted = requests.post(control(emu, "faults"), json={"route": "submit", "kind": "503", "count": 2},
                             timeout=10)
    assert scripted.json() == {"route": "submit", "kind": "503", "count": 2}
    assert submit(http, emu).status_code == 503
    assert requests.delete(control(emu, "faults"), timeout=10).json() == {"cleared": True}
    assert submit(http, emu).status_code == 200
    for bad in ({"route": "submit", "kind": "nope"}, {"route": "nowhere", "kind": "500"},
                {"route": "submit", "kind": "500", "count": 0}, {"route": "submit"}, [1]):
        refused = requests.post(control(emu, "faults"), json=bad, timeout=10)
        assert refused.status_code == 400, bad
        assert refused.json()["detail"]
    assert requests.post(control(emu, "faults"), data=b"{", timeout=10).status_code == 400
    assert [entry.fault for entry in emu.journal] == ["503", None]


def test_an_output_is_expired_on_demand(emu: Emulator, http: requests.Session) -> None:
    request_id = submit(http, emu).json()["request_id"]
    url = wait_status(http, emu, request_id)["images"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    expired = requests.post(control(emu, f"jobs/{request_id}/expire"), timeout=10)
    assert expired.json() == {"request_id": request_id, "expired": True}
    assert b"<Code>NoSuchKey</Code>" in requests.get(url, timeout=10).content
    unknown = requests.post(control(emu, "jobs/no-such-job/expire"), timeout=10)
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no finished job no-such-job"})


def test_unknown_routes_and_methods_are_refused_and_the_index_lists_the_routes(emu: Emulator) -> None:
    index = requests.get(f"{emu.base_url}/_emulator", timeout=10).json()
    assert index["base_url"] == emu.base_url
    assert "GET /_emulator/jobs" in index["routes"]
    assert requests.get(control(emu, ""), timeout=10).json() == index
    wrong = requests.put(control(emu, "jobs"), timeout=10)
    assert (wrong.status_code, wrong.headers["Allow"]) == (405, "GET")
    assert requests.get(control(emu, "nothing"), timeout=10).status_code == 404
    assert requests.get(control(emu, "jobs/x/expire"), timeout=10).status_code == 405
    # Not a control route: the API's own catch-all, which wants credentials.
    assert requests.get(f"{emu.base_url}/_emulatorx/jobs", timeout=10).status_code == 401
    assert emu.journal[-1].path == "/_emulatorx/jobs"


def _own_address() -> str:
    """An address of this machine that is not loopback (the one a default route leaves by)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the interface
        address: str = probe.getsockname()[0]
    return address


def test_a_peer_off_loopback_is_refused_whatever_the_interface() -> None:
    address = _own_address()
    assert not is_loopback((address, 1)), f"this machine has no address off loopback ({address})"
    with Emulator(host="0.0.0.0") as emu:
        port = emu.base_url.rsplit(":", 1)[1]
        refused = requests.get(f"http://{address}:{port}/_emulator/jobs", timeout=10)
        assert (refused.status_code, refused.json()) == (
            403, {"detail": "the emulator's control routes answer loopback clients only"}
        )
        faults = requests.post(f"http://{address}:{port}/_emulator/faults", json={}, timeout=10)
        assert faults.status_code == 403
        assert requests.get(f"http://127.0.0.1:{port}/_emulator/jobs", timeout=10).status_code == 200
        assert emu.journal == []


@pytest.mark.parametrize(
    ("peer", "loopback"),
    [
        (("127.0.0.1", 5000), True),
        (("127.8.9.10", 5000), True),
        (("::1", 5000, 0, 0), True),
        (("::ffff:127.0.0.1", 5000, 0, 0), True),
        (("fe80::1%eth0", 5000, 0, 2), False),
        (("192.0.2.2", 5000), False),
        (("::ffff:192.0.2.2", 5000, 0, 0), False),
        (("10.0.0.1", 5000), False),
        (("not an address", 1), False),
        ("", False),
        (None, False),
        ((), False),
    ],
)
def test_is_loopback(peer: Any, loopback: bool) -> None:
    assert is_loopback(peer) is loopback


# -- from a shell -------------------------------------------------------------------------------


HIGGSFIELD = str(Path(sys.executable).with_name("higgsfield"))
MODULE = [sys.executable, "-m", "higgsfield_client.testing"]


def _shell(*argv: str, env: Dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, env=env)


@pytest.fixture
def served() -> Iterator[Dict[str, str]]:
    """``higgsfield emulator`` in the foreground with fault options; its two export lines."""
    argv = [HIGGSFIELD, "emulator", "--port", "0", "--queue-time", "0", "--run-time", "0.05",
            "--webhook-secret", SECRET, "--fault", "webhook:duplicate", "--fault", "submit:429:1",
            "--fault", "output:stall", "--slow-seconds", "0.3", "--retry-after", "7",
            "--webhook-body", "nested"]
    with in_the_foreground(argv) as (process, exports):
        yield exports
        process.terminate()
        assert process.wait(timeout=15) == 0


def test_from_a_shell_faults_are_options_and_the_commands_show_what_the_emulator_did(
    served: Dict[str, str], receiver_factory: Any
) -> None:
    base, key = served["HIGGSFIELD_BASE_URL"], served["HF_KEY"]
    webhook_receiver = receiver_factory()
    with requests.Session() as http:
        http.headers["Authorization"] = f"Key {key}"
        submit_url = f"{base}/{SOUL}"
        first = http.post(submit_url, json={"prompt": "a"}, params={"hf_webhook": webhook_receiver.url},
                          headers={"Idempotency-Key": "item-1"}, timeout=10)
        assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
        again = http.post(submit_url, json={"prompt": "a"}, params={"hf_webhook": webhook_receiver.url},
                          headers={"Idempotency-Key": "item-1"}, timeout=10)
        request_id = again.json()["request_id"]
        wait_until(lambda: True if len(webhook_receiver.deliveries()) == 2 else None)
    (_, body), _ = webhook_receiver.deliveries()
    assert sorted(json.loads(body)) == ["error", "payload", "request_id", "status"]  # --webhook-body
    # The user's shell: HIGGSFIELD_BASE_URL exported as the emulator printed it.
    env = {**os.environ, "HIGGSFIELD_BASE_URL": base}
    jobs = json.loads(_shell(*MODULE, "jobs", "--json", env=env).stdout)["jobs"]
    assert [(job["request_id"], job["idempotency_key"], job["status"]) for job in jobs] == [
        (request_id, "item-1", "completed")
    ]
    assert jobs[0]["webhook_url"] == webhook_receiver.url.split("?")[0]  # its query may be a token
    table = _shell(HIGGSFIELD, "emulator", "jobs", "--url", base).stdout.splitlines()
    assert table[0].split()[:3] == ["REQUEST", "ID", "MODEL"]
    assert table[1].split()[:4] == [request_id, SOUL, "completed", "item-1"]
    submits = json.loads(_shell(*MODULE, "journal", "--route", "submit", "--json", env=env).stdout)
    assert [(entry["status"], entry["fault"]) for entry in submits["entries"]] == [(429, "429"), (200, None)]
    webhooks = json.loads(_shell(HIGGSFIELD, "emulator", "webhooks", "--json", "--url", base).stdout)
    (delivery,) = webhooks["deliveries"]
    assert [(a["status"], a["fault"]) for a in delivery["attempts"]] == [(204, None), (204, "duplicate")]
    journal = _shell(*MODULE, "journal", "--url", base).stdout
    assert " webhook " in journal
    assert " submit " in journal
    # A fault scripted at run time, then an expired output, from the shell.
    assert _shell(*MODULE, "fault", "status", "500", "--count", "2", env=env).stdout == (
        "scripted 2 x 500 on status\n"
    )
    with requests.Session() as http:
        http.headers["Authorization"] = f"Key {key}"
        status_url = f"{base}/requests/{request_id}/status"
        assert [http.get(status_url, timeout=10).status_code for _ in range(3)] == [500, 500, 200]
        url = http.get(status_url, timeout=10).json()["images"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200  # stalled half way for --slow-seconds
    outputs = json.loads(_shell(*MODULE, "journal", "--route", "output", "--json", env=env).stdout)
    assert [(entry["status"], entry["fault"]) for entry in outputs["entries"]] == [(200, "stall")]
    expired = _shell(HIGGSFIELD, "emulator", "expire", request_id, "--url", base)
    assert expired.stdout == f"expired {request_id}\n"
    assert requests.get(url, timeout=10).status_code == 404


def test_from_a_shell_a_command_without_an_emulator_or_with_a_bad_fault_says_so(
    served: Dict[str, str],
) -> None:
    base = served["HIGGSFIELD_BASE_URL"]
    nobody = _shell(*MODULE, "jobs", "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 1
    assert nobody.stderr.startswith("higgsfield emulator jobs: error: cannot reach an emulator at")
    bad = _shell(*MODULE, "fault", "webhook", "503", "--url", base)
    assert bad.returncode == 1
    assert "answered 400: unknown fault kind '503' for 'webhook'" in bad.stderr
    for option in ("webhook", "webhook:", ":drop", "output:stall:x"):
        usage = _shell(*MODULE, "--fault", option)
        assert usage.returncode == 2
        assert "expected ROUTE:KIND or ROUTE:KIND:COUNT" in usage.stderr
    unknown = _shell(*MODULE, "--port", "0", "--fault", "webhook:stall")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("higgsfield emulator: error: unknown fault kind 'stall' for 'webhook'")
