"""The emulator's model catalog: the published schemas, checked with jsonschema, and prices.

The models and their schemas come from the SDK's catalog data (``higgsfield_client/models``: the
published OpenAPI document and ``catalog.json``), read here with code of the emulator's own; the
SDK's core validates the same data with its own validator, so that a misreading in one cannot
hide in the other. The emulator answers as the API's pydantic models would:

- unknown fields are accepted and ignored, unless a schema says ``additionalProperties: false``;
- ``"default": null`` on a typed field accepts an explicit null (``Optional[...] = None``);
- a ``$ref`` that does not resolve inside the document is not checked;
- ``multipleOf`` allows a difference of 1e-9 with fractions, as pydantic does (and a number
  whose quotient overflows a float is no multiple);
- one error per place: the first of enum, type, multipleOf, minimum/maximum, string length,
  maxItems (items then unchecked), the items, minItems (not reported when an item failed).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import jsonschema

# One credit costs this many US dollars (1.500 credits -> "0.094", the documented example).
USD_PER_CREDIT = Decimal("0.0625")
_THOUSANDTHS = Decimal("0.001")
# The price of a model the catalog data gives none: per image, or per five seconds of video.
RULE_CREDITS = {"image": Decimal("1.5"), "video": Decimal("10")}

_ARG_TYPES = {"str": "string", "int": "integer", "number": "number", "bool": "boolean", "list": "array"}
_TYPE_ERRORS = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
    "fraction": ("int_from_float", "Input should be a valid integer, got a number with a fractional part"),
}
# Which error a place keeps when jsonschema finds several (lower first); see the module's notes.
_RANK = {
    "enum": 0, "type": 1, "multipleOf": 2, "minimum": 3, "maximum": 3, "minLength": 4,
    "maxLength": 4, "maxItems": 5, "minItems": 7,
}  # fmt: skip


@dataclass(frozen=True)
class Arg:
    """One model argument and the checks the emulator applies to it.

    ``kind`` is "str", "int", "number", "bool", "list" or "any"; ``choices`` restricts the value to
    a fixed set (a pydantic ``Literal``); ``ge``/``le`` bound numbers; ``min_items``/``max_items``
    bound lists; ``max_length`` bounds strings. An argument that is not ``required`` also
    accepts null.
    """

    name: str
    kind: str = "any"
    required: bool = False
    choices: Optional[Tuple[Any, ...]] = None
    ge: Optional[float] = None
    le: Optional[float] = None
    min_items: Optional[int] = None
    max_items: Optional[int] = None
    max_length: Optional[int] = None

    def json_schema(self) -> Dict[str, Any]:
        """The argument as a JSON Schema property."""
        schema: Dict[str, Any] = {}
        if self.kind in _ARG_TYPES:
            schema["type"] = _ARG_TYPES[self.kind]
        keywords = {
            "enum": None if self.choices is None else list(self.choices),
            "minimum": self.ge, "maximum": self.le, "minItems": self.min_items,
            "maxItems": self.max_items, "maxLength": self.max_length,
        }  # fmt: skip
        schema.update({key: value for key, value in keywords.items() if value is not None})
        if not self.required:
            schema["default"] = None
        return schema


@dataclass(frozen=True)
class ModelSpec:
    """A model the emulator accepts: its id, output kind ("image" or "video"), arguments, price.

    ``credits`` is the price of one image (per ``batch_size`` or ``num_images`` item) or of five
    seconds of video. The arguments are checked against ``schema`` (a JSON Schema of the
    arguments) when given, else against ``args``; arguments neither lists are accepted and
    ignored, as the real API does. ``checked`` False accepts any arguments (a model whose
    schema is not known).
    """

    model_id: str
    kind: str
    args: Tuple[Arg, ...] = ()
    credits: Decimal = Decimal("1.5")
    schema: Optional[Mapping[str, Any]] = field(default=None, compare=False, hash=False)
    checked: bool = True

    def json_schema(self) -> Dict[str, Any]:
        """The JSON Schema the emulator checks a body against ({} when ``checked`` is False)."""
        if not self.checked:
            return {}
        if self.schema is not None:
            return dict(self.schema)
        return {
            "type": "object",
            "properties": {arg.name: arg.json_schema() for arg in self.args},
            "required": [arg.name for arg in self.args if arg.required],
        }


def _tolerant_multiple_of(
    validator: Any, step: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    # jsonschema's own rule refuses 0.07 as a multiple of 0.01 (floating point); pydantic does not.
    if not validator.is_type(instance, "number"):
        return
    if isinstance(instance, int) and isinstance(step, int):
        exact = instance % step == 0
    else:
        try:
            quotient = instance / step
        except OverflowError:  # an integer too large for a float
            quotient = math.inf
        exact = math.isfinite(quotient) and abs(instance - round(quotient) * step) < 1e-9
    if not exact:
        yield jsonschema.ValidationError(f"{instance!r} is not a multiple of {step}")


_Validator: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"multipleOf": _tolerant_multiple_of}
)


class ArgumentChecker:
    """Checks bodies against one JSON Schema and answers pydantic v2-style 422 items."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        prepared = _prepared(schema, schema, (), nullable=True)
        self._validator = _Validator(prepared)
        self._order = {name: index for index, name in enumerate(prepared.get("properties", {}))}

    def errors(self, body: Any) -> List[Dict[str, Any]]:
        """The 422 items for ``body`` (``type``, ``loc``, ``msg``, ``input``, ``ctx``), in the
        order of the schema's properties, then unknown fields; empty when it is valid."""
        found: List[Tuple[Tuple[Any, ...], int, Dict[str, Any]]] = []
        for error in self._validator.iter_errors(body):
            place = ("body", *error.absolute_path)
            rank = _RANK.get(str(error.validator), 6)
            found.extend((loc, rank, item) for loc, item in _items(error, place))
        kept = _one_per_place(found)
        return sorted(kept, key=lambda item: self._position(item["loc"], body))

    def _position(self, loc: Sequence[Any], body: Any) -> Tuple[int, int, Tuple[Any, ...]]:
        top = loc[1] if len(loc) > 1 else None
        if top in self._order:
            return 0, self._order[top], tuple((0, p) if isinstance(p, int) else (1, str(p)) for p in loc[2:])
        keys = list(body) if isinstance(body, dict) else []
        return 1, keys.index(top) if top in keys else len(keys), ()


