"""``higgsfield demo``: the whole tour against the embedded emulator, and --live's credentials."""

from __future__ import annotations

import json
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


def test_the_demo_replaces_an_earlier_runs_outputs_only_with_overwrite_and_speaks_json(
    run: Run, tmp_path: Path
) -> None:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "text-to-image-0.png").write_bytes(b"kept")
    refused = run("--json", "demo", "--output", folder)
    assert refused.code == 1
    assert f"{folder} exists already; pass --overwrite to replace it" in refused.err
    assert json.loads(refused.out)["error"]["type"] == "FileExistsError"
    assert (folder / "text-to-image-0.png").read_bytes() == b"kept"
    assert "Summary" not in refused.err  # refused before anything ran

    ran = run("--json", "demo", "--output", folder, "--overwrite")
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert document["endpoint"].startswith("the embedded emulator at http://127.0.0.1:")
    assert document["upload"]["url"].startswith("http://127.0.0.1:")
    assert [job["label"] for job in document["jobs"]] == ["text-to-image", "image-to-video"]
    files = [entry for job in document["jobs"] for entry in job["files"]]
    names = [Path(entry["path"]).name for entry in files]
    assert names == ["text-to-image-0.png", "image-to-video-video.mp4"]
    assert all(Path(entry["path"]).stat().st_size == entry["bytes"] > 4 for entry in files)
    assert (folder / "text-to-image-0.png").read_bytes().startswith(b"\x89PNG")
