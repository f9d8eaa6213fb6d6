"""The official ``higgsfield-client==0.2.0``'s agent calls against the emulator, one line per check.

Run by ``python -m bench.official_agents`` as ``<official venv>/bin/python -I
bench/_official_agents_driver.py JSON``. It imports nothing from this project (``-I`` keeps the
checkout off ``sys.path``): only the official package and the standard library (downloads use
``urllib``). JSON holds ``base_url`` and ``api_key`` of the emulator, and the ``base_url`` of
three more emulators with the same key: ``denied`` (no agent access), ``broke`` (no credits) and
``faulty`` (its next session creations answer 503).

The official clients are pointed at the emulator with their ``base_url`` argument,
``SyncClient(base_url=..., api_key=...)`` and ``AsyncClient(...)`` alike: the official agent
resources build every URL as ``client.base_url + "/v1/agent..."`` (only the generation calls by
request id read the module constant ``BASE_URL``, which the agent calls never use).

Each check prints ``ok   <client> <check>: <what it saw>`` or ``FAIL <client> <check>: <why>``;
the exit status is 1 when any check failed. The official ``run()`` sleeps 2 s before its first
poll, so each run() check takes a few seconds.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import sys
import time
import traceback
import urllib.request
from typing import Any, Awaitable, Callable, Dict, List

# The official package, untyped here: our own higgsfield_client (which type checkers see under
# the same name) must not lend it its types.
official: Any = importlib.import_module("higgsfield_client")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A tiny valid PNG (1x1, grey), to upload as agent media.
SAMPLE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108000000003a7e9b55"
    "0000000a49444154789c63680000000201015cd4e8d80000000049454e44ae426082"
)
POLL_LIMIT = 30.0  # seconds a check polls on its own before it gives up


class CheckFailed(AssertionError):
    """A check saw something other than what the official client should see."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


