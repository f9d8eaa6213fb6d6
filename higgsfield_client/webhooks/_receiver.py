"""The framework-neutral receiver: from a delivery's headers and raw body to the answer to give."""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Optional, Union

from higgsfield_proto import (
    ProtocolError,
    WebhookEvent,
    WebhookSecrets,
    WebhookVerificationError,
    check_webhook_secret,
)
from higgsfield_proto import verify_webhook as verify_at
from higgsfield_proto._webhooks import DEFAULT_TOLERANCE, HeaderSource

from ._stores import Claim, MemoryStore, WebhookStore

Handler = Callable[[WebhookEvent], Optional[Awaitable[None]]]
"""Called once per new event; a coroutine function is awaited (by ``handle_async``)."""

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a delivery's body may have; a status payload is a few kilobytes."""

logger = logging.getLogger("higgsfield_client.webhooks")


def verify_webhook(
    secret: WebhookSecrets, headers: HeaderSource, body: bytes, *, tolerance: float = DEFAULT_TOLERANCE
) -> WebhookEvent:
    """Check a signed delivery against the wall clock and read it.

    ``higgsfield_proto.verify_webhook`` with ``now`` read from ``time.time()``.

    Args:
        secret: the account's ``whsec_...`` secret, or several during a rotation.
        headers: the delivery's headers (a mapping or pairs, any case).
        body: the raw body, exactly as received.
        tolerance: the largest accepted distance in seconds between now and the signing time.

    Raises:
        WebhookVerificationError: the delivery does not verify (headers, time or signature).
        ProtocolError: it verifies, but the body is not a job status.
        WebhookSecretError: no secret, or one that cannot be trusted (empty, short, not base64).
    """
    return verify_at(secret, headers, body, now=time.time(), tolerance=tolerance)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookReply:
    """The HTTP answer to give to one delivery.

    Attributes:
        status: 200 handled or a duplicate; 401 not verified; 400 not a job status; 409 the
            same event is being handled now; 413 too large; 500 the handler raised.
        reason: a short text for the body and the logs (never a secret).
        event: the verified event, when the delivery verified.
    """

    status: int
    reason: str
    event: Optional[WebhookEvent] = None

    @property
    def body(self) -> bytes:
        """The answer's body: ``reason`` as a line of UTF-8 text."""
        return f"{self.reason}\n".encode()

    content_type = "text/plain; charset=utf-8"


