"""The pytest plugin: a ``higgsfield_emulator`` fixture serving the API for one test.

Loaded in every pytest run of a project that installs this package, so it imports nothing heavy
until the fixture is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from ._emulator import Emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "higgsfield_emulator(**options): keyword arguments for the higgsfield_emulator "
        "fixture's Emulator (queue_time, run_time, fault_rate, seed, ...)",
    )


@pytest.fixture
def higgsfield_emulator(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Emulator]:
    """A running `Emulator`, with ``HF_KEY`` and ``HIGGSFIELD_BASE_URL`` pointing at it.

    ``HF_API_KEY`` and ``HF_API_SECRET`` are unset for the test so that they cannot win over
    ``HF_KEY``. Options come from a ``@pytest.mark.higgsfield_emulator(...)`` marker.
    """
    from ._emulator import Emulator

    marker = request.node.get_closest_marker("higgsfield_emulator")
    options = dict(marker.kwargs) if marker is not None else {}
    with Emulator(**options) as emulator:
        monkeypatch.setenv("HF_KEY", emulator.api_key)
        monkeypatch.setenv("HIGGSFIELD_BASE_URL", emulator.base_url)
        monkeypatch.delenv("HF_API_KEY", raising=False)
        monkeypatch.delenv("HF_API_SECRET", raising=False)
        yield emulator
