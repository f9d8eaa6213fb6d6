"""HiggsfieldGenerate on a real local Ray runtime: actors in worker processes reach the emulator
over loopback; one actor dies mid-batch and Ray's retry finishes the work without a second job."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest

from higgsfield_client import PollPolicy
from higgsfield_client.ray import HiggsfieldGenerate
from higgsfield_client.testing import Emulator

from .conftest import MODEL
from .ray_support import ray_process_state

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Ray's DataContext warns about its own deprecated fields when it copies itself.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")


@pytest.fixture(scope="module")
def ray() -> Iterator[ModuleType]:
    """A local Ray with two CPUs for this module, shut down after it."""
    with ray_process_state() as ray:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=100 * 1024 * 1024,
            log_to_driver=False,
            configure_logging=False,
        )
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield ray


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0.02, run_time=0.05, seed=7) as emu:
        yield emu


def _options(emulator: Emulator, **more: Any) -> dict[str, Any]:
    return {
        "batch_name": "ray-test",
        "model": MODEL,
        "api_key": emulator.api_key,
        "base_url": emulator.base_url,
        "poll": PollPolicy(initial_delay=0.02, max_delay=0.05),
        **more,
    }


def test_200_rows_over_two_actors_survive_a_killed_actor_with_one_job_each(
    ray: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    marker = str(tmp_path / "killed")

    # Defined here so that cloudpickle ships it by value: the workers cannot import this module.
    class DiesOnce(HiggsfieldGenerate):
        """Dies once, half-way through the batch that holds row-77: half its rows have jobs."""

        def __call__(self, batch: Any) -> Any:
            if "row-77" in list(batch["id"]) and not os.path.exists(marker):
                open(marker, "x").close()  # first: the retried batch must not die again
                super().__call__({name: values[: len(values) // 2] for name, values in batch.items()})
                os._exit(1)
            return super().__call__(batch)

    rows = [{"id": f"row-{n}", "arguments": f'{{"prompt": "picture {n}"}}'} for n in range(200)]
    dataset = ray.data.from_items(rows).map_batches(
        DiesOnce,
        batch_size=20,
        compute=ray.data.ActorPoolStrategy(size=2),
        fn_constructor_kwargs=_options(emulator, concurrency=8),
    )
    results = dataset.take_all()

    assert os.path.exists(marker)  # an actor did die
    assert sorted(row["id"] for row in results) == sorted(row["id"] for row in rows)
    assert {row["status"] for row in results} == {"completed"}
    assert all(row["error"] is None and len(row["output_urls"]) == 1 for row in results)
    jobs = emulator.jobs()
    assert len(jobs) == 200
    assert len({job.idempotency_key for job in jobs}) == 200
    assert {job.request_id for job in jobs} == {row["request_id"] for row in results}
    # The retried batch sent its submits again; the API answered them with the jobs it had.
    submits = [entry for entry in emulator.journal if entry.route == "submit"]
    assert len(submits) > 200


def test_outputs_written_under_a_file_uri_from_the_actors_are_whole_pngs(
    ray: ModuleType, emulator: Emulator, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # Dicts where only some rows have num_images: Arrow makes the others' integer a float.
    rows = [
        {"id": n, "arguments": {"prompt": f"picture {n}", **({"num_images": 1} if n % 2 else {})}}
        for n in range(12)
    ]
    dataset = ray.data.from_items(rows).map_batches(
        HiggsfieldGenerate,
        batch_size=4,
        compute=ray.data.ActorPoolStrategy(size=2),
        fn_constructor_kwargs=_options(emulator, download=out.as_uri()),
    )
    results = sorted(dataset.take_all(), key=lambda row: row["id"])

    assert [row["status"] for row in results] == ["completed"] * 12
    for row in results:
        (uri,) = row["output_paths"]
        assert uri == f"{out.as_uri()}/{row['id']}/0.png"
        assert (out / str(row["id"]) / "0.png").read_bytes().startswith(PNG_SIGNATURE)
    written = sorted(path.relative_to(out).as_posix() for path in out.rglob("*.*"))
    assert written == sorted(f"{n}/0.png" for n in range(12))  # and no part file
    # ...and turned back into an integer, as the catalog says num_images is one.
    sent = {job.arguments["prompt"]: job.arguments.get("num_images") for job in emulator.jobs()}
    assert sent == {f"picture {n}": (1 if n % 2 else None) for n in range(12)}
    assert {type(value) for value in sent.values() if value is not None} == {int}

