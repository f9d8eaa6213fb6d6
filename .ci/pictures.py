"""``make pictures``: the documentation's pictures, made by running what they show.

Into ``docs/pictures/`` (or the folder given):

- ``demo.svg``: ``higgsfield-sansio demo`` as a terminal shows it, recorded with rich's console;
- ``batch.svg``: a small ``higgsfield-sansio batch`` (one item failing on purpose), then ``higgsfield-sansio
  batch status``, against an emulator in this process;
- ``demo-image.png`` and ``demo-video.mp4``: the image and the video the demo downloaded (the
  video is the emulator's real MP4 when PyAV is installed, as in the dev extras).

``tests/docs/test_pictures.py`` makes them again into a temporary folder and compares each SVG's
text, with what changes from run to run masked (`masked_text`), to the committed one: a change
to what the command line prints fails the test until ``make pictures`` is run.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
PICTURES = ROOT / "docs" / "pictures"
WIDTH = 100
BATCH_PROMPTS = [
    "a lighthouse at dusk",
    "a red fox in the snow",
    "a paper boat on a pond",
    "a city at night [fail]",
    "a field of sunflowers",
    "a snowy mountain hut",
]
MODEL = "higgsfield-ai/soul/standard"

# What changes between two runs of the same command: ids, ports, times, sizes, rates, dates.
_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<id>"),
    (re.compile(r"[0-9a-f]{32}"), "<hex>"),
    (re.compile(r"\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)/s"), "<rate>"),
    (re.compile(r"\d+"), "0"),
    (re.compile(r"━+"), "━"),
    (re.compile(r"\s+"), " "),
]
_SVG_TEXT = re.compile(
    r'<text [^>]*x="([\d.]+)" [^>]*textLength="([\d.]+)" clip-path="url\(#[\w-]+-line-(\d+)\)"[^>]*>'
    r"([^<]*)</text>"
)


def svg_lines(svg: str) -> List[str]:
    """The text of each line of a terminal recorded by rich as SVG, in order.

    rich draws each styled run as a ``<text>`` at its column's ``x`` and leaves blank runs out;
    the runs are put back at their columns.
    """
    lines: Dict[int, str] = {}
    for x, length, number, escaped in _SVG_TEXT.findall(svg):
        text = html.unescape(escaped).replace("\xa0", " ")
        column = round(float(x) / (float(length) / len(text))) if text else 0
        line = lines.get(int(number), "")
        lines[int(number)] = line.ljust(column) + text
    return [lines.get(index, "").rstrip() for index in range(max(lines, default=-1) + 1)]


def masked_lines(lines: Sequence[str]) -> List[str]:
    """``lines`` without what changes from run to run, and without the empty ones."""
    kept = []
    for line in lines:
        for pattern, replacement in _MASKS:
            line = pattern.sub(replacement, line)
        if line.strip():
            kept.append(line.strip())
    return kept


def masked_text(svg: str) -> str:
    """The text of a recording as one line, without what changes from run to run.

    Lines are joined: a long line wraps where its words fall, and a time one digit longer moves
    a word to the next line without changing what the picture says.
    """
    return " ".join(masked_lines(svg_lines(svg)))


def _offline(svg: str) -> str:
    # rich's SVG also names a web font on a CDN; the docs are read offline too.
    return re.sub(r",?\s*url\(\"https://[^)]*\) format\(\"woff2?\"\)", "", svg)


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run with ``folder`` as the working directory, so that the paths shown are short."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables meanwhile (the emulator's address and key, as a user would)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _record(argvs: Sequence[Sequence[str]], into: Path, title: str) -> None:
    """Run each command line with its live output drawn on a recording console; save the SVG."""
    from rich.console import Console

    from higgsfield_client.cli import main

    # Not a terminal: rich then draws each live view once, as it ends, which is what a picture
    # of the finished command shows. Colours are kept.
    screen = Console(record=True, file=io.StringIO(), width=WIDTH, color_system="truecolor")
    for argv in argvs:
        screen.print(f"$ higgsfield-sansio {' '.join(argv)}", style="bold", markup=False, highlight=False)
        code = main(list(argv), screen=screen)
        if code not in (0, 4):  # 4: the batch's item that fails on purpose
            shown = screen.export_text(clear=False)
            raise RuntimeError(f"higgsfield-sansio {' '.join(argv)} exited {code}:\n{shown}")
    into.write_text(_offline(screen.export_svg(title=title, unique_id=into.stem)), encoding="utf-8")


def make_pictures(into: Path) -> List[Path]:
    """Make every picture into ``into``; returns their paths."""
    from higgsfield_client.testing import Emulator

    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="higgsfield-pictures-") as scratch, _inside(Path(scratch)):
        _record([["demo", "--output", "out"]], into / "demo.svg", "higgsfield-sansio demo")
        shutil.copyfile("out/text-to-image-0.png", into / "demo-image.png")
        shutil.copyfile("out/image-to-video-video.mp4", into / "demo-video.mp4")
        Path("postcards.jsonl").write_text(
            "".join(json.dumps({"id": f"card-{n}", "arguments": {"prompt": p}}) + "\n"
                    for n, p in enumerate(BATCH_PROMPTS, start=1))
        )
        with Emulator(queue_time=0.3, run_time=1.0, timing_jitter=0.5, seed=1) as emulator, _environment(
            HF_KEY=emulator.api_key, HIGGSFIELD_BASE_URL=emulator.base_url
        ):
            batch = ["batch", "postcards.jsonl", "--model", MODEL, "--concurrency", "3"]
            batch += ["--poll-interval", "0.2"]
            steps = [batch, ["batch", "status", "postcards-out"]]
            _record(steps, into / "batch.svg", "higgsfield-sansio batch")
    return [into / name for name in ("demo.svg", "demo-image.png", "demo-video.mp4", "batch.svg")]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Make the pictures into ``--into`` (default docs/pictures)."""
    parser = argparse.ArgumentParser(prog="pictures.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, default=PICTURES, help="where to write (default docs/pictures)")
    options = parser.parse_args(argv)
    for path in make_pictures(options.into.resolve()):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
