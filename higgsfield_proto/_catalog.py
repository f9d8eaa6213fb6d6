"""The model catalog as values: models with their argument schemas, prices and sources. No I/O.

A ``Catalog`` is built by `catalog_from_openapi` (the published OpenAPI document) and extended
with `Catalog.with_supplement` (models documented elsewhere, prices, other id spaces); see
``_catalog_parse``. Lookups, argument checks and the drift between two catalogs live here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Optional

from ._errors import UnknownModelError, ValidationError
from ._schema import schema_problems
from ._values import Estimate, FieldError, ForeignId

_THOUSANDTH = Decimal("0.001")


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """What a model costs: ``credits`` and ``usd`` per ``per`` ("image", "5 s of video").

    ``source`` says where the figures come from (they may be estimates, not published prices).
    """

    credits: Decimal
    usd: Decimal
    per: str
    source: str

    def for_arguments(self, arguments: Mapping[str, Any]) -> Estimate:
        """The price of one job with ``arguments``, by the rule the catalog's prices follow.

        Per "image": times the outputs asked (``batch_size`` or ``num_images``, a positive
        integer; else 1). Per "5 s of video": times the seconds of ``duration`` (a positive
        number, or digits as text such as ``"8"``; else 5) over 5. Any other unit: once. Both
        figures are rounded half up to thousandths, as the API's estimate writes them.

        Args:
            arguments: the job's arguments.

        Returns:
            The job's price (its ``payload`` is empty: no answer was read).
        """
        units = Decimal(1)
        if self.per == "image":
            units = Decimal(_count(arguments.get("batch_size")) or _count(arguments.get("num_images")) or 1)
        elif self.per == "5 s of video":
            units = _seconds(arguments.get("duration")) / 5
        return Estimate(
            credits=(self.credits * units).quantize(_THOUSANDTH, ROUND_HALF_UP),
            usd=(self.usd * units).quantize(_THOUSANDTH, ROUND_HALF_UP),
        )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _seconds(value: Any) -> Decimal:
    if isinstance(value, str) and value.isdigit():
        value = int(value)  # some schemas take the duration as "4", "6" or "8"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return Decimal(str(value))
    return Decimal(5)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelArgument:
    """One top-level argument of a model, read from its schema (for tables and editors).

    ``type`` is the JSON type ("string", "integer", "number", "boolean", "array", "object"; two
    joined with " or "; "" for any), ``item_type`` that of an array's items. ``choices`` are the
    allowed values (empty: any of the type). ``nullable`` is True when an explicit null is
    accepted (a ``"default": null``). The limits are None when the schema sets none.
    """

    name: str
    type: str
    required: bool
    item_type: str = ""
    choices: tuple[Any, ...] = ()
    has_default: bool = False
    default: Any = None
    nullable: bool = False
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    multiple_of: Optional[float] = None
    min_length: Optional[int] = None
    max_length: Optional[int] = None
    min_items: Optional[int] = None
    max_items: Optional[int] = None
    description: str = ""

    def allowed(self) -> str:
        """The allowed values in words: "'2K' or '4K'", "1 to 4", "at most 2500 characters"..."""
        parts: list[str] = []
        if self.choices:
            parts.append(" or ".join(repr(choice) for choice in self.choices))
        parts.append(_range_text(self.minimum, self.maximum, ""))
        if self.multiple_of is not None:
            parts.append(f"a multiple of {_number(self.multiple_of)}")
        parts.append(_range_text(self.min_length, self.max_length, " characters"))
        parts.append(_range_text(self.min_items, self.max_items, " items"))
        return ", ".join(part for part in parts if part)


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _range_text(low: Optional[float], high: Optional[float], unit: str) -> str:
    if low is not None and high is not None:
        return f"{_number(low)} to {_number(high)}{unit}"
    if low is not None:
        return f"at least {_number(low)}{unit}"
    if high is not None:
        return f"at most {_number(high)}{unit}"
    return ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelEntry:
    """A model the catalog knows: its id, kind, argument schema, price and provenance.

    ``schema`` is the JSON Schema of the arguments, or None for a model whose arguments are not
    known (listed, but unchecked). ``source`` and ``date`` say where the entry comes from and when
    that source was read; ``note`` adds what a reader should know (a rule that is not checked...).
    """

    model_id: str
    kind: str
    source: str
    date: str
    schema: Optional[Mapping[str, Any]] = field(default=None, hash=False)
    price: Optional[Price] = None
    note: str = ""

    @property
    def checked(self) -> bool:
        """True when the arguments are checked against a schema."""
        return self.schema is not None

    def arguments(self) -> tuple[ModelArgument, ...]:
        """The top-level arguments, in the schema's order (empty for an unchecked model)."""
        if self.schema is None:
            return ()
        required = self.schema.get("required", ())
        return tuple(
            _argument(name, part, name in required)
            for name, part in self.schema.get("properties", {}).items()
        )

    def problems(self, arguments: Any, *, strict: bool = False) -> tuple[FieldError, ...]:
        """What is wrong with ``arguments`` for this model, as the API's 422 field list would say.

        Args:
            arguments: the arguments as they would be sent (a mapping).
            strict: also refuse fields the model does not have (``extra_forbidden``).

        Returns:
            The problems (see `schema_problems`); empty when they pass or the model is unchecked.
        """
        if self.schema is None:
            return ()
        return schema_problems(self.schema, arguments, strict=strict)

    def validate(self, arguments: Any, *, strict: bool = False) -> None:
        """Raise the ``ValidationError`` the API would answer, before anything is sent.

        Args:
            arguments: the arguments as they would be sent (a mapping).
            strict: also refuse fields the model does not have.

        Raises:
            ValidationError: with ``local`` True, ``status_code`` 422 and the field list in
                ``errors`` (and, as dictionaries, in ``detail``).
        """
        problems = self.problems(arguments, strict=strict)
        if problems:
            listed = "; ".join(str(problem) for problem in problems)
            raise ValidationError(
                f"arguments for {self.model_id!r} do not match its schema (checked locally, "
                f"nothing was sent): {listed}",
                errors=problems,
                local=True,
                status_code=422,
                detail=[{"type": p.type, "loc": list(p.loc), "msg": p.msg} for p in problems],
            )


