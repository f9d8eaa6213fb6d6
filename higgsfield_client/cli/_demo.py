"""``higgsfield demo``: a short tour of the SDK against the embedded emulator (or the real API)."""

from __future__ import annotations

import contextlib
import errno
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple

from higgsfield_proto import PollPolicy

from .._calls import output_urls
from .._download import file_name_from_url
from .._sync import SyncClient
from ._output import Console, StatusLine, Transfers, format_size, write_json

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
) -> Iterator[Tuple[Optional[str], Optional[str], Optional[PollPolicy], str, Optional[str]]]:
    """Where the tour runs: (base URL, key, poll policy, its name, what its videos are)."""
    if live:
        yield base_url, api_key, None, "the Higgsfield API", None
        return
    from ..testing import Emulator

    # Full-size outputs: the demo's files are worth looking at.
    with Emulator(queue_time=0.5, run_time=1.5, full_size_images=True) as emulator:
        where = f"the embedded emulator at {emulator.base_url}"
        encoder = emulator.video_encoder
        video = (
            f"a playable MP4, {encoder}"
            if encoder
            else "a placeholder MP4 that players do not open (pip install 'higgsfield-client[video]' "
            "for a playable one)"
        )
        yield emulator.base_url, emulator.api_key, EMULATOR_POLL, where, video


def _jobs(image_url: str) -> List[Tuple[str, str, Dict[str, Any]]]:
    return [
        ("text-to-image", IMAGE_MODEL, {"prompt": "A quiet alpine lake at sunrise", "aspect_ratio": "16:9"}),
        ("image-to-video", VIDEO_MODEL, {"prompt": "slow dolly in", "image_url": image_url, "duration": 5}),
    ]


def _refuse_earlier_run(output: Path) -> None:
    """Stop before anything runs when ``output`` holds files (an earlier run's, or anyone's)."""
    if output.is_dir() and any(output.iterdir()):
        raise FileExistsError(errno.EEXIST, "the folder holds files", str(output))


def run_demo(
    console: Console,
    *,
    live: bool = False,
    output: Path = Path("demo-output"),
    overwrite: bool = False,
    base_url: Optional[str] = None,
    api_key: Optional[str] = None,
) -> int:
    """Upload a picture, run text-to-image and image-to-video, download the outputs, summarise,
    on ``console``'s stderr (drawn with rich on a terminal); under ``--json`` the summary is also
    a JSON document on stdout.

    Against the embedded emulator unless ``live``; then ``base_url`` and ``api_key`` (or the
    environment) name the API. Returns the process exit code.

    Raises:
        FileExistsError: ``output`` holds files and ``overwrite`` is off (nothing is run).
        HiggsfieldError: as the client does (CredentialsMissedError without credentials).
    """
    if not overwrite:
        _refuse_earlier_run(output)
    output.mkdir(parents=True, exist_ok=True)
    summary: List[str] = []
    document: Dict[str, Any] = {"output": str(output), "jobs": []}
    started = time.monotonic()
    with _endpoint(live, base_url, api_key) as (url, key, poll, where, video):
        console.note(f"Higgsfield SDK demo against {where}", style="bold")
        document["endpoint"] = where
        with SyncClient(base_url=url, api_key=key, poll=poll) as client:
            tick = time.monotonic()
            bars = Transfers(console)
            try:
                image_url = client.upload_image(_input_picture(), "png", progress=bars.bar("input picture"))
            finally:
                bars.close()
            took = time.monotonic() - tick
            summary.append(f"uploaded the input picture in {took:.2f} s -> {image_url}")
            document["upload"] = {"url": image_url, "seconds": round(took, 3)}
            for label, model, arguments in _jobs(image_url):
                tick = time.monotonic()
                line = StatusLine(console, label, state="submitting")
                try:
                    result = client.subscribe(model, arguments, on_queue_update=line.update)
                finally:
                    line.close()
                files: List[Path] = []
                bars = Transfers(console)
                try:
                    for output_url in output_urls(result):
                        target = output / f"{label}-{file_name_from_url(output_url)}"
                        bar = bars.bar(target.name)
                        files.append(client.download(output_url, target, progress=bar, overwrite=overwrite))
                finally:
                    bars.close()
                took = time.monotonic() - tick
                shown = ", ".join(f"{path} ({format_size(path.stat().st_size)})" for path in files)
                summary.append(f"{label}: request {result.request_id} in {took:.2f} s -> {shown}")
                document["jobs"].append(
                    {
                        "label": label,
                        "model": model,
                        "request_id": result.request_id,
                        "seconds": round(took, 3),
                        "files": [{"path": str(path), "bytes": path.stat().st_size} for path in files],
                    }
                )
        if video is not None:
            summary.append(f"the video is {video}")
            document["video"] = video
    total = time.monotonic() - started
    console.note("\nSummary", style="bold")
    for entry in summary:
        console.note(f"  {entry}")
    console.note(f"  total {total:.2f} s; outputs in {output}/")
    if console.json:
        document["seconds"] = round(total, 3)
        write_json(console.out, document)
    return 0
