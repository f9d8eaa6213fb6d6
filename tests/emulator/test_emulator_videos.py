"""Video outputs: a real H.264 MP4 with PyAV (in the dev extras), the placeholder without it."""

from __future__ import annotations

import io
import struct
import sys
from typing import Any, List, Tuple

import av
import pytest
import requests
from emu_helpers import KLING, submit, wait_status
from PIL import Image, ImageStat

from higgsfield_client.testing import Emulator


def _boxes(data: bytes) -> List[Tuple[bytes, int]]:
    """The top-level MP4 boxes of ``data``: (type, size), in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        (size,) = struct.unpack(">I", data[offset : offset + 4])
        boxes.append((data[offset + 4 : offset + 8], size))
        if size < 8:
            break
        offset += size
    assert offset == len(data), "the boxes must cover the file exactly"
    return boxes


def _video_of(http: requests.Session, emu: Emulator, arguments: Any) -> bytes:
    rid = submit(http, emu, arguments, model=KLING).json()["request_id"]
    body = wait_status(http, emu, rid)
    response = requests.get(body["video"]["url"], timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "video/mp4"
    return response.content


def _upload(http: requests.Session, emu: Emulator, picture: Image.Image) -> str:
    encoded = io.BytesIO()
    picture.save(encoded, format="PNG")
    slot = http.post(f"{emu.base_url}/files/generate-upload-url", json={"content_type": "image/png"}).json()
    headers = slot["upload_headers"]
    put = requests.put(slot["upload_url"], data=encoded.getvalue(), headers=headers, timeout=10)
    assert put.status_code == 200
    return str(slot["public_url"])


def test_a_video_is_an_h264_mp4_that_browsers_play(emu: Emulator, http: requests.Session) -> None:
    assert emu.video_encoder is not None
    assert emu.video_encoder.startswith("H.264 (PyAV ")
    data = _video_of(http, emu, {"prompt": "x", "image_url": "https://example.com/not-here.png"})
    kinds = [kind for kind, _ in _boxes(data)]
    assert kinds[0] == b"ftyp"
    # The index (moov) before the data (mdat): a browser starts playing before the end arrives.
    assert kinds.index(b"moov") < kinds.index(b"mdat")
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        frames = list(container.decode(video=0))
    assert len(frames) == 72  # three seconds at 24 frames per second
    assert (frames[0].width, frames[0].height) == (256, 256)  # no aspect ratio asked: square
    first, last = frames[0].to_image(), frames[-1].to_image()
    assert ImageStat.Stat(first).mean != ImageStat.Stat(last).mean  # it moves


def test_a_video_zooms_into_the_input_picture_uploaded_to_the_emulator(
    emu: Emulator, http: requests.Session
) -> None:
    picture = Image.new("RGB", (300, 150), (200, 30, 30))  # red, twice as wide as high
    url = _upload(http, emu, picture)
    data = _video_of(http, emu, {"prompt": "x", "image_url": url})
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0)).to_image()
    assert frame.size == (256, 128)  # the picture's proportions, on the long side asked for
    red, green, blue = ImageStat.Stat(frame).mean
    assert red > 150
    assert max(green, blue) < 80


def test_without_pyav_a_video_is_the_placeholder(
    emu: Emulator, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now fails, as when not installed
    assert emu.video_encoder is None
    data = _video_of(http, emu, {"prompt": "x", "image_url": "u"})
    assert [kind for kind, _ in _boxes(data)] == [b"ftyp", b"free", b"mdat"]
    assert len(data) < 4096
    monkeypatch.undo()
    with pytest.raises(av.error.InvalidDataError):
        av.open(io.BytesIO(data))  # no decoder can read it
