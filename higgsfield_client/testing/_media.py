"""Output files the emulator serves: Pillow images sized from the arguments, and videos: a short
H.264 MP4 when PyAV is installed (the ``video`` extra), else a tiny placeholder no player opens."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

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
# A video is a slow zoom into one picture: short and small, so that making one stays cheap.
VIDEO_SECONDS = 3
VIDEO_FPS = 24
_VIDEO_ZOOM = 0.25
_VIDEO_LONG_SIDE_CAP = 640


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
            "the emulator needs Pillow to make images: pip install 'higgsfield-sansio[pillow]'"
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


def video_encoder() -> Optional[str]:
    """What makes the emulator's videos: ``"H.264 (PyAV <version>)"``, or None when PyAV or
    Pillow is not installed and videos are the placeholder that `fake_mp4` makes."""
    try:
        import av
        import PIL  # noqa: F401
    except ImportError:
        return None
    return f"H.264 (PyAV {av.__version__})"


def render_video(size: Tuple[int, int], token: str, label: str, picture: Optional[Path] = None) -> bytes:
    """A video for a job: three seconds of a slow zoom into ``picture`` (the job's input image),
    or into an image rendered from ``token`` and ``label``, as an MP4 that browsers play (H.264,
    yuv420p, the index before the data); the placeholder of `fake_mp4` without PyAV.

    Args:
        size: the frame size asked for (the long side is capped at 640 pixels); with a
            ``picture``, its long side, the picture's own proportions kept.
        token: what colours a rendered image, and the placeholder's bytes.
        label: the text drawn on a rendered image.
        picture: an image file to animate; None or an unreadable file renders one instead.
    """
    if video_encoder() is None:
        return fake_mp4(token)
    from PIL import Image, UnidentifiedImageError

    scale = min(1.0, _VIDEO_LONG_SIDE_CAP / max(size))
    width, height = max(2, round(size[0] * scale)), max(2, round(size[1] * scale))
    source: Optional[Image.Image] = None
    if picture is not None:
        try:
            with Image.open(picture) as opened:
                source = opened.convert("RGB")
        except (OSError, UnidentifiedImageError):
            source = None
    if source is not None:
        long_side = max(width, height)
        ratio = long_side / max(source.size)
        width, height = max(2, round(source.size[0] * ratio)), max(2, round(source.size[1] * ratio))
    # yuv420p halves the colour planes: H.264 needs even dimensions.
    width, height = width - width % 2, height - height % 2
    if source is None:
        source = Image.open(io.BytesIO(render_image((width, height), "PNG", token, label))).convert("RGB")
    return _encode_zoom(source.resize((width, height), Image.Resampling.LANCZOS))


def _encode_zoom(picture: Any) -> bytes:
    import av
    from PIL import Image

    width, height = picture.size
    frames = VIDEO_SECONDS * VIDEO_FPS
    # PyAV's stubs leave this one untyped.
    from_image: Callable[[Any], Any] = av.VideoFrame.from_image
    # "faststart" moves the index to the front in a second pass over a named file, so that a
    # browser can start playing before the whole file has arrived.
    with tempfile.TemporaryDirectory(prefix="higgsfield-video-") as scratch:
        path = Path(scratch) / "video.mp4"
        with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=VIDEO_FPS)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "26"}
            for index in range(frames):
                progress = index / (frames - 1)
                zoom = 1 + _VIDEO_ZOOM * progress * progress * (3 - 2 * progress)  # eased in and out
                crop_w, crop_h = width / zoom, height / zoom
                # Drift from the centre towards the upper right while zooming in.
                left = (width - crop_w) * (0.5 + 0.3 * progress)
                top = (height - crop_h) * (0.5 - 0.3 * progress)
                box = (left, top, left + crop_w, top + crop_h)
                frame = picture.resize((width, height), Image.Resampling.BICUBIC, box=box)
                container.mux(stream.encode(from_image(frame)))
            container.mux(stream.encode(None))
        return path.read_bytes()
