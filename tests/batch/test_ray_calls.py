"""HiggsfieldGenerate called in this process, as a Ray actor calls it, against the emulator over
loopback: statuses, keys across calls, capacity, downloads, timeouts and account errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from client.harness import FAST_RETRY

from higgsfield_client import (
    AuthenticationError,
    CredentialsMissedError,
    InvalidArgumentError,
    PollPolicy,
)
from higgsfield_client.ray import HiggsfieldGenerate, idempotency_key
from higgsfield_client.testing import Emulator

from .conftest import MODEL

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Factory = Callable[..., HiggsfieldGenerate]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0.02, run_time=0.05, seed=5) as emu:
        yield emu


@pytest.fixture
def generate(emulator: Emulator) -> Iterator[Factory]:
    """Makes HiggsfieldGenerate callables on the emulator (polling fast); closes them after."""
    made: list[HiggsfieldGenerate] = []

    def make(**options: Any) -> HiggsfieldGenerate:
        options = {
            "batch_name": "calls",
            "model": MODEL,
            "api_key": emulator.api_key,
            "base_url": emulator.base_url,
            "poll": PollPolicy(initial_delay=0.02, max_delay=0.05),
            **options,
        }
        made.append(HiggsfieldGenerate(**options))
        return made[-1]

    yield make
    for callable_ in made:
        callable_.close()


def _batch(prompts: list[str], *, start: int = 0) -> dict[str, Any]:
    """A batch in Ray's default format: ids ``row-N``, arguments as JSON texts."""
    return {
        "id": np.array([f"row-{n}" for n in range(start, start + len(prompts))]),
        "arguments": np.array([json.dumps({"prompt": prompt}) for prompt in prompts], dtype=object),
    }


def _submits(emulator: Emulator) -> list[Any]:
    return [entry for entry in emulator.journal if entry.route == "submit"]


def test_each_row_ends_with_its_own_status_beside_its_input_columns(
    generate: Factory, emulator: Emulator
) -> None:
    batch = _batch(["a lighthouse", "x [fail]", "x [nsfw]", "a harbour"])
    batch["model"] = np.array([None, None, None, "no/such-model"], dtype=object)
    answered = generate()(batch)

    assert answered["id"] is batch["id"]
    assert answered["arguments"] is batch["arguments"]
    assert answered["status"] == ["completed", "failed", "nsfw", "rejected"]
    assert answered["error"][0] is None
    assert "asked for a failure" in answered["error"][1]
    assert answered["error"][2] == "rejected by moderation (nsfw)"
    assert answered["error"][3].startswith("NotFoundError: ")
    assert answered["request_id"][3] is None
    (url,) = answered["output_urls"][0]
    assert url.startswith(emulator.base_url)
    assert answered["output_urls"][1:] == [[], [], []]
    assert "output_bytes" not in answered
    assert "output_paths" not in answered
    keys = [job.idempotency_key for job in emulator.jobs()]
    assert sorted(keys) == sorted(idempotency_key("calls", f"row-{n}") for n in range(3))


def test_the_same_batch_name_finds_the_same_jobs_on_reused_connections_and_a_new_name_makes_new_ones(
    generate: Factory, emulator: Emulator
) -> None:
    generator = generate(concurrency=4)
    first = generator(_batch(["a", "b", "c", "d [fail]"]))
    connections = {entry.connection_id for entry in emulator.journal}
    emulator.clear_journal()

    again = generator(_batch(["a", "b", "c", "d [fail]"]))
    assert again["request_id"] == first["request_id"]
    assert again["status"] == ["completed"] * 3 + ["failed"]  # a failure stays: a new name retries it
    assert {entry.connection_id for entry in emulator.journal} <= connections
    assert len(emulator.jobs()) == 4

    renamed = generate(batch_name="calls-2")(_batch(["a", "b", "c", "d"]))
    assert renamed["status"] == ["completed"] * 4
    assert not set(renamed["request_id"]) & set(first["request_id"])
    assert len(emulator.jobs()) == 8


