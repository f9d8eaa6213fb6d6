"""The receiver as an aiohttp.web request handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ._receiver import WebhookReceiver, WebhookReply

if TYPE_CHECKING:
    from aiohttp import web


def aiohttp_handler(receiver: WebhookReceiver) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An ``aiohttp.web`` handler that answers each POST with ``receiver.handle_async``.

    Add it as a route: ``app.router.add_post("/webhooks/higgsfield", aiohttp_handler(r))``. Other
    methods get 405 (when routed here at all). The body is read up to ``receiver.max_body + 1``
    bytes, never further (the app's ``client_max_size`` does not apply).
    """
    from aiohttp import web

    def respond(reply: WebhookReply, headers: dict[str, str]) -> web.Response:
        return web.Response(
            status=reply.status, body=reply.body, headers={"Content-Type": reply.content_type, **headers}
        )

    async def handle(request: web.Request) -> web.Response:
        if request.method != "POST":
            return respond(WebhookReply(status=405, reason="webhooks are POSTed"), {"Allow": "POST"})
        limit = receiver.max_body + 1
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            chunk = await request.content.read(limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        query = request.rel_url.raw_query_string
        reply = await receiver.handle_async(request.headers, b"".join(chunks), query=query)
        return respond(reply, {})

    return handle
