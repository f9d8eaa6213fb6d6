"""A batch's input: JSONL lines and mappings become checked items with safe ids and digests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from higgsfield_client.batch import BatchInputError, BatchItem, read_jsonl
from higgsfield_client.batch._items import ItemLike, to_items

MODEL = "higgsfield-ai/soul/standard"


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_line_without_id_is_named_after_its_line_number_and_blank_lines_count(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        json.dumps({"model": MODEL, "arguments": {"prompt": "a"}}),
        "",
        json.dumps({"id": "cat-1", "arguments": {"prompt": "b"}}),
        json.dumps({"id": 7, "model": "other/model"}),
    )
    items = list(read_jsonl(path, default_model=MODEL))
    assert [(item.id, item.model) for item in items] == [("1", MODEL), ("cat-1", MODEL), ("7", "other/model")]
    assert items[2].arguments == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1, 2]", "line 2: expected an object"),
        (json.dumps({"arguments": {}}), "line 2: no model"),
        (json.dumps({"model": MODEL, "arguments": "x"}), "line 2: 'arguments' must be an object"),
        (json.dumps({"model": MODEL, "prompt": "x"}), "line 2: unknown field(s) prompt"),
        (json.dumps({"id": "../up", "model": MODEL}), "line 2: item id '../up' cannot name a folder"),
        (json.dumps({"id": "a/b", "model": MODEL}), "cannot name a folder"),
        (json.dumps({"id": ".hidden", "model": MODEL}), "cannot name a folder"),
        (json.dumps({"id": "x" * 129, "model": MODEL}), "cannot name a folder"),
        (json.dumps({"id": True, "model": MODEL}), "cannot name a folder"),
        (json.dumps({"id": "Results.jsonl", "model": MODEL}), "reserved"),
        (json.dumps({"id": "trailing.", "model": MODEL}), "reserved"),
    ],
)
def test_a_bad_line_is_refused_with_its_line_number(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, json.dumps({"model": MODEL}), line)
    with pytest.raises(BatchInputError) as caught:
        list(read_jsonl(path))
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_mappings_and_items_mix_and_a_position_is_the_default_id() -> None:
    given: list[ItemLike] = [
        {"model": MODEL},
        BatchItem(id="b", model=MODEL, arguments={"prompt": "x"}),
        {"id": "c", "model": MODEL},
    ]
    assert [item.id for item in to_items(given)] == ["1", "b", "c"]
    with pytest.raises(BatchInputError, match="item 2: item id 'bad id'"):
        list(to_items([{"model": MODEL}, BatchItem(id="bad id", model=MODEL)]))


def test_the_digest_ignores_key_order_and_sees_any_other_change() -> None:
    one = BatchItem(id="a", model=MODEL, arguments={"prompt": "x", "seed": 1})
    same = BatchItem(id="b", model=MODEL, arguments={"seed": 1, "prompt": "x"})
    assert one.digest == same.digest
    for other in (
        BatchItem(id="a", model=MODEL, arguments={"prompt": "x", "seed": 2}),
        BatchItem(id="a", model="other/model", arguments={"prompt": "x", "seed": 1}),
        BatchItem(id="a", model=MODEL, arguments={"prompt": "x", "seed": 1, "extra": None}),
    ):
        assert other.digest != one.digest
