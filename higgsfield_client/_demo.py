"""``higgsfield demo``: a short tour of the SDK against the embedded emulator (or the real API)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator, List, Optional, TextIO, Tuple
from urllib.parse import urlsplit

from ._statuses import Status
from ._sync import SyncClient

IMAGE_MODEL = "higgsfield-ai/soul/standard"
VIDEO_MODEL = "kling-video/v2.6/pro/image-to-video"


class _Progress:
    """A one-line live status on ``stream`` (rewritten in place on a terminal)."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream, self.label, self.started = stream, label, time.monotonic()
        self.live = stream.isatty()

    def update(self, status: Status) -> None:
        line = f"  {self.label}: {status.state:<11} {time.monotonic() - self.started:5.1f} s"
        if self.live:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.live:
            self.stream.write("\n")


def _input_picture() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (512, 320), (18, 24, 48))
    draw = ImageDraw.Draw(image)
    for step in range(0, 512, 32):
        draw.ellipse((step, 160 - step // 4, step + 90, 250 - step // 4), outline=(255, 140, 40), width=3)
    draw.text((20, 20), "higgsfield demo input", fill=(240, 240, 240))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _download(url: str, folder: Path, prefix: str) -> Path:
    name = os.path.basename(urlsplit(url).path) or "output"
    target = folder / f"{prefix}-{name}"
    with urllib.request.urlopen(url, timeout=60) as answer, open(target, "wb") as file:
        shutil.copyfileobj(answer, file)
    return target


@contextlib.contextmanager
def _endpoint(live: bool) -> Iterator[Tuple[Optional[str], Optional[str], str]]:
    if live:
        yield None, None, "the Higgsfield API"
        return
    from .testing import Emulator

    with Emulator(queue_time=0.5, run_time=1.5) as emulator:
        yield emulator.base_url, emulator.api_key, f"the embedded emulator at {emulator.base_url}"


def run_demo(*, live: bool = False, output: Path = Path("demo-output"), stream: TextIO = sys.stderr) -> int:
    """Upload a picture, run text-to-image and image-to-video, download the outputs, summarise.

    Returns the process exit code.
    """
    output.mkdir(parents=True, exist_ok=True)
    summary: List[str] = []
    started = time.monotonic()
    with _endpoint(live) as (base_url, api_key, where):
        print(f"Higgsfield SDK demo against {where}", file=stream)
        with SyncClient(base_url=base_url, api_key=api_key) as client:
            picture = _input_picture()
            tick = time.monotonic()
            image_url = client.upload(picture, "image/png")
            summary.append(
                f"uploaded input picture ({len(picture)} bytes) in {time.monotonic() - tick:.2f} s"
            )
            jobs: List[Tuple[str, str, Any]] = [
                (
                    "text-to-image",
                    IMAGE_MODEL,
                    {"prompt": "A quiet alpine lake at sunrise", "aspect_ratio": "16:9"},
                ),
                (
                    "image-to-video",
                    VIDEO_MODEL,
                    {"prompt": "slow dolly in", "image_url": image_url, "duration": 5},
                ),
            ]
            for label, model, arguments in jobs:
                progress = _Progress(stream, label)
                tick = time.monotonic()
                result = client.subscribe(model, arguments, on_queue_update=progress.update)
                progress.done()
                urls = list(result.images) + ([result.video] if result.video else [])
                files = [_download(url, output, label) for url in urls]
                summary.append(
                    f"{label}: request {result.request_id} in {time.monotonic() - tick:.2f} s -> "
                    + ", ".join(str(path) for path in files)
                )
    print("\nSummary", file=stream)
    for line in summary:
        print(f"  {line}", file=stream)
    print(f"  total {time.monotonic() - started:.2f} s; outputs in {output}/", file=stream)
    return 0
