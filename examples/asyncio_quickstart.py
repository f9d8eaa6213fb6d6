"""The same under asyncio: submit, poll the status as it changes, then download the result.

Credentials and API root as in sync_quickstart.py.
"""

from __future__ import annotations

import asyncio

import higgsfield_client

MODEL = "higgsfield-ai/soul/standard"


async def generate() -> None:
    async with higgsfield_client.AsyncClient() as client:
        controller = await client.submit(MODEL, {"prompt": "A lighthouse in a storm, oil painting"})
        print(f"submitted {controller.request_id}")
        async for status in controller.poll_request_status():
            print(f"  {status.state}")
        result = await controller.get()
        result.raise_for_status()  # JobFailedError, JobNSFWError or JobCancelledError if no output
        for path in await client.download_outputs(result, "outputs/"):  # named <request id>-<name>
            print(f"saved {path}")


def main() -> None:
    asyncio.run(generate())


if __name__ == "__main__":
    main()
