"""Signed deliveries made by hand, for the receiver tests."""

from __future__ import annotations

import base64
import json
import time
from typing import Any, Optional

from higgsfield_proto import sign_webhook

SECRET = "whsec_" + base64.b64encode(b"receiver tests: the current key").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"receiver tests: the rotated key").decode()
FORGER = "whsec_" + base64.b64encode(b"someone else's key, not ours...").decode()


def status_body(request_id: str = "req-1", status: str = "completed", **extra: Any) -> bytes:
    payload: dict[str, Any] = {"status": status, "request_id": request_id, **extra}
    if status == "completed" and "images" not in extra:
        payload["images"] = [{"url": f"https://cdn.example/{request_id}/0.png"}]
    return json.dumps(payload).encode()


def signed(
    body: bytes,
    *,
    webhook_id: str = "msg_1",
    secret: str = SECRET,
    timestamp: Optional[int] = None,
) -> dict[str, str]:
    """The three Standard Webhooks headers of a delivery of ``body``."""
    when = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(when),
        "webhook-signature": sign_webhook(secret, webhook_id, when, body),
        "content-type": "application/json",
    }
