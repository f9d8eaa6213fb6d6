"""``higgsfield submit`` and ``higgsfield batch`` check arguments against the model catalog strictly
before anything is sent, unless ``--no-validate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List

import pytest

from higgsfield_client.testing import Emulator

from .conftest import FAST, MODEL, Run, lines


def submits(emulator: Emulator) -> List[Any]:
    return [entry for entry in emulator.journal if entry.route == "submit"]


@pytest.mark.parametrize(
    ("arguments", "told"),
    [
        (["prompt=a lake", "resolution=720p"], "resolution: Input should be '2K' or '4K'"),
        (["prompt=a lake", "batch_size=4"], "batch_size: Extra inputs are not permitted"),
        (["resolution=2K"], "prompt: Field required"),
    ],
)
def test_submit_refuses_what_the_catalog_refuses_and_sends_nothing(
    run: Run, higgsfield_emulator: Emulator, arguments: List[str], told: str
) -> None:
    ran = run("submit", MODEL, *arguments)
    assert (ran.code, ran.out) == (2, "")
    assert told in ran.err
    assert "nothing was sent" in ran.err
    assert "--no-validate" in ran.err
    assert submits(higgsfield_emulator) == []


def test_submit_no_validate_sends_as_it_is(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("submit", MODEL, "prompt=a lake", "batch_size=4", "--no-validate", "--wait", *FAST)
    assert ran.code == 0
    assert lines(ran.out)
    (sent,) = submits(higgsfield_emulator)
    assert sent.status == 200
    assert higgsfield_emulator.jobs()[0].arguments == {"prompt": "a lake", "batch_size": 4}


def test_submit_an_id_of_another_plane_is_a_usage_error(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("submit", "nano_banana_2", "prompt=x")
    assert ran.code == 2
    assert "subscription plane" in ran.err
    assert "nano-banana" in ran.err
    assert submits(higgsfield_emulator) == []


def _jobs(tmp_path: Path, *arguments: Any) -> Path:
    path = tmp_path / "jobs.jsonl"
    path.write_text("".join(json.dumps({"arguments": given}) + "\n" for given in arguments))
    return path


def test_batch_reports_every_bad_line_at_once_and_submits_nothing(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    source = _jobs(
        tmp_path,
        {"prompt": "good"},
        {"prompt": "a", "resolution": "720p"},
        {"prompt": "good too", "num_images": 2},
        {"num_images": 9, "colour": "red"},
    )
    ran = run("batch", source, "--model", MODEL, "--out", tmp_path / "out", *FAST)
    assert ran.code == 2
    assert "2 of 4 items do not match their model's schema; nothing was submitted" in ran.err
    reported = [line.strip() for line in ran.err.splitlines()[1:]]
    assert reported == [
        f"item 2 ({MODEL}): resolution: Input should be '2K' or '4K'",
        f"item 4 ({MODEL}): prompt: Field required",
        f"item 4 ({MODEL}): num_images: Input should be less than or equal to 4",
        f"item 4 ({MODEL}): colour: Extra inputs are not permitted",
    ]
    assert submits(higgsfield_emulator) == []
    assert not (tmp_path / "out").exists()


def test_batch_no_validate_leaves_the_judgement_to_the_api(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    source = _jobs(tmp_path, {"prompt": "good", "colour": "red"}, {"prompt": "a", "resolution": "720p"})
    ran = run("batch", source, "--model", MODEL, "--out", tmp_path / "out", "--no-validate", *FAST, "--json")
    assert ran.code == 4  # one item rejected by the API
    states = {json.loads(line)["id"]: json.loads(line)["status"] for line in lines(ran.out)}
    assert states == {"1": "completed", "2": "rejected"}
    assert len(submits(higgsfield_emulator)) == 2
