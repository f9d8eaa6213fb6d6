"""Webhook deliveries: Standard Webhooks signature checks and event parsing. No I/O happens here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Mapping, Optional, Sequence, Tuple, Union

from ._errors import InvalidArgumentError, ProtocolError, WebhookVerificationError
from ._http import header_value
from ._parse import job_status_from_payload
from ._values import WebhookEvent

DEFAULT_TOLERANCE = 300.0
"""Deliveries signed more than five minutes away from ``now`` are rejected."""

HeaderSource = Union[Mapping[str, str], Sequence[Tuple[str, str]]]
"""A delivery's headers as a web framework gives them: a mapping, or (name, value) pairs."""
WebhookSecrets = Union[str, Sequence[str]]
"""One ``whsec_...`` secret, or several (during a rotation, a delivery signed with any of them is valid)."""


def _header(headers: HeaderSource, name: str) -> Optional[str]:
    pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
    return header_value(pairs, name)


def _is_unix_time(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 12


def _key(secret: str) -> bytes:
    encoded = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the webhook secret is not valid base64") from None


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a delivery; useful in tests."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def parse_webhook(body: bytes, headers: HeaderSource = ()) -> WebhookEvent:
    """Read a delivery's body without checking a signature (for unsigned accounts).

    Raises:
        ProtocolError: the body is not a status payload (UnknownStatusError for a bad status).
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("webhook body is not JSON") from None
    timestamp = _header(headers, "webhook-timestamp")
    return WebhookEvent(
        status=job_status_from_payload(payload),
        webhook_id=_header(headers, "webhook-id"),
        timestamp=int(timestamp) if timestamp is not None and _is_unix_time(timestamp) else None,
    )


def verify_webhook(
    secret: WebhookSecrets,
    headers: HeaderSource,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> WebhookEvent:
    """Check a signed delivery (Standard Webhooks, as the API signs them) and read it.

    Args:
        secret: the account's ``whsec_...`` secret, or several during a rotation (any of them
            may have signed the delivery).
        headers: the delivery's headers (any case); needs webhook-id, -timestamp and -signature.
        body: the raw body bytes, exactly as received.
        now: the current Unix time in seconds.
        tolerance: the largest accepted distance between ``now`` and the signing time.

    Raises:
        WebhookVerificationError: missing headers, a stale or future timestamp, or no matching
            signature among the space-separated ``v1,`` entries; a secret that is not base64.
        ProtocolError: the signature matches but the body is not a status payload.
        InvalidArgumentError: ``secret`` is an empty sequence.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise InvalidArgumentError("verify_webhook needs at least one secret")
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not _is_unix_time(timestamp):
        raise WebhookVerificationError("webhook-timestamp is not a Unix time")
    if abs(now - int(timestamp)) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the accepted tolerance")
    expected = [sign_webhook(key, webhook_id, int(timestamp), body).encode("ascii") for key in secrets]
    candidates = [
        candidate.encode("ascii", errors="replace")
        for candidate in signatures.split()
        if candidate.startswith("v1,")
    ]
    if not any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in candidates):
        raise WebhookVerificationError("no webhook signature matches")
    return parse_webhook(body, headers)
