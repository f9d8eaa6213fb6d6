"""Many jobs at once, at most a few in flight: one AsyncClient, an asyncio.Semaphore.

Each job is submitted only when a slot is free and keeps it until its result is in, so no more
than CONCURRENCY jobs wait in your account's queue at a time. A job that fails does not stop the
others. Credentials and API root as in sync_quickstart.py.
"""

from __future__ import annotations

import asyncio
from typing import List, Union

import higgsfield_client

MODEL = "higgsfield-ai/soul/standard"
CONCURRENCY = 3
PROMPTS = [f"A postcard of city number {number}, watercolour" for number in range(1, 9)]


async def generate(client: higgsfield_client.AsyncClient, slots: asyncio.Semaphore, prompt: str) -> str:
    async with slots:
        result = await client.subscribe(MODEL, {"prompt": prompt})
        return result.images[0]


async def run_batch(prompts: List[str], concurrency: int) -> List[Union[str, BaseException]]:
    slots = asyncio.Semaphore(concurrency)
    async with higgsfield_client.AsyncClient() as client:
        jobs = [generate(client, slots, prompt) for prompt in prompts]
        return await asyncio.gather(*jobs, return_exceptions=True)


def main() -> None:
    outcomes = asyncio.run(run_batch(PROMPTS, CONCURRENCY))
    for prompt, outcome in zip(PROMPTS, outcomes, strict=True):
        if isinstance(outcome, higgsfield_client.HiggsfieldClientError):
            print(f"FAILED {prompt!r}: {outcome}")
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            print(f"ok     {prompt!r}: {outcome}")


if __name__ == "__main__":
    main()
