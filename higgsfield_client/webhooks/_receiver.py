"""The framework-neutral receiver: from a delivery's headers and raw body to the answer to give."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Optional, Union

from higgsfield_proto import (
    DEFAULT_TOLERANCE,
    HeaderSource,
    HiggsfieldError,
    JobStatus,
    NotFoundError,
    ProtocolError,
    WebhookEvent,
    WebhookSecrets,
    WebhookVerificationError,
    check_webhook_secret,
    parse_webhook,
)
from higgsfield_proto import verify_webhook as verify_at

from ._stores import Claim, MemoryStore, WebhookStore
from ._trust import ConfirmByPolling, UrlToken

Handler = Callable[[WebhookEvent], Optional[Awaitable[None]]]
"""Called once per new event; a coroutine function is awaited (by ``handle_async``)."""

DEFAULT_MAX_BODY = 1024 * 1024
"""Bytes a delivery's body may have; a status payload is a few kilobytes."""

WebhookTrust = Union[WebhookSecrets, UrlToken, ConfirmByPolling]
"""How a receiver trusts a delivery: the account's ``whsec_...`` secret(s) (Standard Webhooks
signatures), a ``UrlToken`` (a token in the URL), or ``ConfirmByPolling`` (the job's status
fetched again)."""

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
        status: 200 handled or a duplicate; 401 not verified; 400 not a job status (or, when
            confirming by polling, a job the API does not know); 409 the same event is being
            handled now (or the job has not finished); 413 too large; 500 the handler raised;
            503 the job's status could not be checked.
        reason: a short text for the body and the logs (never a secret).
        event: the verified (or confirmed) event, when the delivery was trusted.
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
    """Trusts deliveries, drops duplicates, calls your handler once per event, and says what
    to answer.

    How a delivery is trusted is the first argument:

    - the account's ``whsec_...`` secret, or several during a rotation: Standard Webhooks
      signatures (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``) and a timestamp
      within ``tolerance``; duplicates are known by their ``webhook-id``;
    - ``UrlToken(secret)``: the token ``signed_webhook_url`` put in the URL's query, for
      unsigned deliveries; the reference comes back as ``event.reference``;
    - ``ConfirmByPolling(client)``: nothing in the delivery; its job's status is fetched with
      ``client``, and the handler gets the status fetched.

    With a token or by polling, duplicates are known by request id and final state.
    ``handle(headers, body, query=...)`` (or ``await handle_async(...)``) returns a
    ``WebhookReply``:

    - trusted and new: the handler is called, then 200;
    - an event handled before: 200, and the handler is not called;
    - the same event being handled by another delivery at this moment: 409, so that the API
      tries again later;
    - a bad signature or token, or a timestamp more than ``tolerance`` away: 401;
    - a malformed body or an unknown status: 400;
    - by polling: 400 for a job the API does not know, 409 for a job not finished yet, 503
      when its status could not be checked;
    - a body over ``max_body`` bytes: 413;
    - the handler raised: 500 (the error is logged), and the event is not marked as seen, so the
      API's retry is handled again.

    A body may be flat (the status answer's fields) or hold its results under ``payload``
    (``{"request_id", "status", "error", "payload": {"images": [...]}}``).
    ``asgi_app``, ``wsgi_app`` and ``aiohttp_handler`` serve it in web frameworks.

    Args:
        secret: how to trust a delivery (see above): the account's ``whsec_...`` secret or
            several (a delivery is valid if any of them verifies it), a ``UrlToken`` or a
            ``ConfirmByPolling``.
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
        secret: WebhookTrust,
        handler: Handler,
        *,
        store: Optional[WebhookStore] = None,
        tolerance: float = DEFAULT_TOLERANCE,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        if not isinstance(secret, (UrlToken, ConfirmByPolling)):
            check_webhook_secret(secret)
        self._trust = secret
        self._handler = handler
        self.store: WebhookStore = store if store is not None else MemoryStore()
        self.tolerance = tolerance
        self.max_body = max_body

    def __repr__(self) -> str:
        shown = f"{self._trust!r}, " if isinstance(self._trust, (UrlToken, ConfirmByPolling)) else ""
        return f"WebhookReceiver({shown}handler={self._handler!r}, store={self.store!r})"

    def handle(self, headers: HeaderSource, body: bytes, *, query: str = "") -> WebhookReply:
        """Answer one delivery, calling the handler if it is new (for sync frameworks).

        Args:
            headers: the request's headers, a mapping or pairs, in any case.
            body: the raw body as received (at most ``max_body + 1`` bytes need be read).
            query: the raw query string of the URL the delivery came to (a ``UrlToken`` reads
                its token there; otherwise unused).

        Returns:
            The answer to give. A handler that returns an awaitable counts as failed (500): use
            ``handle_async`` for coroutine functions.

        Raises:
            TypeError: confirming by polling with an AsyncClient (use ``handle_async``).
        """
        checked = self._check(headers, body, query)
        if isinstance(checked, WebhookEvent) and isinstance(self._trust, ConfirmByPolling):
            checked = _confirmed(checked, self._trust.fetch(checked.status.request_id))
        admitted = self._claim(checked)
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

    async def handle_async(self, headers: HeaderSource, body: bytes, *, query: str = "") -> WebhookReply:
        """Answer one delivery, awaiting the handler if it returns an awaitable (asyncio, trio).

        A plain handler runs on the event loop: keep it quick, or make it a coroutine function.
        """
        checked = self._check(headers, body, query)
        if isinstance(checked, WebhookEvent) and isinstance(self._trust, ConfirmByPolling):
            checked = _confirmed(checked, await self._trust.afetch(checked.status.request_id))
        admitted = self._claim(checked)
        if isinstance(admitted, WebhookReply):
            return admitted
        with self._handling(admitted) as replies:
            returned = self._handler(admitted)
            if inspect.isawaitable(returned):
                await returned
        return replies[0]

    def _check(self, headers: HeaderSource, body: bytes, query: str) -> Union[WebhookReply, WebhookEvent]:
        """The delivery's event as its trust mode reads it, or the answer that ends it here."""
        if len(body) > self.max_body:
            return WebhookReply(status=413, reason=f"the body is over {self.max_body} bytes")
        trust = self._trust
        try:
            if isinstance(trust, UrlToken):
                reference = trust.reference(query)  # before the body: a forger learns nothing
                return dataclasses.replace(parse_webhook(body, headers), reference=reference)
            if isinstance(trust, ConfirmByPolling):
                return parse_webhook(body, headers)  # a hint: only its request id is used
            return verify_at(trust, headers, body, now=time.time(), tolerance=self.tolerance)
        except WebhookVerificationError as exc:
            logger.info("webhook delivery refused (401): %s", exc)
            return WebhookReply(status=401, reason=str(exc))
        except ProtocolError as exc:
            logger.info("webhook delivery refused (400): %s", exc)
            return WebhookReply(status=400, reason=str(exc))

    def _key(self, event: WebhookEvent) -> str:
        """What the store knows an event by: its signed ``webhook-id``; else (a token, polling,
        where headers prove nothing) its request id and final state."""
        if isinstance(self._trust, (UrlToken, ConfirmByPolling)):
            return f"{event.status.request_id}:{event.status.state.value}"
        assert event.webhook_id is not None, "a verified delivery has a webhook-id"
        return event.webhook_id

    def _claim(self, checked: Union[WebhookReply, WebhookEvent]) -> Union[WebhookReply, WebhookEvent]:
        """The event, claimed for handling, or the answer that ends the delivery here."""
        if isinstance(checked, WebhookReply):
            return checked
        claim = self.store.claim(self._key(checked), time.time())
        if claim is Claim.DONE:
            return WebhookReply(status=200, reason="duplicate", event=checked)
        if claim is Claim.IN_PROGRESS:
            return WebhookReply(status=409, reason="this event is being handled", event=checked)
        return checked

    @contextlib.contextmanager
    def _handling(self, event: WebhookEvent) -> Iterator[list[WebhookReply]]:
        """Around the handler's call: complete the claim on success, release it on failure;
        the reply is appended to the yielded list."""
        key = self._key(event)
        replies: list[WebhookReply] = []
        try:
            yield replies
        except Exception:
            logger.exception("the webhook handler raised for %s; answering 500", key)
            self.store.release(key)
            replies.append(WebhookReply(status=500, reason="the handler failed", event=event))
        except BaseException:  # cancelled: the delivery is not answered, its retry is handled
            self.store.release(key)
            raise
        else:
            self.store.complete(key, time.time())
            replies.append(WebhookReply(status=200, reason="handled", event=event))


def _confirmed(
    hint: WebhookEvent, fetched: Union[JobStatus, HiggsfieldError]
) -> Union[WebhookReply, WebhookEvent]:
    """The event to handle, with the status the API gave for the hinted job, or the answer
    that ends the delivery: the job is unknown (400), not finished (409), or its status could
    not be checked (503, so that the API delivers again later)."""
    request_id = hint.status.request_id
    if isinstance(fetched, NotFoundError):
        logger.info("webhook delivery refused (400): the API knows no job %s", request_id)
        return WebhookReply(status=400, reason="the API knows no such job")
    if isinstance(fetched, HiggsfieldError):
        logger.warning("the status of job %s could not be checked; answering 503: %s", request_id, fetched)
        return WebhookReply(status=503, reason="the job's status could not be checked")
    if not fetched.is_terminal:
        logger.info("webhook delivery refused (409): job %s is %s", request_id, fetched.state.value)
        return WebhookReply(status=409, reason="the job has not finished")
    return WebhookEvent(status=fetched, webhook_id=hint.webhook_id, timestamp=hint.timestamp)
