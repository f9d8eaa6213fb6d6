"""The exchange log: one debug record per HTTP exchange, with its fields, and never a secret."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, List

import pytest

from .harness import Harness

MODEL = "higgsfield-ai/soul/standard"
FIELDS = ("http_method", "http_url", "http_status", "failure", "attempt", "correlation_id", "duration")


def _records(caplog: pytest.LogCaptureFixture, prefix: str) -> List[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith(prefix)]


def test_one_record_per_exchange_with_its_fields_and_no_secret(
    harness: Harness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG, logger="higgsfield_client")
    caplog.set_level(logging.DEBUG, logger="higgsfield_transports")
    emulator = harness.emulator
    emulator.script_next_job(queue_time=0.0, run_time=0.0)
    emulator.script_fault("status", "503")  # one retried exchange: attempt 2

    async def scenario(client: Any) -> None:
        image_url = await client.upload(b"\x89PNG not really", "image/png")
        result = await client.subscribe(MODEL, {"prompt": "a harbour", "image_url": image_url})
        await client.download(result.images[0], tmp_path)

    harness.run(scenario)
    exchanges = emulator.journal
    records = _records(caplog, "higgsfield_client")
    assert len(records) == len(exchanges)
    assert {record.correlation_id for record in records} == {e.correlation_id for e in exchanges}
    for record in records:
        assert record.levelno == logging.DEBUG
        assert all(hasattr(record, name) for name in FIELDS)
        assert "?" not in record.http_url
        assert record.duration >= 0
        message = record.getMessage()
        assert f"{record.http_method} {record.http_url} -> {record.http_status}" in message
        assert f"attempt {record.attempt}" in message
        assert record.correlation_id in message
    assert sorted((r.http_status, r.attempt) for r in records if r.http_url.endswith("/status"))[:2] == [
        (200, 2),
        (503, 1),
    ]
    assert {r.http_method for r in records} == {"POST", "PUT", "GET"}

    secret = emulator.api_key.split(":", 1)[1]
    (put,) = [e for e in exchanges if e.route == "put"]
    signature = put.query["X-Amz-Signature"]
    assert len(signature) >= 16
    for record in _records(caplog, "higgsfield_"):
        text = record.getMessage() + repr(vars(record))
        assert secret not in text
        assert signature not in text


def test_each_poll_of_a_wait_is_a_first_attempt_and_only_a_repeat_counts_as_one(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="higgsfield_client")
    emulator = harness.emulator
    emulator.script_next_job(queue_time=0.2, run_time=0.2)

    async def scenario(client: Any) -> None:
        await client.subscribe(MODEL, {"prompt": "a slow harbour"})
        emulator.script_fault("status", "503")
        await client.status(emulator.jobs()[-1].request_id)

    harness.run(scenario)
    polls = [r.attempt for r in _records(caplog, "higgsfield_client") if r.http_url.endswith("/status")]
    assert len(polls) >= 4  # several polls while the job was queued and running
    # Every poll is a new exchange (attempt 1); the one status check answered 503 was repeated.
    assert polls == [1] * (len(polls) - 1) + [2]
