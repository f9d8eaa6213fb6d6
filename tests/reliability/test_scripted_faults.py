"""Scripted emulator faults on every route, for every transport: retried, recovered, never a
second job; and the limits of retrying (persistent faults, Retry-After, slow answers)."""

from __future__ import annotations

import time
from typing import Any, Callable, ContextManager, Dict, List

import pytest

from higgsfield_client import (
    JobResult,
    NetworkTimeoutError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TransportError,
)
from higgsfield_client.testing import Emulator, JournalEntry

from .support import IMAGE_MODEL, REQUEST_ID, harness_for, on_every_transport

ROUTES = ["submit", "status", "cancel", "upload-url", "put", "estimate"]
RECOVERABLE = ["429", "500", "502", "503", "504", "html", "drop", "slow", "truncate", "redirect_samehost"]
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
MakeEmulator = Callable[..., ContextManager[Emulator]]


def arrivals(emu: Emulator) -> List[JournalEntry]:
    """The journal in order of arrival (it is written when each answer ends: a slow one lags)."""
    return sorted(emu.journal, key=lambda entry: entry.time)


def settle(emu: Emulator, faults: int) -> None:
    """Wait until ``faults`` faulted requests are journaled (a slow answer is written late)."""
    deadline = time.monotonic() + 10  # a hang guard only
    while sum(1 for entry in emu.journal if entry.fault is not None) < faults:
        assert time.monotonic() < deadline, "faulted requests missing from the journal"
        time.sleep(0.02)


def entries(emu: Emulator, route: str) -> List[JournalEntry]:
    return [entry for entry in arrivals(emu) if entry.route == route]


async def every_route(client: Any, emu: Emulator) -> Dict[str, Any]:
    """Touch every faultable route once: estimate, upload (slot + PUT), subscribe, cancel."""
    estimate = await client.estimate(IMAGE_MODEL, {"prompt": "price"})
    public_url = await client.upload(PNG, "image/png")
    result = await client.subscribe(IMAGE_MODEL, {"prompt": "a lake"})
    emu.script_next_job(queue_time=60.0)  # stays queued: cancelable
    controller = await client.submit(IMAGE_MODEL, {"prompt": "to cancel"})
    await controller.cancel()
    return {"estimate": estimate, "url": public_url, "result": result, "canceled": controller.request_id}


@pytest.mark.parametrize("kind", RECOVERABLE)
def test_a_fault_on_every_route_is_retried_and_the_work_done_once(
    emulator_with: MakeEmulator, kind: str
) -> None:
    on_every_transport(lambda transport: check_every_route(transport, emulator_with, kind))


def check_every_route(transport: str, emulator_with: MakeEmulator, kind: str) -> None:
    # "slow" answers after 0.5 s while the client gives each exchange 0.2 s: a timeout after the
    # server acted, like "truncate". Both make the retried submit an idempotent replay.
    with emulator_with(retry_after=0, slow_seconds=0.5) as emu:
        for route in ROUTES:
            emu.script_fault(route, kind)
        done = harness_for(transport, emu).run(
            lambda client: every_route(client, emu), timeout=0.2 if kind == "slow" else 10.0
        )
        settle(emu, len(ROUTES))
        journal = arrivals(emu)
        jobs = emu.jobs()

    result: JobResult = done["result"]
    assert result["status"] == "completed"
    assert done["estimate"].credits > 0
    assert done["url"].startswith(emu.base_url + "/uploads/")
    # Each route met its fault first and was then sent again and answered (a repeated cancel of
    # a job the first one canceled is refused: the job's state above shows it was canceled).
    for route in ROUTES:
        seen = [entry for entry in journal if entry.route == route]
        assert seen[0].fault == kind, (route, seen)
        assert seen[1].fault is None
        assert seen[1].status is not None
    # Exactly one job per submitted generation, however many times a submit was sent.
    assert sorted(job.arguments["prompt"] for job in jobs) == ["a lake", "to cancel"]
    by_prompt = {job.arguments["prompt"]: job for job in jobs}
    assert by_prompt["a lake"].request_id == result.request_id
    assert by_prompt["to cancel"].request_id == done["canceled"]
    assert by_prompt["to cancel"].status == "canceled"
    # The repeats of one submit carry one Idempotency-Key.
    submits = [entry for entry in journal if entry.route == "submit"]
    assert len({entry.headers["Idempotency-Key"] for entry in submits}) == 2
    assert len(submits) >= 3


def test_retry_after_is_waited_for_before_the_next_attempt(emulator_with: MakeEmulator) -> None:
    on_every_transport(lambda transport: check_retry_after(transport, emulator_with))


