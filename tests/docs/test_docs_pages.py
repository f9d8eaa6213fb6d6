"""The documentation sources: every page is in the site's navigation, the two tables agree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[2]


def _table_after(text: str, heading: str) -> List[str]:
    rows: List[str] = []
    for line in text[text.index(heading) :].splitlines()[1:]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r":\s+(\S+\.md)\s*$", config, flags=re.MULTILINE))
    pages = {path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")}
    assert pages == listed


def test_the_readme_and_the_migration_page_list_the_same_differences() -> None:
    readme = _table_after((ROOT / "README.md").read_text(), "## Differences from the official SDK")
    migration = _table_after((ROOT / "docs" / "migration.md").read_text(), "## Every difference in behaviour")
    assert len(migration) > 10
    assert readme == migration


def test_the_included_examples_exist() -> None:
    included = set()
    for page in (ROOT / "docs").rglob("*.md"):
        included.update(re.findall(r'--8<-- "([^"]+)"', page.read_text()))
    assert included
    assert all((ROOT / path).is_file() for path in included)
    assert {path for path in included if path.startswith("examples/")} >= {
        "examples/sync_quickstart.py",
        "examples/asyncio_quickstart.py",
        "examples/trio_quickstart.py",
        "examples/webhook_receiver.py",
        "examples/batch.py",
    }


def test_the_docs_and_the_public_docstrings_stand_on_their_own() -> None:
    # The repository holds no PROTOCOL.md: a page or an API reference entry citing it would send
    # readers to a document they cannot open.
    sources = [*(ROOT / "docs").rglob("*.md"), ROOT / "README.md", ROOT / "CHANGELOG.md"]
    for package in ("higgsfield_proto", "higgsfield_transports", "higgsfield_client"):
        sources += (ROOT / package).rglob("*.py")
    citing = [str(path.relative_to(ROOT)) for path in sources if "PROTOCOL.md" in path.read_text()]
    assert citing == []
