"""The architecture page names only files and modules that exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"


def named_paths(text: str) -> set[str]:
    return {name for name in re.findall(r"`([^`\s]+)`", text) if "/" in name and not name.startswith("http")}


def test_every_file_and_folder_the_page_names_exists() -> None:
    named = named_paths(PAGE.read_text())
    assert len(named) > 30
    missing = sorted(name for name in named if "<name>" not in name and not (ROOT / name).exists())
    assert missing == []


def test_every_name_the_page_gives_a_module_is_importable() -> None:
    text = PAGE.read_text()
    dotted = set(re.findall(r"`(higgsfield_(?:client|proto|transports)(?:\.[a-z_]+)+)`", text))
    missing = sorted(name for name in dotted if importlib.util.find_spec(name) is None)
    assert missing == []


def test_the_checker_notices_a_file_that_does_not_exist() -> None:
    assert named_paths("see `higgsfield_client/_gone.py` and `a.b`") == {"higgsfield_client/_gone.py"}
    assert not (ROOT / "higgsfield_client/_gone.py").exists()
