"""``higgsfield demo``: the whole tour against the embedded emulator, and --live's credentials."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from .conftest import Run


def test_the_demo_uploads_generates_downloads_and_summarises(run: Run, tmp_path: Path) -> None:
    started = time.monotonic()
    ran = run("demo", "--output", tmp_path / "demo")
    assert ran.code == 0, ran.err
    assert time.monotonic() - started < 30
    files = sorted(path.name for path in (tmp_path / "demo").iterdir())
    assert files == ["image-to-video-video.mp4", "text-to-image-0.png"]
    assert all((tmp_path / "demo" / name).stat().st_size > 0 for name in files)
    assert (tmp_path / "demo" / "text-to-image-0.png").read_bytes().startswith(b"\x89PNG")
    summary = ran.err.split("Summary", 1)[1]
    assert "uploaded the input picture" in summary
    assert summary.count("request ") == 2
    assert "text-to-image-0.png" in summary
    assert "image-to-video-video.mp4" in summary
    assert "completed" in ran.err  # the status line reported each job's end
    assert "the video is a playable MP4, H.264 (PyAV " in summary
    assert (tmp_path / "demo" / "image-to-video-video.mp4").read_bytes()[4:8] == b"ftyp"


def test_without_pyav_the_demo_says_its_video_is_a_placeholder(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` fails, as when not installed
    ran = run("demo", "--output", tmp_path / "demo")
    assert ran.code == 0, ran.err
    assert "the video is a placeholder MP4 that players do not open" in ran.err
    assert "pip install 'higgsfield-client[video]'" in ran.err
    assert b"moov" not in (tmp_path / "demo" / "image-to-video-video.mp4").read_bytes()


def test_the_live_demo_without_credentials_exits_3(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET", "HIGGSFIELD_BASE_URL", "HF_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    ran = run("demo", "--live", "--output", tmp_path / "live")
    assert ran.code == 3
    assert "no Higgsfield credentials: pass --api-key" in ran.err
    assert "the Higgsfield API" in ran.err
