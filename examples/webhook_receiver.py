"""Receive Higgsfield webhooks in an aiohttp.web app and verify each delivery's signature.

``make_app(secret, events)`` is the receiver: it checks the Standard Webhooks signature with
``higgsfield_proto.verify_webhook`` (401 when it does not verify), parses the job's final status,
and puts the event on a queue. Behind a public HTTPS URL it receives the real API's deliveries.

``main()`` shows it end to end: it serves the app on a loopback port, submits a job whose
``webhook_url`` points there and waits for the verified event. That works against the local
emulator (``higgsfield emulator --webhook-secret whsec_...``), which can reach loopback; the real
API cannot. HF_WEBHOOK_SECRET holds the ``whsec_...`` secret.
"""

from __future__ import annotations

import asyncio
import os
import time

from aiohttp import web

import higgsfield_client
from higgsfield_proto import ProtocolError, WebhookEvent, WebhookVerificationError, verify_webhook

MODEL = "higgsfield-ai/soul/standard"
PATH = "/webhooks/higgsfield"


def make_app(secret: str, events: asyncio.Queue[WebhookEvent]) -> web.Application:
    """The receiver: verified deliveries go to ``events``; anything else is refused."""
    seen = set()

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()  # the raw bytes: the signature covers them exactly
        try:
            event = verify_webhook(secret, request.headers, body, now=time.time())
        except WebhookVerificationError:
            return web.Response(status=401, text="signature does not verify")
        except ProtocolError:
            return web.Response(status=400, text="not a job status")
        if event.webhook_id not in seen:  # a retried delivery keeps its webhook-id
            seen.add(event.webhook_id)
            await events.put(event)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post(PATH, receive)
    return app


async def submit_and_receive(secret: str, timeout: float = 60.0) -> WebhookEvent:
    """Serve the receiver on loopback, submit one job pointing at it, return its verified event."""
    events: asyncio.Queue[WebhookEvent] = asyncio.Queue()
    runner = web.AppRunner(make_app(secret, events))
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
    event = asyncio.run(submit_and_receive(os.environ["HF_WEBHOOK_SECRET"]))
    status = event.status
    print(f"verified webhook {event.webhook_id}: job {status.request_id} {status.state.value}")
    for url in status.images:
        print(f"  {url}")


if __name__ == "__main__":
    main()
