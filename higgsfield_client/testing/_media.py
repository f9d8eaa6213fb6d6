"""Output files the emulator serves: Pillow images sized from the arguments, and a tiny MP4."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Tuple

# Keep outputs small by default so that tests which download them stay fast.
SMALL_LONG_SIDE = 256
_DEFAULT_LONG_SIDE = 1024
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")
_RESOLUTION = re.compile(r"^\s*(\d+)\s*([pPkK])\s*$")
# (Pillow format, content type, file extension) per requested output format.
_FORMATS = {
    "png": ("PNG", "image/png", "png"),
    "jpg": ("JPEG", "image/jpeg", "jpg"),
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "webp": ("WEBP", "image/webp", "webp"),
}
VIDEO_FORMAT = ("MP4", "video/mp4", "mp4")


def image_format(arguments: Mapping[str, Any]) -> Tuple[str, str, str]:
    """(Pillow format, content type, extension) asked by ``output_format``; PNG by default."""
    wanted = arguments.get("output_format")
    if isinstance(wanted, str) and wanted.lower() in _FORMATS:
        return _FORMATS[wanted.lower()]
    return _FORMATS["png"]


def image_size(arguments: Mapping[str, Any], full_size: bool) -> Tuple[int, int]:
    """Width and height from ``aspect_ratio`` and ``resolution``.

    "720p"-style resolutions give the short side, "2k"-style ones the long side (k x 1024).
    Unless ``full_size``, the result is scaled down so its long side is at most 256 pixels.
    """
    ratio_w, ratio_h = 1.0, 1.0
    ratio = arguments.get("aspect_ratio")
    match = _RATIO.match(ratio) if isinstance(ratio, str) else None
    if match and float(match.group(1)) > 0 and float(match.group(2)) > 0:
        ratio_w, ratio_h = float(match.group(1)), float(match.group(2))
    resolution = arguments.get("resolution")
    res = _RESOLUTION.match(resolution) if isinstance(resolution, str) else None
    if res and res.group(2) in "pP":
        scale = int(res.group(1)) / min(ratio_w, ratio_h)
    else:
        long_side = int(res.group(1)) * 1024 if res else _DEFAULT_LONG_SIDE
        scale = long_side / max(ratio_w, ratio_h)
    if not full_size:
        scale = min(scale, SMALL_LONG_SIDE / max(ratio_w, ratio_h))
    return max(1, round(ratio_w * scale)), max(1, round(ratio_h * scale))


def render_image(size: Tuple[int, int], pil_format: str, token: str, label: str) -> bytes:
    """Encode a real image: a gradient coloured from ``token`` with ``label`` drawn on it.

    Raises:
        RuntimeError: Pillow is not installed.
    """
    try:
        from PIL import Image, ImageDraw, ImageOps
    except ImportError as exc:
        raise RuntimeError(
            "the emulator needs Pillow to make images: pip install 'higgsfield-client[pillow]'"
        ) from exc
    digest = hashlib.sha256(token.encode()).digest()
    gradient = Image.linear_gradient("L").resize(size)
    dark = (digest[0] // 2, digest[1] // 2, digest[2] // 2)
    light = (128 + digest[3] // 2, 128 + digest[4] // 2, 128 + digest[5] // 2)
    image = ImageOps.colorize(gradient, black=dark, white=light)
    ImageDraw.Draw(image).text((4, 4), label[:60], fill=(255, 255, 255))
    encoded = io.BytesIO()
    image.save(encoded, format=pil_format)
    return encoded.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


class Renderings:
    """Files made on their first request, then served from the file store.

    Rendering and file work run in a thread; concurrent first requests for one path share one
    rendering. Use it on one event loop.
    """

    def __init__(self) -> None:
        self._pending: Dict[Path, asyncio.Future[None]] = {}

    async def read(self, path: Path, render: Callable[[], bytes]) -> bytes:
        """The bytes of ``path``, written from ``render()`` first if the file does not exist.

        Raises:
            RuntimeError: ``render`` needs Pillow, which is not installed.
        """
        loop = asyncio.get_running_loop()
        pending = self._pending.get(path)
        if pending is None:
            pending = loop.run_in_executor(None, _make_once, path, render)
            self._pending[path] = pending
            pending.add_done_callback(lambda _: self._pending.pop(path, None))
        await asyncio.shield(pending)
        return await loop.run_in_executor(None, path.read_bytes)


def _make_once(path: Path, render: Callable[[], bytes]) -> None:
    if not path.exists():
        write_file(path, render())


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def fake_mp4(token: str) -> bytes:
    """A small file shaped like an MP4 (``ftyp``, ``free``, ``mdat`` boxes); not playable."""
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    free = _box(b"free", b"higgsfield emulator output")
    mdat = _box(b"mdat", hashlib.sha256(token.encode()).digest() * 64)
    return ftyp + free + mdat
