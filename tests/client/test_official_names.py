"""Every public module and name of the official higgsfield-client 0.2.0 exists here.

``official_0_2_0.json`` was read once from the official wheel: each module with the public names
it defines or imports from the package, the public methods and attributes of each class it
defines, and ``dir()`` of the package. The suite never reads the official package itself.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

import higgsfield_client

OFFICIAL: Dict[str, Any] = json.loads((Path(__file__).parent / "official_0_2_0.json").read_text())
MODULES: Dict[str, List[str]] = OFFICIAL["modules"]
CLASSES: Dict[str, List[str]] = OFFICIAL["classes"]


def _instances() -> Dict[str, Callable[[], Any]]:
    """An instance of each official class whose attributes are set when it is made."""
    from higgsfield_client.agents.errors import AgentError
    from higgsfield_client.http.client import RequestController
    from higgsfield_client.http.retry import ExponentialBackoffRetry, LinearRetry

    sync = higgsfield_client.SyncClient(api_key="a:b")
    asynchronous = higgsfield_client.AsyncClient(api_key="a:b")
    return {
        "higgsfield_client.agents.errors.AgentError": lambda: AgentError("no", 400),
        "higgsfield_client.agents.resources.AgentsResource": lambda: sync.agents,
        "higgsfield_client.agents.resources.AsyncAgentsResource": lambda: asynchronous.agents,
        "higgsfield_client.http.client.RequestController": lambda: RequestController("r-1"),
        "higgsfield_client.http.client.SyncClient": lambda: sync,
        "higgsfield_client.http.client.AsyncClient": lambda: asynchronous,
        "higgsfield_client.http.retry.ExponentialBackoffRetry": ExponentialBackoffRetry,
        "higgsfield_client.http.retry.LinearRetry": LinearRetry,
    }


def test_the_list_was_read_from_the_whole_official_wheel() -> None:
    assert len(MODULES) == 16
    assert "higgsfield_client.http.retry" in MODULES
    assert "NoRetry" in MODULES["higgsfield_client.http.retry"]
    assert len(CLASSES) > 30


@pytest.mark.parametrize("module", sorted(MODULES))
def test_every_official_module_imports_with_every_public_name(module: str) -> None:
    imported = importlib.import_module(module)
    missing = [name for name in MODULES[module] if not hasattr(imported, name)]
    assert missing == []


@pytest.mark.parametrize("qualified", sorted(CLASSES))
def test_every_official_class_has_its_public_methods_and_attributes(qualified: str) -> None:
    module, name = qualified.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert isinstance(cls, type)
    make = _instances().get(qualified)
    instance = make() if make is not None else None
    # Declared only (an abstract base's annotation), a dataclass field, or set on each instance:
    declared = {*getattr(cls, "__annotations__", {}), *getattr(cls, "__dataclass_fields__", {})}
    missing = [
        member
        for member in CLASSES[qualified]
        if not (hasattr(cls, member) or member in declared or hasattr(instance, member))
    ]
    assert missing == []


def test_dir_of_the_package_holds_everything_the_official_dir_does() -> None:
    missing = sorted(set(OFFICIAL["package_dir"]) - set(dir(higgsfield_client)))
    assert missing == []


@pytest.mark.parametrize("name", ["agents", "auth", "exceptions", "http", "mixins", "types_", "utils"])
def test_the_official_submodules_are_attributes_of_the_package(name: str) -> None:
    module = getattr(higgsfield_client, name)
    assert module is importlib.import_module(f"higgsfield_client.{name}")


def test_an_unknown_attribute_is_still_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        higgsfield_client.nothing_here  # noqa: B018 - reading it is the test