async def call(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a sync or an async official method alike (the async one's coroutine is awaited)."""
    result = method(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def raises(kind: Any, method: Callable[..., Any], *args: Any) -> Any:
    """Call ``method``; it must raise ``kind``; return the error."""
    try:
        await call(method, *args)
    except kind as exc:
        return exc
    raise CheckFailed(f"{getattr(method, '__name__', method)} did not raise {kind.__name__}")


def download(url: str) -> bytes:
    """GET ``url`` with no credentials at all."""
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


async def wait_turn(agents: Any, session_id: str, message_id: str) -> Any:
    """Poll ``messages(after=message_id)`` until a terminal assistant row (bounded)."""
    deadline = time.monotonic() + POLL_LIMIT
    while True:
        state = await call(agents.sessions.messages, session_id, after=message_id)
        done = [m for m in state.messages if m.role == "assistant" and m.is_terminal]
        if done:
            return state
        expect(time.monotonic() < deadline, f"no answer within {POLL_LIMIT} s")
        await asyncio.sleep(0.05)


# -- the checks: each gets the official client's ``agents`` and the run's parameters -----------


async def create(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    expect(session.status == official.SessionStatus.IDLE, f"status {session.status!r}")
    configured = await call(agents.sessions.create, {"model": "emulated", "tools": ["image"]})
    expect(configured.session_id != session.session_id, "two creates gave one session id")
    return f"sessions {session.session_id[:8]}... and {configured.session_id[:8]}... idle"


async def send_and_messages(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    sid = session.session_id
    message_id = await call(agents.sessions.send, sid, "hello")
    state = await wait_turn(agents, sid, message_id)
    (answer,) = state.messages
    expect(answer.text == "Echo: hello", f"answer text {answer.text!r}")
    expect(answer.status == official.MessageStatus.COMPLETED, f"answer status {answer.status!r}")
    full = await call(agents.sessions.messages, sid)
    expect(full.status == official.SessionStatus.IDLE, f"session status {full.status!r}")
    user = full.messages[0]
    expect((user.message_id, user.role, user.text) == (message_id, "user", "hello"),
           f"first row {user!r}")
    expect(user.llm_cost_usd == "0.0010", f"user row cost {user.llm_cost_usd!r}")
    expect([m.message_id for m in full.messages] == [message_id, answer.message_id],
           "messages() and messages(after=...) disagree")
    return f"send() -> {message_id[:8]}..., messages(after=...) -> {answer.text!r}"


async def run_plain(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    result = await call(agents.sessions.run, session.session_id, "a plain turn", timeout=60)
    expect(result.status == "completed", f"status {result.status!r}")
    expect(result.text == "Echo: a plain turn", f"text {result.text!r}")
    expect(result.asset_urls == [], f"asset_urls {result.asset_urls!r}")
    return f"run() -> {result.status} {result.text!r}"


async def run_failing(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    result = await call(agents.sessions.run, session.session_id, "please [fail]", timeout=60)
    expect(result.status == "failed", f"status {result.status!r}")
    expect("[fail]" in result.text, f"text {result.text!r}")
    return f"run() -> {result.status} {result.text!r}"


async def run_question(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    asked: List[str] = []

    def on_question(question: str) -> str:
        asked.append(question)
        return "flat pastel colours"

    result = await call(agents.sessions.run, session.session_id, "a poster [question]",
                        on_question=on_question, timeout=60)
    expect(asked == ["Which style do you want for: a poster [question]?"], f"asked {asked!r}")
    expect(result.status == "completed", f"status {result.status!r}")
    expect(result.text == "Echo: flat pastel colours", f"text {result.text!r}")
    reasoning = [part for part in result.message.message["parts"] if part["type"] == "reasoning"]
    expect(asked[0] in reasoning[0]["text"], f"reasoning {reasoning!r}")
    return f"on_question({asked[0]!r}) -> run() {result.status} {result.text!r}"


async def run_question_unanswered(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    sid = session.session_id
    parked = await call(agents.sessions.run, sid, "a logo [question]", timeout=60)
    expect(parked.status == "awaiting_input", f"status {parked.status!r}")
    expect(parked.text == "Which style do you want for: a logo [question]?",
           f"question {parked.text!r}")
    answered = await call(agents.sessions.run, sid, "red", timeout=60)
    expect(answered.status == "completed", f"answer status {answered.status!r}")
    expect(answered.text == "Echo: red", f"text {answered.text!r}")
    return f"run() -> awaiting_input {parked.text!r}; run(answer) -> {answered.text!r}"


async def run_image(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    result = await call(agents.sessions.run, session.session_id, "a fox [image]", timeout=60)
    expect(result.status == "completed", f"status {result.status!r}")
    (url,) = result.asset_urls
    expect(url.startswith(params["base_url"] + "/agent-outputs/"), f"asset url {url!r}")
    expect(url in result.text, "the URL is not in the answer text")
    data = download(url)
    expect(data.startswith(PNG_SIGNATURE), f"{url} is not a PNG ({data[:8]!r})")
    return f"run() -> asset_urls [{url}] ({len(data)} bytes of PNG, no credentials)"


async def interrupt(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    sid = session.session_id
    message_id = await call(agents.sessions.send, sid, "spin [hang]")
    running = await call(agents.sessions.messages, sid, after=message_id)
    expect(running.status == official.SessionStatus.PROCESSING, f"status {running.status!r}")
    expect(running.messages == [], f"rows after the message {running.messages!r}")
    busy = await raises(official.SessionBusyError, agents.sessions.send, sid, "again")
    expect(busy.status_code == 409, f"busy status_code {busy.status_code!r}")
    result = await call(agents.sessions.interrupt, sid)
    expect(result is None, f"interrupt() returned {result!r}")
    state = await call(agents.sessions.messages, sid)
    expect(state.status == official.SessionStatus.IDLE, f"after interrupt {state.status!r}")
    expect([m.status for m in state.messages] == ["failed"], f"rows {state.messages!r}")
    return "processing, send() -> SessionBusyError (409), interrupt() -> idle, user row failed"


async def run_timeout(agents: Any, params: Dict[str, Any]) -> str:
    session = await call(agents.sessions.create)
    sid = session.session_id
    error = await raises(official.AgentTimeoutError, agents.sessions.run, sid, "spin [hang]", None,
                         0.3)
    state = await call(agents.sessions.messages, sid)
    expect(state.status == official.SessionStatus.PROCESSING, f"after timeout {state.status!r}")
    await call(agents.sessions.interrupt, sid)
    state = await call(agents.sessions.messages, sid)
    expect(state.status == official.SessionStatus.IDLE, f"after interrupt {state.status!r}")
    return f"AgentTimeoutError ({error}); interrupt() -> idle"


async def media_upload(agents: Any, params: Dict[str, Any]) -> str:
    seen = []
    for data, extension, kind in ((SAMPLE_PNG, "png", "image"), (b"%PDF-1.4 brief", "pdf", "file"),
                                  (b"\x00\x00\x00\x18ftypmp42", "mp4", "video")):
        url = await call(agents.media.upload, data, extension, kind)
        expect(url.startswith(params["base_url"] + "/uploads/"), f"url {url!r}")
        expect(url.endswith(f".{extension}"), f"url {url!r}")
        expect(download(url) == data, f"{url} does not serve the uploaded bytes")
        seen.append(f"{kind}/{extension}")
    default = await call(agents.media.upload, SAMPLE_PNG, "jpeg")  # type defaults to "image"
    expect(download(default) == SAMPLE_PNG, "the default-type upload is not served")
    session = await call(agents.sessions.create)
    result = await call(agents.sessions.run, session.session_id, f"use {default}", timeout=60)
    expect(result.asset_urls == [default], f"asset_urls {result.asset_urls!r}")
    return f"upload() -> URLs serving the bytes ({', '.join(seen)}, image/jpeg by default)"


async def errors(agents: Any, params: Dict[str, Any], make: Callable[[str], Any]) -> str:
    denied = await raises(official.AgentAccessDeniedError, make(params["denied"]).agents.sessions.create)
    expect(denied.status_code == 403, f"403 status_code {denied.status_code!r}")
    broke_agents = make(params["broke"]).agents
    session = await call(broke_agents.sessions.create)
    broke = await raises(official.InsufficientCreditsError, broke_agents.sessions.send,
                         session.session_id, "hello")
    expect("insufficient_credits" in str(broke), f"402 message {broke}")
    backend = await raises(official.AgentBackendError, make(params["faulty"]).agents.sessions.create)
    expect(backend.status_code == 503, f"5xx status_code {backend.status_code!r}")
    return "403 AgentAccessDeniedError, 402 InsufficientCreditsError, 503 AgentBackendError"


HELPERS = frozenset({"call", "raises", "expect", "download", "wait_turn", "run_checks"})
CHECKS: List[Callable[[Any, Dict[str, Any]], Awaitable[str]]] = [
    create, send_and_messages, run_plain, run_failing, run_question, run_question_unanswered,
    run_image, interrupt, run_timeout, media_upload,
]


async def run_checks(label: str, make: Callable[[str], Any], params: Dict[str, Any]) -> int:
    """Run every check with a client from ``make(base_url)``; returns the number that failed."""
    agents = make(params["base_url"]).agents
    named = [(check.__name__, check) for check in CHECKS]
    failed = 0

    async def errors_check(agents: Any, params: Dict[str, Any]) -> str:
        return await errors(agents, params, make)

    for name, check in [*named, ("errors", errors_check)]:
        started = time.monotonic()
        try:
            seen = await check(agents, params)
        except Exception as exc:
            failed += 1
            # The check's own line that saw the failure, not a helper's or the official package's.
            lines = [frame.lineno for frame in traceback.extract_tb(exc.__traceback__)
                     if frame.filename == __file__ and frame.name not in HELPERS]
            print(f"FAIL {label} {name}: {type(exc).__name__}: {exc} (driver line {lines[-1]})",
                  flush=True)
        else:
            print(f"ok   {label} {name}: {seen} [{time.monotonic() - started:.1f} s]", flush=True)
    return failed


def main() -> int:
    params = json.loads(sys.argv[1])
    key = params["api_key"]
    version = importlib.import_module("importlib.metadata").version("higgsfield-client")
    print(f"official higgsfield-client {version} from {official.__file__}", flush=True)

    def sync_client(base_url: str) -> Any:
        return official.SyncClient(base_url=base_url, api_key=key)

    def async_client(base_url: str) -> Any:
        return official.AsyncClient(base_url=base_url, api_key=key)

    failed = asyncio.run(run_checks("SyncClient ", sync_client, params))
    failed += asyncio.run(run_checks("AsyncClient", async_client, params))
    print(f"{failed} check(s) failed" if failed else "all checks passed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
