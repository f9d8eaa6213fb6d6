"""The catalog snapshot shipped as package data: what it holds, where it comes from, and that
importing the SDK does not load it."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

import higgsfield_client.models
from higgsfield_client.models import _snapshot, catalog_data, snapshot_catalog, snapshot_document
from higgsfield_proto import CatalogError, catalog_from_openapi

PUBLISHED = 48


def test_the_snapshot_holds_the_published_document_and_the_documented_models() -> None:
    catalog = snapshot_catalog()
    published = catalog_from_openapi(snapshot_document(), source="s", date="d")
    assert len(published.models) == PUBLISHED
    assert list(catalog.models)[:PUBLISHED] == list(published.models)
    assert "124c3d2" in catalog.source
    assert catalog.date == "2026-12-07"
    documented = list(catalog.models)[PUBLISHED:]
    assert "bytedance/seedream/v4/text-to-image" in documented
    assert {entry.model_id for entry in catalog.list() if not entry.checked} == {
        "bytedance/seedream/v4/edit", "higgsfield-ai/soul/v2/standard", "alibaba/qwen-image-3/text-to-image",
    }  # fmt: skip
    for entry in catalog.list():
        assert entry.source
        assert entry.date == "2026-12-07"
        assert entry.kind in ("image", "video")
    assert catalog.get("higgsfield-ai/dop/standard").kind == "video"


def test_the_documented_schemas_say_how_open_they_are() -> None:
    catalog = snapshot_catalog()
    qwen = catalog.get("alibaba/qwen-image-3/edit")
    assert [(p.loc, p.type) for p in qwen.problems({"prompt": "p", "image_urls": ["u"], "size": 1})] == [
        (("body", "size"), "extra_forbidden")
    ]
    kling = catalog.get("kling-video/v2.6/pro/image-to-video")
    assert kling.problems({"prompt": "p", "image_url": "u", "negative_prompt": "x"}, strict=True) == ()


def test_the_other_id_spaces_are_named() -> None:
    catalog = snapshot_catalog()
    for model_id in (
        "nano_banana_2",
        "text2image_soul_v2",
        "z_image",
        "recraft_v4_1",
        "soul_location",
        "kling3_0",
        "/v1/text2image/soul",
        "v1/image2video/dop",
        "/v1/job-sets/123",
    ):
        foreign = catalog.foreign(model_id)
        assert foreign is not None, model_id
        assert "not a model id of the Platform API" in foreign.message
    assert catalog.foreign("higgsfield-ai/soul/standard") is None


def test_importing_the_sdk_does_not_load_the_catalog() -> None:
    code = (
        "import sys, higgsfield_client, higgsfield_client.models as m; "
        "print('higgsfield_client.models._snapshot' in sys.modules, 'jsonschema' in sys.modules); "
        "m.snapshot_catalog; print('higgsfield_client.models._snapshot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False", "True"]
    check = "import sys, higgsfield_client; print('higgsfield_client.models' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_the_package_names_only_what_it_has() -> None:
    assert "snapshot_catalog" in dir(higgsfield_client.models)
    with pytest.raises(AttributeError):
        higgsfield_client.models.no_such_name  # noqa: B018


@pytest.mark.parametrize(
    "data",
    [[], {"format": 1}, {"snapshot": {"file": "openapi.json", "source": "s"}}, {"snapshot": "openapi.json"}],
)
def test_catalog_data_without_its_snapshot_is_refused(data: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_snapshot, "_read", lambda name: data)
    with pytest.raises(CatalogError, match=r"catalog\.json"):
        catalog_data()


def test_the_data_files_are_json_the_emulator_reads_too() -> None:
    from higgsfield_client.testing._catalog import read_data

    assert json.loads(read_data("catalog.json")) == catalog_data()
    assert json.loads(read_data("openapi.json")) == snapshot_document()
