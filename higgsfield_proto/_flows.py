"""Whole operations written once as generators of effects (Send / Sleep / Notify). No I/O here.

A runner drives a flow: it performs each yielded effect and sends the outcome back in (a
``Response`` or ``TransportFailure`` for ``Send``, the monotonic time for ``Sleep``, None for
``Notify``) until the flow returns its result or raises a ``HiggsfieldError``. Retries and polling
live here, so the sync, asyncio and trio clients share one definition of every behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ._build import (
    build_cancel_request,
    build_delete_request,
    build_estimate_request,
    build_status_request,
    build_submit_request,
    build_upload_put_request,
    build_upload_slot_request,
)
from ._config import ApiConfig
from ._effects import Flow, Notify, Send, Sleep
from ._errors import HiggsfieldError, NetworkTimeoutError, TransportError, WaitTimeoutError
from ._http import Body, FailureKind, Outcome, Request, Response, TransportFailure
from ._parse import (
    parse_cancel_response,
    parse_delete_response,
    parse_estimate_response,
    parse_status_response,
    parse_submit_response,
    parse_upload_put_response,
    parse_upload_slot_response,
)
from ._poll import PollPolicy
from ._retry import GiveUp, RetryPolicy
from ._values import Deletion, Enqueued, Estimate, JobState, JobStatus, StatusUpdate, UploadTarget


def _half() -> float:
    return 0.5


@dataclass(frozen=True)
class FlowEnv:
    """What a flow needs from the outside world, passed in so the core stays pure.

    Args:
        start: the monotonic time when the flow starts (later times come back from ``Sleep``).
        wall_offset: wall-clock time minus monotonic time, to read Retry-After dates.
        jitter: returns a uniform random number in [0, 1) each time it is called.
        retry: the retry policy for every request of the flow.
        poll: the poll policy (and overall deadline) for flows that wait for a job.
    """

    start: float = 0.0
    wall_offset: float = 0.0
    jitter: Callable[[], float] = _half
    retry: RetryPolicy = RetryPolicy()
    poll: PollPolicy = PollPolicy()


class _Clock:
    """The flow's view of time: the latest monotonic reading and an optional deadline."""

    def __init__(self, env: FlowEnv, timeout: Optional[float]) -> None:
        self.env = env
        self.now = env.start
        self.deadline = env.start + timeout if timeout is not None else None

    @property
    def remaining(self) -> Optional[float]:
        return None if self.deadline is None else max(0.0, self.deadline - self.now)


def _transport_error(failure: TransportFailure) -> TransportError:
    message = f"network failure ({failure.kind.value}): {failure.detail}".rstrip(": ")
    cls = NetworkTimeoutError if failure.kind is FailureKind.TIMEOUT else TransportError
    return cls(message, kind=failure.kind.value, request_sent=failure.request_sent)


def _exchange(request: Request, clock: _Clock, *, repeatable: bool = True) -> Flow[Response]:
    """Send ``request`` until it is answered for good; raise TransportError if the network fails."""
    attempt = 0
    while True:
        attempt += 1
        outcome: Outcome = yield Send(request, timeout=clock.remaining)
        if clock.deadline is not None and not (isinstance(outcome, Response) and outcome.status < 400):
            # The exchange took time the flow did not see: read the clock before deciding.
            clock.now = yield Sleep(0.0)
        decision = clock.env.retry.decide(
            attempt,
            outcome,
            repeatable=repeatable,
            now=clock.now + clock.env.wall_offset,
            jitter=clock.env.jitter(),
            remaining=clock.remaining,
        )
        if isinstance(decision, GiveUp):
            if isinstance(outcome, TransportFailure):
                raise _transport_error(outcome)
            return outcome
        clock.now = yield Sleep(decision.delay)


def _submit(
    config: ApiConfig,
    model: str,
    arguments: Mapping[str, Any],
    clock: _Clock,
    *,
    webhook_url: Optional[str],
    idempotency_key: Optional[str],
    expires_after: Optional[int],
) -> Flow[JobStatus]:
    request = build_submit_request(
        config,
        model,
        arguments,
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        expires_after=expires_after,
    )
    # Without an Idempotency-Key a repeated submit can create a second, billed generation.
    response = yield from _exchange(request, clock, repeatable=idempotency_key is not None)
    return parse_submit_response(response)


def submit_flow(
    config: ApiConfig,
    model: str,
    arguments: Mapping[str, Any],
    env: FlowEnv,
    *,
    webhook_url: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    expires_after: Optional[int] = None,
) -> Flow[JobStatus]:
    """Submit a generation; returns the accepted job (``queued``).

    The submit is repeated after an ambiguous failure only when it carries ``idempotency_key``.
    """
    clock = _Clock(env, None)
    return (
        yield from _submit(
            config,
            model,
            arguments,
            clock,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
        )
    )


def _status(config: ApiConfig, request_id: str, clock: _Clock) -> Flow[JobStatus]:
    response = yield from _exchange(build_status_request(config, request_id), clock)
    return parse_status_response(response, request_id)


def status_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[JobStatus]:
    """Check a job's status once (with retries); returns the status."""
    return (yield from _status(config, request_id, _Clock(env, None)))


