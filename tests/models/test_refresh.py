"""Refreshing the catalog from the published OpenAPI document, served by the emulator: the current
document, one that drifted and broken ones; the cache directory, the fresher catalog, the CLI."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from client.harness import TRANSPORTS, Harness

import higgsfield_client.models._cache as cache_module
from higgsfield_client import HiggsfieldArgumentWarning, SyncClient, ValidationError
from higgsfield_client.models import (
    CACHE_DIR_ENV,
    CatalogRefresh,
    cache_dir,
    current_catalog,
    snapshot_document,
)
from higgsfield_client.models._refresh import today
from higgsfield_client.testing import Emulator
from higgsfield_proto import CatalogError, DownloadError

SOUL = "higgsfield-ai/soul/standard"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(queue_time=0, run_time=0.01) as emu:
        yield emu


@pytest.fixture(params=TRANSPORTS)
def harness(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Harness]:
    emulator.serve_openapi(None)
    yield Harness(transport=request.param, emulator=emulator)
    emulator.serve_openapi(None)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache file, in a directory of this test's own."""
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "published-openapi.json"


def url_of(emulator: Emulator) -> str:
    return f"{emulator.base_url}/docs/openapi.json"


def drifted() -> Dict[str, Any]:
    """The published document with a model removed, one added, and one changed in every way."""
    document = copy.deepcopy(snapshot_document())
    paths = document["paths"]
    del paths["/reve/edit"]
    paths["/acme/new/text-to-image"] = copy.deepcopy(paths[f"/{SOUL}"])
    schema = paths[f"/{SOUL}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema["properties"]["resolution"]["enum"] = ["720p", "2K"]
    schema["properties"]["seed"] = {"type": "integer", "minimum": 1}
    del schema["properties"]["aspect_ratio"]
    schema["required"] = ["prompt", "num_images"]
    return document


DRIFT = [
    "+ model acme/new/text-to-image",
    "- model reve/edit",
    f"~ model {SOUL}: field seed added",
    f"~ model {SOUL}: field aspect_ratio removed",
    f"~ model {SOUL}: field num_images now required",
    f"~ model {SOUL}: values of resolution changed: +'720p' -'4K'",
]


async def refresh(client: Any, url: str) -> CatalogRefresh:
    """``client.models.refresh(url)``, awaited on an async client."""
    result = client.models.refresh(url)
    return await result if not isinstance(result, CatalogRefresh) else result


def test_the_current_document_is_stored_with_no_drift(harness: Harness, cache: Path) -> None:
    url = url_of(harness.emulator)

    async def scenario(client: Any) -> CatalogRefresh:
        return await refresh(client, url)

    result = harness.run(scenario)
    assert result.drift.is_empty
    assert (result.source, result.date, result.path) == (url, today(), cache)
    assert len(result.catalog.models) == len(current_catalog().models)
    stored = json.loads(cache.read_text())
    assert (stored["source"], stored["date"]) == (url, today())
    assert stored["document"] == snapshot_document()
    assert current_catalog().source == url  # what every client checks against from now on
    fetched = [entry for entry in harness.emulator.journal if entry.route == "openapi"]
    assert fetched
    assert "authorization" not in fetched[-1].headers


def test_a_drifted_document_is_stored_its_drift_told_and_then_used(harness: Harness, cache: Path) -> None:
    harness.emulator.serve_openapi(drifted())
    url = url_of(harness.emulator)

    async def scenario(client: Any) -> CatalogRefresh:
        with pytest.raises(ValidationError):
            client.models.validate(SOUL, {"prompt": "a lake", "resolution": "720p"})
        result = await refresh(client, url)
        # The refreshing client checks against the new document at once.
        client.models.validate(SOUL, {"prompt": "a lake", "num_images": 1, "resolution": "720p"})
        with pytest.raises(ValidationError, match="num_images: Field required"):
            await client.submit(SOUL, {"prompt": "a lake"}, validate="strict")
        return result

    result = harness.run(scenario)
    assert list(result.drift.lines()) == DRIFT
    assert "mirrored" in result.previous
    with SyncClient(api_key="a:b") as later:  # and so does a client made afterwards
        assert "reve/edit" not in [entry.model_id for entry in later.models.list()]
        assert later.models.get("acme/new/text-to-image").kind == "image"


def _truncated() -> bytes:
    text = json.dumps(snapshot_document()).encode()
    return text[: len(text) // 2]


def _without_schema() -> Dict[str, Any]:
    document = copy.deepcopy(snapshot_document())
    del document["paths"][f"/{SOUL}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return document


BROKEN = {
    "not JSON": (b"<html>Just a moment...</html>", "not JSON"),
    "truncated": (_truncated(), "not JSON"),
    "not UTF-8": (b'{"paths": "\xff"}', "not UTF-8"),
    "no paths": ({"openapi": "3.1.0", "info": {}}, "has no paths"),
    "no models": ({"paths": {"/requests/{id}/status": {"get": {}}}}, "no model endpoints"),
    "a model without a schema": (_without_schema(), f"model '{SOUL}': no JSON request schema"),
    "a malformed schema": (
        {"paths": {"/a/b": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {"n": {"type": "integer", "minimum": "1"}}}}}}}}}},
        "minimum must be a number",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_document_is_refused_and_the_cache_left_as_it_was(
    harness: Harness, cache: Path, name: str
) -> None:
    emulator = harness.emulator
    url = url_of(emulator)
    harness.run(lambda client: refresh(client, url))  # a good cache first
    before = cache.read_bytes()
    document, words = BROKEN[name]
    emulator.serve_openapi(document)

    async def scenario(client: Any) -> None:
        with pytest.raises(CatalogError) as refused:
            await refresh(client, url)
        message = str(refused.value)
        assert words in message, message
        assert message.startswith(f"refused the document from {url}: ")
        assert message.endswith("the catalog in use is unchanged")
        assert client.models.catalog.source == url  # still the good one

    harness.run(scenario)
    assert cache.read_bytes() == before
    assert [path.name for path in cache.parent.iterdir()] == [cache.name]  # no part file left


