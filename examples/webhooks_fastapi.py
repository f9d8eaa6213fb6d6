"""Receive Higgsfield webhooks in a FastAPI app: the SDK's ASGI receiver routed at a path.

``make_app(trust, on_event)`` is the whole integration: ``WebhookReceiver`` verifies each
delivery's signature and timestamp (or its URL token, with ``UrlToken``; or fetches the job's
status, with ``ConfirmByPolling``), answers duplicates without calling ``on_event`` again, and
answers 500 when ``on_event`` raises, so that the API delivers the event again. ``main()``
serves it with uvicorn on port 8000; behind a public HTTPS URL it receives the real API's
deliveries. HF_WEBHOOK_SECRET holds the ``whsec_...`` secret (several, space-separated, during
a rotation).
"""

from __future__ import annotations

import os
import sys

from fastapi import FastAPI

from higgsfield_client.webhooks import Handler, WebhookReceiver, WebhookTrust, asgi_app
from higgsfield_proto import WebhookEvent

PATH = "/webhooks/higgsfield"


def make_app(trust: WebhookTrust, on_event: Handler) -> FastAPI:
    """A FastAPI app whose ``PATH`` receives the webhooks; the rest of your app goes beside it."""
    app = FastAPI()
    # A route, not a mount: a mount answers its exact path with a redirect to PATH + "/".
    app.add_route(PATH, asgi_app(WebhookReceiver(trust, on_event)), methods=["POST"])

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def on_event(event: WebhookEvent) -> None:
    """Called once per job: keep it quick (queue the work); raise to have it delivered again."""
    status = event.status
    print(f"job {status.request_id} {status.state.value}: {', '.join(status.images) or status.error}")


def main() -> None:
    import uvicorn

    secret = os.environ.get("HF_WEBHOOK_SECRET") or sys.exit("set HF_WEBHOOK_SECRET (whsec_...)")
    uvicorn.run(make_app(secret.split(), on_event), host="0.0.0.0", port=8000)


if __name__ == "__main__":
    main()
