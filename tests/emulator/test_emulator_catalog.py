"""Every model of the catalog, checked by the emulator (jsonschema) and by the core's validator:
the same bodies pass, and the same mistakes get the same ``loc``/``type`` list."""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from importlib.resources import files
from typing import Any, Dict, Iterator, Tuple

import pytest
import requests
from client.catalog_cases import UNKNOWN_FIELD, Problems, mistakes
from emu_helpers import SOUL, submit

import higgsfield_client.testing
from higgsfield_client.models import snapshot_catalog
from higgsfield_client.testing import DEFAULT_MODELS, Arg, Emulator, ModelSpec
from higgsfield_proto import ModelEntry

CATALOG = snapshot_catalog()
CHECKED = [entry for entry in CATALOG.list() if entry.checked]


@pytest.fixture(scope="module")
def catalog_emu() -> Iterator[Tuple[Emulator, requests.Session]]:
    with Emulator(queue_time=0, run_time=0.01) as emulator, requests.Session() as session:
        session.headers["Authorization"] = f"Key {emulator.api_key}"
        yield emulator, session


def emulator_problems(emulator: Emulator, session: requests.Session, model_id: str, body: Any) -> Problems:
    response = submit(session, emulator, body, model=model_id)
    if response.status_code == 200:
        return []
    assert response.status_code == 422, response.text
    return [(tuple(item["loc"]), item["type"]) for item in response.json()["detail"]]


@pytest.mark.parametrize("entry", CHECKED, ids=[entry.model_id for entry in CHECKED])
def test_the_emulator_and_the_core_agree_on_every_model(
    entry: ModelEntry, catalog_emu: Tuple[Emulator, requests.Session]
) -> None:
    emulator, session = catalog_emu
    cases = mistakes(entry)
    for name, (body, expected) in cases.items():
        core = [(problem.loc, problem.type) for problem in entry.problems(body)]
        assert core == expected, (name, body)
        assert emulator_problems(emulator, session, entry.model_id, body) == expected, (name, body)
    # Strict mode, the core's alone, also refuses the unknown field, unless the source says the
    # model may take fields it does not list.
    body, _ = cases["unknown field"]
    strict = [(problem.loc, problem.type) for problem in entry.problems(body, strict=True)]
    closed = (entry.schema or {}).get("additionalProperties") is not True
    assert strict == ([(("body", UNKNOWN_FIELD), "extra_forbidden")] if closed else [])


def test_each_mistake_is_tried_on_many_models() -> None:
    tried: Dict[str, int] = {}
    for entry in CHECKED:
        for name in mistakes(entry):
            tried[name] = tried.get(name, 0) + 1
    published = len([e for e in CHECKED if e.source == CATALOG.source])
    assert published == 48
    assert tried["valid"] == tried["unknown field"] == len(CHECKED)
    assert tried["wrong type"] == len(CHECKED)
    assert tried["missing"] >= published
    assert tried["not a choice"] >= 40
    assert tried["out of range"] >= 20


def test_the_emulator_serves_every_catalog_model_and_unchecked_ones_take_anything(
    catalog_emu: Tuple[Emulator, requests.Session],
) -> None:
    emulator, session = catalog_emu
    assert [model.model_id for model in DEFAULT_MODELS] == list(CATALOG.models)
    for entry in CATALOG.list():
        if not entry.checked:
            assert submit(session, emulator, {"any": ["thing"]}, model=entry.model_id).status_code == 200


def test_the_seed_readme_body_still_passes(catalog_emu: Tuple[Emulator, requests.Session]) -> None:
    emulator, session = catalog_emu
    body = {"prompt": "A serene lake at sunset with mountains", "resolution": "2K", "aspect_ratio": "16:9",
            "camera_fixed": False}  # fmt: skip
    assert submit(session, emulator, body, model="bytedance/seedream/v4/text-to-image").status_code == 200
    assert CATALOG.get("bytedance/seedream/v4/text-to-image").problems(body, strict=True) == ()


