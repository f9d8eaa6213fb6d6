"""Fixtures for the protocol-core tests: an API config with recognisable credentials."""

from __future__ import annotations

import hmac
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("higgsfield_proto") is None:  # run without an editable install
    sys.path.insert(0, str(ROOT))

from proto_support import KEY_ID, SECRET  # noqa: E402

from higgsfield_proto import ApiConfig, Credentials  # noqa: E402


@pytest.fixture
def config() -> ApiConfig:
    return ApiConfig(credentials=Credentials(key_id=KEY_ID, secret=SECRET))


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, Any]]:
    """The arguments of every ``hmac.compare_digest`` call made meanwhile (it still compares)."""
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls
