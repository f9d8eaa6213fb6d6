"""Webhook deliveries: Standard Webhooks signatures, retries with backoff, and their record."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

if TYPE_CHECKING:
    import aiohttp

_PREFIX = "whsec_"


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret.

    Raises:
        ValueError: the secret lacks the prefix or is not base64 after it.
    """
    if not secret.startswith(_PREFIX):
        raise ValueError("webhook_secret must start with 'whsec_'")
    try:
        return base64.b64decode(secret[len(_PREFIX):], validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook_secret must be base64 after 'whsec_'") from exc


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a delivery: when (wall clock), and the status code or the connection error."""

    time: float
    status: Optional[int]
    error: Optional[str]


@dataclass(frozen=True)
class WebhookDelivery:
    """A webhook event and its attempts so far.

    ``delivered`` is True once an attempt got a 2xx; ``finished`` once delivered or given up
    (the retry window passed, or the request's data expired).
    """

    request_id: str
    url: str
    webhook_id: str
    body: bytes
    attempts: Tuple[WebhookAttempt, ...]
    delivered: bool
    finished: bool


class WebhookSender:
    """Sends deliveries from the emulator's event loop; its record is readable from any thread.

    Args:
        secret: the ``whsec_...`` secret to sign with, or None for unsigned deliveries.
        window: seconds after the first attempt during which failed deliveries are retried.
        first_delay: the first retry delay; it doubles after each failure up to ``max_delay``.
        timeout: seconds each attempt may take.
    """

    def __init__(
        self,
        secret: Optional[str],
        *,
        window: float,
        first_delay: float,
        max_delay: float,
        timeout: float,
    ) -> None:
        self._key = None if secret is None else webhook_key(secret)
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._records: List[WebhookDelivery] = []
        self._lock = threading.Lock()
        self._tasks: Set[asyncio.Task[None]] = set()
        self._session: Optional[aiohttp.ClientSession] = None

    def deliver(self, request_id: str, url: str, body: bytes, stop_at: Optional[float]) -> None:
        """Start delivering ``body`` to ``url``; call on the event loop.

        ``stop_at`` (monotonic) ends the retries early, when the request's data expires.
        """
        with self._lock:
            index = len(self._records)
            self._records.append(
                WebhookDelivery(request_id, url, f"msg_{uuid.uuid4().hex}", body, (), False, False)
            )
        task = asyncio.get_running_loop().create_task(self._run(index, stop_at))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def deliveries(self) -> List[WebhookDelivery]:
        """Snapshot of every delivery, in the order the events happened."""
        with self._lock:
            return list(self._records)

    async def close(self) -> None:
        """Cancel deliveries in progress and close the HTTP session."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self, index: int, stop_at: Optional[float]) -> None:
        deadline = time.monotonic() + self.window
        if stop_at is not None:
            deadline = min(deadline, stop_at)
        delay = self.first_delay
        while True:
            attempt = await self._attempt(self._records[index])
            ok = attempt.status is not None and 200 <= attempt.status < 300
            give_up = not ok and time.monotonic() + delay > deadline
            with self._lock:
                record = self._records[index]
                self._records[index] = WebhookDelivery(
                    record.request_id, record.url, record.webhook_id, record.body,
                    (*record.attempts, attempt), ok, ok or give_up,
                )
            if ok or give_up:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)

    async def _attempt(self, record: WebhookDelivery) -> WebhookAttempt:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers: Dict[str, str] = {
            "Content-Type": "application/json",
            "User-Agent": "higgsfield-emulator-webhooks/1",
        }
        if self._key is not None:
            timestamp = int(time.time())
            headers["webhook-id"] = record.webhook_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign(self._key, record.webhook_id, timestamp, record.body)
        started = time.time()
        try:
            async with self._session.post(
                record.url,
                data=record.body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                allow_redirects=False,
            ) as response:
                await response.read()
                return WebhookAttempt(started, response.status, None)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return WebhookAttempt(started, None, f"{type(exc).__name__}: {exc}")
