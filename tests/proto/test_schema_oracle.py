"""The catalog's validator against the jsonschema library as the oracle, on random schemas of the
subset the catalog uses and random values (mostly near the schema's limits).

The oracle reads the schemas as the validator documents it: ``"default": null`` admits null,
an unresolved ``$ref`` checks nothing, and ``multipleOf`` tolerates 1e-9 as pydantic does (the
only keyword whose rule the oracle takes from the validator's notes instead of jsonschema).
"""

from __future__ import annotations

import math
import string
from typing import Any, Dict, Iterator, List, Set, Tuple

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from higgsfield_client.testing._catalog import ArgumentChecker
from higgsfield_proto import schema_problems

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = st.sampled_from(["prompt", "seed", "duration", "image_urls", "resolution", "motions", "a", "b"])
STEPS = st.sampled_from([0.01, 0.1, 0.25, 0.5, 2, 3, 1.5])


def _tolerant_multiple_of(validator: Any, step: Any, instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "number"):
        return
    if isinstance(instance, int) and isinstance(step, int):
        ok = instance % step == 0
    else:
        quotient = instance / step
        ok = math.isfinite(quotient) and abs(instance - round(quotient) * step) < 1e-9
    if not ok:
        yield jsonschema.ValidationError("not a multiple")


ORACLE = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"multipleOf": _tolerant_multiple_of})


def oracle_schema(node: Any) -> Any:
    """The schema with the validator's documented readings spelled out in plain JSON Schema."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return {}
    out = dict(node)
    for key in ("items", "additionalProperties"):
        if key in out:
            out[key] = oracle_schema(out[key])
    if "properties" in out:
        out["properties"] = {name: oracle_schema(part) for name, part in out["properties"].items()}
    if "default" in out and out["default"] is None:
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


# -- schemas of the subset ---------------------------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.5, 1.0, 2.5]),
    st.sampled_from(["a", "2K", ""]),
)


@st.composite
def string_schemas(draw: st.DrawFn) -> Dict[str, Any]:
    schema: Dict[str, Any] = {"type": "string"}
    if draw(st.booleans()):
        schema["enum"] = draw(st.lists(st.text(string.ascii_letters, max_size=3), min_size=1, max_size=4))
    if draw(st.booleans()):
        schema["minLength"] = draw(st.integers(0, 3))
    if draw(st.booleans()):
        schema["maxLength"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        schema["format"] = "uri"
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> Dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    schema: Dict[str, Any] = {"type": kind}
    bound = (
        st.integers(-10, 10)
        if kind == "integer"
        else st.one_of(st.integers(-10, 10), st.sampled_from([0.5, 1.5]))
    )
    if draw(st.booleans()):
        schema["minimum"] = draw(bound)
    if draw(st.booleans()):
        schema["maximum"] = draw(bound)
    if draw(st.booleans()):
        schema["multipleOf"] = draw(st.integers(1, 4) if kind == "integer" else STEPS)
    if draw(st.booleans()):
        schema["enum"] = draw(st.lists(st.integers(-3, 12), min_size=1, max_size=3))
    return schema


LEAVES = st.one_of(
    string_schemas(),
    number_schemas(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.just({}),
    st.just({"$ref": "#/definitions/MotionSchema"}),
    st.lists(SCALARS, min_size=1, max_size=4).map(lambda choices: {"enum": choices}),
)


def _extend(children: st.SearchStrategy[Dict[str, Any]]) -> st.SearchStrategy[Dict[str, Any]]:
    arrays = st.fixed_dictionaries(
        {"type": st.just("array"), "items": children},
        optional={"minItems": st.integers(0, 2), "maxItems": st.integers(0, 3)},
    )
    objects = st.dictionaries(NAMES, children, max_size=4).flatmap(
        lambda properties: st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.just(properties)},
            optional={
                "required": st.lists(NAMES, unique=True, max_size=3),
                "additionalProperties": st.one_of(st.booleans(), children),
            },
        )
    )
    return st.one_of(arrays, objects)


def _with_null_default(schema: Dict[str, Any]) -> st.SearchStrategy[Dict[str, Any]]:
    return st.sampled_from([schema, {**schema, "default": None}, {**schema, "default": 1}])


SCHEMAS = st.one_of(LEAVES, st.recursive(LEAVES, _extend, max_leaves=6)).flatmap(_with_null_default)


# -- values, mostly near what the schema allows --------------------------------------------------

JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-20, 20),
        st.floats(-20, 20, allow_nan=False),
        st.text(max_size=4),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=3)),
    max_leaves=6,
)


def values_for(schema: Dict[str, Any]) -> st.SearchStrategy[Any]:
    """Any JSON value (a third of the time), else one of the schema's type near its limits."""
    options: List[st.SearchStrategy[Any]] = []
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    kind = schema.get("type")
    if kind == "string":
        options.append(st.text(string.ascii_letters, max_size=6))
    elif kind in ("integer", "number"):
        edges = [schema.get(key) for key in ("minimum", "maximum", "multipleOf") if key in schema]
        near = [edge + delta for edge in edges for delta in (-1, -0.5, 0, 0.01, 1)]
        options.append(st.sampled_from([*near, 0, 3]) if near else st.integers(-12, 12))
        if kind == "number":
            options.append(st.floats(-12, 12, allow_nan=False))
        if "multipleOf" in schema:
            options.append(st.integers(-6, 6).map(lambda n: n * schema["multipleOf"]))
    elif kind == "array":
        options.append(st.lists(values_for(schema["items"]), max_size=4))
    elif kind == "object":
        properties = schema["properties"]
        options.append(
            st.fixed_dictionaries(
                {}, optional={name: values_for(part) for name, part in properties.items()}
            ).flatmap(
                lambda known: st.dictionaries(NAMES, JSON, max_size=1).map(lambda extra: {**extra, **known})
            )
        )
    if not options:
        return JSON
    return st.one_of(JSON, st.one_of(options), st.one_of(options))


