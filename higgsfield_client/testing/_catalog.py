"""The emulator's model catalog: argument rules, pydantic-style validation errors and prices."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

# One credit costs this many US dollars (1.500 credits -> "0.094", the documented example).
USD_PER_CREDIT = Decimal("0.0625")
_THOUSANDTHS = Decimal("0.001")

_TYPE_ERRORS = {
    "str": ("string_type", "Input should be a valid string"),
    "int": ("int_type", "Input should be a valid integer"),
    "number": ("float_type", "Input should be a valid number"),
    "bool": ("bool_type", "Input should be a valid boolean"),
    "list": ("list_type", "Input should be a valid list"),
}


@dataclass(frozen=True)
class Arg:
    """One model argument and the checks the emulator applies to it.

    ``kind`` is "str", "int", "number", "bool", "list" or "any"; ``choices`` restricts the value to
    a fixed set (a pydantic ``Literal``); ``ge``/``le`` bound numbers; ``min_items``/``max_items``
    bound lists; ``max_length`` bounds strings.
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


@dataclass(frozen=True)
class ModelSpec:
    """A model the emulator accepts: its id, output kind ("image" or "video"), arguments, price.

    ``credits`` is the price of one image (per ``batch_size`` item) or of five seconds of video.
    Arguments not listed are accepted and ignored, as the real API does.
    """

    model_id: str
    kind: str
    args: Tuple[Arg, ...] = ()
    credits: Decimal = Decimal("1.5")


def _literal_text(choices: Tuple[Any, ...]) -> str:
    shown = [repr(choice) for choice in choices]
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _has_kind(value: Any, kind: str) -> bool:
    # bool is an int subclass in Python but never a valid number in the API's schema.
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    return True


def _error(kind: str, name: str, msg: str, value: Any, **ctx: Any) -> Dict[str, Any]:
    item: Dict[str, Any] = {"type": kind, "loc": ["body", name], "msg": msg, "input": value}
    if ctx:
        item["ctx"] = ctx
    return item


def _check(arg: Arg, value: Any) -> Optional[Dict[str, Any]]:
    if arg.choices is not None:
        if any(value == c and type(value) is type(c) for c in arg.choices):
            return None
        text = _literal_text(arg.choices)
        return _error("literal_error", arg.name, f"Input should be {text}", value, expected=text)
    if not _has_kind(value, arg.kind):
        kind, msg = _TYPE_ERRORS[arg.kind]
        return _error(kind, arg.name, msg, value)
    if arg.ge is not None and value < arg.ge:
        msg = f"Input should be greater than or equal to {arg.ge:g}"
        return _error("greater_than_equal", arg.name, msg, value, ge=arg.ge)
    if arg.le is not None and value > arg.le:
        msg = f"Input should be less than or equal to {arg.le:g}"
        return _error("less_than_equal", arg.name, msg, value, le=arg.le)
    if arg.min_items is not None and len(value) < arg.min_items:
        msg = f"List should have at least {arg.min_items} item after validation, not {len(value)}"
        return _error("too_short", arg.name, msg, value, field_type="List",
                      min_length=arg.min_items, actual_length=len(value))
    if arg.max_items is not None and len(value) > arg.max_items:
        msg = f"List should have at most {arg.max_items} items after validation, not {len(value)}"
        return _error("too_long", arg.name, msg, value, field_type="List",
                      max_length=arg.max_items, actual_length=len(value))
    if arg.max_length is not None and len(value) > arg.max_length:
        msg = f"String should have at most {arg.max_length} characters"
        return _error("string_too_long", arg.name, msg, value, max_length=arg.max_length)
    return None