def test_a_document_over_the_size_cap_is_refused_before_it_is_read(
    emulator: Emulator, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("higgsfield_client.models._client.MAX_DOCUMENT_SIZE", 1000)
    with SyncClient(api_key="a:b") as client, pytest.raises(DownloadError):
        client.models.refresh(url_of(emulator))
    assert not cache.exists()


def test_the_fresher_of_the_cache_and_the_snapshot_is_used(cache: Path) -> None:
    snapshot = current_catalog()
    assert snapshot.date == "2026-12-07"
    assert "mirrored" in snapshot.source
    cache_module.store(drifted(), source="https://older.example/openapi.json", date="2026-01-01")
    assert current_catalog().source == snapshot.source
    cache_module.store(drifted(), source="https://newer.example/openapi.json", date="2027-01-01")
    assert current_catalog().source == "https://newer.example/openapi.json"
    assert current_catalog() is current_catalog()  # read once, until the file changes
    cache.unlink()
    assert current_catalog().source == snapshot.source


def test_an_unreadable_cache_is_passed_over_with_a_warning(cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text('{"format": 1, "source": "x"}')
    with pytest.warns(HiggsfieldArgumentWarning, match="does not name its source and date"):
        catalog = current_catalog()
    assert "mirrored" in catalog.source
    cache.write_text("{")
    with pytest.warns(HiggsfieldArgumentWarning, match="is not JSON"):
        current_catalog()
    cache.write_text(json.dumps({"format": 1, "source": "x", "date": "2099-01-01", "document": {}}))
    with pytest.warns(HiggsfieldArgumentWarning, match="has no paths"):
        current_catalog()


def test_the_cache_directory_is_ours_if_set_else_the_platforms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(CACHE_DIR_ENV)
    import platformdirs

    assert cache_dir() == Path(platformdirs.user_cache_dir("higgsfield", appauthor=False))
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert cache_dir() == tmp_path / "xdg" / "higgsfield"


def test_a_cache_that_cannot_be_read_is_passed_over(cache: Path) -> None:
    cache.mkdir(parents=True)  # a directory where the file should be
    with pytest.warns(HiggsfieldArgumentWarning, match="cannot read the cached catalog"):
        assert "mirrored" in current_catalog().source


def test_a_failed_write_leaves_the_old_cache_whole_and_no_part_file(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_module.store(drifted(), source="https://first.example/openapi.json", date="2027-01-01")
    before = cache.read_bytes()

    def full_disk(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        cache_module.store(snapshot_document(), source="https://second.example/x.json", date="2027-01-02")
    assert cache.read_bytes() == before
    assert [path.name for path in cache.parent.iterdir()] == [cache.name]
