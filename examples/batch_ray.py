"""Postcards on Ray Data: each row one generation, its outputs written to ./postcards-ray/<id>/.

Every row's Idempotency-Key comes from the batch name and the row's id, so a task Ray retries,
or this script run again, finds the row's job instead of paying for a second one; files already
written stay as they are. Credentials and API root as in sync_quickstart.py: the local Ray
started here passes the environment on to its workers (on a cluster, give them through
``runtime_env={"env_vars": {...}}``). Needs the ``ray`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import ray

from higgsfield_client.ray import HiggsfieldGenerate

MODEL = "higgsfield-ai/soul/standard"
ROWS = [
    {"id": f"city-{number}", "arguments": json.dumps({"prompt": f"A postcard of city number {number}"})}
    for number in range(1, 9)
]


def main() -> None:
    ray.init()  # a local Ray; ray.init(address="auto") joins a running cluster instead
    out = Path("postcards-ray").resolve()
    results = ray.data.from_items(ROWS).map_batches(
        HiggsfieldGenerate,
        fn_constructor_kwargs={
            "batch_name": "postcards-2026-11",  # a new name makes new jobs: retry failures so
            "model": MODEL,
            "download": out.as_uri(),
            "concurrency": 4,  # rows in flight per actor
        },
        compute=ray.data.ActorPoolStrategy(size=2),  # two actors, each with one client
        batch_size=4,
    )
    for row in results.iter_rows():
        where = ", ".join(row["output_paths"]) or row["error"]
        print(f"{row['status']:<10} {row['id']}: {where}")


if __name__ == "__main__":
    main()