def test_errors_carry_pydantic_messages_input_and_ctx(emu: Emulator, http: requests.Session) -> None:
    body = {"prompt": "x", "num_images": 9, "resolution": "720p", "aspect_ratio": 3}
    detail = submit(http, emu, body).json()["detail"]
    ratios = "'1:1', '4:3', '3:4', '3:2', '2:3', '5:4', '4:5', '16:9', '9:16' or '21:9'"
    assert detail == [
        {"type": "less_than_equal", "loc": ["body", "num_images"],
         "msg": "Input should be less than or equal to 4", "input": 9, "ctx": {"le": 4}},
        {"type": "literal_error", "loc": ["body", "resolution"], "msg": "Input should be '2K' or '4K'",
         "input": "720p", "ctx": {"expected": "'2K' or '4K'"}},
        {"type": "literal_error", "loc": ["body", "aspect_ratio"], "msg": f"Input should be {ratios}",
         "input": 3, "ctx": {"expected": ratios}},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "body", "expected"),
    [
        # An explicit null where the default is null (Optional[int] = None).
        ("higgsfield-ai/dop/lite", {"prompt": "p", "image_url": "u", "seed": None}, []),
        # The unresolved $ref of the motions' items is not checked; their count is.
        ("higgsfield-ai/dop/lite", {"prompt": "p", "image_url": "u", "motions": [1, "x"]}, []),
        ("higgsfield-ai/dop/lite", {"prompt": "p", "image_url": "u", "motions": [1, 2, 3]},
         [(("body", "motions"), "too_long")]),
        # pydantic's tolerance: 0.07 is a multiple of 0.01.
        ("kling-video/v2.1/pro/image-to-video", {"prompt": "p", "image_url": "u", "cfg_scale": 0.07}, []),
        ("kling-video/v2.1/pro/image-to-video", {"prompt": "p", "image_url": "u", "cfg_scale": 0.075},
         [(("body", "cfg_scale"), "multiple_of")]),
        ("kling-video/v2.1/pro/image-to-video", {"prompt": "p", "image_url": "u", "duration": 5.5},
         [(("body", "duration"), "literal_error")]),
        ("minimax/hailuo-02/standard/text-to-video", {"prompt": "p", "duration": 10.0}, []),
        ("higgsfield-ai/dop/lite", {"prompt": "p", "image_url": "u", "seed": 2.5},
         [(("body", "seed"), "int_from_float")]),
        ("veo3.1/reference-to-video", {"prompt": "p", "image_urls": ["abc", "x"]},
         [(("body", "image_urls", 1), "string_too_short")]),
        ("reve/remix", {"prompt": "p", "image_urls": ["a"]}, [(("body", "image_urls"), "too_short")]),
        # A list whose items fail is not also reported too short.
        ("reve/remix", {"prompt": "p", "image_urls": [5]}, [(("body", "image_urls", 0), "string_type")]),
        ("kling-video/v2.1/master/text-to-video", {"prompt": "p" * 2501},
         [(("body", "prompt"), "string_too_long")]),
        ("alibaba/qwen-image-3/edit", {"prompt": "p", "image_urls": ["u"], "zz": 1, "aa": 2},
         [(("body", "zz"), "extra_forbidden"), (("body", "aa"), "extra_forbidden")]),
        (SOUL, [1, 2], [(("body",), "dict_type")]),
    ],
)  # fmt: skip
def test_readings_shared_by_the_emulator_and_the_core(
    model: str, body: Any, expected: Problems, catalog_emu: Tuple[Emulator, requests.Session]
) -> None:
    emulator, session = catalog_emu
    assert [(p.loc, p.type) for p in CATALOG.get(model).problems(body)] == expected
    assert emulator_problems(emulator, session, model, body) == expected


# -- models a user passes --------------------------------------------------------------------------


