"""The catalog as values: parsing the OpenAPI document and the SDK's data, lookups, checks, drift."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any, Dict

import pytest

from higgsfield_proto import (
    Catalog,
    CatalogDrift,
    CatalogError,
    EnumChange,
    FieldError,
    ModelArgument,
    ModelDrift,
    Price,
    UnknownModelError,
    ValidationError,
    catalog_drift,
    catalog_from_openapi,
    catalog_with_supplement,
)


def model_path(schema: Any) -> Dict[str, Any]:
    return {"post": {"requestBody": {"content": {"application/json": {"schema": schema}}}}}


KLING = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "maxLength": 2500, "description": "What to film"},
        "duration": {"enum": [5, 10], "type": "integer", "default": 5},
        "cfg_scale": {"type": "number", "default": 0.5, "maximum": 1, "minimum": 0, "multipleOf": 0.01},
        "image_url": {"type": "string", "format": "uri"},
    },
    "required": ["prompt", "image_url"],
}
DOCUMENT: Dict[str, Any] = {
    "paths": {
        "/requests/{request_id}/status": {"get": {}},
        "/files/generate-upload-url": model_path({"type": "object"}),
        "/health": {"get": {}},
        "/kling-video/v2.1/pro/image-to-video": model_path(KLING),
        "/higgsfield-ai/dop/standard": model_path({
            "type": "object",
            "properties": {
                "prompt": {"type": "string"},
                "motions": {"type": "array", "items": {"$ref": "#/definitions/MotionSchema"}, "maxItems": 2},
                "camera": {"$ref": "#/components/schemas/Camera"},
            },
        }),
        "/nano-banana": model_path({"type": "object", "properties": {"num_images": {"type": "integer"}}}),
        "/veo3.1": model_path({"type": "object", "properties": {"duration": {"enum": ["4", "6"]}}}),
        "/reve/edit": model_path({"properties": {"batch_size": {"enum": [1, 4]}}}),
        "/flux-pro/text-to-image": model_path({"type": "object"}),
    },
    "components": {"schemas": {
        "Camera": {"type": "object", "properties": {"zoom": {"type": "number"}}},
        "Bad": {"type": "text"},
    }},
}  # fmt: skip
DATA: Dict[str, Any] = {
    "format": 1,
    "snapshot": {"ignored": True},
    "kinds": {"higgsfield-ai/dop/standard": "video", "gone/model": "image"},
    "documented": [
        {"id": "alibaba/qwen-image-3/edit", "kind": "image", "source": "docs page", "date": "2026-12-07",
         "note": "no other fields", "schema": {"type": "object", "properties": {"prompt": {"type": "string"}},
                                              "required": ["prompt"], "additionalProperties": False}},
        {"id": "higgsfield-ai/soul/v2/standard", "kind": "image", "source": "model index",
         "date": "2026-12-07", "schema": None},
        {"id": "nano-banana", "kind": "video", "source": "elsewhere", "date": "2020-01-01", "schema": None},
    ],
    "prices": {
        "source": "emulator figures", "usd_per_credit": "0.0625",
        "models": {"higgsfield-ai/soul/v2/standard": {"credits": "1.5", "per": "image"},
                   "absent/model": {"credits": "3", "per": "image"}},
    },
    "other_id_spaces": [
        {"plane": "subscription", "explanation": "a subscription-plane id",
         "ids": {"nano_banana_2": ["nano-banana"], "kling3_0": []}},
        {"plane": "legacy", "explanation": "a legacy route", "prefix": "v1/",
         "ids": {"v1/text2image/soul": ["higgsfield-ai/soul/standard"]}},
    ],
}  # fmt: skip


def catalog() -> Catalog:
    return catalog_with_supplement(catalog_from_openapi(DOCUMENT, source="the doc", date="2026-12-07"), DATA)


def test_the_document_gives_one_model_per_post_path_in_order() -> None:
    published = catalog_from_openapi(DOCUMENT, source="the doc", date="2026-12-07")
    assert list(published.models) == [
        "kling-video/v2.1/pro/image-to-video", "higgsfield-ai/dop/standard", "nano-banana", "veo3.1",
        "reve/edit", "flux-pro/text-to-image",
    ]  # fmt: skip
    kling = published.models["kling-video/v2.1/pro/image-to-video"]
    assert (kling.source, kling.date, kling.checked, kling.price) == ("the doc", "2026-12-07", True, None)
    assert kling.schema == KLING
    assert (published.source, published.date) == ("the doc", "2026-12-07")


def test_kinds_come_from_the_id_or_the_fields_and_the_data_corrects_them() -> None:
    published = catalog_from_openapi(DOCUMENT, source="s", date="d")
    kinds = {model_id: entry.kind for model_id, entry in published.models.items()}
    assert kinds == {
        "kling-video/v2.1/pro/image-to-video": "video", "higgsfield-ai/dop/standard": "unknown",
        "nano-banana": "image", "veo3.1": "video", "reve/edit": "image", "flux-pro/text-to-image": "image",
    }  # fmt: skip
    assert catalog().models["higgsfield-ai/dop/standard"].kind == "video"


def test_local_refs_are_inlined_and_unresolved_ones_kept() -> None:
    dop = catalog().models["higgsfield-ai/dop/standard"].schema
    assert dop is not None
    assert dop["properties"]["camera"] == {"type": "object", "properties": {"zoom": {"type": "number"}}}
    assert dop["properties"]["motions"]["items"] == {"$ref": "#/definitions/MotionSchema"}


def test_a_ref_to_another_document_is_kept_unresolved() -> None:
    document = {
        "paths": {"/m": model_path({"type": "object", "properties": {"a": {"$ref": "other.json#/A"}}})}
    }
    schema = catalog_from_openapi(document, source="s", date="d").models["m"].schema
    assert schema == {"type": "object", "properties": {"a": {"$ref": "other.json#/A"}}}


def test_a_recursive_ref_stops_at_the_recursion() -> None:
    node = {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}}
    document = {"paths": {"/m": model_path(node)}, "components": {"schemas": {"Node": node}}}
    schema = catalog_from_openapi(document, source="s", date="d").models["m"].schema
    assert schema is not None
    inner = schema["properties"]["child"]
    assert inner["properties"]["child"] == {"$ref": "#/components/schemas/Node"}


def test_ref_pointers_decode_escapes() -> None:
    document = {"paths": {"/m": model_path({"$ref": "#/x~1y/a~0b"})}, "x/y": {"a~b": {"type": "object"}}}
    assert catalog_from_openapi(document, source="s", date="d").models["m"].schema == {"type": "object"}


def test_the_supplement_adds_documented_models_prices_and_id_spaces() -> None:
    full = catalog()
    qwen = full.models["alibaba/qwen-image-3/edit"]
    assert (qwen.kind, qwen.source, qwen.date, qwen.note, qwen.checked) == (
        "image",
        "docs page",
        "2026-12-07",
        "no other fields",
        True,
    )
    soul = full.models["higgsfield-ai/soul/v2/standard"]
    assert not soul.checked
    assert soul.note == ""
    assert soul.price is not None
    assert (soul.price.credits, soul.price.usd, soul.price.per, soul.price.source) == (
        Decimal("1.5"),
        Decimal("0.09375"),
        "image",
        "emulator figures",
    )
    # The published document wins over a documented entry of the same id.
    assert full.models["nano-banana"].source == "the doc"
    assert "absent/model" not in full.models
    assert list(full.models)[-2:] == ["alibaba/qwen-image-3/edit", "higgsfield-ai/soul/v2/standard"]


def test_lookups_list_and_kinds() -> None:
    full = catalog()
    assert full.find("/veo3.1/") is full.models["veo3.1"]
    assert full.find("nope") is None
    assert full.get("veo3.1") is full.models["veo3.1"]
    assert [entry.model_id for entry in full.list(kind="image")] == [
        "nano-banana", "reve/edit", "flux-pro/text-to-image", "alibaba/qwen-image-3/edit",
        "higgsfield-ai/soul/v2/standard",
    ]  # fmt: skip
    assert len(full.list()) == len(full.models)
    assert full.kinds() == ("image", "video")


@pytest.mark.parametrize(
    ("model_id", "plane", "message"),
    [
        ("nano_banana_2", "subscription",
         "'nano_banana_2' is a subscription-plane id. Models of the same family on this API: nano-banana."),
        ("kling3_0", "subscription", "'kling3_0' is a subscription-plane id."),
        ("/v1/text2image/soul", "legacy",
         "'v1/text2image/soul' is a legacy route. Models of the same family on this API: "
         "higgsfield-ai/soul/standard."),
        ("v1/motions", "legacy", "'v1/motions' is a legacy route."),
    ],
)  # fmt: skip
def test_ids_of_other_planes_are_named(model_id: str, plane: str, message: str) -> None:
    full = catalog()
    foreign = full.foreign(model_id)
    assert foreign is not None
    assert (foreign.plane, foreign.message) == (plane, message)
    with pytest.raises(UnknownModelError) as raised:
        full.get(model_id)
    assert str(raised.value) == message
    assert raised.value.foreign == foreign
    assert raised.value.model_id == model_id


def test_an_unknown_id_is_not_foreign_and_get_says_so() -> None:
    full = catalog()
    assert full.foreign("some/new/model") is None
    with pytest.raises(UnknownModelError, match="not in the catalog") as raised:
        full.get("some/new/model")
    assert raised.value.foreign is None
    assert isinstance(raised.value, ValueError)


def test_an_entry_checks_and_validates_arguments() -> None:
    kling = catalog().get("kling-video/v2.1/pro/image-to-video")
    good = {"prompt": "p", "image_url": "u", "duration": 10}
    assert kling.problems(good) == ()
    assert kling.problems({**good, "sound": "on"}) == ()
    assert kling.problems({**good, "sound": "on"}, strict=True) == (
        FieldError(loc=("body", "sound"), msg="Extra inputs are not permitted", type="extra_forbidden"),
    )
    kling.validate(good)
    with pytest.raises(ValidationError) as raised:
        kling.validate({"duration": 7, "image_url": "u"})
    error = raised.value
    assert error.local is True
    assert error.status_code == 422
    assert [(e.loc, e.type) for e in error.errors] == [
        (("body", "prompt"), "missing"),
        (("body", "duration"), "literal_error"),
    ]
    assert error.detail == [
        {"type": "missing", "loc": ["body", "prompt"], "msg": "Field required"},
        {"type": "literal_error", "loc": ["body", "duration"], "msg": "Input should be 5 or 10"},
    ]
    assert "checked locally, nothing was sent" in str(error)
    assert "prompt: Field required; duration: Input should be 5 or 10" in str(error)


def test_an_unchecked_entry_accepts_anything() -> None:
    soul = catalog().get("higgsfield-ai/soul/v2/standard")
    assert soul.problems({"anything": object()}, strict=True) == ()
    soul.validate([], strict=True)
    assert soul.arguments() == ()


def test_arguments_describe_each_field() -> None:
    arguments = catalog().get("kling-video/v2.1/pro/image-to-video").arguments()
    assert [a.name for a in arguments] == ["prompt", "duration", "cfg_scale", "image_url"]
    prompt, duration, cfg_scale, image_url = arguments
    assert prompt == ModelArgument(
        name="prompt", type="string", required=True, max_length=2500, description="What to film"
    )
    assert duration == ModelArgument(
        name="duration", type="integer", required=False, choices=(5, 10), has_default=True, default=5
    )
    assert (cfg_scale.minimum, cfg_scale.maximum, cfg_scale.multiple_of) == (0, 1, 0.01)
    assert image_url.required
    assert [a.allowed() for a in arguments] == [
        "at most 2500 characters",
        "5 or 10",
        "0 to 1, a multiple of 0.01",
        "",
    ]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": ["string", "null"]}, ("string or null", "", False)),
        ({"enum": ["2K", "4K"]}, ("string", "", False)),
        ({"enum": [1, 2.5]}, ("", "", False)),
        ({"enum": [True]}, ("boolean", "", False)),
        ({"enum": [1.5]}, ("number", "", False)),
        ({"enum": [None]}, ("", "", False)),
        ({"type": "array", "items": {"type": "string"}}, ("array", "string", False)),
        ({"type": "array", "items": {"$ref": "#/x"}}, ("array", "", False)),
        ({"type": "integer", "default": None}, ("integer", "", True)),
        ({}, ("", "", False)),
    ],
)
def test_argument_types_are_named(schema: Dict[str, Any], expected: Any) -> None:
    document = {"paths": {"/m": model_path({"type": "object", "properties": {"a": schema}})}}
    (argument,) = catalog_from_openapi(document, source="s", date="d").models["m"].arguments()
    assert (argument.type, argument.item_type, argument.nullable) == expected


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"minimum": 1}, "at least 1"),
        ({"maximum": 2.5}, "at most 2.5"),
        ({"minimum": 1.0, "maximum": 4.0}, "1 to 4"),
        ({"minLength": 3}, "at least 3 characters"),
        ({"minItems": 1, "maxItems": 3}, "1 to 3 items"),
        ({"multipleOf": 0.5}, "a multiple of 0.5"),
        ({"enum": ["on", "off"], "maxLength": 3}, "'on' or 'off', at most 3 characters"),
    ],
)
def test_allowed_values_in_words(fields: Dict[str, Any], text: str) -> None:
    limits = {_ARGUMENT_NAMES[key]: value for key, value in fields.items() if key != "enum"}
    argument = ModelArgument(
        name="a", type="", required=False, choices=tuple(fields.get("enum", ())), **limits
    )
    assert argument.allowed() == text


_ARGUMENT_NAMES = {
    "minimum": "minimum", "maximum": "maximum", "multipleOf": "multiple_of", "minLength": "min_length",
    "maxLength": "max_length", "minItems": "min_items", "maxItems": "max_items",
}  # fmt: skip


def _drifted() -> Dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    paths = document["paths"]
    del paths["/reve/edit"]
    paths["/new/model"] = model_path({"type": "object"})
    kling = paths["/kling-video/v2.1/pro/image-to-video"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    properties = kling["schema"]["properties"]
    del properties["cfg_scale"]
    properties["sound"] = {"enum": ["on", "off"]}
    properties["duration"]["enum"] = [5, 10, 15]
    properties["prompt"]["enum"] = ["a"]
    kling["schema"]["required"] = ["prompt", "sound"]
    veo = paths["/veo3.1"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    veo["properties"]["duration"]["enum"] = ["6", "4"]  # the same values in another order
    return document


def test_drift_lists_models_fields_enums_and_required_changes() -> None:
    old = catalog_from_openapi(DOCUMENT, source="s", date="d")
    new = catalog_from_openapi(_drifted(), source="s", date="e")
    drift = catalog_drift(old, new)
    assert drift == CatalogDrift(
        added=("new/model",),
        removed=("reve/edit",),
        changed=(ModelDrift(
            model_id="kling-video/v2.1/pro/image-to-video",
            fields_added=("sound",),
            fields_removed=("cfg_scale",),
            enums_changed=(EnumChange(name="duration", added=(15,), removed=()),
                           EnumChange(name="prompt", added=("a",), removed=())),
            required_added=("sound",),
            required_removed=("image_url",),
        ),),
    )  # fmt: skip
    assert not drift.is_empty
    assert drift.lines() == (
        "+ model new/model",
        "- model reve/edit",
        "~ model kling-video/v2.1/pro/image-to-video: field sound added",
        "~ model kling-video/v2.1/pro/image-to-video: field cfg_scale removed",
        "~ model kling-video/v2.1/pro/image-to-video: field sound now required",
        "~ model kling-video/v2.1/pro/image-to-video: field image_url no longer required",
        "~ model kling-video/v2.1/pro/image-to-video: values of duration changed: +15",
        "~ model kling-video/v2.1/pro/image-to-video: values of prompt changed: +'a'",
    )
    back = catalog_drift(new, old)
    assert back.changed[0].enums_changed[0] == EnumChange(name="duration", added=(), removed=(15,))
    assert "values of duration changed: -15" in "\n".join(back.lines())


def test_no_drift_between_equal_catalogs() -> None:
    drift = catalog_drift(catalog(), catalog())
    assert drift.is_empty
    assert drift.lines() == ()


def _broken(change: Any) -> Any:
    document = copy.deepcopy(DOCUMENT)
    change(document)
    return document


def _schema_of(
    document: Dict[str, Any], path: str = "/kling-video/v2.1/pro/image-to-video"
) -> Dict[str, Any]:
    schema: Dict[str, Any] = document["paths"][path]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    return schema


def _set_in_schema(key: str, value: Any, field: str = "prompt") -> Any:
    return lambda document: _schema_of(document)["properties"][field].__setitem__(key, value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "not a JSON object"),
        ({}, "has no paths"),
        ({"paths": {}}, "has no paths"),
        ({"paths": []}, "has no paths"),
        ({"paths": {"/a": []}}, "'/a' is not an object"),
        ({"paths": {"/requests/{id}/status": {"get": {}}}}, "no model endpoints"),
        ({"paths": {"/m": {"post": {}}}}, "model 'm': no JSON request schema (missing 'requestBody')"),
        ({"paths": {"/m": {"post": {"requestBody": {"content": {"text/plain": {}}}}}}},
         "missing 'application/json'"),
        ({"paths": {"/m": {"post": {"requestBody": []}}}}, "missing 'content'"),
        ({"paths": {"/m": model_path([])}}, "a schema must be an object, got list"),
        ({"paths": {"/m": model_path({"type": "array"})}}, "not an object schema"),
        (_broken(_set_in_schema("type", "text")), "type must name JSON types"),
        (_broken(_set_in_schema("type", [])), "type must name JSON types"),
        (_broken(_set_in_schema("type", ["string", 3])), "type must name JSON types"),
        (_broken(_set_in_schema("enum", "a")), "enum must be a non-empty list"),
        (_broken(_set_in_schema("enum", [])), "enum must be a non-empty list"),
        (_broken(_set_in_schema("minimum", "1")), "minimum must be a number"),
        (_broken(_set_in_schema("maximum", True)), "maximum must be a number"),
        (_broken(_set_in_schema("multipleOf", 0)), "multipleOf must be greater than 0"),
        (_broken(_set_in_schema("maxLength", 2.5)), "maxLength must be a non-negative integer"),
        (_broken(_set_in_schema("minItems", -1)), "minItems must be a non-negative integer"),
        (_broken(_set_in_schema("minLength", False)), "minLength must be a non-negative integer"),
        (_broken(_set_in_schema("required", "prompt")), "required must be a list of field names"),
        (_broken(_set_in_schema("required", [1])), "required must be a list of field names"),
        (_broken(_set_in_schema("items", "x")), "items: a schema must be an object"),
        (_broken(_set_in_schema("properties", [])), "prompt.properties must be an object"),
        (_broken(_set_in_schema("additionalProperties", "no")), "must be a boolean or a schema"),
        (_broken(_set_in_schema("additionalProperties", {"type": 1})), "additionalProperties.type"),
        (_broken(_set_in_schema("$ref", 5)), "$ref must be a string"),
        (_broken(_set_in_schema("$ref", "#/components/schemas/Bad")), "(#/components/schemas/Bad).type"),
    ],
)  # fmt: skip
def test_a_malformed_or_partial_document_is_refused(document: Any, message: str) -> None:
    with pytest.raises(CatalogError) as raised:
        catalog_from_openapi(document, source="s", date="d")
    assert message in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_the_malformed_place_is_named() -> None:
    with pytest.raises(CatalogError, match=r"model 'kling-video/v2\.1/pro/image-to-video'\.prompt\.minimum"):
        catalog_from_openapi(_broken(_set_in_schema("minimum", "1")), source="s", date="d")


def _data(**changes: Any) -> Dict[str, Any]:
    data = copy.deepcopy(DATA)
    data.update(changes)
    return data


def _price_data(**changes: Any) -> Dict[str, Any]:
    prices = copy.deepcopy(DATA["prices"])
    prices.update(changes)
    return _data(prices=prices)


def _documented(**changes: Any) -> Dict[str, Any]:
    entry = dict(DATA["documented"][0], **changes)
    return _data(documented=[entry])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "not an object of format 1"),
        (_data(format=2), "not an object of format 1"),
        (_data(kinds=[]), "kinds must be an object"),
        (_data(kinds={"gone/model": ""}), "kinds.gone/model must be a non-empty string"),
        (_data(documented={}), "documented must be a list"),
        (_data(documented=["x"]), "documented[0] is not an object"),
        (_documented(id=None), "documented[0].id must be a non-empty string"),
        (_documented(kind=""), "documented[0].kind"),
        (_documented(source=1), "documented[0].source"),
        (_documented(date=None), "documented[0].date"),
        (_documented(note=None), "documented[0].note must be a string"),
        (_documented(schema={"type": "text"}), "model 'alibaba/qwen-image-3/edit'.type"),
        (_data(prices=[]), "prices must be an object"),
        (_price_data(source=None), "prices.source"),
        (_price_data(usd_per_credit=0.0625), "prices.usd_per_credit must be a non-negative decimal"),
        (_price_data(usd_per_credit="cheap"), "prices.usd_per_credit"),
        (_price_data(usd_per_credit="NaN"), "prices.usd_per_credit"),
        (_price_data(usd_per_credit="-1"), "prices.usd_per_credit"),
        (_price_data(models=[]), "prices: models must be an object"),
        (_price_data(models={"higgsfield-ai/soul/v2/standard": "1.5"}), "is not an object"),
        (_price_data(models={"higgsfield-ai/soul/v2/standard": {"credits": "x", "per": "image"}}),
         "credits must be a non-negative decimal"),
        (_price_data(models={"higgsfield-ai/soul/v2/standard": {"credits": "1"}}), "per must be"),
        (_data(other_id_spaces={}), "other_id_spaces must be a list"),
        (_data(other_id_spaces=[[]]), "other_id_spaces[0] is not an object"),
        (_data(other_id_spaces=[{"plane": "p", "explanation": "e", "ids": []}]), "ids must be an object"),
        (_data(other_id_spaces=[{"plane": "p", "explanation": "e", "ids": {"a": "b"}}]),
         "ids.a must be a list of model ids"),
        (_data(other_id_spaces=[{"plane": "p", "explanation": "e", "ids": {"a": [1]}}]), "ids.a"),
        (_data(other_id_spaces=[{"plane": "", "explanation": "e"}]), "plane must be"),
        (_data(other_id_spaces=[{"plane": "p", "explanation": "e", "prefix": 1}]), "prefix must be"),
    ],
)  # fmt: skip
def test_malformed_catalog_data_is_refused(data: Any, message: str) -> None:
    published = catalog_from_openapi(DOCUMENT, source="s", date="d")
    with pytest.raises(CatalogError) as raised:
        catalog_with_supplement(published, data)
    assert message in str(raised.value)


def test_the_supplement_parts_are_optional() -> None:
    published = catalog_from_openapi(DOCUMENT, source="s", date="d")
    assert catalog_with_supplement(published, {"format": 1}) == published


IMAGE = Price(credits=Decimal("1.5"), usd=Decimal("0.09375"), per="image", source="s")
VIDEO = Price(credits=Decimal("10"), usd=Decimal("0.625"), per="5 s of video", source="s")
JOB = Price(credits=Decimal("7"), usd=Decimal("0.4375"), per="job", source="s")


@pytest.mark.parametrize(
    ("price", "arguments", "credits", "usd"),
    [
        (IMAGE, {}, "1.500", "0.094"),
        (IMAGE, {"num_images": 3}, "4.500", "0.281"),
        (IMAGE, {"batch_size": 4, "num_images": 2}, "6.000", "0.375"),
        (IMAGE, {"num_images": 0, "batch_size": True}, "1.500", "0.094"),
        (IMAGE, {"num_images": 2.0}, "1.500", "0.094"),
        (VIDEO, {}, "10.000", "0.625"),
        (VIDEO, {"duration": 10}, "20.000", "1.250"),
        (VIDEO, {"duration": "8"}, "16.000", "1.000"),
        (VIDEO, {"duration": 2.5}, "5.000", "0.313"),
        (VIDEO, {"duration": "long"}, "10.000", "0.625"),
        (VIDEO, {"duration": -5}, "10.000", "0.625"),
        (VIDEO, {"duration": False}, "10.000", "0.625"),
        (JOB, {"n": 9}, "7.000", "0.438"),
    ],
)
def test_a_price_reads_the_outputs_or_the_seconds_a_job_asks_for(
    price: Price, arguments: Dict[str, Any], credits: str, usd: str
) -> None:
    estimate = price.for_arguments(arguments)
    assert (estimate.credits, estimate.usd) == (Decimal(credits), Decimal(usd))
    assert str(estimate.credits) == credits  # thousandths, as the API writes them
