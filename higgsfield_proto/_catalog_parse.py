"""Catalogs from documents: the published OpenAPI document and the SDK's supplementary data. No I/O.

Both parsers check what they read and refuse a malformed or partial document with
``CatalogError`` naming the place, so that a broken download never replaces a working catalog.
Model schemas are checked against the JSON Schema subset the validator reads (``_schema``); a
``$ref`` that points inside the document is inlined, one that cannot be resolved is kept, and the
validator leaves it unchecked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from ._catalog import Catalog, IdSpace, ModelEntry, Price
from ._errors import CatalogError

_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_NUMBER_KEYWORDS = ("minimum", "maximum", "multipleOf")
_COUNT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems")
_SUPPLEMENT_FORMAT = 1
# POST routes of the API that are not models, should a document list them.
_NOT_MODELS = ("requests/", "files/", "estimate/", "v1/")


def catalog_from_openapi(document: Any, *, source: str, date: str) -> Catalog:
    """Read the models of an OpenAPI document: every ``POST /<model id>`` with a JSON body schema.

    Paths with a template (``/requests/{request_id}/status``), paths without a POST and the
    API's own routes (``/files/...``, ``/estimate/...``, ``/v1/...``) are not models. A model's
    kind is "video" when its id says "video" or it takes a ``duration``, "image" when its id
    says "image" or it takes ``num_images`` or ``batch_size``, else "unknown"
    (`catalog_with_supplement` can correct it).

    Args:
        document: the decoded document (JSON).
        source: where the document comes from (a URL, a file), kept in every entry.
        date: when it was read (ISO 8601), kept in every entry.

    Returns:
        A catalog of the document's models, in the document's order.

    Raises:
        CatalogError: the document is not an object, has no paths or no model endpoint, or a
            model endpoint has no JSON request schema or a malformed one.
    """
    if not isinstance(document, Mapping):
        raise CatalogError("the OpenAPI document is not a JSON object")
    paths = document.get("paths")
    if not isinstance(paths, Mapping) or not paths:
        raise CatalogError("the OpenAPI document has no paths")
    models: dict[str, ModelEntry] = {}
    for path, item in paths.items():
        if not isinstance(path, str) or not isinstance(item, Mapping):
            raise CatalogError(f"the OpenAPI path {path!r} is not an object")
        model_id = path.strip("/")
        if "{" in path or "post" not in item or model_id.startswith(_NOT_MODELS):
            continue
        schema = _checked(_request_schema(item["post"], model_id), f"model {model_id!r}", document, ())
        if schema.get("type", "object") != "object":
            raise CatalogError(f"model {model_id!r}: the request schema is not an object schema")
        models[model_id] = ModelEntry(
            model_id=model_id, kind=_kind(model_id, schema), source=source, date=date, schema=schema
        )
    if not models:
        raise CatalogError("the OpenAPI document has no model endpoints (POST /<model id>)")
    return Catalog(models=models, source=source, date=date)


def _request_schema(operation: Any, model_id: str) -> Any:
    node = operation
    for key in ("requestBody", "content", "application/json", "schema"):
        if not isinstance(node, Mapping) or key not in node:
            raise CatalogError(f"model {model_id!r}: no JSON request schema (missing {key!r})")
        node = node[key]
    return node


def _kind(model_id: str, schema: Mapping[str, Any]) -> str:
    fields = schema.get("properties", {})
    if "video" in model_id or "duration" in fields:
        return "video"
    if "image" in model_id or "num_images" in fields or "batch_size" in fields:
        return "image"
    return "unknown"


def _checked(node: Any, where: str, root: Any, expanding: tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``node`` with its subset keywords checked and its local ``$ref``s inlined."""
    if not isinstance(node, Mapping):
        raise CatalogError(f"{where}: a schema must be an object, got {type(node).__name__}")
    ref = node.get("$ref")
    if ref is not None:
        if not isinstance(ref, str):
            raise CatalogError(f"{where}: $ref must be a string")
        target = _resolve(root, ref)
        if target is None or ref in expanding:
            return dict(node)  # unresolvable (or recursive): left unchecked
        return _checked(target, f"{where} ({ref})", root, (*expanding, ref))
    out = dict(node)
    _check_keywords(node, where)
    if "items" in node:
        out["items"] = _checked(node["items"], f"{where}.items", root, expanding)
    if "properties" in node:
        properties = node["properties"]
        if not isinstance(properties, Mapping):
            raise CatalogError(f"{where}.properties must be an object")
        out["properties"] = {
            name: _checked(part, f"{where}.{name}", root, expanding) for name, part in properties.items()
        }
    more = node.get("additionalProperties", True)
    if isinstance(more, Mapping):
        out["additionalProperties"] = _checked(more, f"{where}.additionalProperties", root, expanding)
    elif not isinstance(more, bool):
        raise CatalogError(f"{where}.additionalProperties must be a boolean or a schema")
    return out


