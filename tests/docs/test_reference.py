"""The API reference lists every public name: each name in the ``__all__`` of each public module.

The site is built, and each name is looked for among the objects the reference pages render
(their anchors), by identity and by name: a re-export (``higgsfield_client.APIError``) is listed
when its object is rendered under the same name anywhere in the reference
(``higgsfield_proto.APIError``). Public modules are found by walking the three packages, so a
module added later is covered once it has an ``__all__``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from types import ModuleType
from typing import Dict, Iterator, List, Set

import pytest

from .support import ROOT

PACKAGES = ("higgsfield_proto", "higgsfield_transports", "higgsfield_client")
_NO_OBJECT = object()


def public_modules() -> Iterator[ModuleType]:
    """Each module of the packages whose dotted name has no part starting with ``_``."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        yield root
        for found in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not any(part.startswith("_") for part in found.name.split(".")):
                yield importlib.import_module(found.name)


def _resolve(path: str) -> object:
    """The object at the dotted ``path`` (a module, then attributes), or ``_NO_OBJECT``."""
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name, _NO_OBJECT)
        return found
    return _NO_OBJECT


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, List[object]]:
    """The objects the built reference renders, by the name they are rendered under."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--quiet", "--site-dir", str(site)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=True,
        capture_output=True,
        timeout=600,
    )
    objects: Dict[str, List[object]] = {}
    for page in (site / "reference").rglob("index.html"):
        for anchor in set(re.findall(r'id="([A-Za-z_][\w.]*\.[A-Za-z_]\w*)"', page.read_text())):
            found = _resolve(anchor)
            if found is not _NO_OBJECT:
                objects.setdefault(anchor.rsplit(".", 1)[1], []).append(found)
    return objects


def test_the_public_modules_are_found() -> None:
    names = {module.__name__ for module in public_modules() if hasattr(module, "__all__")}
    assert names >= {
        "higgsfield_client",
        "higgsfield_client.agents",
        "higgsfield_client.batch",
        "higgsfield_client.ray",
        "higgsfield_client.webhooks",
        "higgsfield_client.testing",
        "higgsfield_proto",
        "higgsfield_transports",
        "higgsfield_transports.requests",
        "higgsfield_transports.aiohttp",
        "higgsfield_transports.trio",
    }


def test_the_reference_lists_every_public_name(rendered: Dict[str, List[object]]) -> None:
    missing: Dict[str, Set[str]] = {}
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if not any(found is value for found in rendered.get(name, ())):
                missing.setdefault(module.__name__, set()).add(name)
    said = "; ".join(f"{module}: {', '.join(sorted(names))}" for module, names in sorted(missing.items()))
    assert missing == {}, f"not in docs/reference/*.md: {said}"
