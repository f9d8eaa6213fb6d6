"""The exchange log: one debug record per HTTP exchange, with its fields, and never a secret."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, List

import pytest

from higgsfield_client import Queued

from .harness import Harness

MODEL = "higgsfield-ai/soul/standard"
FIELDS = ("http_method", "http_url", "http_status", "failure", "attempt", "correlation_id", "duration")


def _records(caplog: pytest.LogCaptureFixture, prefix: str) -> List[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith(prefix)]


def _exchanges(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    """The DEBUG records of the exchanges (the INFO job states and WARNING retries left out)."""
    return [record for record in _records(caplog, "higgsfield_client") if record.levelno == logging.DEBUG]


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
    records = _exchanges(caplog)
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
    polls = [r.attempt for r in _exchanges(caplog) if r.http_url.endswith("/status")]
    assert len(polls) >= 4  # several polls while the job was queued and running
    # Every poll is a new exchange (attempt 1); the one status check answered 503 was repeated.
    assert polls == [1] * (len(polls) - 1) + [2]


def _job_records(caplog: pytest.LogCaptureFixture) -> List[logging.LogRecord]:
    return [r for r in _records(caplog, "higgsfield_client") if r.levelno == logging.INFO]


def test_a_job_s_state_changes_are_info_records_once_each(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="higgsfield_client")
    emulator = harness.emulator
    emulator.script_next_job(queue_time=0.2, run_time=2.0)

    def hold(status: Any) -> None:
        # Holds the client while the job is queued, so that the next check finds it running.
        for _ in range(1000):
            if not isinstance(status, Queued) or emulator.job(status.request_id).status != "queued":
                return
            time.sleep(0.01)

    async def scenario(client: Any) -> Any:
        return await client.subscribe(MODEL, {"prompt": "a long harbour"}, on_queue_update=hold)

    result = harness.run(scenario)
    records = _job_records(caplog)
    assert {record.request_id for record in records} == {result.request_id}
    states = [record.job_status for record in records]
    # several polls saw the job queued, then running: each state is logged once, when it changes
    assert states == ["queued", "in_progress", "completed"]
    assert records[0].getMessage() == f"job {result.request_id} submitted (model {MODEL})"
    assert records[-1].getMessage() == f"job {result.request_id} completed"
    assert all(record.model == MODEL for record in records)


def test_a_canceled_job_is_logged_once_across_the_client_s_calls(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="higgsfield_client")
    harness.emulator.script_next_job(queue_time=60.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "a quiet harbour"})
        await controller.status()  # still queued: nothing new to log
        await controller.cancel()
        await controller.status()  # canceled, as known
        return controller.request_id

    request_id = harness.run(scenario)
    assert [record.getMessage() for record in _job_records(caplog)] == [
        f"job {request_id} submitted (model {MODEL})",
        f"job {request_id} canceled",
    ]


def test_the_logger_has_a_null_handler_and_the_package_configures_nothing() -> None:
    from higgsfield_client._logs import INFO, logger_at

    logger_at(INFO)  # looked up: logging is loaded in this process
    own = logging.getLogger("higgsfield_client")
    assert any(isinstance(handler, logging.NullHandler) for handler in own.handlers)
    assert [type(handler) for handler in own.handlers].count(logging.NullHandler) == 1
    assert own.level == logging.NOTSET  # the application's configuration decides
    assert own.propagate