def test_a_user_model_spec_with_args_is_still_checked() -> None:
    spec = ModelSpec("acme/painter", "image", (
        Arg("prompt", "str", required=True),
        Arg("style", choices=("oil", "ink")),
        Arg("strength", "number", ge=0, le=1),
        Arg("colors", "list", min_items=1, max_items=2),
        Arg("title", "str", max_length=3),
        Arg("count", "int"),
    ), Decimal("3"))  # fmt: skip
    with Emulator(models=[spec]) as emulator, requests.Session() as session:
        session.headers["Authorization"] = f"Key {emulator.api_key}"
        body = {"style": "pastel", "strength": 2, "colors": [], "title": "long", "count": True, "extra": 1}
        assert emulator_problems(emulator, session, "acme/painter", body) == [
            (("body", "prompt"), "missing"), (("body", "style"), "literal_error"),
            (("body", "strength"), "less_than_equal"), (("body", "colors"), "too_short"),
            (("body", "title"), "string_too_long"), (("body", "count"), "int_type"),
        ]  # fmt: skip
        # Optional arguments accept null, as before.
        assert emulator_problems(emulator, session, "acme/painter", {"prompt": "p", "style": None}) == []
        assert submit(session, emulator, {"prompt": "p"}, model=SOUL).status_code == 404
        estimate = session.post(
            f"{emulator.base_url}/estimate/acme/painter", json={"prompt": "p"}, timeout=10
        )
        assert estimate.json() == {"credits": "3.000", "usd": "0.188"}


def test_a_user_model_spec_with_a_schema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "multipleOf": 2}}, "required": ["n"]}
    with (
        Emulator(models=[ModelSpec("acme/even", "image", schema=schema)]) as emulator,
        requests.Session() as session,
    ):
        session.headers["Authorization"] = f"Key {emulator.api_key}"
        assert emulator_problems(emulator, session, "acme/even", {"n": 4}) == []
        assert emulator_problems(emulator, session, "acme/even", {"n": 3}) == [(("body", "n"), "multiple_of")]
        assert emulator_problems(emulator, session, "acme/even", {"n": 10**400}) == []
        assert emulator_problems(emulator, session, "acme/even", {"n": 0.5}) == [
            (("body", "n"), "int_from_float")
        ]


# -- prices ----------------------------------------------------------------------------------------

KEPT_PRICES = {
    "higgsfield-ai/soul/standard": "1.5", "higgsfield-ai/soul/v2/standard": "1.5",
    "bytedance/seedream/v4/text-to-image": "2", "higgsfield-ai/dop/standard": "9",
    "higgsfield-ai/dop/lite": "4",
    "higgsfield-ai/dop/turbo": "6.5", "kling-video/v2.1/pro/image-to-video": "10",
    "kling-video/v2.6/pro/image-to-video": "12", "bytedance/seedance-2.0/image-to-video": "8",
    "minimax/hailuo-2.3/standard/image-to-video": "7", "alibaba/wan-3.0/text-to-video": "6",
    "alibaba/qwen-image-3/edit": "2.5", "veo3.1/image-to-video": "20", "sora-2/text-to-video": "15",
    "higgsfield/genjutsu/motion-transfer/v1.0": "10", "z-image/turbo": "0.5",
    "recraft/v4.1/text-to-image": "1",
}  # fmt: skip


def test_the_seventeen_prices_are_kept_and_the_rest_follow_the_rule() -> None:
    credits = {model.model_id: model.credits for model in DEFAULT_MODELS}
    assert {model_id: str(credits[model_id]) for model_id in KEPT_PRICES} == KEPT_PRICES
    for model in DEFAULT_MODELS:
        if model.model_id not in KEPT_PRICES:
            assert model.credits == {"image": Decimal("1.5"), "video": Decimal("10")}[model.kind], (
                model.model_id
            )
    priced = {entry.model_id: entry.price for entry in CATALOG.list() if entry.price is not None}
    assert set(priced) == set(KEPT_PRICES)
    assert all("not published" in price.source for price in priced.values())


