"""A durable batch under trio (asyncio is the same with asyncio.run): results as they finish.

The items come from a generator, read as the batch goes, so a long input never sits in memory.
Outputs go to ./postcards-trio/<id>/. Credentials and API root as in sync_quickstart.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import trio

from higgsfield_client.batch import Batch, BatchItem

MODEL = "higgsfield-ai/soul/standard"


def items() -> Iterator[BatchItem]:
    for number in range(1, 9):
        prompt = f"City number {number}, at night"
        yield BatchItem(id=f"city-{number}", model=MODEL, arguments={"prompt": prompt})


async def run() -> None:
    batch = Batch(items(), out="postcards-trio", concurrency=3)
    async with batch.stream() as results:
        async for result in results:
            print(f"{result.status:<10} {result.id}: {', '.join(result.outputs) or result.error}")
    progress = batch.progress()
    assert progress is not None
    print(f"{progress.completed} completed, {progress.failed} failed in {progress.elapsed:.1f} s")


def main() -> None:
    trio.run(run)


if __name__ == "__main__":
    main()
