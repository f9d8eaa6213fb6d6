"""What the client puts on the wire and how it reads the API's other answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from higgsfield_client import (
    AuthenticationError,
    CredentialsMissedError,
    HiggsfieldClientError,
    NotFoundError,
    ValidationError,
    WaitTimeoutError,
)

from .harness import Harness

MODEL = "bytedance/seedream/v4/text-to-image"


def test_submit_sends_an_idempotency_key_retention_and_webhook(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        first = await client.submit(
            MODEL, {"prompt": "x"}, webhook_url="https://hooks.example/done?a=1", expires_after=7200
        )
        second = await client.submit(MODEL, {"prompt": "x"}, idempotency_key="my-key-1")
        third = await client.submit(MODEL, {"prompt": "x"}, idempotency_key="my-key-1")
        return first.request_id, second.request_id, third.request_id

    first, second, third = harness.run(scenario)
    submits = [e for e in harness.emulator.journal if e.route == "submit"]
    assert len(submits[0].headers["idempotency-key"]) == 36
    assert submits[0].headers["hf-expires-after"] == "7200"
    assert submits[0].query["hf_webhook"] == "https://hooks.example/done?a=1"
    assert submits[1].headers["idempotency-key"] == "my-key-1"
    assert second == third != first
    assert all(e.headers["authorization"].startswith("Key ") for e in submits)


def test_status_by_id_uses_the_clients_base_url(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        controller = await client.submit(MODEL, {"prompt": "x"})
        status = await client.status(controller.request_id)
        result = await client.result(controller.request_id)
        return controller, status, result

    controller, status, result = harness.run(scenario)
    assert status.request_id == controller.request_id == result.request_id
    assert controller.status_url == f"{harness.emulator.base_url}/requests/{controller.request_id}/status"
    assert any(e.path == f"/requests/{controller.request_id}/status" for e in harness.emulator.journal)


def test_estimate_and_delete(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        estimate = await client.estimate(MODEL, {"prompt": "x"})
        result = await client.subscribe(MODEL, {"prompt": "x"})
        deletion = await client.delete(result.request_id)
        return estimate, result, deletion

    estimate, result, deletion = harness.run(scenario)
    assert isinstance(estimate.credits, Decimal)
    assert estimate.credits > 0
    assert isinstance(estimate.usd, Decimal)
    assert estimate.usd > 0
    assert deletion.request_id == result.request_id
    assert [e.method for e in harness.emulator.journal if e.route == "delete"] == ["DELETE"]


def test_api_errors_are_typed(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        with pytest.raises(NotFoundError) as unknown_model:
            await client.submit("no/such/model", {"prompt": "x"})
        with pytest.raises(ValidationError) as missing_prompt:
            await client.submit(MODEL, {"resolution": "2K"})
        return unknown_model.value, missing_prompt.value

    unknown_model, missing_prompt = harness.run(scenario)
    assert unknown_model.status_code == 404
    assert unknown_model.correlation_id
    assert missing_prompt.status_code == 422
    assert [error.loc[-1] for error in missing_prompt.errors] == ["prompt"]
    assert "prompt" in str(missing_prompt)


def test_wrong_credentials_raise_authentication_error(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        with pytest.raises(AuthenticationError) as caught:
            await client.status("0b0e5c1e-2a7d-4e8b-9c41-0d2f6a7b8e90")
        return caught.value

    error = harness.run(scenario, api_key="wrong:credentials")
    assert error.status_code == 401
    assert "credentials" not in str(error).replace("Invalid credentials", "")


def test_missing_credentials_raise_credentials_missed(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)

    async def scenario(client: Any) -> Any:
        with pytest.raises(CredentialsMissedError) as caught:
            await client.submit(MODEL, {"prompt": "x"})
        return caught.value

    error = harness.run(scenario, api_key=None)
    assert isinstance(error, HiggsfieldClientError)
    assert "HF_KEY" in str(error)
    assert harness.emulator.journal == []


def test_the_overall_timeout_raises_with_the_request_id_and_can_cancel(harness: Harness) -> None:
    harness.emulator.script_next_job("completed", queue_time=30.0)
    harness.emulator.script_next_job("completed", queue_time=30.0)

    async def scenario(client: Any) -> Any:
        with pytest.raises(WaitTimeoutError) as kept:
            await client.subscribe(MODEL, {"prompt": "x"}, timeout=0.4)
        with pytest.raises(WaitTimeoutError) as cancelled:
            await client.subscribe(MODEL, {"prompt": "x"}, timeout=0.4, cancel_on_timeout=True)
        return kept.value, cancelled.value

    kept, cancelled = harness.run(scenario)
    assert kept.request_id
    assert kept.last_status == "queued"
    assert not kept.cancelled
    assert cancelled.cancelled
    assert cancelled.request_id != kept.request_id
    assert harness.emulator.job(kept.request_id).status == "queued"
    assert harness.emulator.job(cancelled.request_id).status == "canceled"