@pytest.mark.parametrize(
    ("model", "body", "credits"),
    [
        ("veo3.1/image-to-video", {"prompt": "p", "image_url": "https://a", "duration": "8"}, "32.000"),
        ("sora-2/text-to-video", {"prompt": "p", "duration": 12}, "36.000"),
        ("sora-2/text-to-video", {"prompt": "p"}, "15.000"),
        ("higgsfield-ai/soul/standard", {"prompt": "p", "num_images": 3}, "4.500"),
        ("higgsfield-ai/soul/character", {"prompt": "p", "custom_reference_id": "r",
                                          "custom_reference_strength": 1,
                                          "batch_size": 4}, "6.000"),
        ("nano-banana", {"prompt": "p"}, "1.500"),
        ("wan-25-preview/text-to-video", {"prompt": "p", "duration": 10}, "20.000"),
    ],
)  # fmt: skip
def test_estimates_follow_duration_and_output_count(
    model: str, body: Dict[str, Any], credits: str, catalog_emu: Tuple[Emulator, requests.Session]
) -> None:
    emulator, session = catalog_emu
    response = session.post(f"{emulator.base_url}/estimate/{model}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["credits"] == credits


# -- the published document ------------------------------------------------------------------------


def test_the_published_document_is_served_without_credentials(emu: Emulator) -> None:
    response = requests.get(f"{emu.base_url}/docs/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    document = response.json()
    assert len([path for path in document["paths"] if "{" not in path]) == 48
    assert document == json.loads(files("higgsfield_client.models").joinpath("openapi.json").read_text())


def test_tests_can_serve_a_drifted_or_broken_document(emu: Emulator) -> None:
    url = f"{emu.base_url}/docs/openapi.json"
    emu.serve_openapi({"paths": {"/new/model": {}}})
    assert requests.get(url, timeout=10).json() == {"paths": {"/new/model": {}}}
    emu.serve_openapi(b'{"paths": ')
    assert requests.get(url, timeout=10).content == b'{"paths": '
    emu.serve_openapi()
    assert len(requests.get(url, timeout=10).json()["paths"]) == 50
    emu.script_fault("openapi", "503")
    assert requests.get(url, timeout=10).status_code == 503
    assert requests.get(url, timeout=10).status_code == 200


def test_the_emulator_imports_neither_the_core_nor_the_transports() -> None:
    # It reads the catalog's data files, but checks them with code of its own.
    folder = files("higgsfield_client.testing")
    for path in folder.iterdir():
        if not path.name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            assert not [
                n for n in names if n.split(".")[0] in ("higgsfield_proto", "higgsfield_transports")
            ], path
    assert higgsfield_client.testing.DEFAULT_MODELS is DEFAULT_MODELS


def test_a_user_schema_with_refs_and_keywords_beyond_the_catalog() -> None:
    # The emulator checks what jsonschema checks: local refs resolved (a recursive one stops),
    # refs elsewhere not checked, and a keyword the catalog does not use answered as a value_error.
    schema = {
        "type": "object",
        "properties": {
            "size": {"$ref": "#/definitions/Size"},
            "tree": {"$ref": "#/definitions/Tree"},
            "remote": {"$ref": "https://example.com/schema.json#/X"},
            "code": {"type": "string", "pattern": "^[a-z]+$"},
            "step": {"type": "number", "multipleOf": 0.5},
        },
        "definitions": {
            "Size": {"type": "integer", "maximum": 4},
            "Tree": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Tree"}}},
        },
    }
    spec = ModelSpec("acme/refs", "image", schema=schema)
    with Emulator(models=[spec]) as emulator, requests.Session() as session:
        session.headers["Authorization"] = f"Key {emulator.api_key}"
        body = {"size": 5, "tree": 5, "remote": 1, "code": "A1", "step": 10**400}
        assert emulator_problems(emulator, session, "acme/refs", body) == [
            (("body", "size"), "less_than_equal"),
            (("body", "tree"), "dict_type"),
            (("body", "code"), "value_error"),
            (("body", "step"), "multiple_of"),
        ]
        assert emulator_problems(emulator, session, "acme/refs", {"tree": {"child": 1}, "step": 2.5}) == []


def test_the_published_schema_wins_over_a_documented_entry() -> None:
    from higgsfield_client.testing._catalog import catalog_models

    document = {"paths": {"/a/b": {"post": {"requestBody": {"content": {"application/json": {"schema": {
        "type": "object", "properties": {"duration": {"type": "integer"}}}}}}}}}}
    data = {"kinds": {}, "prices": {"models": {"c/d": {"credits": "4", "per": "image"}}}, "documented": [
        {"id": "a/b", "kind": "image", "schema": None},
        {"id": "c/d", "kind": "image", "schema": None},
    ]}  # fmt: skip
    models = catalog_models(document, data)
    assert [(m.model_id, m.kind, m.checked, m.credits) for m in models] == [
        ("a/b", "video", True, Decimal("10")),
        ("c/d", "image", False, Decimal("4")),
    ]
