"""A durable batch from plain Python: eight postcards, resumable after a crash or Ctrl-C.

Outputs go to ./postcards/<id>/, the journal to ./postcards/journal.sqlite3. Run it twice: the
second run finds everything done and sends nothing. Credentials and API root as in
sync_quickstart.py.
"""

from __future__ import annotations

from higgsfield_client.batch import Batch

MODEL = "higgsfield-ai/soul/standard"
ITEMS = [
    {"id": f"city-{number}", "arguments": {"prompt": f"A postcard of city number {number}, watercolour"}}
    for number in range(1, 9)
]


def main() -> None:
    batch = Batch(ITEMS, out="postcards", model=MODEL, concurrency=3)
    for result in batch.run():  # results arrive as the jobs finish
        where = ", ".join(result.outputs) or result.error
        print(f"{result.status:<10} {result.id}: {where}")


if __name__ == "__main__":
    main()
