"""Receiving the API's webhooks in web apps, and waiting for jobs by webhook.

- ``WebhookReceiver(secret, handler)``: verifies each delivery (Standard Webhooks signatures,
  several secrets during a rotation), drops duplicates, calls ``handler`` once per event, and
  returns the HTTP answer to give (``WebhookReply``); ``handle`` for sync code,
  ``handle_async`` under asyncio or trio. ``WebhookReceiver(UrlToken(secret), handler)`` trusts
  a token in the URL instead (``signed_webhook_url``), ``WebhookReceiver(ConfirmByPolling(client),
  handler)`` nothing but the job's status, fetched again.
- ``asgi_app`` (FastAPI, Starlette), ``wsgi_app`` (Flask, Django) and ``aiohttp_handler``
  serve a receiver without pulling a web framework into this package's dependencies.
- Duplicate stores: ``MemoryStore`` (the default), ``SQLiteStore`` (worker processes of one
  machine), or your own ``WebhookStore``.
- ``WebhookWaiter``: ``await waiter.wait(request_id)`` completes when the job's webhook arrives,
  and polls slowly when it does not.
- ``verify_webhook``: the core's check with the wall clock read for you.
"""

from higgsfield_proto import MIN_SECRET_BYTES, WebhookSecretError, signed_webhook_url

from ._aiohttp import aiohttp_handler
from ._asgi import asgi_app
from ._receiver import DEFAULT_MAX_BODY, Handler, WebhookReceiver, WebhookReply, WebhookTrust, verify_webhook
from ._stores import Claim, MemoryStore, SQLiteStore, WebhookStore
from ._trust import ConfirmByPolling, UrlToken
from ._waiter import FALLBACK_POLL, WebhookWaiter
from ._wsgi import wsgi_app

__all__ = [
    "DEFAULT_MAX_BODY",
    "FALLBACK_POLL",
    "MIN_SECRET_BYTES",
    "Claim",
    "ConfirmByPolling",
    "Handler",
    "MemoryStore",
    "SQLiteStore",
    "UrlToken",
    "WebhookReceiver",
    "WebhookReply",
    "WebhookSecretError",
    "WebhookStore",
    "WebhookTrust",
    "WebhookWaiter",
    "aiohttp_handler",
    "asgi_app",
    "signed_webhook_url",
    "verify_webhook",
    "wsgi_app",
]
