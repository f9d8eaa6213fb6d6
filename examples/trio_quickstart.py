"""The same under trio: the module-level ``*_async`` functions pick trio's own transport.

Needs ``pip install 'higgsfield-sansio[trio]'``. Credentials and API root as in
sync_quickstart.py.
"""

from __future__ import annotations

import trio

import higgsfield_client

MODEL = "higgsfield-ai/soul/standard"


async def generate() -> None:
    result = await higgsfield_client.subscribe_async(
        MODEL,
        arguments={"prompt": "A paper boat on a rainy street"},
        on_queue_update=lambda status: print(f"  {status.state}"),
    )
    print(f"request {result.request_id} {result.status}")  # completed, failed, nsfw or canceled
    for path in await higgsfield_client.download_outputs_async(result, "outputs/"):
        print(f"saved {path}")


def main() -> None:
    trio.run(generate)


if __name__ == "__main__":
    main()
