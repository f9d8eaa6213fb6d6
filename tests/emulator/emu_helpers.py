"""Small helpers shared by the emulator tests (plain HTTP, no SDK)."""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, Optional, TypeVar

import requests

from higgsfield_client.testing import Emulator

T = TypeVar("T")
SOUL = "higgsfield-ai/soul/standard"
KLING = "kling-video/v2.6/pro/image-to-video"
TERMINAL = {"completed", "failed", "nsfw", "canceled"}


def submit(
    http: requests.Session,
    emu: Emulator,
    body: Optional[Dict[str, Any]] = None,
    model: str = SOUL,
    **kwargs: Any,
) -> requests.Response:
    """POST a submit; ``body`` defaults to a valid soul prompt."""
    payload = {"prompt": "a lake at dawn"} if body is None else body
    return http.post(f"{emu.base_url}/{model}", json=payload, timeout=10, **kwargs)


def wait_until(probe: Callable[[], Optional[T]], timeout: float = 10.0) -> T:
    """Call ``probe`` every 20 ms until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.02)


def wait_status(
    http: requests.Session, emu: Emulator, request_id: str, wanted: Iterable[str] = TERMINAL
) -> Dict[str, Any]:
    """Poll the status route until the status is one of ``wanted``; return the payload."""
    targets = set(wanted)

    def probe() -> Optional[Dict[str, Any]]:
        response = http.get(f"{emu.base_url}/requests/{request_id}/status", timeout=10)
        assert response.status_code == 200, response.text
        payload: Dict[str, Any] = response.json()
        return payload if payload["status"] in targets else None

    return wait_until(probe)
