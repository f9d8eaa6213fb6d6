"""Uploads end to end: slot, then a PUT without credentials carrying exactly the slot's headers."""

from __future__ import annotations

import hashlib
import io
import urllib.request
from pathlib import Path
from typing import Any, List, Optional, Tuple

import pytest
from PIL import Image

from higgsfield_client import InvalidArgumentError

from .harness import Harness


def _fetch(url: str) -> Tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read(), answer.headers["Content-Type"]


def _puts(harness: Harness) -> List[Any]:
    return [entry for entry in harness.emulator.journal if entry.route == "put"]


def test_upload_file_streams_the_file_with_its_type(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    payload = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: several chunks
    path.write_bytes(payload)
    progress: List[Tuple[int, Optional[int]]] = []

    async def scenario(client: Any) -> str:
        return await client.upload_file(path, progress=lambda sent, total: progress.append((sent, total)))

    url = harness.run(scenario)
    body, content_type = _fetch(url)
    assert hashlib.sha256(body).digest() == hashlib.sha256(payload).digest()
    assert content_type == "video/mp4"
    assert progress[0] == (0, len(payload))
    assert progress[-1] == (len(payload), len(payload))
    assert len(progress) > 3
    (put,) = _puts(harness)
    assert put.body_length == len(payload)


def test_the_put_carries_the_slot_headers_and_no_credentials(harness: Harness) -> None:
    async def scenario(client: Any) -> str:
        return await client.upload(b"\x89PNG fake", "image/png")

    harness.run(scenario)
    secret = harness.emulator.api_key.split(":", 1)[1]
    api_entries = [e for e in harness.emulator.journal if e.route in ("upload-url",)]
    assert api_entries
    assert all(secret in e.headers["authorization"] for e in api_entries)
    (put,) = _puts(harness)
    assert "authorization" not in put.headers
    assert all(secret not in value for value in put.headers.values())
    assert put.headers["content-type"] == "image/png"
    assert any(name.lower().startswith("x-amz-") for name in put.headers)
    assert put.status == 200


@pytest.mark.parametrize("style", ["missing", "empty", "lowercase"])
def test_odd_upload_header_shapes_still_upload(harness: Harness, style: str) -> None:
    harness.emulator.upload_headers_style = style

    async def scenario(client: Any) -> str:
        return await client.upload("plain text becomes UTF-8 ✓", "image/jpeg")

    url = harness.run(scenario)
    assert _fetch(url)[0] == "plain text becomes UTF-8 ✓".encode()


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("jpeg", "image/jpeg"),
        ("jpg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("gif", "image/gif"),
    ],
)
def test_upload_image_encodes_and_types_each_format(harness: Harness, fmt: str, content_type: str) -> None:
    image = Image.new("RGBA", (24, 16), (200, 30, 30, 255))

    async def scenario(client: Any) -> str:
        return await client.upload_image(image, format=fmt)

    body, served_type = _fetch(harness.run(scenario))
    assert served_type == content_type
    assert Image.open(io.BytesIO(body)).size == (24, 16)


def test_a_binary_file_object_is_streamed_from_its_position(harness: Harness, tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    path.write_bytes(b"skip" + b"image bytes" * 1000)

    async def scenario(client: Any) -> str:
        with path.open("rb") as file:
            file.seek(4)
            return await client.upload(file, "image/png")

    assert _fetch(harness.run(scenario))[0] == b"image bytes" * 1000


def test_unknown_extensions_and_formats_are_refused_before_any_request(
    harness: Harness, tmp_path: Path
) -> None:
    path = tmp_path / "notes.unknownext"
    path.write_bytes(b"x")

    async def scenario(client: Any) -> None:
        with pytest.raises(InvalidArgumentError):
            await client.upload_file(path)
        with pytest.raises(InvalidArgumentError):
            await client.upload_image(Image.new("RGB", (2, 2)), format="bmp")
        with pytest.raises(InvalidArgumentError):
            await client.upload_file(tmp_path / "missing.png")

    harness.run(scenario)
    assert harness.emulator.journal == []


class _Pipe(io.RawIOBase):
    """A stream that cannot seek and has no file descriptor: what a pipe or a socket looks like."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("kind", ["bytesio", "pipe"])
def test_file_objects_without_a_descriptor_go_with_their_length_and_survive_a_retry(
    harness: Harness, kind: str
) -> None:
    # Storage behind a presigned URL refuses a PUT without Content-Length (411), and a
    # repeated PUT needs the bytes again: both kinds must arrive whole, even after a 503.
    payload = b"\x89PNG " + bytes(range(256)) * 5000
    harness.emulator.script_fault("put", "503")
    source: Any = io.BytesIO(payload) if kind == "bytesio" else io.BufferedReader(_Pipe(payload))
    if kind == "bytesio":
        source.read(0)

    async def scenario(client: Any) -> str:
        return await client.upload(source, "image/png")

    body, _ = _fetch(harness.run(scenario))
    assert body == payload
    puts = _puts(harness)
    assert [put.status for put in puts] == [503, 200]
    assert all(put.headers.get("content-length") == str(len(payload)) for put in puts)
