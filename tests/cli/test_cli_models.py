"""``higgsfield models``: the catalog listed, one model shown, and refreshed from the published
OpenAPI document served by the emulator (a drifted one, a broken one)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterator, List

import pytest
from models.test_refresh import DRIFT, SOUL, drifted, url_of

from higgsfield_client import HiggsfieldArgumentWarning
from higgsfield_client.cli import main
from higgsfield_client.models import CACHE_DIR_ENV, current_catalog
from higgsfield_client.testing import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0, run_time=0.01) as emu:
        yield emu


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache file, in a directory of this test's own."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "published-openapi.json"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", HiggsfieldArgumentWarning)
        code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_the_drift_and_refuses_a_broken_document(
    emulator: Emulator, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = url_of(emulator)
    emulator.serve_openapi(None)
    code, out, _ = _cli(capsys, "models", "refresh", "--from", url)
    assert code == 0
    assert out.startswith("no change from the API's published OpenAPI document")
    emulator.serve_openapi(drifted())
    code, out, err = _cli(capsys, "models", "refresh", "--from", url)
    assert code == 0
    assert [line.strip() for line in out.splitlines()[1:-1]] == DRIFT
    assert str(cache) in err
    code, out, _ = _cli(capsys, "--json", "models", "refresh", "--from", url)
    assert json.loads(out)["drift"] == []
    before = cache.read_bytes()
    emulator.serve_openapi(b'{"openapi": "3.1.0"}')
    code, out, err = _cli(capsys, "models", "refresh", "--from", url)
    assert (code, out) == (1, "")
    assert "refused the document" in err
    assert "has no paths" in err
    assert cache.read_bytes() == before
    emulator.serve_openapi(None)


def test_models_lists_shows_and_filters(capsys: pytest.CaptureFixture[str], cache: Path) -> None:
    code, out, _ = _cli(capsys, "models")
    listed: List[str] = out.splitlines()
    assert code == 0
    assert len(listed) == len(current_catalog().models)
    assert listed[0].startswith("higgsfield-ai/dop/turbo  video  6.5 credits ($0.40625) per 5 s of video")
    assert any(line.endswith("(arguments unchecked)") for line in listed)
    code, out, _ = _cli(capsys, "--json", "models", "--kind", "video")
    videos = json.loads(out)
    assert videos
    assert {model["kind"] for model in videos} == {"video"}
    assert videos[0]["price"] == {"credits": "6.5", "usd": "0.40625", "per": "5 s of video"}
    code, out, _ = _cli(capsys, "models", "show", SOUL)
    assert code == 0
    assert "price: 1.5 credits ($0.09375) per image" in out
    assert "  resolution: string; optional; '2K' or '4K'; default \"2K\"" in out.splitlines()
    assert "  num_images: integer; optional; 1 to 4; default 1" in out.splitlines()
    code, out, _ = _cli(capsys, "--json", "models", "show", "alibaba/qwen-image-3/edit")
    shown = json.loads(out)
    image_urls = next(argument for argument in shown["arguments"] if argument["name"] == "image_urls")
    assert image_urls["type"] == "array of string"
    assert image_urls["required"]
    code, out, _ = _cli(capsys, "models", "show", "bytedance/seedream/v4/edit")
    assert "arguments: not known" in out
    code, out, err = _cli(capsys, "models", "show", "nano_banana_2")
    assert (code, out) == (2, "")
    assert "nano-banana" in err


def _drawn(*argv: str) -> tuple[int, str]:
    import io
    import re

    from rich.console import Console as Screen

    screen = Screen(record=True, file=io.StringIO(), width=200)
    code = main(list(argv), screen=screen)
    return code, re.sub(r"[ \t]+", " ", screen.export_text())


def test_on_a_terminal_the_models_and_their_arguments_are_tables(cache: Path) -> None:
    code, text = _drawn("models", "--kind", "video")
    assert code == 0
    assert "models of the catalog of 2026-12-07" in text
    row = "│ higgsfield-ai/dop/turbo │ video │ prompt, image_url │ 6.5 credits ($0.40625) per 5 s of video │"
    assert row in text
    assert "higgsfield-ai/soul/standard" not in text
    code, text = _drawn("models", "show", SOUL)
    assert code == 0
    assert "│ resolution │ string │ │ '2K' or '4K' │ \"2K\" │" in text
    assert "│ prompt │ string │ yes │ │ │" in text
