"""What every test shares: a cache directory of its own, so that no test reads the model catalog
a developer refreshed into their real cache (``higgsfield-sansio models refresh``)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("HIGGSFIELD_CACHE_DIR")
    os.environ["HIGGSFIELD_CACHE_DIR"] = str(tmp_path_factory.mktemp("higgsfield-cache"))
    yield
    if before is None:
        del os.environ["HIGGSFIELD_CACHE_DIR"]
    else:
        os.environ["HIGGSFIELD_CACHE_DIR"] = before
