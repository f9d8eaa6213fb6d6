"""``higgsfield-sansio mcp`` on the command line: what it refuses before it serves, and its help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from higgsfield_client.cli import main


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_KEY", "key-id:key-secret")
    monkeypatch.setenv("HIGGSFIELD_BASE_URL", "http://127.0.0.1:9")


def test_the_key_is_taken_from_the_environment_only(
    credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--api-key", "id:secret", "mcp"]) == 2
    assert "environment only" in capsys.readouterr().err


def test_without_credentials_the_server_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["mcp"]) == 3
    assert "HF_KEY" in capsys.readouterr().err


def test_an_allowed_folder_must_exist(
    credentials: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mcp", "--allow-dir", str(tmp_path / "missing")]) == 2
    assert "not an existing folder" in capsys.readouterr().err


def test_http_is_served_on_a_loopback_address_only(
    credentials: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mcp", "--http", "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--budget", "--max-credits-per-call", "--confirm-above"])
def test_money_options_take_a_number_of_credits(
    credentials: None, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mcp", option, "-1"]) == 2
    assert main(["mcp", option, "lots"]) == 2
    assert "credits" in capsys.readouterr().err


def test_without_the_mcp_extra_the_command_says_what_to_install(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['mcp'] = None\n"
        "from higgsfield_client.cli import main\n"
        "raise SystemExit(main(['mcp']))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={"HF_KEY": "a:b", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert ran.returncode == 2, ran.stderr
    assert "pip install 'higgsfield-sansio[mcp]'" in ran.stderr
    assert "Traceback" not in ran.stderr
