"""Receive Higgsfield webhooks in an aiohttp.web app, verified and deduplicated by the SDK.

``make_app(trust, on_event)`` routes the SDK's receiver (``aiohttp_handler``): with the
``whsec_...`` secret as ``trust`` it checks the Standard Webhooks signature and timestamp (401
when they do not verify); ``UrlToken(...)`` or ``ConfirmByPolling(client)`` trust a delivery
the other ways. It answers 400 to a body that is not a job status, answers a duplicate delivery
without calling ``on_event`` again, and answers 500 when ``on_event`` raises, so that the API
delivers the event again. Behind a public HTTPS URL it receives the real API's deliveries.

``main()`` shows it end to end: it serves the app on a loopback port, submits a job whose
``webhook_url`` points there and waits for the verified event. That works against the local
emulator (``higgsfield emulator --webhook-secret whsec_...``), which can reach loopback; the real
API cannot. HF_WEBHOOK_SECRET holds the ``whsec_...`` secret.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import web

import higgsfield_client
from higgsfield_client.webhooks import Handler, WebhookReceiver, WebhookTrust, aiohttp_handler
from higgsfield_proto import WebhookEvent

MODEL = "higgsfield-ai/soul/standard"
PATH = "/webhooks/higgsfield"


def make_app(trust: WebhookTrust, on_event: Handler) -> web.Application:
    """The receiver at ``PATH``: ``on_event`` gets each trusted event once."""
    app = web.Application()
    app.router.add_post(PATH, aiohttp_handler(WebhookReceiver(trust, on_event)))
    return app


async def submit_and_receive(secret: str, timeout: float = 60.0) -> WebhookEvent:
    """Serve the receiver on loopback, submit one job pointing at it, return its verified event."""
    events: asyncio.Queue[WebhookEvent] = asyncio.Queue()
    runner = web.AppRunner(make_app(secret, events.put_nowait))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        controller = await higgsfield_client.submit_async(
            MODEL, {"prompt": "A red kite over dunes"}, webhook_url=f"http://127.0.0.1:{port}{PATH}"
        )
        print(f"submitted {controller.request_id}; waiting for its webhook")
        return await asyncio.wait_for(events.get(), timeout)
    finally:
        await runner.cleanup()


def main() -> None:
    secret = os.environ.get("HF_WEBHOOK_SECRET") or sys.exit("set HF_WEBHOOK_SECRET (whsec_...)")
    event = asyncio.run(submit_and_receive(secret))
    status = event.status
    print(f"verified webhook {event.webhook_id}: job {status.request_id} {status.state.value}")
    for url in status.images:
        print(f"  {url}")


if __name__ == "__main__":
    main()
