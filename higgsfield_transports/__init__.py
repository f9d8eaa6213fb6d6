"""Thin I/O adapters that send a ``higgsfield_proto.Request`` and return its ``Outcome``.

The adapters live in submodules so that importing this package pulls in no HTTP library:
``higgsfield_transports.requests.RequestsTransport`` (blocking, requests),
``higgsfield_transports.aiohttp.AiohttpTransport`` (asyncio, aiohttp),
``higgsfield_transports.trio.TrioTransport`` (trio or asyncio, h11 over anyio) and, with the
``httpx`` extra, ``higgsfield_transports.httpx.HttpxTransport`` and ``AsyncHttpxTransport``
(httpx; the async one under trio or asyncio). All of them also stream response bodies to a
callable (``stream``), which downloads use. Each sends a request
once and reports the facts of a failure; the core decides whether to send it again.
"""

from ._base import (
    AsyncTransport,
    HeadCallback,
    InsecureTransportWarning,
    Sink,
    StreamingAsyncTransport,
    StreamingSyncTransport,
    SyncTransport,
)

__all__ = [
    "AsyncTransport",
    "HeadCallback",
    "InsecureTransportWarning",
    "Sink",
    "StreamingAsyncTransport",
    "StreamingSyncTransport",
    "SyncTransport",
]
