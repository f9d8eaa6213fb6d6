"""The example receiver apps served by real servers on loopback: uvicorn (FastAPI), waitress (Flask,
Django), aiohttp."""

from __future__ import annotations

import asyncio
import runpy
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, ContextManager

import trio

from higgsfield_client.webhooks import Handler, WebhookWaiter
from higgsfield_proto import WebhookEvent

from .support import SECRET

START_TIMEOUT = 15.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Served = Callable[[Any, Handler], ContextManager[str]]
"""A receiver app served on loopback for ``(secret, handler)``; entering it yields its URL."""


def load(name: str) -> dict[str, Any]:
    """The globals of ``examples/<name>.py`` (its ``main()`` not called)."""
    return runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}")


def _wait_for(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in time")
        time.sleep(0.01)


def _join(thread: threading.Thread) -> None:
    thread.join(START_TIMEOUT)
    if thread.is_alive():
        raise RuntimeError(f"{thread.name} did not stop in time")


@contextmanager
def under_uvicorn(app: Any) -> Iterator[str]:
    """An ASGI app under uvicorn in a thread, lifespan on; yields its root URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    sock = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: server.started, "uvicorn")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        _join(thread)
        sock.close()


@contextmanager
def under_waitress(app: Any) -> Iterator[str]:
    """A WSGI app under waitress in a thread; yields its root URL."""
    import waitress

    # A short loop timeout: the loop notices at once that it has nothing left to serve.
    server = waitress.create_server(app, host="127.0.0.1", port=0, asyncore_loop_timeout=0.05)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        try:
            server.trigger.pull_trigger(server.close)  # closed by its own loop, not under its select()
        except OSError:
            # The trigger closed itself (waitress closes a dispatcher whose pipe read reports an
            # end), so the loop can no longer be woken: close the server from here.
            server.close()
        _join(thread)


def example_under(name: str, server: Callable[[Any], ContextManager[str]]) -> Served:
    """``examples/<name>.py``'s ``make_app(secret, handler)`` under ``server``; yields the
    receiver's URL."""

    @contextmanager
    def served(secret: Any, handler: Handler) -> Iterator[str]:
        example = load(name)
        with server(example["make_app"](secret, handler)) as root:
            yield root + example["PATH"]

    return served


fastapi_under_uvicorn = example_under("webhooks_fastapi", under_uvicorn)


@contextmanager
def aiohttp_app(secret: Any, handler: Handler) -> Iterator[str]:
    """``examples/webhook_receiver.py``'s app on its own event loop in a thread; yields its URL."""
    from aiohttp import web

    example = load("webhook_receiver")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(example["make_app"](secret, handler))

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    try:
        port = asyncio.run_coroutine_threadsafe(start(), loop).result(START_TIMEOUT)
        yield f"http://127.0.0.1:{port}{example['PATH']}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(START_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        _join(thread)
        loop.close()


SERVERS: dict[str, Served] = {
    "fastapi-uvicorn": fastapi_under_uvicorn,
    "flask-waitress": example_under("webhooks_flask", under_waitress),
    "django-waitress": example_under("webhooks_django", under_waitress),
    "aiohttp": aiohttp_app,
}


@asynccontextmanager
async def _receiver_in_this_loop(secret: Any, waiter: WebhookWaiter) -> AsyncIterator[str]:
    """Under asyncio: the aiohttp example app on this loop, handing events to ``waiter``."""
    from aiohttp import web

    example = load("webhook_receiver")
    runner = web.AppRunner(example["make_app"](secret, waiter.deliver))
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}{example['PATH']}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _receiver_in_a_thread(secret: Any, waiter: WebhookWaiter) -> AsyncIterator[str]:
    """Under trio: the FastAPI example under uvicorn in a thread, handing events to this run."""
    token = trio.lowlevel.current_trio_token()

    def handler(event: WebhookEvent) -> None:
        trio.from_thread.run_sync(waiter.deliver, event, trio_token=token)

    servers = fastapi_under_uvicorn(secret, handler)
    url = await trio.to_thread.run_sync(servers.__enter__)
    try:
        yield url
    finally:
        await trio.to_thread.run_sync(servers.__exit__, None, None, None)


def receiver(library: str, waiter: WebhookWaiter, secret: Any = SECRET) -> Any:  # an async cm
    """A receiver handing verified events to ``waiter`` in this run; yields its URL. Under
    asyncio, the aiohttp example app on this loop; under trio, the FastAPI one under uvicorn in
    a thread."""
    if library == "trio":
        return _receiver_in_a_thread(secret, waiter)
    return _receiver_in_this_loop(secret, waiter)