def test_a_full_account_is_waited_out_and_each_row_submitted_again_with_its_key(
    generate: Factory, emulator: Emulator
) -> None:
    emulator.script_fault("submit", "429", count=3)
    answered = generate(concurrency=2)(_batch([f"picture {n}" for n in range(6)]))

    assert answered["status"] == ["completed"] * 6
    submits = _submits(emulator)
    assert [entry.status for entry in submits].count(429) == 3
    per_key = Counter(entry.headers["Idempotency-Key"] for entry in submits)
    assert sorted(per_key) == sorted(idempotency_key("calls", f"row-{n}") for n in range(6))
    assert sum(per_key.values()) == 9
    assert len(emulator.jobs()) == 6


def test_bytes_downloads_are_the_whole_outputs(generate: Factory, emulator: Emulator) -> None:
    batch = _batch(["one"])
    batch["arguments"][0] = json.dumps({"prompt": "four", "batch_size": 4})
    answered = generate(download="bytes")(batch)
    (job,) = emulator.jobs()
    stored = emulator.storage_dir / "outputs" / job.request_id
    assert answered["output_bytes"] == [[(stored / f"{n}.png").read_bytes() for n in range(4)]]
    assert all(data.startswith(PNG_SIGNATURE) for data in answered["output_bytes"][0])


def test_file_outputs_appear_whole_or_not_at_all_and_a_later_call_finishes_them(
    generate: Factory, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "row-0").mkdir(parents=True)
    (out / "row-0" / "0.png.0badcafe.part").write_bytes(b"left by a killed attempt")
    emulator.script_fault("output", "truncate", count=FAST_RETRY.max_attempts)
    generator = generate(download=out.as_uri(), concurrency=1, retry=FAST_RETRY)

    broken = generator(_batch(["a"]))
    assert broken["status"] == ["unfinished"]
    assert broken["error"][0].startswith("download: ")
    assert broken["output_paths"] == [[]]
    assert list(out.rglob("*")) == [out / "row-0"]  # the stale part file went, no new one stayed

    done = generator(_batch(["a"]))
    assert done["status"] == ["completed"]
    assert done["output_paths"] == [[f"{out.as_uri()}/row-0/0.png"]]
    assert (out / "row-0" / "0.png").read_bytes().startswith(PNG_SIGNATURE)
    downloads = [entry for entry in emulator.journal if entry.route == "output"]
    assert generator(_batch(["a"]))["output_paths"] == done["output_paths"]
    assert [entry for entry in emulator.journal if entry.route == "output"] == downloads  # not again


def test_a_job_past_job_timeout_is_unfinished_and_a_later_call_waits_for_the_same_job(
    generate: Factory, emulator: Emulator
) -> None:
    emulator.script_next_job(run_time=0.6)
    first = generate(job_timeout=0.2)(_batch(["slow"]))
    assert first["status"] == ["unfinished"]
    assert "run the batch again" in first["error"][0]

    later = generate()(_batch(["slow"]))
    assert later["status"] == ["completed"]
    assert later["request_id"] == first["request_id"]


def test_a_refused_account_raises_out_of_the_batch(generate: Factory, emulator: Emulator) -> None:
    with pytest.raises(AuthenticationError):
        generate(api_key="wrong:key")(_batch(["a", "b", "c"]))
    assert emulator.jobs() == []


def test_missing_credentials_and_bad_options_are_refused_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CredentialsMissedError):
        HiggsfieldGenerate(batch_name="b")
    for options in (
        {"batch_name": ""},
        {"batch_name": "a\0b"},
        {"batch_name": "b", "concurrency": 0},
        {"batch_name": "b", "job_timeout": 0},
        {"batch_name": "b", "download": "relative/folder"},
    ):
        with pytest.raises(InvalidArgumentError):
            HiggsfieldGenerate(api_key="id:secret", **options)


def test_close_ends_the_loop_and_may_be_called_again(generate: Factory) -> None:
    generator = generate()
    generator.close()
    generator.close()
    with pytest.raises(RuntimeError):
        generator(_batch(["a"]))