def _prepared(node: Any, document: Any, expanding: Tuple[str, ...], *, nullable: bool) -> Any:
    """``node`` with the ``$ref``s that resolve in ``document`` inlined and the others made {};
    with ``nullable``, a ``default: null`` also admits null in ``type`` and ``enum``."""
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        target = _pointer(document, ref)
        if target is None or ref in expanding:
            return {}
        return _prepared(target, document, (*expanding, ref), nullable=nullable)
    out = dict(node)
    for key in ("items", "additionalProperties"):
        if key in out:
            out[key] = _prepared(out[key], document, expanding, nullable=nullable)
    if isinstance(out.get("properties"), Mapping):
        out["properties"] = {
            name: _prepared(part, document, expanding, nullable=nullable)
            for name, part in out["properties"].items()
        }
    if nullable and "default" in out and out["default"] is None:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def _pointer(document: Any, ref: str) -> Optional[Any]:
    if not ref.startswith("#/"):
        return None
    node = document
    for token in ref[2:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _items(
    error: jsonschema.ValidationError, place: Tuple[Any, ...]
) -> Iterator[Tuple[Tuple[Any, ...], Dict[str, Any]]]:
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    if keyword == "required":
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield (*place, name), _item("missing", (*place, name), "Field required", instance)
    elif keyword == "additionalProperties":
        schema: Any = error.schema
        known = schema.get("properties", {})
        for name in instance:
            if name not in known:
                where = (*place, name)
                yield where, _item("extra_forbidden", where, "Extra inputs are not permitted", instance[name])
    elif keyword == "type":
        wanted = value if isinstance(value, str) else next((t for t in value if t != "null"), "null")
        fraction = wanted == "integer" and isinstance(instance, float)
        kind, msg = _TYPE_ERRORS["fraction" if fraction else wanted]
        yield place, _item(kind, place, msg, instance)
    elif keyword == "enum":
        text = _choices_text([choice for choice in value if choice is not None])
        yield place, _item("literal_error", place, f"Input should be {text}", instance, expected=text)
    else:
        yield place, _constraint_item(str(keyword), value, place, instance)


# keyword -> (pydantic type, message with {limit}, the ctx key for the limit)
_CONSTRAINTS = {
    "multipleOf": ("multiple_of", "Input should be a multiple of {limit}", "multiple_of"),
    "minimum": ("greater_than_equal", "Input should be greater than or equal to {limit}", "ge"),
    "maximum": ("less_than_equal", "Input should be less than or equal to {limit}", "le"),
    "minLength": ("string_too_short", "String should have at least {limit} character{s}", "min_length"),
    "maxLength": ("string_too_long", "String should have at most {limit} character{s}", "max_length"),
    "minItems": ("too_short", "List should have at least {limit} item{s} after validation, not {size}",
                 "min_length"),
    "maxItems": ("too_long", "List should have at most {limit} item{s} after validation, not {size}",
                 "max_length"),
}  # fmt: skip


def _constraint_item(keyword: str, value: Any, place: Tuple[Any, ...], instance: Any) -> Dict[str, Any]:
    if keyword not in _CONSTRAINTS:
        return _item("value_error", place, f"Value error, the schema's {keyword} refuses it", instance)
    kind, template, ctx_key = _CONSTRAINTS[keyword]
    ctx = {ctx_key: value}
    size = len(instance) if keyword in ("minItems", "maxItems") else 0
    if keyword in ("minItems", "maxItems"):
        ctx.update(field_type="List", actual_length=size)
    msg = template.format(limit=_number_text(value), s="" if value == 1 else "s", size=size)
    return _item(kind, place, msg, instance, **ctx)


def _one_per_place(found: List[Tuple[Tuple[Any, ...], int, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    best: Dict[Tuple[Any, ...], Tuple[int, Dict[str, Any]]] = {}
    for loc, rank, item in found:
        if loc not in best or rank < best[loc][0]:
            best[loc] = (rank, item)
    # A place that failed its enum or had too many items hides what failed inside it; a list
    # whose items failed is not also too short.
    hiding = [loc for loc, (rank, _) in best.items() if rank in (_RANK["enum"], _RANK["maxItems"])]
    kept = {
        loc: entry for loc, entry in best.items()
        if not any(len(loc) > len(outer) and loc[: len(outer)] == outer for outer in hiding)
    }  # fmt: skip
    return [
        item for loc, (rank, item) in kept.items()
        if rank != _RANK["minItems"] or not any(len(o) > len(loc) and o[: len(loc)] == loc for o in kept)
    ]  # fmt: skip


def _item(kind: str, loc: Tuple[Any, ...], msg: str, value: Any, **ctx: Any) -> Dict[str, Any]:
    item: Dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


def _choices_text(choices: Sequence[Any]) -> str:
    shown = [repr(choice) for choice in choices]
    if len(shown) < 2:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _number_text(number: Any) -> str:
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def batch_size(model: ModelSpec, body: Mapping[str, Any]) -> int:
    """Number of outputs a request makes: ``batch_size`` or ``num_images`` for image models, else 1."""
    if model.kind != "image":
        return 1
    for key in ("batch_size", "num_images"):
        size = body.get(key)
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return size
    return 1


def _seconds(body: Mapping[str, Any]) -> Decimal:
    duration = body.get("duration")
    if isinstance(duration, str) and duration.isdigit():
        duration = int(duration)  # some schemas take the duration as "4", "6" or "8"
    if isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration > 0:
        return Decimal(str(duration))
    return Decimal(5)


def estimate(model: ModelSpec, body: Mapping[str, Any]) -> Dict[str, str]:
    """Price a request as the estimate endpoint answers it: decimal strings with three places.

    Video: ``credits`` per five seconds of ``duration`` (5 s when absent); anything else:
    ``credits`` per output.
    """
    if model.kind == "video":
        credits = model.credits * _seconds(body) / Decimal(5)
    else:
        credits = model.credits * batch_size(model, body)
    credits = credits.quantize(_THOUSANDTHS, ROUND_HALF_UP)
    usd = (credits * USD_PER_CREDIT).quantize(_THOUSANDTHS, ROUND_HALF_UP)
    return {"credits": str(credits), "usd": str(usd)}


def read_data(name: str) -> bytes:
    """The bytes of one of the SDK's catalog files (``openapi.json``, ``catalog.json``)."""
    return files("higgsfield_client.models").joinpath(name).read_bytes()


def _kind(model_id: str, properties: Mapping[str, Any], kinds: Mapping[str, str]) -> str:
    if model_id in kinds:
        return kinds[model_id]
    return "video" if "video" in model_id or "duration" in properties else "image"


def catalog_models(document: Mapping[str, Any], data: Mapping[str, Any]) -> Tuple[ModelSpec, ...]:
    """The models of a published OpenAPI ``document`` and of the SDK's catalog ``data``.

    Every ``POST`` path without a template is a model, with its JSON request schema; the
    documented models the document lacks follow. A model is priced from ``data`` or by
    `RULE_CREDITS`.
    """
    prices = {key: Decimal(price["credits"]) for key, price in data["prices"]["models"].items()}
    specs: Dict[str, ModelSpec] = {}
    for path, item in document["paths"].items():
        if "{" in path or "post" not in item:
            continue
        model_id = path.strip("/")
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        kind = _kind(model_id, schema.get("properties", {}), data["kinds"])
        specs[model_id] = ModelSpec(
            model_id, kind, credits=prices.get(model_id, RULE_CREDITS[kind]),
            schema=_prepared(schema, document, (), nullable=False),
        )  # fmt: skip
    for entry in data["documented"]:
        model_id, kind, schema = entry["id"], entry["kind"], entry["schema"]
        if model_id not in specs:
            specs[model_id] = ModelSpec(
                model_id, kind, credits=prices.get(model_id, RULE_CREDITS[kind]),
                schema=schema, checked=schema is not None,
            )  # fmt: skip
    return tuple(specs.values())


DEFAULT_MODELS: Tuple[ModelSpec, ...] = catalog_models(
    json.loads(read_data("openapi.json")), json.loads(read_data("catalog.json"))
)
"""The models the emulator knows unless ``Emulator(models=...)`` names others: the official
catalog's ids, their arguments and prices."""
