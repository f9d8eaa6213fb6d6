"""The command line (``python -m higgsfield_client.testing``, ``higgsfield emulator``) and the
pytest fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List

import pytest
import requests
from emu_helpers import in_the_foreground

from higgsfield_client import SyncClient
from higgsfield_client.cli import main as higgsfield
from higgsfield_client.testing import Emulator
from higgsfield_client.testing._cli import build_parser


def test_module_runs_in_the_foreground_and_prints_how_to_connect() -> None:
    argv = [sys.executable, "-m", "higgsfield_client.testing", "--port", "0", "--seed", "1",
            "--queue-time", "0", "--run-time", "0", "--agent-turn-time", "0",
            "--agent-long-turn-time", "600"]
    printed: List[str] = []
    with in_the_foreground(argv, printed) as (process, lines):
        base, key = lines["HIGGSFIELD_BASE_URL"], lines["HF_KEY"]
        assert base.startswith("http://127.0.0.1:")
        models = "Models: 62 from the SDK's catalog, 59 checked against their schemas"
        assert f"{models} ({base}/docs/openapi.json)\n" in printed
        response = requests.post(
            f"{base}/higgsfield-ai/soul/standard",
            json={"prompt": "cli"},
            headers={"Authorization": f"Key {key}"},
            timeout=10,
        )
        assert response.status_code == 200
        # With --agent-turn-time 0 a turn has ended by the first read after its message.
        agent = f"{base}/v1/agent/sessions"
        auth = {"Authorization": f"Key {key}"}
        session_id = requests.post(agent, headers=auth, timeout=10).json()["session_id"]
        requests.post(f"{agent}/{session_id}/messages", json={"content": "hi"}, headers=auth,
                      timeout=10)
        state = requests.get(f"{agent}/{session_id}/messages", headers=auth, timeout=10).json()
        assert state["status"] == "idle"
        assert state["messages"][-1]["message"]["parts"][-1]["text"] == "Echo: hi"
        # --agent-long-turn-time reaches the emulator: a [long] turn is still running.
        requests.post(f"{agent}/{session_id}/messages", json={"content": "hi [long]"},
                      headers=auth, timeout=10)
        state = requests.get(f"{agent}/{session_id}/messages", headers=auth, timeout=10).json()
        assert state["status"] == "processing"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_c2VjcmV0"])
def test_an_empty_or_short_webhook_secret_is_a_usage_error_without_a_traceback(
    secret: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert higgsfield(["emulator", "--port", "0", "--webhook-secret", secret]) == 2
    err = capsys.readouterr().err
    assert err.startswith("higgsfield emulator: error: webhook_secret must")
    assert "Traceback" not in err
    assert not secret.removeprefix("whsec_") or secret.removeprefix("whsec_") not in err


@pytest.mark.parametrize(("options", "side"), [([], 256), (["--full-size-images"], 2048)])
def test_the_standalone_emulator_serves_images_at_the_size_asked_for_with_full_size_images(
    options: List[str], side: int
) -> None:
    command = [sys.executable, "-m", "higgsfield_client.testing", "--port", "0", "--queue-time", "0",
               "--run-time", "0", *options]
    with in_the_foreground(command) as (process, lines):
        base, key = lines["HIGGSFIELD_BASE_URL"], lines["HF_KEY"]
        with SyncClient(base_url=base, api_key=key) as client:
            arguments = {"prompt": "a lake", "resolution": "2K", "aspect_ratio": "1:1"}
            result = client.subscribe("bytedance/seedream/v4/text-to-image", arguments)
            png = result.images[0].read()
        # The PNG's IHDR chunk: width and height, big-endian, after the signature and its header.
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (side, side)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


# Each option of ``higgsfield emulator`` with words of its meaning (units, default) its help shows.
OPTION_MEANINGS = {
    "--host": ["interface to listen on", "default: 127.0.0.1"],
    "--port": ["TCP port", "0 picks a free one", "default: 8000"],
    "--queue-time": ["SECONDS", "seconds each job stays queued", "default: 0.2"],
    "--run-time": ["SECONDS", "seconds each job stays in_progress", "default: 0.5"],
    "--fault-rate": ["from 0.0 to 1.0", "answered with a random fault", "default: 0.0"],
    "--seed": ["seed for the fault draws and the timing variation", "default: none"],
    "--webhook-secret": ["whsec_", "to sign webhook deliveries", "unsigned"],
    "--webhook-body": ["{flat,nested}", "results under payload", "default: flat"],
    "--api-key": ["the key_id:key_secret key to accept", "default: a random key"],
    "--concurrency-limit": ["jobs in progress at once", "default: 50"],
    "--queue-limit": ["queued outputs", "429 account_queue_full", "default: 10000"],
    "--journal-limit": ["newest requests kept in the in-memory request journal", "default: 10000"],
    "--balance": ["CREDITS", "a completed job is charged it", "answered 403", "default: no limit"],
    "--agent-turn-time": ["SECONDS", "Agent API turn stays processing", "default: 0.2"],
    "--agent-long-turn-time": ["SECONDS", "contains [long]", "default: ten times --agent-turn-time"],
    "--agent-answer-lag": ["SECONDS", "still reads awaiting_input", "default: 0.0"],
    "--full-size-images": ["at the size asked for", "instead of at most 256 pixels a side"],
    "--fault": ["ROUTE:KIND[:COUNT]", "webhook:duplicate", "output:stall:3", "repeatable"],
    "--slow-seconds": ["SECONDS", "stalled download pauses", "out_of_order webhook", "default: 2.0"],
    "--retry-after": ["SECONDS", "Retry-After of 429 answers", "default: 1"],
}


def _option_entries(help_text: str) -> Dict[str, str]:
    """The help entry of each option, its wrapped lines joined by single spaces."""
    entries: Dict[str, List[str]] = {}
    current: List[str] = []
    section = help_text.split("\noptions:\n", 1)[1].split("\n\n", 1)[0]
    for line in section.splitlines():
        if line.startswith("  -"):
            current = entries.setdefault(line.split()[0].rstrip(","), [])
        current.append(line)
    return {option: " ".join(" ".join(lines).split()) for option, lines in entries.items()}


def test_emulator_help_explains_each_option_and_how_to_connect(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert higgsfield(["emulator", "--help"]) == 0
    text = capsys.readouterr().out
    entries = _option_entries(text)
    assert set(entries) == {"-h", *OPTION_MEANINGS}
    for option, phrases in OPTION_MEANINGS.items():
        for phrase in phrases:
            assert phrase in entries[option], (option, phrase, entries[option])
    assert "Run a local emulator of the Higgsfield API" in text
    assert "export HF_KEY=" in text
    assert "export HIGGSFIELD_BASE_URL=" in text
    assert "higgsfield emulator --port 0 --fault-rate 0.1 --seed 7" in text
    assert "Under /v1/agent, with the same key." in text
    assert "Every model of the SDK's catalog snapshot" in text
    # The commands against a running emulator, and the faults the options can script.
    for command in ("jobs", "journal", "webhooks", "fault", "expire"):
        assert f"\n    {command} " in text
    assert "answer loopback clients only" in text
    assert "duplicate (sent twice)" in text
    # Not the main command's epilog: no other command's examples, no exit code table.
    for other in ("submit", "status", "result", "cancel", "upload", "download", "estimate", "demo"):
        assert f"higgsfield {other}" not in text
    assert "exit codes:" not in text
    # ``python -m higgsfield_client.testing --help`` says the same.
    assert build_parser("higgsfield emulator").format_help() == text


def test_fixture_points_the_environment_at_a_running_emulator(
    higgsfield_emulator: Emulator,
) -> None:
    assert os.environ["HF_KEY"] == higgsfield_emulator.api_key
    assert os.environ["HIGGSFIELD_BASE_URL"] == higgsfield_emulator.base_url
    assert "HF_API_KEY" not in os.environ
    response = requests.get(
        f"{os.environ['HIGGSFIELD_BASE_URL']}/requests/x/status",
        headers={"Authorization": f"Key {os.environ['HF_KEY']}"},
        timeout=10,
    )
    assert response.status_code == 404


@pytest.mark.higgsfield_emulator(queue_time=30, retry_after=9)
def test_fixture_takes_options_from_its_marker(higgsfield_emulator: Emulator) -> None:
    assert higgsfield_emulator.queue_time == 30
    higgsfield_emulator.script_fault("status", "429")
    response = requests.get(f"{higgsfield_emulator.base_url}/requests/x/status", timeout=10)
    assert response.headers["Retry-After"] == "9"


def test_fixture_restores_the_environment_in_a_pytest_run(tmp_path: Path) -> None:
    test_file = tmp_path / "test_uses_fixture.py"
    test_file.write_text(textwrap.dedent("""
        import os

        def test_inside(higgsfield_emulator):
            assert os.environ["HF_KEY"] == higgsfield_emulator.api_key
            assert "HF_API_SECRET" not in os.environ

        def test_after():
            assert os.environ["HF_KEY"] == "outer:key"
            assert os.environ["HF_API_SECRET"] == "outer-secret"
    """))
    env = {**os.environ, "HF_KEY": "outer:key", "HF_API_SECRET": "outer-secret"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
