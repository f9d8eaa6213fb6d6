"""The model catalog in the clients, end to end against the emulator with every transport:
``client.models``, and the check before a submit in its three modes."""

from __future__ import annotations

import warnings
from typing import Any, List

import pytest

from higgsfield_client import (
    AsyncClient,
    HiggsfieldArgumentWarning,
    InvalidArgumentError,
    NotFoundError,
    SyncClient,
    UnknownModelError,
    ValidationError,
)
from higgsfield_client.models import snapshot_catalog
from higgsfield_client.testing import Emulator

from .catalog_cases import UNKNOWN_FIELD, mistakes
from .harness import Harness

SOUL = "higgsfield-ai/soul/standard"
SEEDREAM = "bytedance/seedream/v4/text-to-image"
README_BODY = {"prompt": "A serene lake at sunset with mountains", "resolution": "2K", "aspect_ratio": "16:9",
               "camera_fixed": False}  # fmt: skip
# A handful of models of every source and shape: published image and video models, one whose
# duration is a string, one that takes no other field, one with nested items.
HANDFUL = [
    SOUL,
    "kling-video/v2.1/pro/image-to-video",
    "veo3.1",
    "sora-2/text-to-video",
    "higgsfield-ai/dop/standard",
    "alibaba/qwen-image-3/edit",
]


def submits(emulator: Emulator) -> List[Any]:
    return [entry for entry in emulator.journal if entry.route == "submit"]


def argument_warnings(caught: List[warnings.WarningMessage]) -> List[str]:
    return [str(w.message) for w in caught if issubclass(w.category, HiggsfieldArgumentWarning)]


def test_models_lists_looks_up_and_validates_the_same_on_both_clients(harness: Harness) -> None:
    async def scenario(client: Any) -> None:
        models = client.models
        assert len(models.list()) == len(snapshot_catalog().models)
        videos = models.list(kind="video")
        assert videos
        assert all(entry.kind == "video" for entry in videos)
        assert models.get(SOUL).price is not None
        assert models.catalog.date == "2026-12-07"
        models.validate(SOUL, {"prompt": "a lake", "resolution": "4K"})
        with pytest.raises(ValidationError) as raised:
            models.validate(SOUL, {"prompt": "a lake", "resolution": "720p"})
        assert raised.value.local
        assert [(e.loc, e.type) for e in raised.value.errors] == [(("body", "resolution"), "literal_error")]
        models.validate(SOUL, {"prompt": "a lake", "batch_size": 4})  # unknown fields pass...
        with pytest.raises(ValidationError):
            models.validate(SOUL, {"prompt": "a lake", "batch_size": 4}, strict=True)  # ...unless strict
        with pytest.raises(UnknownModelError) as unknown:
            models.get("nano_banana_2")
        assert unknown.value.foreign is not None
        assert "nano-banana" in str(unknown.value)

    harness.run(scenario)
    assert submits(harness.emulator) == []


