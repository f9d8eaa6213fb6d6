"""``higgsfield demo``: a short tour of the SDK against the embedded emulator (or the real API)."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, TextIO, Tuple

from higgsfield_proto import PollPolicy

from ._calls import output_urls
from ._cli_output import ByteBar, StatusLine, format_size
from ._download import file_name_from_url
from ._sync import SyncClient

if TYPE_CHECKING:
    from PIL import Image

IMAGE_MODEL = "higgsfield-ai/soul/standard"
VIDEO_MODEL = "kling-video/v2.6/pro/image-to-video"
# The emulator is local: checking often costs nothing and keeps the tour short.
EMULATOR_POLL = PollPolicy(initial_delay=0.25, multiplier=1.5, max_delay=0.5)


def _input_picture() -> Image.Image:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (512, 320), (18, 24, 48))
    draw = ImageDraw.Draw(image)
    for step in range(0, 512, 32):
        draw.ellipse((step, 160 - step // 4, step + 90, 250 - step // 4), outline=(255, 140, 40), width=3)
    draw.text((20, 20), "higgsfield demo input", fill=(240, 240, 240))
    return image


@contextlib.contextmanager
def _endpoint(
    live: bool, base_url: Optional[str], api_key: Optional[str]
) -> Iterator[Tuple[Optional[str], Optional[str], Optional[PollPolicy], str]]:
    if live:
        yield base_url, api_key, None, "the Higgsfield API"
        return
    from .testing import Emulator

    with Emulator(queue_time=0.5, run_time=1.5) as emulator:
        where = f"the embedded emulator at {emulator.base_url}"
        yield emulator.base_url, emulator.api_key, EMULATOR_POLL, where


def _jobs(image_url: str) -> List[Tuple[str, str, Dict[str, Any]]]:
    return [
        ("text-to-image", IMAGE_MODEL, {"prompt": "A quiet alpine lake at sunrise", "aspect_ratio": "16:9"}),
        ("image-to-video", VIDEO_MODEL, {"prompt": "slow dolly in", "image_url": image_url, "duration": 5}),
    ]


def run_demo(
    *,
    live: bool = False,
    output: Path = Path("demo-output"),
    stream: TextIO = sys.stderr,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
) -> int:
    """Upload a picture, run text-to-image and image-to-video, download the outputs, summarise.

    Against the embedded emulator unless ``live``; then ``base_url`` and ``api_key`` (or the
    environment) name the API. Returns the process exit code.

    Raises:
        HiggsfieldError: as the client does (CredentialsMissedError without credentials).
    """
    output.mkdir(parents=True, exist_ok=True)
    summary: List[str] = []
    started = time.monotonic()
    with _endpoint(live, base_url, api_key) as (url, key, poll, where):
        print(f"Higgsfield SDK demo against {where}", file=stream)
        with SyncClient(base_url=url, api_key=key, poll=poll) as client:
            tick = time.monotonic()
            bar = ByteBar(stream, "input picture")
            image_url = client.upload_image(_input_picture(), "png", progress=bar)
            bar.close()
            summary.append(f"uploaded the input picture in {time.monotonic() - tick:.2f} s -> {image_url}")
            for label, model, arguments in _jobs(image_url):
                tick = time.monotonic()
                line = StatusLine(stream, label)
                try:
                    result = client.subscribe(model, arguments, on_queue_update=line.update)
                finally:
                    line.close()
                files = []
                for output_url in output_urls(result):
                    target = output / f"{label}-{file_name_from_url(output_url)}"
                    bar = ByteBar(stream, target.name)
                    # The demo's own folder: each run replaces the files of the last one.
                    path = client.download(output_url, target, progress=bar, overwrite=True)
                    bar.close()
                    files.append(f"{path} ({format_size(path.stat().st_size)})")
                took = time.monotonic() - tick
                summary.append(f"{label}: request {result.request_id} in {took:.2f} s -> {', '.join(files)}")
    print("\nSummary", file=stream)
    for entry in summary:
        print(f"  {entry}", file=stream)
    print(f"  total {time.monotonic() - started:.2f} s; outputs in {output}/", file=stream)
    return 0
