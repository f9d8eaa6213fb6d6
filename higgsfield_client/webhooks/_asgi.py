"""The receiver as an ASGI application (FastAPI, Starlette, any ASGI server), no framework needed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Optional

from ._receiver import WebhookReceiver, WebhookReply

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def asgi_app(receiver: WebhookReceiver) -> ASGIApp:
    """An ASGI 3 app that answers each POST with ``receiver.handle_async``.

    In FastAPI or Starlette, route it at the path the webhooks go to:
    ``app.add_route("/webhooks/higgsfield", asgi_app(r), methods=["POST"])`` (it is an ASGI app
    object, not a request function, so Starlette hands it the raw request). Mounted instead
    (``app.mount``), it is reached at the path with a trailing slash: Starlette redirects the
    other, and webhook senders do not follow redirects. Any path it is given is served; other
    methods get 405. The body is read up to ``receiver.max_body + 1`` bytes, never further.
    Served alone, it answers the lifespan protocol.
    """
    return _ReceiverApp(receiver)


class _ReceiverApp:
    """The ASGI app of ``asgi_app``: a callable object, which Starlette routes as an ASGI app."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise ValueError(f"the webhook receiver serves HTTP only, not {scope['type']!r}")
        if scope["method"] != "POST":
            await _answer(send, WebhookReply(status=405, reason="webhooks are POSTed"), allow=True)
            return
        body = await _read_body(receive, self.receiver.max_body + 1)
        if body is None:
            return  # the sender went away
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        query = scope.get("query_string", b"").decode("latin-1")
        await _answer(send, await self.receiver.handle_async(headers, body, query=query))


async def _read_body(receive: Receive, limit: int) -> Optional[bytes]:
    """At most ``limit`` bytes of the request body, or None if the client disconnected."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)[:limit]


async def _answer(send: Send, reply: WebhookReply, *, allow: bool = False) -> None:
    body = reply.body
    headers = [
        (b"content-type", reply.content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
