"""Arguments for the models of the catalog: a valid body of each, and bodies with one mistake each
with the 422 field list it must get (from the core, the emulator and the clients alike)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from higgsfield_proto import ModelEntry

UNKNOWN_FIELD = "not_a_field_of_this_model"
Problems = List[Tuple[Tuple[Any, ...], str]]


def example(schema: Dict[str, Any]) -> Any:
    """A valid value for a schema of the catalog, every field of an object given."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return "https://example.com/in.png"
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("maximum", 1))
    if kind == "boolean":
        return True
    if kind == "array":
        items = [example(schema.get("items", {})) for _ in range(max(1, schema.get("minItems", 1)))]
        return items[: schema.get("maxItems", len(items))]
    if kind == "object":
        return {name: example(part) for name, part in schema.get("properties", {}).items()}
    return "anything"


WRONG_TYPES = {"string": (5, "string_type"), "integer": ("5", "int_type"), "number": ("0.5", "float_type"),
               "boolean": ("yes", "bool_type"), "array": ("x", "list_type")}  # fmt: skip


def mistakes(entry: ModelEntry) -> Dict[str, Tuple[Dict[str, Any], Problems]]:
    """Bodies with one mistake each, by name, and the problem each must get."""
    schema = entry.schema or {}
    valid = example(schema)
    properties: Dict[str, Any] = schema["properties"]
    cases: Dict[str, Tuple[Dict[str, Any], Problems]] = {"valid": (valid, [])}

    def first(test: Any) -> Optional[str]:
        return next((name for name, part in properties.items() if test(part)), None)

    typed = first(lambda part: part.get("type") in WRONG_TYPES and "enum" not in part)
    if typed is not None:
        value, kind = WRONG_TYPES[properties[typed]["type"]]
        cases["wrong type"] = ({**valid, typed: value}, [(("body", typed), kind)])
    chosen = first(lambda part: "enum" in part)
    if chosen is not None:
        cases["not a choice"] = ({**valid, chosen: "not-a-choice"}, [(("body", chosen), "literal_error")])
    bounded = first(lambda part: "minimum" in part or "maximum" in part)
    if bounded is not None:
        part = properties[bounded]
        value, kind = ((part["minimum"] - 1, "greater_than_equal") if "minimum" in part
                       else (part["maximum"] + 1, "less_than_equal"))  # fmt: skip
        cases["out of range"] = ({**valid, bounded: value}, [(("body", bounded), kind)])
    if schema.get("required"):
        name = schema["required"][0]
        body = {key: value for key, value in valid.items() if key != name}
        cases["missing"] = (body, [(("body", name), "missing")])
    extra = [(("body", UNKNOWN_FIELD), "extra_forbidden")]
    cases["unknown field"] = (
        {**valid, UNKNOWN_FIELD: 1},
        extra if schema.get("additionalProperties") is False else [],
    )
    return cases
