"""Generate an image, follow its progress and download it: plain Python, no event loop.

Credentials come from HF_KEY (or HF_API_KEY + HF_API_SECRET), the API root from
HIGGSFIELD_BASE_URL if set. Try it locally with the emulator:

    higgsfield-sansio emulator --port 8000     # prints the two export lines to paste
    python examples/sync_quickstart.py
"""

from __future__ import annotations

import higgsfield_client

MODEL = "higgsfield-ai/soul/standard"


def show(status: higgsfield_client.Status) -> None:
    print(f"  {status.state}")


def main() -> None:
    result = higgsfield_client.subscribe(
        MODEL,
        arguments={"prompt": "A serene lake at sunset with mountains", "aspect_ratio": "16:9"},
        on_enqueue=lambda request_id: print(f"submitted {request_id}"),
        on_queue_update=show,
    )
    if result["status"] != "completed":  # failed, nsfw or canceled: the result has no outputs
        print(f"{result.status}: {result.error or 'no output'}")
        return
    # Every output, named <request id>-<name>: jobs never overwrite each other's files.
    for path in higgsfield_client.download_outputs(result, "outputs/"):
        print(f"saved {path}")


if __name__ == "__main__":
    main()