SCHEMA_AND_VALUE = SCHEMAS.flatmap(lambda schema: st.tuples(st.just(schema), values_for(schema)))


# The pydantic error types that answer each keyword the oracle reports.
TYPES_OF = {
    "type": {"string_type", "int_type", "int_from_float", "float_type", "bool_type", "list_type", "dict_type",
             "none_required"},
    "enum": {"literal_error"}, "minimum": {"greater_than_equal"}, "maximum": {"less_than_equal"},
    "multipleOf": {"multiple_of"}, "minLength": {"string_too_short"}, "maxLength": {"string_too_long"},
    "minItems": {"too_short"}, "maxItems": {"too_long"}, "required": {"missing"},
    "additionalProperties": {"extra_forbidden"},
}  # fmt: skip


def oracle_findings(schema: Dict[str, Any], value: Any) -> Dict[Tuple[Any, ...], Set[str]]:
    """Where the oracle finds problems, as ``loc``s (a missing or unknown field at its own), with
    the pydantic error types that would answer them."""
    found: Dict[Tuple[Any, ...], Set[str]] = {}
    for error in ORACLE(oracle_schema(schema)).iter_errors(value):
        place = ("body", *error.absolute_path)
        places = [place]
        if error.validator == "required":
            places = [(*place, name) for name in error.validator_value if name not in error.instance]
        elif error.validator == "additionalProperties":
            known = error.schema.get("properties", {})
            places = [(*place, name) for name in error.instance if name not in known]
        for where in places:
            found.setdefault(where, set()).update(TYPES_OF[str(error.validator)])
    return found


def _under(inner: Tuple[Any, ...], outer: Tuple[Any, ...]) -> bool:
    return len(inner) >= len(outer) and inner[: len(outer)] == outer


@PROPERTY
@given(SCHEMA_AND_VALUE)
def test_the_validator_agrees_with_jsonschema_on_valid_and_invalid(case: Tuple[Dict[str, Any], Any]) -> None:
    schema, value = case
    problems = schema_problems(schema, value)
    assert (problems == ()) == ORACLE(oracle_schema(schema)).is_valid(value)


@PROPERTY
@given(SCHEMA_AND_VALUE)
def test_every_problem_is_one_the_oracle_finds_at_the_same_place(case: Tuple[Dict[str, Any], Any]) -> None:
    # The validator reports one problem per place and stops inside a place that failed its enum or
    # has too many items, so it may name fewer places than the oracle; every problem it names, the
    # oracle finds there too, and every place the oracle refuses lies in or under one it names.
    schema, value = case
    problems = schema_problems(schema, value)
    theirs = oracle_findings(schema, value)
    for problem in problems:
        assert problem.type in theirs.get(problem.loc, set()), (problem, theirs)
    named = {problem.loc for problem in problems}
    assert all(any(_under(place, loc) or _under(loc, place) for loc in named) for place in theirs)


@PROPERTY
@given(SCHEMA_AND_VALUE)
def test_strict_refuses_exactly_the_fields_a_closed_schema_would(case: Tuple[Dict[str, Any], Any]) -> None:
    # strict is additionalProperties: false wherever a schema says nothing about more fields.
    schema, value = case
    closed = _closed(schema)
    strict = schema_problems(schema, value, strict=True)
    assert strict == schema_problems(closed, value)
    assert (strict == ()) == ORACLE(oracle_schema(closed)).is_valid(value)


def _closed(node: Any) -> Any:
    if not isinstance(node, dict) or "$ref" in node:
        return node
    out = dict(node)
    if "items" in out:
        out["items"] = _closed(out["items"])
    if "properties" in out:
        out["properties"] = {name: _closed(part) for name, part in out["properties"].items()}
        more = out.get("additionalProperties", False)
        out["additionalProperties"] = _closed(more) if isinstance(more, dict) else more
    return out


@PROPERTY
@given(SCHEMA_AND_VALUE)
def test_the_emulator_gives_the_same_field_list(case: Tuple[Dict[str, Any], Any]) -> None:
    # The emulator checks with jsonschema and code of its own; on any schema of the subset, its
    # 422 items name the same places with the same types (the order of nested fields aside).
    schema, value = case
    mine = sorted(((problem.loc, problem.type) for problem in schema_problems(schema, value)), key=repr)
    emulator = sorted(
        ((tuple(item["loc"]), item["type"]) for item in ArgumentChecker(schema).errors(value)), key=repr
    )
    assert mine == emulator
