"""What ``make catalog`` generates from the catalog snapshot is current: the TypedDicts and the
table of the Models page."""

from __future__ import annotations

from pathlib import Path

import pytest

from higgsfield_client.models import snapshot_catalog

from .support import ROOT, load_script

catalog_script = load_script(".ci/catalog.py", "catalog_script")


@pytest.mark.parametrize("path", sorted(catalog_script.outputs(), key=str))
def test_the_generated_file_is_current(path: Path) -> None:
    # Fails after a change to the catalog's data until `make catalog` is run.
    expected = catalog_script.outputs()[path]
    assert path.read_text(encoding="utf-8") == expected, f"run make catalog: {path} is stale"


def test_check_mode_reports_a_stale_file_and_writing_mends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "arguments.py"
    stale.write_text("# old\n")
    page = tmp_path / "models.md"
    page.write_text((ROOT / "docs" / "models.md").read_text())
    monkeypatch.setattr(catalog_script, "ROOT", tmp_path)
    monkeypatch.setattr(catalog_script, "ARGUMENTS", stale)
    monkeypatch.setattr(catalog_script, "MODELS_PAGE", page)
    assert catalog_script.main(["--check"]) == 1
    assert capsys.readouterr().out == "stale (run make catalog): arguments.py\n"
    assert stale.read_text() == "# old\n"
    assert catalog_script.main([]) == 0
    assert capsys.readouterr().out == "wrote arguments.py\n"
    assert catalog_script.main(["--check"]) == 0


def test_every_checked_model_has_a_typed_dict_and_every_model_a_row() -> None:
    catalog = snapshot_catalog()
    arguments = (ROOT / "higgsfield_client" / "models" / "arguments.py").read_text()
    page = (ROOT / "docs" / "models.md").read_text()
    for entry in catalog.list():
        assert f"| `{entry.model_id}` |" in page
        assert (f"class {catalog_script.class_name(entry.model_id)}(" in arguments) is entry.checked


def test_the_typed_dicts_declare_the_schema_fields() -> None:
    from higgsfield_client.models import arguments

    soul = arguments.HiggsfieldAiSoulStandardArguments
    assert soul.__required_keys__ == frozenset({"prompt"})
    assert soul.__optional_keys__ == frozenset({"num_images", "resolution", "aspect_ratio"})
    assert len(arguments.__all__) == len([entry for entry in snapshot_catalog().list() if entry.checked])
