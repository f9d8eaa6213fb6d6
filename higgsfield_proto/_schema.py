"""Argument checks against the JSON Schema subset of the model catalog, as 422 field lists. No I/O.

Theory of operation. The published model schemas use a small part of JSON Schema: ``type``,
``enum``, ``minimum``/``maximum``, ``multipleOf``, ``minLength``/``maxLength``,
``minItems``/``maxItems``, ``items``, ``properties``, ``required``, ``additionalProperties``,
``default``, ``$ref`` and ``format``. This module checks a value against exactly that part and
reports each problem the way the API's own 422 does (pydantic v2's ``type`` names and messages,
``loc`` starting with ``"body"``). Any other keyword is an annotation the server alone judges.

Readings that are choices, made once here (the emulator reads the schemas the same way):

- ``"default": null`` on a typed field is pydantic's ``Optional[...] = None``: an explicit null
  is accepted. The published document writes ``{"type": "integer", "default": null}``, which plain
  JSON Schema would refuse for null; the API, generated from such a model, accepts it.
- A ``$ref`` is a part the catalog could not resolve (the parser inlines those it can): it is
  not checked.
- ``format`` is an annotation: a ``uri`` is any string.
- ``multipleOf`` with a fraction allows a difference of 1e-9, as pydantic does (0.07 is a
  multiple of 0.01 although 0.07 / 0.01 is not exactly 7 in floating point); a number whose
  quotient overflows a float is no multiple.
- One problem per place, the first of: ``enum``, ``type``, ``multipleOf``, ``minimum`` /
  ``maximum``, the length of a string, ``maxItems``, the items, ``minItems`` (pydantic's order).
  A list that is too long has its items left unchecked, and one whose items fail is not also
  reported too short.
- Arrays may be lists or tuples and objects any mapping, since both are JSON once sent.
- ``strict`` refuses the fields of an object that its schema's ``properties`` do not list when
  the schema says nothing about more fields (``extra_forbidden``), as the API's pydantic models
  would with ``extra="forbid"``. Without it such fields pass, as the API itself lets them pass
  (and ignores them). An object whose schema lists no properties is free-form either way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ._values import FieldError

_TOLERANCE = 1e-9

# pydantic v2's error type and message for a value that is not of the named JSON type.
_TYPE_ERRORS = {
    "string": ("string_type", "Input should be a valid string"),
    "integer": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "boolean": ("bool_type", "Input should be a valid boolean"),
    "array": ("list_type", "Input should be a valid list"),
    "object": ("dict_type", "Input should be a valid dictionary"),
    "null": ("none_required", "Input should be None"),
}


def schema_problems(schema: Mapping[str, Any], value: Any, *, strict: bool = False) -> tuple[FieldError, ...]:
    """Check ``value`` against ``schema`` and list what is wrong, as the API's 422 would.

    Args:
        schema: a JSON Schema of the catalog's subset (see this module's notes); keywords outside
            the subset are ignored.
        value: the arguments (a mapping) or any JSON-like value.
        strict: also refuse the fields an object's schema does not list, unless it allows more.

    Returns:
        The problems in the order of the schema's properties, then the unknown fields in the
        order given; each ``loc`` starts with ``"body"``. Empty when the value is valid.
    """
    problems: list[FieldError] = []
    _check(schema, value, ("body",), strict, problems)
    return tuple(problems)


def _check(schema: Mapping[str, Any], value: Any, loc: tuple[Any, ...], strict: bool,
           out: list[FieldError]) -> None:
    if "$ref" in schema or (value is None and "default" in schema and schema["default"] is None):
        return
    if "enum" in schema and not _one_of(value, schema["enum"]):
        expected = _choices_text(schema["enum"])
        out.append(FieldError(loc=loc, msg=f"Input should be {expected}", type="literal_error"))
        return
    wanted = schema.get("type")
    if wanted is not None and not _has_type(value, wanted):
        kind, msg = _type_error(value, wanted)
        out.append(FieldError(loc=loc, msg=msg, type=kind))
        return
    if _is_number(value):
        _check_number(schema, value, loc, out)
    elif isinstance(value, str):
        _check_string(schema, value, loc, out)
    elif isinstance(value, (list, tuple)):
        _check_array(schema, value, loc, strict, out)
    elif isinstance(value, Mapping):
        _check_object(schema, value, loc, strict, out)


def _check_number(schema: Mapping[str, Any], value: float, loc: tuple[Any, ...],
                  out: list[FieldError]) -> None:
    step = schema.get("multipleOf")
    if step is not None and not _is_multiple(value, step):
        out.append(FieldError(loc=loc, msg=f"Input should be a multiple of {_number_text(step)}",
                              type="multiple_of"))
    elif "minimum" in schema and value < schema["minimum"]:
        limit = _number_text(schema["minimum"])
        out.append(FieldError(loc=loc, msg=f"Input should be greater than or equal to {limit}",
                              type="greater_than_equal"))
    elif "maximum" in schema and value > schema["maximum"]:
        limit = _number_text(schema["maximum"])
        out.append(FieldError(loc=loc, msg=f"Input should be less than or equal to {limit}",
                              type="less_than_equal"))


def _check_string(schema: Mapping[str, Any], value: str, loc: tuple[Any, ...],
                  out: list[FieldError]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        least = schema["minLength"]
        out.append(FieldError(loc=loc, msg=f"String should have at least {_count(least, 'character')}",
                              type="string_too_short"))
    elif "maxLength" in schema and len(value) > schema["maxLength"]:
        most = schema["maxLength"]
        out.append(FieldError(loc=loc, msg=f"String should have at most {_count(most, 'character')}",
                              type="string_too_long"))


def _check_array(schema: Mapping[str, Any], value: Any, loc: tuple[Any, ...], strict: bool,
                 out: list[FieldError]) -> None:
    size = len(value)
    if "maxItems" in schema and size > schema["maxItems"]:
        most = _count(schema["maxItems"], "item")
        out.append(FieldError(loc=loc, msg=f"List should have at most {most} after validation, not {size}",
                              type="too_long"))
        return
    before = len(out)
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _check(items, item, (*loc, index), strict, out)
    if len(out) == before and "minItems" in schema and size < schema["minItems"]:
        least = _count(schema["minItems"], "item")
        out.append(FieldError(loc=loc, msg=f"List should have at least {least} after validation, not {size}",
                              type="too_short"))


def _check_object(schema: Mapping[str, Any], value: Mapping[Any, Any], loc: tuple[Any, ...],
                  strict: bool, out: list[FieldError]) -> None:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = schema.get("required", ())
    for name, field_schema in properties.items():
        if name in value:
            _check(field_schema, value[name], (*loc, name), strict, out)
        elif name in required:
            out.append(FieldError(loc=(*loc, name), msg="Field required", type="missing"))
    for name in required:
        if name not in properties and name not in value:
            out.append(FieldError(loc=(*loc, name), msg="Field required", type="missing"))
    # strict closes the objects whose fields a schema lists; a free-form object stays open.
    more = schema.get("additionalProperties", not (strict and "properties" in schema))
    if more is True:
        return
    for name in value:
        if name in properties:
            continue
        if isinstance(more, Mapping):
            _check(more, value[name], (*loc, name), strict, out)
        else:
            out.append(
                FieldError(loc=(*loc, name), msg="Extra inputs are not permitted", type="extra_forbidden")
            )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _has_type(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, list):
        return any(_has_type(value, one) for one in wanted)
    if wanted == "string":
        return isinstance(value, str)
    if wanted == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if wanted == "number":
        return _is_number(value)
    if wanted == "boolean":
        return isinstance(value, bool)
    if wanted == "array":
        return isinstance(value, (list, tuple))
    if wanted == "object":
        return isinstance(value, Mapping)
    if wanted == "null":
        return value is None
    return True  # a type name outside JSON Schema's seven: nothing to check


def _type_error(value: Any, wanted: Any) -> tuple[str, str]:
    if isinstance(wanted, list):
        # pydantic names the first type of an Optional[...] union, never the null.
        wanted = next((one for one in wanted if one != "null"), "null")
    if wanted == "integer" and isinstance(value, float):
        return "int_from_float", "Input should be a valid integer, got a number with a fractional part"
    return _TYPE_ERRORS[wanted]


def _is_multiple(value: float, step: float) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    try:
        quotient = value / step
    except OverflowError:  # an integer too large for a float: pydantic refuses it too
        return False
    return math.isfinite(quotient) and abs(value - round(quotient) * step) < _TOLERANCE


def _one_of(value: Any, choices: Any) -> bool:
    if isinstance(value, str):  # the usual case, where == is JSON equality already
        return value in choices
    return any(_same(value, choice) for choice in choices)


def _same(left: Any, right: Any) -> bool:
    # JSON equality: true is not 1, and 1 is 1.0; arrays and objects compare item by item.
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(_same(left[key], right[key]) for key in left)
    return bool(left == right)


def _choices_text(choices: Any) -> str:
    shown = [repr(choice) for choice in choices]
    if len(shown) < 2:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _number_text(number: float) -> str:
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
