"""The receiver as a WSGI application (Flask, Django, any WSGI server), no framework needed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, Optional

from ._receiver import WebhookReceiver, WebhookReply

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def wsgi_app(receiver: WebhookReceiver) -> WSGIApp:
    """A WSGI app that answers each POST with ``receiver.handle``.

    Mount it where the webhooks arrive (in Flask, with werkzeug's ``DispatcherMiddleware``); any
    path it is given is served. Other methods get 405. The body is read up to
    ``receiver.max_body + 1`` bytes, never further. The handler must be a plain function.
    """

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            reply = WebhookReply(status=405, reason="webhooks are POSTed")
            return _answer(start_response, reply, [("Allow", "POST")])
        body = _read_body(environ, receiver.max_body + 1)
        reply = receiver.handle(request_headers(environ), body, query=environ.get("QUERY_STRING", ""))
        return _answer(start_response, reply)

    return app


def request_headers(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The request's headers as (name, value) pairs, from a WSGI environ."""
    headers = [
        (key[5:].replace("_", "-").lower(), value)
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    ]
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers.append((name, environ[key]))
    return headers


def _read_body(environ: Mapping[str, Any], limit: int) -> bytes:
    stream = environ["wsgi.input"]
    length = _content_length(environ.get("CONTENT_LENGTH"))
    if length is None:
        # Without a length only a server that marks the input terminated may be read to its end.
        return stream.read(limit) if environ.get("wsgi.input_terminated") else b""
    return stream.read(min(length, limit))  # type: ignore[no-any-return]


def _content_length(value: Optional[str]) -> Optional[int]:
    text = (value or "").strip()
    return int(text) if text.isdigit() else None


def _answer(
    start_response: StartResponse, reply: WebhookReply, extra: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    body = reply.body
    status = f"{reply.status} {HTTPStatus(reply.status).phrase}"
    start_response(
        status, [("Content-Type", reply.content_type), ("Content-Length", str(len(body))), *extra]
    )
    return [body]
