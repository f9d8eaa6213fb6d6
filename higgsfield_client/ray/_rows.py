"""The rows of a Ray Data batch as batch items, their Idempotency-Keys, and their results as
output columns. Nothing here imports Ray.

A batch is what ``Dataset.map_batches`` hands over: a mapping of column name to a NumPy array
or a list (the default batch format), or a pandas DataFrame (``batch_format="pandas"``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

from ..batch._items import BatchInputError, BatchItem, to_item
from ..batch._work import JobEnd

if TYPE_CHECKING:
    from higgsfield_proto import Catalog

KEY_PREFIX = "hf-ray-"


def idempotency_key(batch_name: str, row_id: Union[str, int]) -> str:
    """The Idempotency-Key of row ``row_id`` in the batch named ``batch_name``.

    ``hf-ray-`` and the first 40 hex digits of the SHA-256 of the name, a NUL and the id: the
    same for the same pair on every machine and in every run. An int id and its decimal text
    share a key.
    """
    return KEY_PREFIX + hashlib.sha256(f"{batch_name}\0{row_id}".encode()).hexdigest()[:40]


@dataclass(frozen=True, slots=True, kw_only=True)
class RowResult:
    """What became of one row: the values of its output columns.

    Attributes:
        status: ``completed``, ``failed``, ``nsfw``, ``canceled``, ``rejected`` or ``unfinished``.
        request_id: the job's id, once submitted.
        urls: the job's output URLs.
        error: why it failed, or what stopped it.
        outputs: the downloaded outputs (bytes, or the URIs of the files written).
    """

    status: str
    request_id: Optional[str] = None
    urls: tuple[str, ...] = ()
    error: Optional[str] = None
    outputs: tuple[Union[bytes, str], ...] = ()

    @classmethod
    def from_end(cls, end: JobEnd, request_id: Optional[str] = None) -> RowResult:
        """The result of a row whose job (or submit) ended as ``end``."""
        return cls(status=end.state, request_id=request_id, urls=end.urls, error=end.error)


def plain(value: Any) -> Any:
    """``value`` with NumPy arrays and scalars (anything with ``tolist``) turned into lists and
    Python scalars, through mappings and lists: what ``json.dumps`` takes."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    tolist = getattr(value, "tolist", None)
    return plain(tolist()) if callable(tolist) else value


def _column(batch: Any, name: str) -> list[Any]:
    values = batch[name]
    return plain(values.tolist() if hasattr(values, "tolist") else list(values))  # type: ignore[no-any-return]


def _arguments(value: Any) -> Any:
    """A row's arguments: a JSON text is parsed; a mapping loses its None values, which Arrow
    puts in for the keys other rows of a column of dicts have."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise BatchInputError(f"'arguments' is not JSON ({exc.msg})") from None
    if isinstance(value, Mapping):
        return {key: item for key, item in value.items() if item is not None}
    return {} if value is None else value


class IntegerFields:
    """Turns the integral floats of a row's arguments back into integers where the model catalog
    says the field is an integer.

    Arrow has no integer with nulls in a column of dicts, so an integer argument comes out of
    Ray as a float (``5.0``), which the API refuses for an integer field. Only top-level fields
    are turned back (no model of the catalog takes an array of integers); a float with a
    fraction stays, for the API to refuse, and a model the catalog does not know keeps its
    arguments as they are. The catalog loads on the first float seen.
    """

    def __init__(self) -> None:
        self._catalog: Optional[Catalog] = None
        self._by_model: dict[str, frozenset[str]] = {}

    def fields(self, model: str) -> frozenset[str]:
        """The names of ``model``'s integer fields (none for a model the catalog does not know)."""
        if model not in self._by_model:
            if self._catalog is None:
                from ..models import current_catalog

                self._catalog = current_catalog()
            entry = self._catalog.find(model)
            arguments = () if entry is None else entry.arguments()
            self._by_model[model] = frozenset(a.name for a in arguments if _is_integer(a.type))
        return self._by_model[model]

    def restore(self, model: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """``arguments`` with the integral floats of integer fields as integers."""
        integral = {name for name, value in arguments.items() if _is_integral(value)}
        turned = integral & self.fields(model) if integral else integral
        return {name: int(value) if name in turned else value for name, value in arguments.items()}


def _is_integral(value: Any) -> bool:
    return isinstance(value, float) and value.is_integer()


def _is_integer(type_text: str) -> bool:
    names = type_text.split(" or ")
    return "integer" in names and "number" not in names


def _row(
    row_id: Any, model: Any, arguments: Any, default_model: Optional[str], integers: IntegerFields
) -> Union[BatchItem, RowResult]:
    try:
        if row_id is None:
            raise BatchInputError("the row has no id")
        value = {"id": row_id, "model": model or default_model, "arguments": _arguments(arguments)}
        item = to_item(value, 0, default_model)
    except BatchInputError as exc:
        return RowResult(status="rejected", error=str(exc).removeprefix("item 0: "))
    return BatchItem(id=item.id, model=item.model, arguments=integers.restore(item.model, item.arguments))


def read_rows(
    batch: Any, default_model: Optional[str], integers: Optional[IntegerFields] = None
) -> list[Union[BatchItem, RowResult]]:
    """The rows of ``batch`` in order: a ``BatchItem`` for each row to run, and a ``rejected``
    ``RowResult`` for a row that cannot be (no id, an id that cannot name a folder, arguments
    that are not an object or not JSON, no model).

    An integral float of a field the catalog says is an integer becomes an integer again (see
    ``IntegerFields``; pass one to keep what it learnt across batches).

    Raises:
        BatchInputError: ``batch`` is neither a mapping of columns nor a DataFrame, or it has
            no ``id`` column.
    """
    if not isinstance(batch, Mapping) and not hasattr(batch, "assign"):
        raise BatchInputError(
            f"expected a batch of columns (a dict, or a pandas DataFrame), got {type(batch).__name__}; "
            "use batch_format='default' or 'pandas'"
        )
    if "id" not in batch:
        raise BatchInputError("the batch has no 'id' column: every row needs an id")
    ids = _column(batch, "id")
    models = _column(batch, "model") if "model" in batch else [None] * len(ids)
    arguments = _column(batch, "arguments") if "arguments" in batch else [None] * len(ids)
    integers = integers or IntegerFields()
    return [
        _row(row_id, model, row_arguments, default_model, integers)
        for row_id, model, row_arguments in zip(ids, models, arguments, strict=True)
    ]


def with_results(batch: Any, results: Sequence[RowResult], outputs_column: Optional[str]) -> Any:
    """``batch`` with the output columns added (an input column of the same name is replaced):
    ``request_id``, ``status``, ``output_urls``, ``error`` and, when given, ``outputs_column``
    with each row's outputs. A DataFrame comes back as a DataFrame, anything else as a dict."""
    columns: dict[str, list[Any]] = {
        "request_id": [result.request_id for result in results],
        "status": [result.status for result in results],
        "output_urls": [list(result.urls) for result in results],
        "error": [result.error for result in results],
    }
    if outputs_column is not None:
        columns[outputs_column] = [list(result.outputs) for result in results]
    if isinstance(batch, Mapping):
        return {**batch, **columns}
    return batch.assign(**columns)
