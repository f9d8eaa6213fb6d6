"""The official retry strategies and HTTP transports against the emulator: a strategy given to a
client or a transport decides how many attempts are made, a POST without an Idempotency-Key is
never sent twice, errors are chained from their answer, and credentials stay home."""

from __future__ import annotations

from typing import Any, List, Tuple

import anyio
import httpx
import pytest

from higgsfield_client import (
    AuthenticationError,
    HiggsfieldClientError,
    NotFoundError,
    ServerError,
    SyncClient,
)
from higgsfield_client.http.retry import (
    ExponentialBackoffRetry,
    LinearRetry,
    NoRetry,
    RetryStrategy,
    create_default_retry_strategy,
)
from higgsfield_client.http.transport import AsyncHttpTransport, HttpTransport
from higgsfield_client.testing import Emulator
from higgsfield_proto import HTTPStatusError, InvalidArgumentError, Response, RetryPolicy

from .harness import Harness

IMAGE_MODEL = "higgsfield-ai/soul/standard"
QUICK = {"initial_delay": 0.01}


def _count(emulator: Emulator, route: str) -> int:
    return sum(1 for entry in emulator.journal if entry.route == route)


# -- the strategies as policies ------------------------------------------------------------------


def test_the_official_default_is_three_attempts_after_0_2_then_0_4_seconds() -> None:
    policy = create_default_retry_strategy().retry_policy()
    decisions = [policy.decide(n, Response(status=503), repeatable=True, jitter=0.5) for n in (1, 2, 3)]
    assert [getattr(decision, "delay", None) for decision in decisions] == [0.2, 0.4, None]


def test_linear_and_no_retry_as_policies() -> None:
    linear = LinearRetry(max_retries=2, delay=1.5).retry_policy()
    assert linear.decide(1, Response(status=500), repeatable=True, jitter=0.1).delay == 1.5  # type: ignore[union-attr]
    assert not hasattr(linear.decide(1, Response(status=404), repeatable=True, jitter=0.1), "delay")
    never = NoRetry().retry_policy()
    assert never.max_attempts == 1
    assert not hasattr(never.decide(1, Response(status=503), repeatable=True, jitter=0.1), "delay")


def test_a_strategy_of_ones_own_is_asked_at_each_failure() -> None:
    asked: List[Tuple[int, int]] = []

    class EveryTeapot(RetryStrategy):
        max_retries = 4

        def should_retry(self, attempt: int, status_code: int) -> bool:
            asked.append((attempt, status_code))
            return status_code == 418

        def get_delay(self, attempt: int) -> float:
            return attempt / 10

    policy = EveryTeapot().retry_policy()
    assert policy.decide(2, Response(status=418), repeatable=True, jitter=0.9).delay == 0.2  # type: ignore[union-attr]
    assert not hasattr(policy.decide(1, Response(status=503), repeatable=True, jitter=0.9), "delay")
    assert asked == [(2, 418), (1, 503)]


@pytest.mark.parametrize(
    "kwargs", [{"max_retries": -1}, {"initial_delay": -0.1}, {"max_delay": float("nan")}]
)
def test_nonsense_strategy_settings_are_refused(kwargs: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        ExponentialBackoffRetry(**kwargs)


def test_a_retry_setting_of_another_kind_is_refused() -> None:
    with pytest.raises(TypeError, match="RetryStrategy"):
        SyncClient(api_key="a:b", retry=3)  # type: ignore[arg-type]


# -- a strategy given to a client ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "faults", "attempts", "succeeds"),
    [
        (NoRetry(), 1, 1, False),
        (LinearRetry(max_retries=2, delay=0.01), 2, 2, False),
        (ExponentialBackoffRetry(max_retries=3, **QUICK), 2, 3, True),
    ],
)
def test_a_strategy_given_to_a_client_decides_how_many_attempts_are_made(
    harness: Harness, strategy: RetryStrategy, faults: int, attempts: int, succeeds: bool
) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> Any:
        controller = await client.submit(IMAGE_MODEL, {"prompt": "x"})
        harness.emulator.clear_journal()
        harness.emulator.script_fault("status", "503", faults)
        try:
            return await controller.status()
        except ServerError as error:
            return error

    outcome = harness.run(scenario, retry=strategy)
    assert _count(harness.emulator, "status") == attempts
    assert isinstance(outcome, ServerError) is not succeeds


def test_a_strategy_changed_after_it_was_given_takes_effect(emulator: Emulator) -> None:
    strategy = ExponentialBackoffRetry(max_retries=1, **QUICK)
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key, retry=strategy) as client:
        controller = client.submit(IMAGE_MODEL, {"prompt": "x"})
        emulator.script_fault("status", "503", 1)
        with pytest.raises(ServerError):
            controller.status()
        strategy.max_retries = 2
        emulator.script_fault("status", "503", 1)
        controller.status()
    assert _count(emulator, "status") == 3


# -- HttpTransport and AsyncHttpTransport ------------------------------------------------------------


def _httpx_client(emulator: Emulator) -> httpx.Client:
    headers = {"Authorization": f"Key {emulator.api_key}", "Content-Type": "application/json"}
    return httpx.Client(base_url=emulator.base_url, headers=headers)