def _argument(name: str, part: Mapping[str, Any], required: bool) -> ModelArgument:
    items = part.get("items")
    choices = tuple(part.get("enum", ()))
    return ModelArgument(
        name=name,
        type=_type_text(part.get("type"), choices),
        required=required,
        item_type=_type_text(items.get("type"), ()) if isinstance(items, Mapping) else "",
        choices=choices,
        has_default="default" in part,
        default=part.get("default"),
        nullable="default" in part and part["default"] is None,
        minimum=part.get("minimum"),
        maximum=part.get("maximum"),
        multiple_of=part.get("multipleOf"),
        min_length=part.get("minLength"),
        max_length=part.get("maxLength"),
        min_items=part.get("minItems"),
        max_items=part.get("maxItems"),
        description=str(part.get("description", "")),
    )


def _type_text(wanted: Any, choices: tuple[Any, ...]) -> str:
    if isinstance(wanted, list):
        return " or ".join(str(one) for one in wanted)
    if wanted is not None:
        return str(wanted)
    # An enum without a type (the published document has some): the type its values share.
    names = {_json_type(choice) for choice in choices}
    return names.pop() if len(names) == 1 else ""


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string" if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class IdSpace:
    """Ids of another API plane: exact ``ids`` (each with models of the same family here) and
    an optional id ``prefix`` that marks the whole plane."""

    plane: str
    explanation: str
    ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    prefix: Optional[str] = None

    def match(self, model_id: str) -> Optional[ForeignId]:
        """The note for ``model_id`` when it belongs to this plane, else None."""
        if model_id in self.ids:
            family = self.ids[model_id]
        elif self.prefix is not None and model_id.startswith(self.prefix):
            family = ()
        else:
            return None
        message = f"{model_id!r} is {self.explanation}."
        if family:
            message += " Models of the same family on this API: " + ", ".join(family) + "."
        return ForeignId(model_id=model_id, plane=self.plane, message=message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """The models this SDK knows, by id, with the source and date of the published snapshot.

    ``models`` maps each id to its ``ModelEntry`` (the published models first, in the document's
    order); ``id_spaces`` describes the ids of other planes.
    """

    models: Mapping[str, ModelEntry] = field(hash=False)
    source: str
    date: str
    id_spaces: tuple[IdSpace, ...] = ()

    def find(self, model_id: str) -> Optional[ModelEntry]:
        """The entry of ``model_id`` (surrounding slashes ignored, as in a submit), or None."""
        return self.models.get(model_id.strip("/"))

    def get(self, model_id: str) -> ModelEntry:
        """The entry of ``model_id``.

        Raises:
            UnknownModelError: the catalog does not know it; when the id belongs to another
                plane, the message says so (``foreign`` holds the note).
        """
        entry = self.find(model_id)
        if entry is not None:
            return entry
        foreign = self.foreign(model_id)
        message = foreign.message if foreign is not None else (
            f"model {model_id!r} is not in the catalog (of {self.date}); the API may still know it"
        )
        raise UnknownModelError(message, model_id=model_id, foreign=foreign)

    def foreign(self, model_id: str) -> Optional[ForeignId]:
        """The note for an id of another API plane (``nano_banana_2``, ``/v1/text2image/soul``)."""
        stripped = model_id.strip("/")
        for space in self.id_spaces:
            found = space.match(stripped)
            if found is not None:
                return found
        return None

    def list(self, *, kind: Optional[str] = None) -> tuple[ModelEntry, ...]:
        """The entries, all or those of one ``kind`` ("image", "video"...), in catalog order."""
        return tuple(entry for entry in self.models.values() if kind is None or entry.kind == kind)

    def kinds(self) -> tuple[str, ...]:
        """The kinds of the catalog's models, sorted."""
        return tuple(sorted({entry.kind for entry in self.models.values()}))


@dataclass(frozen=True, slots=True, kw_only=True)
class EnumChange:
    """The allowed values of one argument changed: which appeared and which went away."""

    name: str
    added: tuple[Any, ...]
    removed: tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelDrift:
    """How one model's top-level arguments changed between two catalogs."""

    model_id: str
    fields_added: tuple[str, ...] = ()
    fields_removed: tuple[str, ...] = ()
    enums_changed: tuple[EnumChange, ...] = ()
    required_added: tuple[str, ...] = ()
    required_removed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogDrift:
    """What changed from one catalog to another: models added and removed, models changed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[ModelDrift, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when nothing changed."""
        return not (self.added or self.removed or self.changed)

    def lines(self) -> tuple[str, ...]:
        """The drift in words, one change a line: "+ model x", "~ model y: field z removed"..."""
        lines = [f"+ model {model_id}" for model_id in self.added]
        lines += [f"- model {model_id}" for model_id in self.removed]
        for model in self.changed:
            where = f"~ model {model.model_id}:"
            lines += [f"{where} field {name} added" for name in model.fields_added]
            lines += [f"{where} field {name} removed" for name in model.fields_removed]
            lines += [f"{where} field {name} now required" for name in model.required_added]
            lines += [f"{where} field {name} no longer required" for name in model.required_removed]
            for change in model.enums_changed:
                moved = [f"+{value!r}" for value in change.added]
                moved += [f"-{value!r}" for value in change.removed]
                lines.append(f"{where} values of {change.name} changed: {' '.join(moved)}")
        return tuple(lines)


def catalog_drift(old: Catalog, new: Catalog) -> CatalogDrift:
    """Compare two catalogs: models added and removed, and per model kept the top-level fields
    added and removed, the required fields changed and the allowed values changed.

    Args:
        old: the catalog in use (the snapshot, or the cached document).
        new: the fresher one.

    Returns:
        The drift, each part in the order of the catalogs; empty when nothing changed.
    """
    changed = []
    for model_id, entry in new.models.items():
        before = old.models.get(model_id)
        if before is not None:
            drift = _model_drift(before, entry)
            if drift is not None:
                changed.append(drift)
    return CatalogDrift(
        added=tuple(model_id for model_id in new.models if model_id not in old.models),
        removed=tuple(model_id for model_id in old.models if model_id not in new.models),
        changed=tuple(changed),
    )


def _model_drift(old: ModelEntry, new: ModelEntry) -> Optional[ModelDrift]:
    before = {argument.name: argument for argument in old.arguments()}
    after = {argument.name: argument for argument in new.arguments()}
    enums = []
    for name in sorted(after.keys() & before.keys()):
        old_choices, new_choices = before[name].choices, after[name].choices
        added = tuple(value for value in new_choices if value not in old_choices)
        removed = tuple(value for value in old_choices if value not in new_choices)
        if added or removed:
            enums.append(EnumChange(name=name, added=added, removed=removed))
    drift = ModelDrift(
        model_id=new.model_id,
        fields_added=tuple(name for name in after if name not in before),
        fields_removed=tuple(name for name in before if name not in after),
        enums_changed=tuple(enums),
        required_added=tuple(n for n in after if after[n].required and not _required(before, n)),
        required_removed=tuple(n for n in before if before[n].required and not _required(after, n)),
    )
    return None if drift == ModelDrift(model_id=new.model_id) else drift


def _required(arguments: Mapping[str, ModelArgument], name: str) -> bool:
    return name in arguments and arguments[name].required
