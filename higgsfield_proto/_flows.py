"""Whole operations written once as generators of effects (Send / Sleep / Notify). No I/O here.

A runner drives a flow: it performs each yielded effect and sends the outcome back in (a
``Response`` or ``TransportFailure`` for ``Send``, the monotonic time for ``Sleep``, None for
``Notify``) until the flow returns its result or raises a ``HiggsfieldError``. Retries and polling
live here, so the sync, asyncio and trio clients share one definition of every behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, List, Mapping, Optional
from urllib.parse import urldefrag, urljoin, urlsplit

from ._build import (
    build_cancel_request,
    build_delete_request,
    build_estimate_request,
    build_status_request,
    build_submit_request,
    build_upload_put_request,
    build_upload_slot_request,
)
from ._config import ApiConfig, _origin
from ._effects import Flow, Notify, Send, Sleep
from ._errors import (
    HiggsfieldError,
    InvalidArgumentError,
    NotCancellableError,
    TransportError,
    WaitTimeoutError,
    transport_error_from_failure,
)
from ._http import Body, Outcome, Request, Response, TransportFailure
from ._parse import (
    _protocol_error,
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

MAX_REDIRECTS = 5
"""Redirects followed at most within one exchange."""

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# What no transport can put on the wire: controls, space, anything outside ASCII.
_BAD_URL_CHAR = re.compile(r"[\x00-\x20\x7f-\U0010ffff]")


def _half() -> float:
    return 0.5


_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_POLL = PollPolicy()


@dataclass(frozen=True, init=False)
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
    retry: RetryPolicy = _DEFAULT_RETRY
    poll: PollPolicy = _DEFAULT_POLL

    def __init__(
        self,
        start: float = 0.0,
        wall_offset: float = 0.0,
        jitter: Callable[[], float] = _half,
        retry: RetryPolicy = _DEFAULT_RETRY,
        poll: PollPolicy = _DEFAULT_POLL,
    ) -> None:
        # One per call: fills __dict__ as Request does (see _http.py).
        fields = self.__dict__
        fields["start"], fields["wall_offset"], fields["jitter"] = start, wall_offset, jitter
        fields["retry"], fields["poll"] = retry, poll


class _Clock:
    """The flow's view of time: the latest monotonic reading and an optional deadline."""

    def __init__(self, env: FlowEnv, timeout: Optional[float]) -> None:
        self.env = env
        self.now = env.start
        self.deadline = env.start + timeout if timeout is not None else None

    @property
    def remaining(self) -> Optional[float]:
        return None if self.deadline is None else max(0.0, self.deadline - self.now)


def _redirect(request: Request, response: Response) -> Optional[Request]:
    """The request that follows ``response`` to its Location, or None if it is no redirect to follow.

    Only redirects within the origin (scheme, host, port) of ``request`` are followed, so that
    credentials never travel to another host. 307/308 repeat the request as it was; 301/302/303
    are followed for GET only (a client would turn any other method into a bodiless GET).

    Raises:
        ProtocolError: the Location names another origin or is not a usable URL.
    """
    location = response.header("Location")
    if response.status not in _REDIRECT_STATUSES or not location:
        return None
    if response.status not in (307, 308) and request.method != "GET":
        return None
    target = urldefrag(urljoin(request.url, location.strip())).url
    try:
        same_origin = _origin(target) == _origin(request.url)
    except InvalidArgumentError:
        raise _protocol_error(response, "redirect to a malformed URL") from None
    parts = urlsplit(target)
    if not same_origin:
        where = parts.netloc.rpartition("@")[2] or f"a {parts.scheme or 'relative'} URL"
        raise _protocol_error(
            response, f"refused to follow a redirect to another host ({where}); credentials stay home"
        )
    if _BAD_URL_CHAR.search(target) or "@" in parts.netloc:
        raise _protocol_error(response, "redirect to a malformed URL")
    return replace(request, url=target)


def _exchange(
    request: Request,
    clock: _Clock,
    *,
    repeatable: bool = True,
    history: Optional[List[Outcome]] = None,
) -> Flow[Response]:
    """Send ``request`` until it is answered for good; raise TransportError if the network fails.

    Failures are retried as ``clock.env.retry`` decides; redirects within the request's origin
    are followed (at most ``MAX_REDIRECTS``), each new location with a fresh count of attempts.
    Every outcome is appended to ``history`` when it is given.

    Raises:
        TransportError: the network failed for good.
        ProtocolError: a redirect to another origin, to a malformed URL, or too many redirects.
    """
    attempt = 0
    redirects = 0
    while True:
        attempt += 1
        outcome: Outcome = yield Send(request, clock.remaining)
        if history is not None:
            history.append(outcome)
        if isinstance(outcome, Response) and outcome.status < 300:
            return outcome  # the usual case: answered, nothing to retry or follow
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
                raise transport_error_from_failure(outcome)
            following = _redirect(request, outcome)
            if following is None:
                return outcome
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise _protocol_error(outcome, f"more than {MAX_REDIRECTS} redirects")
            if clock.deadline is not None:
                clock.now = yield Sleep(0.0)
            request, attempt = following, 0
            continue
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
    return _status(config, request_id, _Clock(env, None))


def _may_have_acted(outcome: Outcome) -> bool:
    if isinstance(outcome, TransportFailure):
        return outcome.request_sent
    return outcome.status >= 500 or outcome.status == 408


def _cancel(config: ApiConfig, request_id: str, clock: _Clock) -> Flow[None]:
    history: List[Outcome] = []
    response = yield from _exchange(build_cancel_request(config, request_id), clock, history=history)
    try:
        parse_cancel_response(response, request_id)
    except NotCancellableError as refused:
        if not any(_may_have_acted(outcome) for outcome in history[:-1]):
            raise
        # An earlier attempt may have canceled the job already, and canceling a canceled job is
        # refused like canceling a started one: the job's state tells which it was.
        try:
            status: Optional[JobStatus] = yield from _status(config, request_id, clock)
        except HiggsfieldError:
            status = None
        if status is None or status.state is not JobState.CANCELED:
            raise refused from None


def cancel_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[None]:
    """Cancel a queued job. Raises NotCancellableError once it has started.

    When a retried cancel is refused after an earlier attempt may have been acted on (a lost or
    5xx answer), one status check tells a job canceled by that attempt (success) from one that
    started (NotCancellableError).
    """
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
                raise transport_error_from_failure(response)
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
    """Submit, notify ``Enqueued``, then wait as ``wait_flow`` does; the deadline covers both.

    A submit still unanswered at the deadline raises WaitTimeoutError without a request id (the
    job may have been created: submitting again with the same ``idempotency_key`` finds it).
    """
    clock = _Clock(env, env.poll.timeout)
    try:
        job = yield from _submit(
            config,
            model,
            arguments,
            clock,
            webhook_url=webhook_url,
            idempotency_key=idempotency_key,
            expires_after=expires_after,
        )
    except TransportError as exc:
        # _exchange read the clock after the failure: was it cut short by the deadline?
        if clock.deadline is None or clock.remaining:
            raise
        raise WaitTimeoutError(
            f"the submit was not answered in time ({exc}); the job may have been created",
            request_id=None,
        ) from exc
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