def test_http_transport_resolves_a_path_and_returns_the_httpx_response(emulator: Emulator) -> None:
    with _httpx_client(emulator) as client:
        response = HttpTransport(client, create_default_retry_strategy()).request(
            "POST", f"/estimate/{IMAGE_MODEL}", json={"prompt": "x"}
        )
    assert isinstance(response, httpx.Response)
    assert response.status_code == 200
    assert set(response.json()) >= {"credits", "usd"}
    (entry,) = [entry for entry in emulator.journal if entry.route == "estimate"]
    assert entry.headers["authorization"] == f"Key {emulator.api_key}"


def test_http_transport_never_sends_a_post_without_an_idempotency_key_twice(emulator: Emulator) -> None:
    emulator.script_fault("estimate", "503", 2)
    with _httpx_client(emulator) as client:
        transport = HttpTransport(client, ExponentialBackoffRetry(max_retries=3, **QUICK))
        with pytest.raises(ServerError) as info:
            transport.request("POST", f"/estimate/{IMAGE_MODEL}", json={"prompt": "x"})
        assert _count(emulator, "estimate") == 1
        # With a key the POST is safe to repeat: the strategy's three attempts are made.
        response = transport.request(
            "POST", f"/estimate/{IMAGE_MODEL}", json={"prompt": "x"}, headers={"Idempotency-Key": "k-1"}
        )
    assert response.status_code == 200
    assert _count(emulator, "estimate") == 3
    cause = info.value.__cause__
    assert isinstance(cause, httpx.HTTPStatusError)
    assert cause.response.status_code == 503


@pytest.mark.parametrize(
    ("strategy", "attempts"), [(NoRetry(), 1), (LinearRetry(max_retries=2, delay=0.01), 2)]
)
def test_the_strategy_of_a_transport_decides_its_attempts_and_can_be_replaced(
    emulator: Emulator, strategy: RetryStrategy, attempts: int
) -> None:
    with _httpx_client(emulator) as client:
        transport = HttpTransport(client, create_default_retry_strategy())
        transport._retry_strategy = strategy  # as code written for the official client does
        emulator.script_fault("status", "503", 3)
        with pytest.raises(ServerError):
            transport.request("GET", "/requests/r-1/status")
    assert _count(emulator, "status") == attempts


def test_an_error_of_the_transport_is_typed_and_chained_from_httpx(emulator: Emulator) -> None:
    with _httpx_client(emulator) as client, pytest.raises(NotFoundError) as info:
        HttpTransport(client, NoRetry()).request("GET", "/requests/no-such-job/status")
    cause = info.value.__cause__
    assert isinstance(cause, httpx.HTTPStatusError)
    assert cause.response.status_code == 404
    assert cause.response.headers["x-correlation-id"] == info.value.correlation_id
    assert cause.request.url.path == "/requests/no-such-job/status"


def test_credentials_of_the_httpx_client_go_only_to_its_base_url(emulator: Emulator) -> None:
    with Emulator() as elsewhere, _httpx_client(emulator) as client:
        with pytest.raises(AuthenticationError):
            HttpTransport(client, NoRetry()).request("GET", f"{elsewhere.base_url}/requests/r-1/status")
        (entry,) = elsewhere.journal
    assert "authorization" not in entry.headers


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_async_http_transport_under_asyncio_and_trio(emulator: Emulator, backend: str) -> None:
    emulator.script_fault("status", "503", 1)

    async def main() -> Tuple[int, int]:
        headers = {"Authorization": f"Key {emulator.api_key}"}
        async with httpx.AsyncClient(base_url=emulator.base_url, headers=headers) as client:
            transport = AsyncHttpTransport(client, ExponentialBackoffRetry(max_retries=2, **QUICK))
            submitted = await transport.request(
                "POST", f"/{IMAGE_MODEL}", json={"prompt": "x"}, headers={"Idempotency-Key": "k-2"}
            )
            request_id = submitted.json()["request_id"]
            status = await transport.request("GET", f"/requests/{request_id}/status", timeout=30)
            transport._retry_strategy = NoRetry()
            emulator.script_fault("status", "503", 1)
            with pytest.raises(ServerError):
                await transport.request("GET", f"/requests/{request_id}/status")
            return submitted.status_code, status.status_code

    assert anyio.run(main, backend=backend) == (200, 200)
    assert _count(emulator, "status") == 3


# -- the cause of an API error, from every transport ----------------------------------------------------


def test_an_api_error_is_chained_from_its_answer_on_every_transport(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        with pytest.raises(NotFoundError) as info:
            await client.status("no-such-job")
        return info.value

    error = harness.run(scenario)
    assert isinstance(error, HiggsfieldClientError)
    cause = error.__cause__
    assert isinstance(cause, HTTPStatusError)
    assert cause.response.status_code == 404
    assert cause.response.headers["x-correlation-id"] == error.correlation_id
    assert cause.response.headers["X-Correlation-Id"] == error.correlation_id
    assert cause.response.json()["detail"]
    assert cause.response.text == error.body
    assert cause.request is not None
    assert cause.request.url == f"{harness.emulator.base_url}/requests/no-such-job/status"
    assert harness.emulator.api_key.split(":")[1] not in repr(vars(cause)) + str(cause)


def test_a_retry_policy_is_still_accepted(harness: Harness) -> None:
    async def scenario(client: Any) -> Any:
        harness.emulator.script_fault("estimate", "503", 1)
        with pytest.raises(ServerError):
            await client.estimate(IMAGE_MODEL, {"prompt": "x"})

    harness.run(scenario, retry=RetryPolicy.never())
    assert _count(harness.emulator, "estimate") == 1