def check_retry_after(transport: str, emulator_with: MakeEmulator) -> None:
    with emulator_with(retry_after=1) as emu:

        async def scenario(client: Any) -> Any:
            controller = await client.submit(IMAGE_MODEL, {"prompt": "x"})
            emu.script_fault("status", "429")
            return await controller.status()

        status = harness_for(transport, emu).run(scenario)
        refused, retried = entries(emu, "status")
    assert status.request_id == emu.jobs()[0].request_id
    assert (refused.fault, refused.status) == ("429", 429)
    assert retried.fault is None
    # The emulator stamps arrival with the wall clock: the gap is at least the second asked.
    assert retried.time - refused.time >= 0.95


def test_a_retry_after_beyond_the_cap_is_a_rate_limit_error_at_once(
    transport: str, emulator_with: MakeEmulator
) -> None:
    with emulator_with(retry_after=120) as emu:
        emu.script_fault("submit", "429")
        harness = harness_for(transport, emu)

        async def scenario(client: Any) -> Any:
            with pytest.raises(RateLimitError) as caught:
                await client.submit(IMAGE_MODEL, {"prompt": "x"})
            return caught.value

        error = harness.run(scenario)
        assert len(entries(emu, "submit")) == 1
        assert emu.jobs() == []
    assert error.retry_after == 120
    assert error.code == "account_queue_full"


@pytest.mark.parametrize(("kind", "status"), [("503", 503), ("500", 500), ("html", 502)])
def test_a_persistent_server_error_ends_in_server_error_after_max_attempts(
    transport: str, emulator_with: MakeEmulator, kind: str, status: int
) -> None:
    retry = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    with emulator_with() as emu:
        emu.script_fault("status", kind, count=10)

        async def scenario(client: Any) -> Any:
            with pytest.raises(ServerError) as caught:
                await client.status(REQUEST_ID)
            return caught.value

        error = harness_for(transport, emu).run(scenario, retry=retry)
        assert len(entries(emu, "status")) == 3
    assert error.status_code == status
    assert f"HTTP {status}" in str(error)
    if kind == "html":
        # A proxy's HTML page is summarised, never dumped into the message.
        assert "non-JSON answer (text/html" in str(error)
        assert "<" not in str(error)


def test_a_persistent_drop_ends_in_a_transport_error(transport: str, emulator_with: MakeEmulator) -> None:
    retry = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_cap=0.02)
    with emulator_with() as emu:
        emu.script_fault("status", "drop", count=20)

        async def scenario(client: Any) -> Any:
            with pytest.raises(TransportError) as caught:
                await client.status(REQUEST_ID)
            return caught.value

        error = harness_for(transport, emu).run(scenario, retry=retry)
        dropped = entries(emu, "status")
    assert error.kind == "read"
    assert error.request_written is True
    # Three attempts (a transport may re-send once on a connection it found dead).
    assert 3 <= len(dropped) <= 6
    assert all(entry.fault == "drop" for entry in dropped)


def test_an_answer_slower_than_the_request_timeout_is_a_network_timeout(
    emulator_with: MakeEmulator,
) -> None:
    on_every_transport(lambda transport: check_network_timeout(transport, emulator_with))


def check_network_timeout(transport: str, emulator_with: MakeEmulator) -> None:
    retry = RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
    with emulator_with(slow_seconds=0.4) as emu:
        emu.script_fault("estimate", "slow", count=5)

        async def scenario(client: Any) -> Any:
            with pytest.raises(NetworkTimeoutError) as caught:
                await client.estimate(IMAGE_MODEL, {"prompt": "x"})
            return caught.value

        error = harness_for(transport, emu).run(scenario, retry=retry, timeout=0.15)
        settle(emu, 2)
        assert len(entries(emu, "estimate")) == 2
    assert error.kind == "timeout"
    assert isinstance(error, TimeoutError)


def test_a_redirect_to_another_host_is_refused_without_sending_credentials_there(
    transport: str, emulator_with: MakeEmulator
) -> None:
    from higgsfield_client import ProtocolError

    with emulator_with() as emu:
        for route in ("submit", "status", "estimate"):
            emu.script_fault(route, "redirect_offhost")

        async def scenario(client: Any) -> List[BaseException]:
            errors: List[BaseException] = []
            for call in (
                lambda: client.submit(IMAGE_MODEL, {"prompt": "x"}),
                lambda: client.status(REQUEST_ID),
                lambda: client.estimate(IMAGE_MODEL, {"prompt": "x"}),
            ):
                with pytest.raises(ProtocolError) as caught:
                    await call()
                errors.append(caught.value)
            return errors

        errors = harness_for(transport, emu).run(scenario)
        journal = emu.journal
        port = emu.base_url.rsplit(":", 1)[1]
    assert all(f"(localhost:{port})" in str(error) for error in errors)
    assert all(error.status_code == 307 for error in errors)  # type: ignore[attr-defined]
    # Every request arrived for 127.0.0.1; none followed the redirect to "localhost".
    assert len(journal) == 3
    assert all(entry.headers["Host"].startswith("127.0.0.1") for entry in journal)
    assert emu.jobs() == []
