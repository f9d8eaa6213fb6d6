"""The rows of a Ray Data batch, read and answered without Ray: keys, parsing, output columns."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from higgsfield_client.batch import BatchInputError, BatchItem
from higgsfield_client.ray import idempotency_key
from higgsfield_client.ray._rows import RowResult, read_rows, with_results

from .conftest import MODEL


def test_a_key_is_the_same_for_the_same_name_and_id_and_differs_otherwise() -> None:
    key = idempotency_key("postcards", "row-1")
    assert re.fullmatch(r"hf-ray-[0-9a-f]{40}", key)
    assert key == idempotency_key("postcards", "row-1")
    assert key != idempotency_key("postcards", "row-2")
    assert key != idempotency_key("postcards-2", "row-1")
    # The NUL between name and id keeps ("a", "bc") and ("ab", "c") apart.
    assert idempotency_key("a", "bc") != idempotency_key("ab", "c")
    assert idempotency_key("postcards", 7) == idempotency_key("postcards", "7")


def test_numpy_columns_become_items_with_json_or_dict_arguments_and_the_default_model() -> None:
    batch = {
        "id": np.array([1, 2, 3]),
        "model": np.array([None, "other/model", ""], dtype=object),
        "arguments": np.array(
            [
                '{"prompt": "a", "seed": 3}',
                {"prompt": "b", "image_urls": np.array(["u1", "u2"], dtype=object), "seed": None},
                {"prompt": "c", "strength": np.float64(0.5), "nested": {"n": np.int64(2)}},
            ],
            dtype=object,
        ),
        "extra": np.array(["x", "y", "z"]),
    }
    assert read_rows(batch, MODEL) == [
        BatchItem(id="1", model=MODEL, arguments={"prompt": "a", "seed": 3}),
        # A None is what Arrow gives for a key that other rows of a dict column have: dropped.
        BatchItem(id="2", model="other/model", arguments={"prompt": "b", "image_urls": ["u1", "u2"]}),
        BatchItem(id="3", model=MODEL, arguments={"prompt": "c", "strength": 0.5, "nested": {"n": 2}}),
    ]
    (item,) = read_rows({"id": ["solo"]}, MODEL)  # plain lists, no arguments column
    assert item == BatchItem(id="solo", model=MODEL, arguments={})


@pytest.mark.parametrize(
    ("row", "error"),
    [
        ({"id": None, "arguments": "{}"}, "the row has no id"),
        ({"id": "a/b", "arguments": "{}"}, "item id 'a/b' cannot name a folder"),
        ({"id": "r", "arguments": "{not json"}, "'arguments' is not JSON"),
        ({"id": "r", "arguments": "[1, 2]"}, "'arguments' must be an object"),
        ({"id": "r", "arguments": 5}, "'arguments' must be an object"),
        ({"id": True, "arguments": "{}"}, "item id True cannot name a folder"),
    ],
)
def test_a_row_that_cannot_be_run_is_rejected_with_its_reason(row: dict[str, Any], error: str) -> None:
    batch = {name: np.array([value], dtype=object) for name, value in row.items()}
    (result,) = read_rows(batch, MODEL)
    assert isinstance(result, RowResult)
    assert result.status == "rejected"
    assert result.request_id is None
    assert result.error is not None
    assert result.error.startswith(error)


def test_a_row_without_a_model_is_rejected_when_there_is_no_default() -> None:
    (result,) = read_rows({"id": ["r"], "arguments": ['{"prompt": "p"}']}, None)
    expected = "no model (give the item a 'model', or a default: --model, or model=)"
    assert result == RowResult(status="rejected", error=expected)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"arguments": ["{}"]}, "no 'id' column"),
        ([{"id": 1}], "expected a batch of columns"),
    ],
)
def test_a_batch_without_ids_or_columns_is_refused_whole(batch: Any, message: str) -> None:
    with pytest.raises(BatchInputError, match=message):
        read_rows(batch, MODEL)


def test_a_dataframe_is_read_like_columns_and_answered_as_a_dataframe() -> None:
    frame = pd.DataFrame({"id": ["a", "b"], "arguments": ['{"prompt": "p"}', {"prompt": "q"}]})
    items = read_rows(frame, MODEL)
    assert items == [
        BatchItem(id="a", model=MODEL, arguments={"prompt": "p"}),
        BatchItem(id="b", model=MODEL, arguments={"prompt": "q"}),
    ]
    results = [
        RowResult(status="completed", request_id="r1", urls=("https://cdn/1.png",), outputs=(b"png",)),
        RowResult(status="failed", request_id="r2", error="it failed"),
    ]
    answered = with_results(frame, results, "output_bytes")
    assert isinstance(answered, pd.DataFrame)
    assert answered.drop(columns="error").to_dict("list") == {
        "id": ["a", "b"],
        "arguments": ['{"prompt": "p"}', {"prompt": "q"}],
        "request_id": ["r1", "r2"],
        "status": ["completed", "failed"],
        "output_urls": [["https://cdn/1.png"], []],
        "output_bytes": [[b"png"], []],
    }
    assert answered["error"].isna().tolist() == [True, False]  # pandas' missing value for None
    assert answered["error"][1] == "it failed"


CHARACTER = "higgsfield-ai/soul/character"


def test_integers_that_arrow_made_floats_become_integers_where_the_catalog_says_so() -> None:
    import pyarrow as pa

    # Arrow gives a column of dicts one struct type: a key some rows lack makes the others' int a
    # float once the column is NumPy's, as in Ray's default batch format.
    table = pa.Table.from_pylist([
        {"id": "a", "model": None, "arguments": {"prompt": "x", "num_images": 2}},
        {"id": "b", "model": None, "arguments": {"prompt": "y"}},
        {"id": "c", "model": CHARACTER, "arguments": {"prompt": "z", "seed": 7, "batch_size": 4}},
        {"id": "d", "model": None, "arguments": {"prompt": "w", "num_images": 3}},
    ])  # fmt: skip
    batch = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    assert batch["arguments"][0]["num_images"] == 2.0
    assert isinstance(batch["arguments"][0]["num_images"], float)
    items = read_rows(batch, MODEL)
    assert [item.arguments for item in items] == [
        {"prompt": "x", "num_images": 2},
        {"prompt": "y"},
        {"prompt": "z", "seed": 7, "batch_size": 4},
        {"prompt": "w", "num_images": 3},
    ]
    assert [type(value) for value in items[0].arguments.values()] == [str, int]
    assert isinstance(items[3].arguments["num_images"], int)
    assert {type(items[2].arguments[name]) for name in ("seed", "batch_size")} == {int}


def test_only_integral_floats_of_integer_fields_of_known_models_are_turned() -> None:
    rows = {
        "id": ["fraction", "number-field", "unknown-model"],
        "model": [MODEL, CHARACTER, "acme/not-in-the-catalog"],
        "arguments": [
            {"prompt": "p", "num_images": 2.5},
            {"prompt": "p", "style_strength": 1.0, "custom_reference_strength": 0.0},
            {"prompt": "p", "num_images": 2.0},
        ],
    }
    assert [item.arguments for item in read_rows(rows, None)] == rows["arguments"]
    (item,) = read_rows(rows | {"id": ["x"], "model": [CHARACTER], "arguments": [rows["arguments"][1]]}, None)
    assert isinstance(item.arguments["style_strength"], float)


def test_columns_come_back_with_the_output_columns_added_and_namesakes_replaced() -> None:
    ids = np.array(["a"])
    answered = with_results({"id": ids, "status": np.array(["old"])}, [RowResult(status="rejected")], None)
    assert answered == {
        "id": ids,
        "status": ["rejected"],
        "request_id": [None],
        "output_urls": [[]],
        "error": [None],
    }


def test_importing_the_package_or_the_ray_module_imports_no_ray_numpy_or_pandas() -> None:
    code = (
        "import sys, higgsfield_client, higgsfield_client.ray; "
        "print(sorted({'ray', 'numpy', 'pandas', 'pyarrow'} & set(sys.modules)))"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
