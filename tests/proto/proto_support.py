"""Shared helpers for the protocol-core tests: wire fixtures and a scripted flow runner."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple, TypeVar, Union

from higgsfield_proto import (
    Ask,
    Effect,
    Flow,
    Notify,
    Now,
    Request,
    Response,
    Send,
    Sleep,
    StreamedOutcome,
    StreamedSend,
)

KEY_ID = "kid-7f3a91"
SECRET = "sek-5e0c2d9b44"
BASE_URL = "https://api.higgsfield.ai"
REQUEST_ID = "5b0f3c1e-2a7d-4e8b-9c41-0d2f6a7b8e90"
STATUS_URL = f"{BASE_URL}/requests/{REQUEST_ID}/status"
CANCEL_URL = f"{BASE_URL}/requests/{REQUEST_ID}/cancel"
CORRELATION_ID = "corr-0a1b2c"

# PROTOCOL.md 2.2 / 3.4 / 5.1 / 8.1 example bodies.
SUBMITTED = {
    "status": "queued",
    "request_id": REQUEST_ID,
    "status_url": STATUS_URL,
    "cancel_url": CANCEL_URL,
}
COMPLETED_IMAGES = {**SUBMITTED, "status": "completed", "images": [{"url": "https://cdn.example/out-1.png"}]}
COMPLETED_VIDEO = {**SUBMITTED, "status": "completed", "video": {"url": "https://cdn.example/out.mp4"}}
FAILED = {"status": "failed", "request_id": REQUEST_ID, "error": "human readable failure message"}
NSFW = {"status": "nsfw", "request_id": REQUEST_ID}
UPLOAD_SLOT = {
    "public_url": "https://cdn.example/input/abc.jpeg",
    "upload_url": "https://storage.example/presigned?X-Amz-Signature=abc123",
    "content_type": "image/jpeg",
    "upload_headers": {"Content-Type": "image/jpeg", "x-amz-tagging": "retention=temporary"},
}
ESTIMATE = {"credits": "1.500", "usd": "0.094"}


def state_payload(state: str, request_id: str = REQUEST_ID, **extra: Any) -> dict[str, Any]:
    """A status answer in ``state``; completed answers carry one image."""
    payload: dict[str, Any] = {"status": state, "request_id": request_id}
    if state == "completed":
        payload["images"] = [{"url": "https://cdn.example/out-1.png"}]
    payload.update(extra)
    return payload


def json_response(status: int, payload: Any, headers: Sequence[Tuple[str, str]] = ()) -> Response:
    """A response whose body is ``payload`` as JSON, with a correlation id."""
    return Response(
        status=status,
        headers=(("Content-Type", "application/json"), ("X-Correlation-ID", CORRELATION_ID), *headers),
        body=json.dumps(payload).encode("utf-8"),
    )


@dataclass(frozen=True)
class Slow:
    """A scripted outcome that takes ``seconds`` of (fake) time to arrive."""

    outcome: StreamedOutcome
    seconds: float


Scripted = Union[StreamedOutcome, Slow, Callable[[Request], StreamedOutcome]]
T = TypeVar("T")
WALL_OFFSET = 1_750_000_000.0
"""The fake Unix time at the fake monotonic time 0."""


@dataclass
class ScriptedRunner:
    """Drives a flow: answers each Send and StreamedSend with the next scripted outcome, advances
    a fake monotonic clock on Sleep (answering with the time after waking), answers Now with that
    clock (or with ``wall_offset`` added, for the wall clock), Notify with None and Ask with the
    next of ``answers``; records every effect with the clock reading when it was yielded."""

    script: List[Scripted]
    now: float = 0.0
    wall_offset: float = WALL_OFFSET
    answers: List[Any] = field(default_factory=list)
    effects: List[Tuple[float, Effect]] = field(default_factory=list)
    outcomes: List[StreamedOutcome] = field(default_factory=list)

    def run(self, flow: Flow[T]) -> T:
        try:
            effect = next(flow)
            while True:
                self.effects.append((self.now, effect))
                reply: Any
                if isinstance(effect, (Send, StreamedSend)):
                    reply = self._answer(effect.request)
                    self.outcomes.append(reply)
                elif isinstance(effect, Sleep):
                    assert effect.seconds >= 0, effect
                    self.now += effect.seconds
                    reply = self.now
                elif isinstance(effect, Now):
                    reply = self.now + self.wall_offset if effect.wall else self.now
                elif isinstance(effect, Ask):
                    assert self.answers, f"unexpected question: {effect.question!r}"
                    reply = self.answers.pop(0)
                else:
                    assert isinstance(effect, Notify), effect
                    reply = None
                effect = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        finally:
            flow.close()

    def _answer(self, request: Request) -> StreamedOutcome:
        assert self.script, f"unexpected extra Send: {request!r}"
        item = self.script.pop(0)
        if isinstance(item, Slow):
            self.now += item.seconds
            return item.outcome
        if callable(item):
            return item(request)
        return item

    # -- views of the record --------------------------------------------------------------------

    @property
    def sends(self) -> List[Union[Send, StreamedSend]]:
        return [effect for _, effect in self.effects if isinstance(effect, (Send, StreamedSend))]

    @property
    def sleeps(self) -> List[float]:
        return [effect.seconds for _, effect in self.effects if isinstance(effect, Sleep)]

    @property
    def notified(self) -> List[object]:
        return [effect.event for _, effect in self.effects if isinstance(effect, Notify)]

    def kinds(self) -> List[str]:
        """The effects as a compact trace: 'send:GET', 'sleep', 'notify:StatusUpdate', 'ask'
        (clock readings are left out: they change nothing)."""
        trace = []
        for _, effect in self.effects:
            if isinstance(effect, (Send, StreamedSend)):
                trace.append(f"send:{effect.request.method}")
            elif isinstance(effect, Sleep):
                trace.append("sleep")
            elif isinstance(effect, Notify):
                trace.append(f"notify:{type(effect.event).__name__}")
            elif isinstance(effect, Ask):
                trace.append("ask")
        return trace


def run_flow(
    flow: Flow[T], script: List[Scripted], *, start: float = 0.0, wall_offset: float = WALL_OFFSET
) -> Tuple[T, ScriptedRunner]:
    runner = ScriptedRunner(list(script), now=start, wall_offset=wall_offset)
    return runner.run(flow), runner


def expect_error(
    flow: Flow[Any], script: List[Scripted], *, start: float = 0.0, wall_offset: float = WALL_OFFSET
) -> Tuple[BaseException, ScriptedRunner]:
    """Run ``flow`` and return the exception it ended with (fails if it returned)."""
    runner = ScriptedRunner(list(script), now=start, wall_offset=wall_offset)
    try:
        value = runner.run(flow)
    except Exception as exc:
        return exc, runner
    raise AssertionError(f"flow returned {value!r} instead of raising")


def secret_free(request: Request, *secrets: str) -> bool:
    """True when no header value of ``request`` contains any of ``secrets``."""
    return not any(secret in value for _, value in request.headers for secret in secrets)


def optional(value: Optional[T]) -> T:
    assert value is not None
    return value