def _cancel(config: ApiConfig, request_id: str, clock: _Clock) -> Flow[None]:
    response = yield from _exchange(build_cancel_request(config, request_id), clock)
    parse_cancel_response(response, request_id)


def cancel_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[None]:
    """Cancel a queued job. Raises NotCancellableError once it has started."""
    return (yield from _cancel(config, request_id, _Clock(env, None)))


def _wait(
    config: ApiConfig,
    request_id: str,
    clock: _Clock,
    *,
    cancel_on_timeout: bool,
    check_first: bool,
) -> Flow[JobStatus]:
    poll = clock.env.poll
    last: Optional[JobStatus] = None
    check = 0
    while True:
        if not (check_first and check == 0):
            delay = poll.delay(check - 1 if check_first else check, clock.env.jitter())
            remaining = clock.remaining
            if remaining is not None and delay >= remaining:
                clock.now = yield Sleep(remaining)
                return (yield from _time_out(config, request_id, clock, last, cancel_on_timeout))
            clock.now = yield Sleep(delay)
        try:
            status = yield from _status(config, request_id, clock)
        except TransportError:
            # _exchange read the clock after the failure: was it cut short by the deadline?
            if clock.deadline is None or clock.remaining:
                raise
            return (yield from _time_out(config, request_id, clock, last, cancel_on_timeout))
        yield Notify(StatusUpdate(status))
        if status.is_terminal:
            return status
        last = status
        check += 1


def _time_out(
    config: ApiConfig,
    request_id: str,
    clock: _Clock,
    last: Optional[JobStatus],
    cancel_on_timeout: bool,
) -> Flow[JobStatus]:
    state = last.state.value if last is not None else None
    message = f"job {request_id} did not finish in time (last status: {state or 'unknown'})"
    cancelled = False
    if cancel_on_timeout and (last is None or last.state is JobState.QUEUED):
        # The deadline has passed: one attempt, bounded by the transport's own timeout.
        response = yield Send(build_cancel_request(config, request_id))
        try:
            if isinstance(response, TransportFailure):
                raise _transport_error(response)
            parse_cancel_response(response, request_id)
            cancelled = True
            message += "; the job was canceled"
        except HiggsfieldError as exc:
            message += f"; canceling it failed: {exc}"
    raise WaitTimeoutError(message, request_id=request_id, last_status=state, cancelled=cancelled)


def wait_flow(
    config: ApiConfig,
    request_id: str,
    env: FlowEnv,
    *,
    cancel_on_timeout: bool = False,
    check_first: bool = False,
) -> Flow[JobStatus]:
    """Poll a job on ``env.poll``'s schedule until it finishes; returns the terminal status.

    Each tick sends one status request and notifies ``StatusUpdate``; the terminal answer is
    returned as is, with no further request. With ``check_first`` the first check is made at
    once (for a job of unknown state, which may have finished long ago); otherwise the first
    check waits the poll policy's initial delay (right after a submit). Raises WaitTimeoutError
    when ``env.poll.timeout`` passes first (after canceling the job if ``cancel_on_timeout`` and
    it is still queued).
    """
    clock = _Clock(env, env.poll.timeout)
    return (
        yield from _wait(
            config, request_id, clock, cancel_on_timeout=cancel_on_timeout, check_first=check_first
        )
    )


def subscribe_flow(
    config: ApiConfig,
    model: str,
    arguments: Mapping[str, Any],
    env: FlowEnv,
    *,
    webhook_url: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    expires_after: Optional[int] = None,
    cancel_on_timeout: bool = False,
) -> Flow[JobStatus]:
    """Submit, notify ``Enqueued``, then wait as ``wait_flow`` does; the deadline covers both."""
    clock = _Clock(env, env.poll.timeout)
    job = yield from _submit(
        config,
        model,
        arguments,
        clock,
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        expires_after=expires_after,
    )
    yield Notify(Enqueued(job.request_id))
    if job.is_terminal:
        # An idempotent replay of a finished job answers with its final state at once.
        yield Notify(StatusUpdate(job))
        return job
    return (
        yield from _wait(
            config, job.request_id, clock, cancel_on_timeout=cancel_on_timeout, check_first=False
        )
    )


def upload_flow(config: ApiConfig, content_type: str, body: Body, env: FlowEnv) -> Flow[UploadTarget]:
    """Ask for an upload slot, then PUT ``body`` to it without credentials; returns the slot.

    A ``StreamedBody`` is reopened for each PUT attempt rather than held in memory.
    """
    clock = _Clock(env, None)
    slot_response = yield from _exchange(build_upload_slot_request(config, content_type), clock)
    target = parse_upload_slot_response(slot_response, content_type)
    put_response = yield from _exchange(build_upload_put_request(target, body), clock)
    parse_upload_put_response(put_response)
    return target


def estimate_flow(
    config: ApiConfig, model: str, arguments: Mapping[str, Any], env: FlowEnv
) -> Flow[Estimate]:
    """Price a generation without submitting it."""
    response = yield from _exchange(build_estimate_request(config, model, arguments), _Clock(env, None))
    return parse_estimate_response(response)


def delete_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[Deletion]:
    """Delete a finished request's inputs, outputs, prompt and parameters."""
    response = yield from _exchange(build_delete_request(config, request_id), _Clock(env, None))
    return parse_delete_response(response, request_id)
