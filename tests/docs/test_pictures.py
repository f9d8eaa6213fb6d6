"""The docs' pictures (docs/pictures/) are current: made again, they show the same thing.

The terminal recordings' text is compared with what changes from run to run masked (ids,
ports, times, sizes, rates; lines joined, as a long one wraps where its words fall); the demo's
image and video by their kind and size. After a change to what the command line prints, ``make
pictures`` makes the committed ones current.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest
from PIL import Image

from .support import ROOT, load_script

COMMITTED = ROOT / "docs" / "pictures"
pictures = load_script(".ci/pictures.py", "pictures")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pictures made now, once for the module."""
    folder = tmp_path_factory.mktemp("pictures")
    pictures.make_pictures(folder)
    return folder


@pytest.mark.parametrize("name", ["demo.svg", "batch.svg", "mcp.svg"])
def test_the_terminal_pictures_show_what_the_commands_print_now(fresh: Path, name: str) -> None:
    committed = pictures.masked_text((COMMITTED / name).read_text())
    now = pictures.masked_text((fresh / name).read_text())
    assert len(committed) > 300
    assert now == committed, f"docs/pictures/{name} is out of date: run make pictures"


@pytest.mark.parametrize("name", ["demo.svg", "batch.svg", "mcp.svg"])
def test_the_terminal_pictures_load_no_web_font(fresh: Path, name: str) -> None:
    # The docs are read offline too: the recordings name no font on a CDN.
    for folder in (COMMITTED, fresh):
        svg = (folder / name).read_text()
        assert "@font-face" in svg
        assert "url(\"http" not in svg


def test_the_demo_image_is_the_png_the_demo_makes(fresh: Path) -> None:
    with Image.open(COMMITTED / "demo-image.png") as committed, Image.open(fresh / "demo-image.png") as now:
        assert committed.format == now.format == "PNG"
        assert committed.size == now.size


def test_the_demo_video_is_an_mp4_a_browser_plays(fresh: Path) -> None:
    shapes = []
    for folder in (COMMITTED, fresh):
        data = (folder / "demo-video.mp4").read_bytes()
        assert data[4:8] == b"ftyp"
        assert 0 < data.index(b"moov") < data.index(b"mdat")
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            frame = next(container.decode(video=0))
            codec = stream.codec_context
            shapes.append((codec.name, codec.pix_fmt, frame.width, frame.height))
    assert shapes[0] == shapes[1]
    assert shapes[0][:2] == ("h264", "yuv420p")


def test_the_masks_hide_only_what_changes_between_runs() -> None:
    line = (
        "  text-to-image: request 0114e3fe-9eea-4fe7-bc2c-9fa5e87ade09 in 2.51 s -> out/0.png "
        "(2.2 KiB) at http://127.0.0.1:46043/uploads/6f59c3521cdb421fadb7a4011c16e243.png 276.2 KiB/s ━━━"
    )
    assert pictures.masked_lines([line, "   "]) == [
        "text-to-image: request <id> in 0.0 s -> out/0.png (0.0 KiB) at "
        "http://0.0.0.0:0/uploads/<hex>.png <rate> ━"
    ]
    assert pictures.masked_lines(["2 completed"]) != pictures.masked_lines(["2 failed"])