def validate_arguments(model: ModelSpec, body: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Check a submit body against the model's rules.

    Returns:
        The pydantic v2 style error items (``type``, ``loc``, ``msg``, ``input``, ``ctx``), one per
        failing argument, in catalog order; empty when the body is valid.
    """
    errors: List[Dict[str, Any]] = []
    for arg in model.args:
        if arg.name not in body:
            if arg.required:
                errors.append(_error("missing", arg.name, "Field required", dict(body)))
            continue
        if body[arg.name] is None and not arg.required:
            continue
        problem = _check(arg, body[arg.name])
        if problem is not None:
            errors.append(problem)
    return errors


def batch_size(model: ModelSpec, body: Mapping[str, Any]) -> int:
    """Number of outputs a request makes (``batch_size`` for image models, else 1)."""
    size = body.get("batch_size")
    if model.kind == "image" and isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    return 1


def estimate(model: ModelSpec, body: Mapping[str, Any]) -> Dict[str, str]:
    """Price a request as the estimate endpoint answers it: decimal strings with three places."""
    if model.kind == "video":
        duration = body.get("duration")
        seconds = duration if isinstance(duration, (int, float)) and duration > 0 else 5
        credits = model.credits * Decimal(str(seconds)) / Decimal(5)
    else:
        credits = model.credits * batch_size(model, body)
    credits = credits.quantize(_THOUSANDTHS, ROUND_HALF_UP)
    usd = (credits * USD_PER_CREDIT).quantize(_THOUSANDTHS, ROUND_HALF_UP)
    return {"credits": str(credits), "usd": str(usd)}


_PROMPT = Arg("prompt", "str", required=True)
_OPT_PROMPT = Arg("prompt", "str")
_IMAGE_URL = Arg("image_url", "str", required=True)
_SEED = Arg("seed", "int", ge=1, le=1_000_000)
_SOUL_RATIOS = ("9:16", "16:9", "4:3", "3:4", "1:1", "2:3", "3:2")
_SOUL_ARGS = (
    _PROMPT,
    Arg("aspect_ratio", choices=_SOUL_RATIOS),
    Arg("resolution", choices=("720p", "1080p")),
    Arg("enhance_prompt", "bool"),
    Arg("style_id", "str"),
    Arg("style_strength", "number", ge=0, le=1),
    _SEED,
    Arg("batch_size", choices=(1, 4)),
    Arg("custom_reference_id", "str"),
    Arg("custom_reference_strength", "number", ge=0, le=1),
    Arg("image_reference_url", "str"),
)
_DOP_ARGS = (
    _PROMPT,
    _IMAGE_URL,
    Arg("end_image_url", "str"),
    Arg("motions", "list", max_items=2),
    _SEED,
    Arg("enhance_prompt", "bool"),
)

DEFAULT_MODELS: Tuple[ModelSpec, ...] = (
    ModelSpec("higgsfield-ai/soul/standard", "image", _SOUL_ARGS, Decimal("1.5")),
    ModelSpec("higgsfield-ai/soul/v2/standard", "image", _SOUL_ARGS, Decimal("1.5")),
    ModelSpec("bytedance/seedream/v4/text-to-image", "image", (
        _PROMPT,
        Arg("resolution", choices=("1K", "2K", "4K")),
        Arg("aspect_ratio", choices=("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9")),
        Arg("camera_fixed", "bool"),
    ), Decimal("2")),
    ModelSpec("higgsfield-ai/dop/standard", "video", _DOP_ARGS, Decimal("9")),
    ModelSpec("higgsfield-ai/dop/lite", "video", _DOP_ARGS, Decimal("4")),
    ModelSpec("higgsfield-ai/dop/turbo", "video", _DOP_ARGS, Decimal("6.5")),
    ModelSpec("kling-video/v2.1/pro/image-to-video", "video", (
        _PROMPT,
        _IMAGE_URL,
        Arg("duration", choices=(5, 10)),
        Arg("cfg_scale", "number", ge=0, le=1),
        Arg("negative_prompt", "str"),
    ), Decimal("10")),
    ModelSpec("kling-video/v2.6/pro/image-to-video", "video", (
        _PROMPT,
        _IMAGE_URL,
        Arg("sound", choices=("on", "off")),
        Arg("duration", choices=(5, 10)),
        Arg("cfg_scale", "number", ge=0, le=1),
        Arg("aspect_ratio", choices=("16:9", "9:16", "1:1")),
    ), Decimal("12")),
    ModelSpec("bytedance/seedance-2.0/image-to-video", "video", (
        _IMAGE_URL,
        _OPT_PROMPT,
        Arg("duration", "int", ge=4, le=15),
        Arg("resolution", choices=("480p", "720p", "1080p", "4k")),
        Arg("end_image_url", "str"),
        Arg("generate_audio", "bool"),
    ), Decimal("8")),
    ModelSpec("minimax/hailuo-2.3/standard/image-to-video", "video", (
        _PROMPT,
        _IMAGE_URL,
        Arg("duration", choices=(6, 10)),
        Arg("prompt_optimizer", "bool"),
    ), Decimal("7")),
    ModelSpec("alibaba/wan-3.0/text-to-video", "video", (
        _PROMPT,
        Arg("seed", "int", ge=0, le=2_147_483_647),
        Arg("duration", "int", ge=2, le=30),
        Arg("resolution", choices=("480p", "720p", "1080p")),
        Arg("aspect_ratio", choices=("16:9", "4:3", "1:1", "3:4", "9:16", "adaptive")),
        Arg("generate_audio", "bool"),
        Arg("enable_thinking", "bool"),
    ), Decimal("6")),
    ModelSpec("alibaba/qwen-image-3/edit", "image", (
        _PROMPT,
        Arg("image_urls", "list", required=True, min_items=1, max_items=3),
        Arg("resolution", choices=("1k", "2k")),
        Arg("aspect_ratio", "str"),
        Arg("seed", "int"),
        Arg("negative_prompt", "str"),
        Arg("prompt_extend", "bool"),
        Arg("enable_thinking", "bool"),
        Arg("prompt_extend_mode", choices=("direct",)),
    ), Decimal("2.5")),
    ModelSpec("veo3.1/image-to-video", "video", (
        _PROMPT,
        _IMAGE_URL,
        Arg("duration", "int"),
        Arg("resolution", "str"),
        Arg("aspect_ratio", "str"),
        Arg("generate_audio", "bool"),
    ), Decimal("20")),
    ModelSpec("sora-2/text-to-video", "video", (
        _PROMPT,
        Arg("duration", choices=(4, 8, 12)),
        Arg("resolution", choices=("720p",)),
        Arg("aspect_ratio", choices=("16:9", "9:16")),
    ), Decimal("15")),
    ModelSpec("higgsfield/genjutsu/motion-transfer/v1.0", "video", (
        Arg("video_url", "str", required=True),
        Arg("image_urls", "list", required=True, min_items=1, max_items=8),
        _OPT_PROMPT,
        Arg("resolution", choices=("720p", "480p", "1080p")),
    ), Decimal("10")),
    ModelSpec("z-image/turbo", "image", (
        Arg("prompt", "str", required=True, max_length=800),
        Arg("seed", "int"),
        Arg("resolution", choices=("1k", "2k")),
        Arg("aspect_ratio", "str"),
        Arg("prompt_extend", "bool"),
    ), Decimal("0.5")),
    ModelSpec("recraft/v4.1/text-to-image", "image", (
        _PROMPT,
        Arg("resolution", choices=("1k",)),
        Arg("aspect_ratio", "str"),
        Arg("output_format", choices=("jpg", "png", "webp")),
        Arg("colors", "list"),
        Arg("background_color", "any"),
    ), Decimal("1")),
)
"""The models the emulator knows unless ``Emulator(models=...)`` names others: the official
catalog's ids, their arguments and prices."""
