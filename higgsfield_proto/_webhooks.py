"""Webhook deliveries: Standard Webhooks signature checks and event parsing. No I/O happens here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Union

from ._errors import ProtocolError, WebhookSecretError, WebhookVerificationError
from ._http import header_value
from ._parse import job_status_from_payload
from ._values import WebhookEvent

DEFAULT_TOLERANCE = 300.0
"""Deliveries signed more than five minutes away from ``now`` are rejected."""

HeaderSource = Union[Mapping[str, str], Sequence[Tuple[str, str]]]
"""A delivery's headers as a web framework gives them: a mapping, or (name, value) pairs."""
WebhookSecrets = Union[str, Sequence[str]]
"""One ``whsec_...`` secret, or several (during a rotation, a delivery signed with any of them is valid)."""

MIN_SECRET_BYTES = 24
"""The fewest key bytes a webhook secret may hold.

Standard Webhooks secrets are 24 to 64 random bytes (``whsec_`` and 32 to 88 base64 characters):
a shorter key is no secret a sender made, but a placeholder, a typo or an unset variable.
"""


def _header(headers: HeaderSource, name: str) -> Optional[str]:
    pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
    return header_value(pairs, name)


def _is_unix_time(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 12


def _key(secret: str) -> bytes:
    encoded = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    if not encoded:
        raise WebhookSecretError("a webhook secret is empty")
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSecretError("a webhook secret is not base64 after 'whsec_'") from None
    return long_enough(key, "a webhook secret's key")


def long_enough(key: bytes, what: str) -> bytes:
    """``key`` when it holds at least ``MIN_SECRET_BYTES`` bytes.

    Raises:
        WebhookSecretError: a shorter key, named ``what`` (its length is said, never its bytes).
    """
    if len(key) < MIN_SECRET_BYTES:
        raise WebhookSecretError(f"{what} holds {len(key)} bytes; at least {MIN_SECRET_BYTES} are needed")
    return key


def secret_keys(secret: Union[str, Sequence[str]], key_of: Callable[[str], bytes]) -> list[bytes]:
    """The key ``key_of`` makes of each secret: one, or several during a rotation.

    Raises:
        WebhookSecretError: no secret at all, or what ``key_of`` raises.
    """
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookSecretError("at least one secret is needed")
    return [key_of(each) for each in secrets]


def _keys(secret: WebhookSecrets) -> list[bytes]:
    return secret_keys(secret, _key)


def check_webhook_secret(secret: WebhookSecrets) -> None:
    """Refuse a Standard Webhooks secret, or a list of them, that cannot be trusted.

    Raises:
        WebhookSecretError: no secret, or one that is empty (``""``, ``"whsec_"``), not base64
            after ``whsec_``, or shorter than ``MIN_SECRET_BYTES`` key bytes. The message never
            contains the secret.
    """
    _keys(secret)


def _sign(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a delivery; useful in tests.

    Raises:
        WebhookSecretError: the secret cannot be trusted (see ``check_webhook_secret``).
    """
    return _sign(_key(secret), webhook_id, timestamp, body)


def _flat(payload: Any) -> Any:
    """A delivery whose results sit under ``payload`` as the flat status payload: the outputs
    come up beside ``request_id``, ``status`` and ``error``, which win over any of the same name."""
    if not isinstance(payload, dict) or "payload" not in payload:
        return payload
    nested = payload["payload"]
    if nested is not None and not isinstance(nested, dict):
        raise ProtocolError(f"webhook body: 'payload' is {type(nested).__name__}, not an object")
    top = {key: value for key, value in payload.items() if key != "payload"}
    return {**(nested or {}), **top}


def parse_webhook(body: bytes, headers: HeaderSource = ()) -> WebhookEvent:
    """Read a delivery's body without checking a signature (for unsigned accounts).

    Two body shapes are read: flat, as a status answer (``{"status", "request_id", "images",
    ...}``), and with the results under ``payload`` (``{"request_id", "status", "error",
    "payload": {"images": [...]}}``), which the event's ``status.payload`` holds flattened.

    Raises:
        ProtocolError: the body is not a status payload (UnknownStatusError for a bad status).
    """
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("webhook body is not JSON") from None
    timestamp = _header(headers, "webhook-timestamp")
    return WebhookEvent(
        status=job_status_from_payload(_flat(payload)),
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
    """Check a signed delivery (Standard Webhooks, as the API signs them) and read it as
    ``parse_webhook`` does (either body shape).

    Args:
        secret: the account's ``whsec_...`` secret, or several during a rotation (any of them
            may have signed the delivery).
        headers: the delivery's headers (any case); needs webhook-id, -timestamp and -signature.
        body: the raw body bytes, exactly as received.
        now: the current Unix time in seconds.
        tolerance: the largest accepted distance between ``now`` and the signing time.

    Raises:
        WebhookVerificationError: missing headers, a stale or future timestamp, or no matching
            signature among the space-separated ``v1,`` entries.
        ProtocolError: the signature matches but the body is not a status payload.
        WebhookSecretError: no secret, or one that cannot be trusted (checked first, whatever
            the delivery).
    """
    keys = _keys(secret)
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not webhook_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not _is_unix_time(timestamp):
        raise WebhookVerificationError("webhook-timestamp is not a Unix time")
    if abs(now - int(timestamp)) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the accepted tolerance")
    expected = [_sign(key, webhook_id, int(timestamp), body).encode("ascii") for key in keys]
    candidates = [
        candidate.encode("ascii", errors="replace")
        for candidate in signatures.split()
        if candidate.startswith("v1,")
    ]
    if not any(hmac.compare_digest(mine, theirs) for mine in expected for theirs in candidates):
        raise WebhookVerificationError("no webhook signature matches")
    return parse_webhook(body, headers)
