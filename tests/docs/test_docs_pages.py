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
    listed = set(_navigation())
    pages = {path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")}
    assert pages == listed


def _navigation() -> List[str]:
    """The pages of the site's navigation, in its order."""
    return re.findall(r":\s+(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.MULTILINE)


def test_the_home_page_table_names_every_page_under_a_header() -> None:
    rows = _table_after((ROOT / "docs" / "index.md").read_text(), "## What is here")
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert all(header), rows[0]
    linked = set(re.findall(r"\]\(([^)#]+\.md)\)", "\n".join(rows[2:])))
    assert linked == set(_navigation()) - {"index.md"}


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
