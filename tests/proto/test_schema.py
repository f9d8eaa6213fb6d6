"""The catalog's schema checks: one scripted case per rule, in the API's 422 shape."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import pytest

from higgsfield_proto import FieldError, schema_problems

SOUL = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "title": "Prompt"},
        "num_images": {"type": "integer", "default": 1, "maximum": 4, "minimum": 1},
        "resolution": {"enum": ["2K", "4K"], "default": "2K"},
        "seed": {"type": "integer", "default": None, "maximum": 1000000, "minimum": 1},
        "cfg_scale": {"type": "number", "default": 0.5, "maximum": 1, "minimum": 0, "multipleOf": 0.01},
        "image_urls": {"type": "array", "items": {"type": "string", "minLength": 3}, "minItems": 2,
                       "maxItems": 4},
        "motions": {"type": "array", "items": {"$ref": "#/definitions/MotionSchema"}, "maxItems": 2},
        "camera_fixed": {"type": "boolean"},
        "image_url": {"type": "string", "format": "uri", "minLength": 3, "maxLength": 10},
    },
    "required": ["prompt"],
}  # fmt: skip


def found(value: Any, schema: Any = SOUL, strict: bool = False) -> List[Tuple[Tuple[Any, ...], str]]:
    return [(problem.loc, problem.type) for problem in schema_problems(schema, value, strict=strict)]


def test_a_valid_body_has_no_problems() -> None:
    body = {
        "prompt": "a lake", "num_images": 4, "resolution": "4K", "seed": 1, "cfg_scale": 0.07,
        "image_urls": ["abc", "defg"], "motions": [{"id": 3}, "anything"], "camera_fixed": False,
        "image_url": "https://x",
    }  # fmt: skip
    assert schema_problems(SOUL, body) == ()


def test_a_missing_required_field_is_reported_with_pydantic_words() -> None:
    assert schema_problems(SOUL, {}) == (
        FieldError(loc=("body", "prompt"), msg="Field required", type="missing"),
    )


@pytest.mark.parametrize(
    ("field", "value", "kind", "msg"),
    [
        ("prompt", 42, "string_type", "Input should be a valid string"),
        ("num_images", "2", "int_type", "Input should be a valid integer"),
        ("num_images", True, "int_type", "Input should be a valid integer"),
        ("num_images", 1.5, "int_from_float",
         "Input should be a valid integer, got a number with a fractional part"),
        ("cfg_scale", "0.5", "float_type", "Input should be a valid number"),
        ("cfg_scale", False, "float_type", "Input should be a valid number"),
        ("camera_fixed", 0, "bool_type", "Input should be a valid boolean"),
        ("image_urls", "abc", "list_type", "Input should be a valid list"),
        ("resolution", "720p", "literal_error", "Input should be '2K' or '4K'"),
        ("num_images", 0, "greater_than_equal", "Input should be greater than or equal to 1"),
        ("num_images", 5, "less_than_equal", "Input should be less than or equal to 4"),
        ("cfg_scale", 0.333, "multiple_of", "Input should be a multiple of 0.01"),
        ("image_url", "ab", "string_too_short", "String should have at least 3 characters"),
        ("image_url", "https://a.b/c", "string_too_long", "String should have at most 10 characters"),
        ("image_urls", ["abc"], "too_short", "List should have at least 2 items after validation, not 1"),
        ("image_urls", ["abc"] * 5, "too_long", "List should have at most 4 items after validation, not 5"),
    ],
)  # fmt: skip
def test_each_rule_gives_the_type_and_message_pydantic_gives(
    field: str, value: Any, kind: str, msg: str
) -> None:
    assert schema_problems(SOUL, {"prompt": "p", field: value}) == (
        FieldError(loc=("body", field), msg=msg, type=kind),
    )


def test_integral_floats_are_integers_and_integers_are_numbers() -> None:
    assert found({"prompt": "p", "num_images": 2.0, "cfg_scale": 1}) == []


def test_multiple_of_tolerates_float_rounding_as_pydantic_does() -> None:
    # 0.07 / 0.01 is 7.000000000000001 in floating point; pydantic (and the API) accept it.
    assert found({"prompt": "p", "cfg_scale": 0.07}) == []
    assert found({"prompt": "p", "cfg_scale": 0.0700001}) == [(("body", "cfg_scale"), "multiple_of")]
    whole = {"type": "integer", "multipleOf": 3}
    assert found(9, whole) == []
    assert found(10, whole) == [(("body",), "multiple_of")]
    # Quotients beyond a float: pydantic refuses them, so does the check (never an exception).
    assert found(1e308, {"multipleOf": 0.01}) == [(("body",), "multiple_of")]
    assert found(10**400, {"multipleOf": 0.5}) == [(("body",), "multiple_of")]
    assert found(10**400, {"multipleOf": 7}) == [(("body",), "multiple_of")]


def test_an_explicit_null_is_accepted_where_the_default_is_null() -> None:
    # The published document writes Optional[int] = None as {"type": "integer", "default": null}.
    assert found({"prompt": "p", "seed": None}) == []
    assert found({"prompt": "p", "num_images": None}) == [(("body", "num_images"), "int_type")]


def test_items_are_checked_with_their_index_in_the_loc() -> None:
    assert found({"prompt": "p", "image_urls": ["abc", "x", 3]}) == [
        (("body", "image_urls", 1), "string_too_short"),
        (("body", "image_urls", 2), "string_type"),
    ]


def test_a_list_whose_items_fail_is_not_also_too_short() -> None:
    assert found({"prompt": "p", "image_urls": ["x"]}) == [(("body", "image_urls", 0), "string_too_short")]


def test_a_list_that_is_too_long_has_its_items_left_unchecked() -> None:
    assert found({"prompt": "p", "image_urls": [1, 2, 3, 4, 5]}) == [(("body", "image_urls"), "too_long")]


def test_an_unresolved_ref_and_a_format_are_not_checked() -> None:
    assert found({"prompt": "p", "motions": [1, None], "image_url": "not a uri"}) == []


def test_one_problem_per_place_in_pydantic_order() -> None:
    # A wrong enum value of the wrong type is a literal_error only; a number that is both out of
    # range and no multiple is reported as no multiple.
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "enum": ["x"]},
        "b": {"type": "number", "multipleOf": 0.5, "minimum": 10},
    }}  # fmt: skip
    assert schema_problems(schema, {"a": 1, "b": 3.3}) == (
        FieldError(loc=("body", "a"), msg="Input should be 'x'", type="literal_error"),
        FieldError(loc=("body", "b"), msg="Input should be a multiple of 0.5", type="multiple_of"),
    )


def test_problems_follow_the_schema_order_then_unknown_fields_in_body_order() -> None:
    body = OrderedDict([("zz", 1), ("camera_fixed", "no"), ("aa", 2), ("prompt", 1)])
    assert found(body, strict=True) == [
        (("body", "prompt"), "string_type"),
        (("body", "camera_fixed"), "bool_type"),
        (("body", "zz"), "extra_forbidden"),
        (("body", "aa"), "extra_forbidden"),
    ]


def test_unknown_fields_pass_unless_strict_or_forbidden_by_the_schema() -> None:
    body = {"prompt": "p", "custom_reference_id": "x"}
    assert found(body) == []
    assert schema_problems(SOUL, body, strict=True) == (
        FieldError(
            loc=("body", "custom_reference_id"), msg="Extra inputs are not permitted", type="extra_forbidden"
        ),
    )
    closed = {**SOUL, "additionalProperties": False}
    assert found(body, closed) == [(("body", "custom_reference_id"), "extra_forbidden")]
    open_ = {**SOUL, "additionalProperties": True}
    assert found(body, open_, strict=True) == []


def test_a_schema_for_more_fields_checks_them() -> None:
    schema = {"type": "object", "properties": {}, "additionalProperties": {"type": "integer"}}
    assert found({"a": 1, "b": "2"}, schema, strict=True) == [(("body", "b"), "int_type")]


def test_strict_applies_to_nested_objects_too() -> None:
    schema = {"type": "object", "properties": {"motion": {"type": "object", "properties": {"id": {}}}}}
    assert found({"motion": {"id": 1, "speed": 2}}, schema) == []
    assert found({"motion": {"id": 1, "speed": 2}}, schema, strict=True) == [
        (("body", "motion", "speed"), "extra_forbidden")
    ]


def test_a_required_field_the_properties_do_not_describe_is_still_required() -> None:
    schema = {"type": "object", "properties": {"a": {}}, "required": ["a", "b"]}
    assert found({}, schema) == [(("body", "a"), "missing"), (("body", "b"), "missing")]
    assert found({"a": 1, "b": None}, schema) == []


@pytest.mark.parametrize(
    ("schema", "value", "kind"),
    [
        ({"type": "object"}, [], "dict_type"),
        ({"type": "null"}, 0, "none_required"),
        ({"type": ["integer", "null"]}, "x", "int_type"),
        ({"type": ["null", "integer"]}, 1.5, "int_from_float"),
        ({"type": ["null"]}, 1, "none_required"),
    ],
)
def test_other_types_and_lists_of_types(schema: Dict[str, Any], value: Any, kind: str) -> None:
    assert found(value, schema) == [(("body",), kind)]


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": ["integer", "null"]}, None),
        ({"type": "object"}, OrderedDict()),
        ({"type": "array", "items": {"type": "integer"}}, (1, 2)),
        ({"type": "something else"}, 1),
        ({"items": [{"type": "string"}]}, [1]),  # tuple validation is outside the subset
        ({"minimum": 5, "minLength": 5, "maxItems": 0}, True),
    ],
)
def test_values_that_pass(schema: Dict[str, Any], value: Any) -> None:
    assert found(value, schema) == []


@pytest.mark.parametrize(
    ("choices", "value", "ok"),
    [
        ([1, 4], 1.0, True),
        ([1, 4], True, False),
        ([True], 1, False),
        ([True], True, True),
        ([[1, "a"]], (1, "a"), True),
        ([[1, "a"]], [1, "b"], False),
        ([[1]], [1, 2], False),
        ([{"a": [1]}], {"a": [1.0]}, True),
        ([{"a": 1}], {"a": 1, "b": 2}, False),
        ([{"a": 1}], [1], False),
        (["1"], 1, False),
        ([None], None, True),
    ],
)
def test_enum_compares_as_json_does(choices: List[Any], value: Any, ok: bool) -> None:
    assert (found(value, {"enum": choices}) == []) is ok


@pytest.mark.parametrize(
    ("schema", "value", "msg"),
    [
        ({"enum": ["direct"]}, "x", "Input should be 'direct'"),
        ({"enum": [5, 10, 15]}, 6, "Input should be 5, 10 or 15"),
        ({"minLength": 1}, "", "String should have at least 1 character"),
        ({"maxLength": 1}, "ab", "String should have at most 1 character"),
        ({"minItems": 1}, [], "List should have at least 1 item after validation, not 0"),
        ({"maxItems": 1}, [1, 2], "List should have at most 1 item after validation, not 2"),
        ({"minimum": 0.5}, 0.25, "Input should be greater than or equal to 0.5"),
        ({"maximum": 1.0}, 2, "Input should be less than or equal to 1"),
        ({"multipleOf": 2.0}, 3, "Input should be a multiple of 2"),
    ],
)
def test_messages_name_limits_as_pydantic_does(schema: Dict[str, Any], value: Any, msg: str) -> None:
    (problem,) = schema_problems(schema, value)
    assert problem.msg == msg


def test_strict_leaves_free_form_objects_open() -> None:
    schema = {"type": "object", "properties": {"background": {}, "extra": {"type": "object"}}}
    body = {"background": {"r": 1}, "extra": {"anything": True}}
    assert found(body, schema, strict=True) == []
