"""The command line (``python -m higgsfield_client.testing``) and the pytest fixture."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest
import requests

from higgsfield_client.testing import Emulator


def test_module_runs_in_the_foreground_and_prints_how_to_connect() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "higgsfield_client.testing", "--port", "0", "--seed", "1",
         "--queue-time", "0", "--run-time", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: Dict[str, str] = {}
        while "HIGGSFIELD_BASE_URL" not in lines:
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its URL"
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                lines[name] = value.strip("'")
        base, key = lines["HIGGSFIELD_BASE_URL"], lines["HF_KEY"]
        assert base.startswith("http://127.0.0.1:")
        response = requests.post(
            f"{base}/higgsfield-ai/soul/standard",
            json={"prompt": "cli"},
            headers={"Authorization": f"Key {key}"},
            timeout=10,
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


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
