"""Cancelling the awaiting task - asyncio ``Task.cancel``, a trio cancel scope, anyio's
``move_on_after`` - stops at once, leaks no connection, never pools a half-read connection, and
leaves the client usable."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, List

import anyio
import pytest
from client.harness import HTTPX_TRANSPORTS, TRIO_TRANSPORTS, close_transport, httpx_transport

from higgsfield_client import AsyncClient, Queued
from higgsfield_client.testing import Emulator

from .support import QUICK_POLL, REQUEST_ID, Answer, Received, ScriptServer

# (transport, how the caller cancels)
STYLES = [
    pytest.param(("aiohttp", "task.cancel"), id="aiohttp-task.cancel"),
    pytest.param(("trio-on-asyncio", "task.cancel"), id="trio-on-asyncio-task.cancel"),
    pytest.param(("trio", "cancel-scope"), id="trio-cancel-scope"),
    pytest.param(("aiohttp", "move_on_after"), id="aiohttp-move_on_after"),
    pytest.param(("trio-on-asyncio", "move_on_after"), id="trio-on-asyncio-move_on_after"),
    pytest.param(("trio", "move_on_after"), id="trio-move_on_after"),
    pytest.param(("httpx-asyncio", "task.cancel"), id="httpx-asyncio-task.cancel"),
    pytest.param(("httpx-trio", "cancel-scope"), id="httpx-trio-cancel-scope"),
    pytest.param(("httpx-asyncio", "move_on_after"), id="httpx-asyncio-move_on_after"),
    pytest.param(("httpx-trio", "move_on_after"), id="httpx-trio-move_on_after"),
]
GUARD = 10.0  # seconds: a hang guard only, never a measure of speed


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(GUARD):
        while not condition():  # noqa: ASYNC110 - the state changes in other threads
            await anyio.sleep(0.005)


async def cancel_when(style: str, call: Callable[[], Awaitable[Any]], ready: Callable[[], bool]) -> None:
    """Start ``call()``, cancel it the ``style`` way once ``ready()`` holds; fail if it finished."""
    if style == "task.cancel":
        task = asyncio.ensure_future(call())
        await until(lambda: ready() or task.done())
        task.cancel()
        with anyio.fail_after(GUARD), pytest.raises(asyncio.CancelledError):
            await task
        return
    if style == "cancel-scope":
        import trio

        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def run() -> None:
                with scope:
                    await call()
                    raise AssertionError("the call finished before it was cancelled")

            nursery.start_soon(run)
            await until(ready)
            scope.cancel()
        assert scope.cancelled_caught
        return
    # anyio.move_on_after, given its deadline by the moment ``ready()`` holds.
    with anyio.move_on_after(GUARD * 3) as outer:
        async with anyio.create_task_group() as group:

            async def trigger() -> None:
                await until(ready)
                outer.deadline = anyio.current_time()

            group.start_soon(trigger)
            await call()
            raise AssertionError("the call finished before it was cancelled")
    assert outer.cancelled_caught


def client_for(transport: str, base_url: str, api_key: str) -> AsyncClient:
    """A client on ``transport``; an httpx transport is passed as an object (see ``close``)."""
    if transport in HTTPX_TRANSPORTS:
        chosen: Any = httpx_transport(transport, {})
    else:
        chosen = "aiohttp" if transport == "aiohttp" else "trio"
    return AsyncClient(base_url=base_url, api_key=api_key, transport=chosen, poll=QUICK_POLL)


async def close(client: AsyncClient) -> None:
    """Close ``client``, and the httpx transport it was given (which it leaves open)."""
    await client.aclose()
    transport = client._transports._shared
    if transport is not None:
        await close_transport(transport)


def backend(transport: str) -> str:
    return "trio" if transport in TRIO_TRANSPORTS else "asyncio"


@pytest.mark.parametrize("style", STYLES)
def test_cancelling_subscribe_again_and_again_leaks_nothing(style: Any) -> None:
    transport, how = style
    rounds = 6
    with Emulator(queue_time=60.0, run_time=0.1, seed=3) as emu:

        async def main() -> List[Any]:
            client = client_for(transport, emu.base_url, emu.api_key)
            states = []
            for round_ in range(rounds):
                ids: List[str] = []

                def polled(ids: List[str] = ids) -> bool:
                    # Enqueued, and at least one status check answered: the flow is polling.
                    return bool(ids) and any(e.route == "status" and ids[0] in e.path for e in emu.journal)

                await cancel_when(
                    how,
                    lambda ids=ids, n=round_: client.subscribe(  # type: ignore[misc]
                        "bytedance/seedream/v4/text-to-image", {"prompt": f"never {n}"}, on_enqueue=ids.append
                    ),
                    polled,
                )
                # The client still works, and the job is untouched (cancelling the wait is not
                # cancelling the job).
                states.append(await client.status(ids[0]))
            await close(client)
            return states

        states = anyio.run(main, backend=backend(transport))
        connections = emu.connection_count
        jobs = emu.jobs()
    assert all(isinstance(state, Queued) for state in states)
    assert [job.status for job in jobs] == ["queued"] * rounds
    # A cancel between two polls keeps the idle connection; one during a request closes it. Either
    # way no round leaves more than one connection behind.
    assert connections <= rounds + 1


@pytest.mark.parametrize("mode", ["stall", "hang"])
@pytest.mark.parametrize("style", STYLES)
def test_a_request_cancelled_mid_answer_never_returns_its_connection_to_the_pool(
    style: Any, mode: str
) -> None:
    transport, how = style
    body = b'{"status": "queued", "request_id": "%s", "padding": "%s"}' % (REQUEST_ID.encode(), b"x" * 4000)

    def script(received: Received) -> Answer:
        if len(server.received) == 2:  # the second request: cut off mid-body, or never answered
            return Answer(200, body, (("Content-Type", "application/json"),), mode=mode)
        return Answer(200, body, (("Content-Type", "application/json"),))

    with ScriptServer(script) as server:

        async def main() -> None:
            client = client_for(transport, server.base_url, server.api_key)
            assert (await client.status(REQUEST_ID)).request_id == REQUEST_ID  # a pooled connection
            if mode == "stall":
                ready = lambda: server.state.stalled == 1  # noqa: E731 - head and half the body sent
            else:
                ready = lambda: len(server.received) == 2  # noqa: E731 - the request arrived
            await cancel_when(how, lambda: client.status(REQUEST_ID), ready)
            # The cut-off connection is closed by the client at once, not kept for later.
            await until(lambda: server.state.closed_by_client >= 1)
            assert (await client.status(REQUEST_ID)).request_id == REQUEST_ID
            await close(client)

        anyio.run(main, backend=backend(transport))
        first, cut, after = server.received
    assert cut.connection == first.connection  # the kept-alive connection was reused...
    assert after.connection != cut.connection  # ...but never after an answer was cut off
