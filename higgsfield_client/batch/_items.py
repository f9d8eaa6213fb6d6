"""The items of a batch: what one line of input holds, its checks, and its digest.

An item is one generation: an id (a safe folder name under the outputs), a model and its
arguments. The digest of model and arguments is what the journal compares on a resume, so that
an id whose content changed is refused instead of answered with the old job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from higgsfield_proto import InvalidArgumentError

# Letters, digits, '.', '_' and '-', starting with a letter or digit: a folder name on every
# system, never hidden, never a path.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Files the batch keeps beside the item folders; no item may be named like them.
RESERVED_NAMES = frozenset({"results.jsonl", "journal.sqlite3"})


class BatchInputError(InvalidArgumentError):
    """An item of a batch's input is malformed: bad JSON, a missing model, an unusable id."""


class BatchConflictError(BatchInputError):
    """An item id the journal knows now comes with another model or other arguments."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchItem:
    """One generation of a batch.

    Attributes:
        id: the item's name: 1 to 128 letters, digits, ``.``, ``_`` or ``-``, starting with a
            letter or digit; its outputs go to ``OUT/<id>/``.
        model: the model id, e.g. ``higgsfield-ai/soul/standard``.
        arguments: the model's arguments, as submitted.
    """

    id: str
    model: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """SHA-256 of model and arguments (object keys sorted, as the API's fingerprint does)."""
        canonical = json.dumps(
            [self.model, self.arguments], sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


ItemLike = Union[BatchItem, Mapping[str, Any]]
"""A ``BatchItem``, or a mapping with ``model``, ``arguments`` and an optional ``id``."""


def check_id(item_id: str) -> str:
    """Return ``item_id`` if it can name a folder of outputs.

    Raises:
        BatchInputError: it cannot (a path, a hidden name, a reserved name, too long...).
    """
    if not isinstance(item_id, str) or not _SAFE_ID.fullmatch(item_id):
        raise BatchInputError(
            f"item id {item_id!r} cannot name a folder: use 1 to 128 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    if item_id.lower() in RESERVED_NAMES or item_id.endswith("."):
        raise BatchInputError(f"item id {item_id!r} is reserved for the batch's own files")
    return item_id


NO_MODEL = "no model (give the item a 'model', or a default: --model, or model=)"


def to_item(value: ItemLike, position: int, default_model: Optional[str] = None) -> BatchItem:
    """The checked ``BatchItem`` for one input value; ``position`` (from 1) is its default id.

    Raises:
        BatchInputError: the value is not an object, has no model, arguments that are not an
            object, unknown fields, or an unusable id.
    """
    where = f"item {position}"
    if isinstance(value, BatchItem):
        item = value
    elif isinstance(value, Mapping):
        unknown = sorted(set(value) - {"id", "model", "arguments"})
        if unknown:
            fields = ", ".join(unknown)
            raise BatchInputError(f"{where}: unknown field(s) {fields}; expected id, model, arguments")
        raw_id = value.get("id", position)
        item_id = str(raw_id) if isinstance(raw_id, int) and not isinstance(raw_id, bool) else raw_id
        model = value.get("model", default_model)
        arguments = value.get("arguments", {})
        if not isinstance(arguments, Mapping):
            raise BatchInputError(f"{where}: 'arguments' must be an object")
        if not isinstance(model, str) or not model:
            raise BatchInputError(f"{where}: {NO_MODEL}")
        item = BatchItem(id=item_id, model=model, arguments=dict(arguments))
    else:
        raise BatchInputError(f"{where}: expected an object, got {type(value).__name__}")
    try:
        check_id(item.id)
    except BatchInputError as exc:
        raise BatchInputError(f"{where}: {exc}") from None
    return item


def to_items(values: Iterable[ItemLike], default_model: Optional[str] = None) -> Iterator[BatchItem]:
    """Checked items, lazily; the n-th value's default id is ``str(n)``."""
    for position, value in enumerate(values, start=1):
        yield to_item(value, position, default_model)


def read_jsonl(
    path: Union[str, os.PathLike[str]], default_model: Optional[str] = None
) -> Iterator[BatchItem]:
    """The items of a JSONL file, lazily: one object per line, blank lines skipped.

    A line's default id is its line number, so that ids stay put when lines are appended. A
    UTF-8 byte order mark at the start (Windows editors write one) is skipped.

    Raises:
        BatchInputError: a line is not a JSON object, or its item is malformed (the message
            names the line).
        OSError: the file cannot be read.
    """
    with Path(path).open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BatchInputError(f"{path}, line {number}: not JSON ({exc.msg})") from None
            try:
                yield to_item(value, number, default_model)
            except BatchInputError as exc:
                message = str(exc).replace(f"item {number}: ", "", 1)
                raise BatchInputError(f"{path}, line {number}: {message}") from None
