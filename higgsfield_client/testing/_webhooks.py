"""Webhook deliveries: Standard Webhooks signatures, retries with backoff, faults, and their record."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hashlib
import hmac
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set, Tuple
from urllib.parse import parse_qsl, urlsplit

from ._faults import WEBHOOK_ROUTE, FaultPlan
from ._journal import Journal, JournalEntry

if TYPE_CHECKING:
    import aiohttp

_PREFIX = "whsec_"
# Standard Webhooks secrets hold 24 to 64 random bytes; a shorter key is a placeholder.
_MIN_KEY_BYTES = 24


def webhook_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_...`` secret.

    Raises:
        ValueError: the secret lacks the prefix, is not base64 after it, or holds fewer than 24
            bytes (the message never shows the secret).
    """
    if not secret.startswith(_PREFIX):
        raise ValueError("webhook_secret must start with 'whsec_'")
    try:
        key = base64.b64decode(secret[len(_PREFIX):], validate=True)
    except binascii.Error:
        raise ValueError("webhook_secret must be base64 after 'whsec_'") from None
    if len(key) < _MIN_KEY_BYTES:
        raise ValueError(
            f"webhook_secret must hold at least {_MIN_KEY_BYTES} bytes after 'whsec_' "
            f"(Standard Webhooks secrets hold 24 to 64), not {len(key)}"
        )
    return key


WEBHOOK_BODIES = ("flat", "nested")
"""The delivery body shapes: ``flat`` (the status answer's fields) or ``nested`` (``request_id``,
``status`` and ``error`` at the top, the results under ``payload``), as receivers in the wild get."""


def webhook_body(payload: Dict[str, Any], shape: str) -> Dict[str, Any]:
    """The delivery body of a status ``payload`` in ``shape`` (one of ``WEBHOOK_BODIES``)."""
    if shape == "flat":
        return payload
    top = ("request_id", "status", "error")
    return {
        **{key: payload.get(key) for key in top},
        "payload": {key: value for key, value in payload.items() if key not in top},
    }


def check_webhook_body(shape: str) -> str:
    """``shape`` when it is one of ``WEBHOOK_BODIES``.

    Raises:
        ValueError: any other value.
    """
    if shape not in WEBHOOK_BODIES:
        raise ValueError(f"webhook_body must be one of {WEBHOOK_BODIES}, not {shape!r}")
    return shape


def sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one delivery attempt."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of a delivery: when (wall clock), the status code or the connection error, and
    the fault it played out (``"duplicate"`` for the copy sent after a 2xx, ``"out_of_order"``
    for the first POST of a held-back event)."""

    time: float
    status: Optional[int]
    error: Optional[str]
    fault: Optional[str] = None


@dataclass(frozen=True)
class WebhookDelivery:
    """A webhook event and its attempts so far.

    ``delivered`` is True once an attempt got a 2xx; ``finished`` once delivered or given up
    (the retry window passed, or the request's data expired), or at once for a dropped event.
    ``fault`` is the fault scripted for the event: ``"drop"`` (never sent), ``"duplicate"``
    (sent once more after its 2xx) or ``"out_of_order"`` (held back until the next event went
    out).
    """

    request_id: str
    url: str
    webhook_id: str
    body: bytes
    attempts: Tuple[WebhookAttempt, ...]
    delivered: bool
    finished: bool
    fault: Optional[str] = None


class WebhookSender:
    """Sends deliveries from the emulator's event loop; its record is readable from any thread.

    Each attempt is also a journal entry of route ``"webhook"``.

    Args:
        secret: the ``whsec_...`` secret to sign with, or None for unsigned deliveries.
        window: seconds after the first attempt during which failed deliveries are retried.
        first_delay: the first retry delay; it doubles after each failure up to ``max_delay``.
        timeout: seconds each attempt may take.
        hold: the longest an ``out_of_order`` event waits for the next event to go out.
        faults: where scripted ``"webhook"`` faults come from.
        journal: where each attempt is recorded.
    """

    def __init__(
        self,
        secret: Optional[str],
        *,
        window: float,
        first_delay: float,
        max_delay: float,
        timeout: float,
        hold: float,
        faults: FaultPlan,
        journal: Journal,
    ) -> None:
        self._key = None if secret is None else webhook_key(secret)
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self.hold = hold
        self._faults = faults
        self._journal = journal
        self._records: List[WebhookDelivery] = []
        self._lock = threading.Lock()
        self._tasks: Set[asyncio.Task[None]] = set()
        self._held: List[asyncio.Event] = []
        self._session: Optional[aiohttp.ClientSession] = None

    def deliver(
        self,
        request_id: str,
        url: str,
        body: bytes,
        stop_at: Optional[float],
        deleted: Callable[[], bool] = lambda: False,
    ) -> None:
        """Start delivering ``body`` to ``url``, as the next scripted fault says; call on the loop.

        ``stop_at`` (monotonic) ends the retries early, when the request's data expires;
        ``deleted`` is asked before each retry and ends them once the request's data was deleted.
        """
        fault = self._faults.pick(WEBHOOK_ROUTE)
        with self._lock:
            index = len(self._records)
            self._records.append(
                WebhookDelivery(
                    request_id, url, f"msg_{uuid.uuid4().hex}", body, (), False, fault == "drop", fault
                )
            )
        if fault == "drop":
            return
        task = asyncio.get_running_loop().create_task(self._run(index, stop_at, fault, deleted))
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

    async def _run(
        self, index: int, stop_at: Optional[float], fault: Optional[str], deleted: Callable[[], bool]
    ) -> None:
        held = fault == "out_of_order"
        if held:
            await self._hold()
        deadline = time.monotonic() + self.window
        if stop_at is not None:
            deadline = min(deadline, stop_at)
        delay = self.first_delay
        first = True
        while True:
            attempt = await self._attempt(self._records[index], "out_of_order" if held and first else None)
            ok = attempt.status is not None and 200 <= attempt.status < 300
            give_up = not ok and time.monotonic() + delay > deadline
            self._record(index, attempt, ok, finished=ok or give_up)
            if first and not held:
                self._release_held()
            first = False
            if ok and fault == "duplicate":
                # The API sends an event again when its 2xx went missing: same id, new signature.
                self._record(index, await self._attempt(self._records[index], "duplicate"), True, True)
            if ok or give_up:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)
            if deleted():
                # As on expiry: retries stop once the request's data is deleted.
                self._give_up(index)
                return

    async def _hold(self) -> None:
        """Wait until another event's first attempt was answered, or ``hold`` seconds."""
        released = asyncio.Event()
        self._held.append(released)
        try:
            await asyncio.wait_for(released.wait(), self.hold)
        except asyncio.TimeoutError:
            self._held.remove(released)

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for released in held:
            released.set()

    def _give_up(self, index: int) -> None:
        with self._lock:
            self._records[index] = dataclasses.replace(self._records[index], finished=True)

    def _record(self, index: int, attempt: WebhookAttempt, delivered: bool, finished: bool) -> None:
        with self._lock:
            record = self._records[index]
            self._records[index] = dataclasses.replace(
                record,
                attempts=(*record.attempts, attempt),
                delivered=record.delivered or delivered,
                finished=finished,
            )

    async def _attempt(self, record: WebhookDelivery, fault: Optional[str]) -> WebhookAttempt:
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
                attempt = WebhookAttempt(started, response.status, None, fault)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            attempt = WebhookAttempt(started, None, f"{type(exc).__name__}: {exc}", fault)
        if self._journal.enabled:
            self._journal.append(_journal_entry(record, headers, attempt))
        return attempt


def _journal_entry(record: WebhookDelivery, headers: Dict[str, str], attempt: WebhookAttempt) -> JournalEntry:
    from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

    parts = urlsplit(record.url)
    return JournalEntry(
        method="POST",
        path=parts.path or "/",
        query=MultiDictProxy(MultiDict(parse_qsl(parts.query, keep_blank_values=True))),
        headers=CIMultiDictProxy(CIMultiDict(headers)),
        body_length=len(record.body),
        route=WEBHOOK_ROUTE,
        status=attempt.status,
        fault=attempt.fault,
        connection_id=0,
        correlation_id=None,
        time=attempt.time,
    )