def test_by_default_a_problem_is_warned_about_once_per_model_and_field_and_submitted(
    harness: Harness,
) -> None:
    body = {"prompt": "a lake", "batch_size": 4, "style_id": "x"}

    async def scenario(client: Any) -> List[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(3):
                await client.submit(SOUL, body)
            await client.submit(SOUL, {"prompt": "a lake", "batch_size": 1})
        return argument_warnings(caught)

    told = harness.run(scenario)
    assert len(told) == 2, told
    assert all(text.startswith(f"{SOUL}: ") for text in told)
    assert any("batch_size: Extra inputs are not permitted" in text for text in told)
    assert any("style_id" in text for text in told)
    assert "the API ignores a field the model does not have" in told[0]
    assert len(submits(harness.emulator)) == 4
    # A new client warns again: the memory of what was said is the client's.
    assert len(harness.run(scenario)) == 2


def test_a_warning_points_at_the_callers_line(harness: Harness) -> None:
    # Clients made here, not through the harness's sync facade: its frame would be the caller.
    emulator = harness.emulator
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if harness.is_async:

            async def scenario() -> None:
                kind = "aiohttp" if harness.transport == "aiohttp" else "trio"
                async with AsyncClient(emulator.base_url, api_key=emulator.api_key, transport=kind) as client:
                    await client.submit(SOUL, {"prompt": "a lake", "seed": 3})

            harness.run_plain(scenario)
        else:
            with SyncClient(emulator.base_url, api_key=emulator.api_key) as client:
                client.submit(SOUL, {"prompt": "a lake", "seed": 3})
    (warning,) = [w for w in caught if issubclass(w.category, HiggsfieldArgumentWarning)]
    assert warning.filename == __file__


def test_a_wrong_value_is_warned_about_and_then_refused_by_the_server_with_the_same_list(
    harness: Harness,
) -> None:
    body = {"prompt": "a lake", "resolution": "720p", "num_images": 9}

    async def scenario(client: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(ValidationError) as raised:
                await client.submit(SOUL, body)
        return argument_warnings(caught), raised.value

    told, error = harness.run(scenario)
    assert [text.split(" (model catalog")[0] for text in told] == [
        f"{SOUL}: num_images: Input should be less than or equal to 4",
        f"{SOUL}: resolution: Input should be '2K' or '4K'",
    ]
    assert not error.local
    assert error.status_code == 422
    local = snapshot_catalog().get(SOUL).problems(body)
    assert [(e.loc, e.type) for e in error.errors] == [(e.loc, e.type) for e in local]


@pytest.mark.parametrize("where", ["client", "call"])
def test_strict_mode_raises_and_sends_nothing_also_for_an_unknown_field(harness: Harness, where: str) -> None:
    on_client = {"validate": "strict"} if where == "client" else {}
    on_call = {"validate": "strict"} if where == "call" else {}

    async def scenario(client: Any) -> List[ValidationError]:
        errors = []
        for body in ({"prompt": "a lake", "resolution": "720p"}, {"prompt": "a lake", "batch_size": 4}):
            with pytest.raises(ValidationError) as raised:
                await client.subscribe(SOUL, body, **on_call)
            errors.append(raised.value)
        with pytest.raises(ValidationError):
            await client.submit(SOUL, {"resolution": "2K"}, **on_call)
        return errors

    wrong, unknown = harness.run(scenario, **on_client)
    assert wrong.local
    assert unknown.local
    assert [(e.loc, e.type) for e in unknown.errors] == [(("body", "batch_size"), "extra_forbidden")]
    assert "nothing was sent" in str(wrong)
    assert submits(harness.emulator) == []


def test_validate_false_checks_nothing_and_a_call_overrides_its_client(harness: Harness) -> None:
    async def scenario(client: Any) -> List[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            await client.submit(SOUL, {"prompt": "a lake", "batch_size": 4})
            with pytest.raises(ValidationError) as raised:
                await client.submit(SOUL, {"prompt": "a lake", "batch_size": 4}, validate="strict")
            assert raised.value.local
        return argument_warnings(caught)

    assert harness.run(scenario, validate=False) == []
    assert len(submits(harness.emulator)) == 1


def test_an_unknown_model_passes_unchanged_even_in_strict_mode(harness: Harness) -> None:
    async def scenario(client: Any) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(NotFoundError):
                await client.submit("acme/not-in-the-catalog", {"anything": [1]}, validate="strict")
        assert argument_warnings(caught) == []

    harness.run(scenario)
    (sent,) = submits(harness.emulator)
    assert sent.path == "/acme/not-in-the-catalog"


@pytest.mark.parametrize("model_id", ["nano_banana_2", "/v1/text2image/soul"])
def test_an_id_of_another_plane_gets_a_message_that_says_so(harness: Harness, model_id: str) -> None:
    async def scenario(client: Any) -> List[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(NotFoundError):
                await client.submit(model_id, {"prompt": "x"})
            with pytest.raises(UnknownModelError) as raised:
                await client.submit(model_id, {"prompt": "x"}, validate="strict")
            assert "not a model id of the Platform API" in str(raised.value)
        return argument_warnings(caught)

    (told,) = harness.run(scenario)
    assert "not a model id of the Platform API" in told
    assert len(submits(harness.emulator)) == 1  # the default mode's, never the strict one's


def test_the_seed_readme_body_passes_every_mode_without_a_word(harness: Harness) -> None:
    async def scenario(client: Any) -> List[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for mode in (True, "strict"):
                result = await client.subscribe(SEEDREAM, README_BODY, validate=mode)
                assert result["images"]
        return argument_warnings(caught)

    assert harness.run(scenario) == []
    assert snapshot_catalog().get(SEEDREAM).checked


@pytest.mark.parametrize("model_id", HANDFUL)
def test_a_handful_of_models_validate_locally_as_the_emulator_does(harness: Harness, model_id: str) -> None:
    """A valid body passes; a wrong type, a value outside the choices, a number out of range,
    a missing required field and (strict) an unknown field are each refused locally, with the
    field list the emulator answers when the same body is sent unchecked."""
    entry = snapshot_catalog().get(model_id)
    cases = mistakes(entry)
    assert {"valid", "wrong type", "missing", "unknown field"} <= set(cases)

    async def scenario(client: Any) -> None:
        for name, (body, expected) in cases.items():
            if name == "valid":
                await client.submit(model_id, body, validate="strict")
                continue
            if name == "unknown field" and not expected:
                expected = [(("body", UNKNOWN_FIELD), "extra_forbidden")]  # strict only
            else:
                with pytest.raises(ValidationError) as sent:
                    await client.submit(model_id, body, validate=False)
                assert not sent.value.local
                assert [(e.loc, e.type) for e in sent.value.errors] == expected, name
            with pytest.raises(ValidationError) as local:
                await client.submit(model_id, body, validate="strict")
            assert local.value.local
            assert [(e.loc, e.type) for e in local.value.errors] == expected, name

    harness.run(scenario)
    accepted = [entry for entry in submits(harness.emulator) if entry.status == 200]
    assert len(accepted) == 1


def test_a_bad_mode_is_refused_when_the_client_is_made_and_at_the_call() -> None:
    for bad in ("warn", "STRICT", 1, None):
        with pytest.raises(InvalidArgumentError, match="validate must be"):
            SyncClient(api_key="a:b", validate=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError, match="validate must be"):
            AsyncClient(api_key="a:b", validate=bad)  # type: ignore[arg-type]
    with SyncClient(api_key="a:b", base_url="http://127.0.0.1:9") as client, pytest.raises(
        InvalidArgumentError, match="validate must be"
    ):
        client.submit(SOUL, {"prompt": "x"}, validate="warn")  # type: ignore[arg-type]
