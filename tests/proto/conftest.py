"""Fixtures for the protocol-core tests: an API config with recognisable credentials."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if importlib.util.find_spec("higgsfield_proto") is None:  # run without an editable install
    sys.path.insert(0, str(ROOT))

from proto_support import KEY_ID, SECRET  # noqa: E402

from higgsfield_proto import ApiConfig, Credentials  # noqa: E402


@pytest.fixture
def config() -> ApiConfig:
    return ApiConfig(credentials=Credentials(key_id=KEY_ID, secret=SECRET))