def _check_keywords(node: Mapping[str, Any], where: str) -> None:
    wanted = node.get("type")
    names = wanted if isinstance(wanted, list) else [wanted]
    if wanted is not None and (not names or not all(name in _TYPES for name in names)):
        raise CatalogError(f"{where}.type must name JSON types, got {wanted!r}")
    if "enum" in node and not (isinstance(node["enum"], list) and node["enum"]):
        raise CatalogError(f"{where}.enum must be a non-empty list")
    for key in _NUMBER_KEYWORDS:
        if key in node and not _is_number(node[key]):
            raise CatalogError(f"{where}.{key} must be a number")
    if "multipleOf" in node and not node["multipleOf"] > 0:
        raise CatalogError(f"{where}.multipleOf must be greater than 0")
    for key in _COUNT_KEYWORDS:
        value = node.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CatalogError(f"{where}.{key} must be a non-negative integer")
    required = node.get("required", [])
    if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
        raise CatalogError(f"{where}.required must be a list of field names")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _resolve(root: Any, ref: str) -> Optional[Any]:
    # Only JSON pointers into the same document ("#/components/schemas/X"); "~1" is "/", "~0" "~".
    if not ref.startswith("#/"):
        return None
    node = root
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def catalog_with_supplement(catalog: Catalog, data: Any) -> Catalog:
    """Add to ``catalog`` what the SDK's catalog data knows beyond the published document.

    The data (``higgsfield_client/models/catalog.json`` holds the SDK's own) is an object of
    ``"format": 1`` with, all optional: ``kinds`` (corrected kinds by model id), ``documented``
    (models documented elsewhere: ``id``, ``kind``, ``source``, ``date``, ``note``, and
    ``schema``, null when the arguments are not known), ``prices`` (``source``,
    ``usd_per_credit`` and per model ``credits`` and ``per``, decimal strings) and
    ``other_id_spaces`` (``plane``, ``explanation``, ``ids`` mapping each id to models of the
    same family, ``prefix``). Other keys are ignored.

    Args:
        catalog: usually the catalog of the published document.
        data: the decoded catalog data.

    Returns:
        A new catalog: a documented model is added unless the document has it (the published
        schema wins); kinds and prices apply to the models present, whatever their source.

    Raises:
        CatalogError: the data is malformed (with the place named).
    """
    if not isinstance(data, Mapping) or data.get("format") != _SUPPLEMENT_FORMAT:
        raise CatalogError(f"the catalog data is not an object of format {_SUPPLEMENT_FORMAT}")
    models = dict(catalog.models)
    for model_id, raw_kind in _mapping(data, "kinds", "the catalog data").items():
        kind = _text(raw_kind, f"kinds.{model_id}")
        if model_id in models:
            models[model_id] = dataclasses.replace(models[model_id], kind=kind)
    for index, raw in enumerate(_list(data, "documented")):
        entry = _documented_entry(raw, f"documented[{index}]")
        models.setdefault(entry.model_id, entry)
    prices = _mapping(data, "prices", "the catalog data")
    if prices:
        source = _text(prices.get("source"), "prices.source")
        rate = _decimal(prices.get("usd_per_credit"), "prices.usd_per_credit")
        for model_id, raw in _mapping(prices, "models", "prices").items():
            if model_id in models:
                price = _price(raw, f"prices.models.{model_id}", rate, source)
                models[model_id] = dataclasses.replace(models[model_id], price=price)
    raw_spaces = enumerate(_list(data, "other_id_spaces"))
    spaces = tuple(_id_space(raw, f"other_id_spaces[{index}]") for index, raw in raw_spaces)
    return dataclasses.replace(catalog, models=models, id_spaces=catalog.id_spaces + spaces)


def _documented_entry(raw: Any, where: str) -> ModelEntry:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where} is not an object")
    model_id = _text(raw.get("id"), f"{where}.id")
    schema = raw.get("schema")
    return ModelEntry(
        model_id=model_id,
        kind=_text(raw.get("kind"), f"{where}.kind"),
        source=_text(raw.get("source"), f"{where}.source"),
        date=_text(raw.get("date"), f"{where}.date"),
        schema=None if schema is None else _checked(schema, f"model {model_id!r}", schema, ()),
        note=_text(raw.get("note", ""), f"{where}.note", allow_empty=True),
    )


def _price(raw: Any, where: str, rate: Decimal, source: str) -> Price:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where} is not an object")
    credits = _decimal(raw.get("credits"), f"{where}.credits")
    per = _text(raw.get("per"), f"{where}.per")
    return Price(credits=credits, usd=credits * rate, per=per, source=source)


def _id_space(raw: Any, where: str) -> IdSpace:
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where} is not an object")
    ids = {}
    for model_id, family in _mapping(raw, "ids", where).items():
        if not isinstance(family, list) or not all(isinstance(name, str) for name in family):
            raise CatalogError(f"{where}.ids.{model_id} must be a list of model ids")
        ids[model_id] = tuple(family)
    prefix = raw.get("prefix")
    return IdSpace(
        plane=_text(raw.get("plane"), f"{where}.plane"),
        explanation=_text(raw.get("explanation"), f"{where}.explanation"),
        ids=ids,
        prefix=None if prefix is None else _text(prefix, f"{where}.prefix"),
    )


def _mapping(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise CatalogError(f"{where}: {key} must be an object")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise CatalogError(f"the catalog data: {key} must be a list")
    return value


def _text(value: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or not (value or allow_empty):
        raise CatalogError(f"{where} must be a {'' if allow_empty else 'non-empty '}string")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise CatalogError(f"{where} must be a non-negative decimal string")
    return number