class WebhookReceiver:
    """Verifies deliveries, drops duplicates, calls your handler once per event, and says what
    to answer.

    ``handle(headers, body)`` (or ``await handle_async(...)``) returns a ``WebhookReply``:

    - verified and new: the handler is called, then 200;
    - a ``webhook-id`` handled before: 200, and the handler is not called;
    - the same event being handled by another delivery at this moment: 409, so that the API
      tries again later;
    - a bad signature, or a timestamp more than ``tolerance`` away: 401;
    - a malformed body or an unknown status: 400;
    - a body over ``max_body`` bytes: 413;
    - the handler raised: 500 (the error is logged), and the event is not marked as seen, so the
      API's retry is handled again.

    ``asgi_app``, ``wsgi_app`` and ``aiohttp_handler`` serve it in web frameworks.

    Args:
        secret: the account's ``whsec_...`` secret, or several: during a rotation a delivery
            is valid if any of them verifies it.
        handler: called with each new ``WebhookEvent``. ``handle_async`` awaits what it returns
            when that is awaitable; ``handle`` needs a plain function. Keep it quick (the API
            waits for the answer) and let it raise to have the delivery retried.
        store: remembers handled events; default: a ``MemoryStore`` of this process.
        tolerance: seconds a delivery's signing time may differ from the wall clock.
        max_body: the largest body accepted, in bytes.

    Raises:
        WebhookSecretError: no secret, or one that is empty (an unset variable reads ``""``),
            ``whsec_`` alone, not base64 after ``whsec_``, or under 24 key bytes
            (``MIN_SECRET_BYTES``); with several secrets, any one of them. It is an
            ``InvalidArgumentError``, and its message never contains the secret.
    """

    def __init__(
        self,
        secret: WebhookSecrets,
        handler: Handler,
        *,
        store: Optional[WebhookStore] = None,
        tolerance: float = DEFAULT_TOLERANCE,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        check_webhook_secret(secret)
        self._secret = secret
        self._handler = handler
        self.store: WebhookStore = store if store is not None else MemoryStore()
        self.tolerance = tolerance
        self.max_body = max_body

    def __repr__(self) -> str:
        return f"WebhookReceiver(handler={self._handler!r}, store={self.store!r})"

    def handle(self, headers: HeaderSource, body: bytes) -> WebhookReply:
        """Answer one delivery, calling the handler if it is new (for sync frameworks).

        Args:
            headers: the request's headers, a mapping or pairs, in any case.
            body: the raw body as received (at most ``max_body + 1`` bytes need be read).

        Returns:
            The answer to give. A handler that returns an awaitable counts as failed (500): use
            ``handle_async`` for coroutine functions.
        """
        admitted = self._admit(headers, body)
        if isinstance(admitted, WebhookReply):
            return admitted
        with self._handling(admitted) as replies:
            returned = self._handler(admitted)
            if inspect.isawaitable(returned):
                close = getattr(returned, "close", None)
                if callable(close):
                    close()  # never awaited: no "coroutine was never awaited" warning
                raise TypeError("the webhook handler returned an awaitable: use handle_async")
        return replies[0]

    async def handle_async(self, headers: HeaderSource, body: bytes) -> WebhookReply:
        """Answer one delivery, awaiting the handler if it returns an awaitable (asyncio, trio).

        A plain handler runs on the event loop: keep it quick, or make it a coroutine function.
        """
        admitted = self._admit(headers, body)
        if isinstance(admitted, WebhookReply):
            return admitted
        with self._handling(admitted) as replies:
            returned = self._handler(admitted)
            if inspect.isawaitable(returned):
                await returned
        return replies[0]

    def _admit(self, headers: HeaderSource, body: bytes) -> Union[WebhookReply, WebhookEvent]:
        """The event, claimed for handling, or the answer that ends the delivery here."""
        if len(body) > self.max_body:
            return WebhookReply(status=413, reason=f"the body is over {self.max_body} bytes")
        now = time.time()
        try:
            event = verify_at(self._secret, headers, body, now=now, tolerance=self.tolerance)
        except WebhookVerificationError as exc:
            logger.info("webhook delivery refused (401): %s", exc)
            return WebhookReply(status=401, reason=str(exc))
        except ProtocolError as exc:
            logger.info("webhook delivery refused (400): %s", exc)
            return WebhookReply(status=400, reason=str(exc))
        assert event.webhook_id is not None, "a verified delivery has a webhook-id"
        claim = self.store.claim(event.webhook_id, now)
        if claim is Claim.DONE:
            return WebhookReply(status=200, reason="duplicate", event=event)
        if claim is Claim.IN_PROGRESS:
            return WebhookReply(status=409, reason="this event is being handled", event=event)
        return event

    @contextlib.contextmanager
    def _handling(self, event: WebhookEvent) -> Iterator[list[WebhookReply]]:
        """Around the handler's call: complete the claim on success, release it on failure;
        the reply is appended to the yielded list."""
        webhook_id = event.webhook_id
        assert webhook_id is not None
        replies: list[WebhookReply] = []
        try:
            yield replies
        except Exception:
            logger.exception("the webhook handler raised for %s; answering 500", webhook_id)
            self.store.release(webhook_id)
            replies.append(WebhookReply(status=500, reason="the handler failed", event=event))
        except BaseException:  # cancelled: the delivery is not answered, its retry is handled
            self.store.release(webhook_id)
            raise
        else:
            self.store.complete(webhook_id, time.time())
            replies.append(WebhookReply(status=200, reason="handled", event=event))

