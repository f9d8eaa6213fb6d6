"""Whole operations of the generation API written once as generators of effects. No I/O here.

A runner drives a flow: it performs each yielded effect (see ``_effects``) and sends the answer
back in until the flow returns its result or raises a ``HiggsfieldError``. Every request goes
through the one exchange loop (``_exchange``), so the sync, asyncio and trio clients share one
definition of every behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ._build import (
    build_cancel_request,
    build_delete_request,
    build_download_request,
    build_estimate_request,
    build_status_request,
    build_submit_request,
    build_upload_put_request,
    build_upload_slot_request,
)
from ._config import USER_AGENT, ApiConfig
from ._effects import Flow, Notify, Sleep
from ._endpoints import CANCEL, DELETE, ESTIMATE, STATUS, UPLOAD_SLOT, Endpoint
from ._errors import HiggsfieldError, NotCancellableError, TransportError, WaitTimeoutError
from ._exchange import Deadline, FlowEnv, exchange, send_once, start_deadline
from ._http import Body, Request, Response, StreamedOutcome, TransportFailure
from ._parse import (
    error_from_file_response,
    parse_cancel_response,
    parse_delete_response,
    parse_estimate_response,
    parse_status_response,
    parse_submit_response,
    parse_upload_put_response,
    parse_upload_slot_response,
    protocol_error,
)
from ._values import Deletion, Downloaded, Enqueued, Estimate, JobState, JobStatus, StatusUpdate, UploadTarget


def call(
    endpoint: Endpoint, request: Request, env: FlowEnv, deadline: Optional[Deadline] = None
) -> Flow[Response]:
    """Exchange ``request`` for ``endpoint`` (repeated as the endpoint allows); the final answer."""
    answer = yield from exchange(request, env, deadline, repeatable=endpoint.repeatable)
    assert isinstance(answer, Response), "a Send is answered with a Response"
    return answer


def _submit(request: Request, env: FlowEnv, deadline: Optional[Deadline]) -> Flow[JobStatus]:
    # Without an Idempotency-Key a repeated submit can create a second, billed generation.
    keyed = request.header("Idempotency-Key") is not None
    answer = yield from exchange(request, env, deadline, repeatable=keyed)
    assert isinstance(answer, Response), "a Send is answered with a Response"
    return parse_submit_response(answer)


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
    request = build_submit_request(
        config,
        model,
        arguments,
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        expires_after=expires_after,
    )
    return (yield from _submit(request, env, None))


def _status(
    config: ApiConfig, request_id: str, env: FlowEnv, deadline: Optional[Deadline]
) -> Flow[JobStatus]:
    request = build_status_request(config, request_id)
    answer = yield from exchange(request, env, deadline, repeatable=STATUS.repeatable)
    assert isinstance(answer, Response), "a Send is answered with a Response"
    return parse_status_response(answer, request_id)


def status_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[JobStatus]:
    """Check a job's state once (repeated on failures as ``env.retry`` decides)."""
    return _status(config, request_id, env, None)


def cancel_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[None]:
    """Cancel a queued job. Raises NotCancellableError once it has started.

    When the cancel was repeated after an attempt the server may have acted on (a lost or 5xx
    answer), a refusal may mean that this earlier attempt canceled the job: one status check
    tells a job canceled that way (success) from one that started (NotCancellableError).
    """
    request = build_cancel_request(config, request_id)
    history: list[StreamedOutcome] = []
    answer = yield from exchange(request, env, None, repeatable=CANCEL.repeatable, history=history)
    assert isinstance(answer, Response), "a Send is answered with a Response"
    try:
        parse_cancel_response(answer, request_id)
    except NotCancellableError as refused:
        if not any(_may_have_acted(outcome) for outcome in history[:-1]):
            raise
        if not (yield from _was_canceled(config, request_id, env)):
            raise refused from None


def _may_have_acted(outcome: StreamedOutcome) -> bool:
    if isinstance(outcome, TransportFailure):
        return outcome.request_written
    return outcome.status >= 500 or outcome.status == 408


def _was_canceled(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[bool]:
    try:
        status = yield from _status(config, request_id, env, None)
    except HiggsfieldError:
        return False
    return status.state is JobState.CANCELED


def _wait(
    config: ApiConfig,
    request_id: str,
    env: FlowEnv,
    deadline: Optional[Deadline],
    *,
    cancel_on_timeout: bool,
    check_first: bool,
) -> Flow[JobStatus]:
    poll = env.poll
    # Only the last state is kept between checks, not the last status with its payload: a wait
    # holds what it polls with and little more while it sleeps (many may be in flight at once).
    last: Optional[JobState] = None
    check = 0
    while True:
        if not (check_first and check == 0):
            delay = poll.delay(check - 1 if check_first else check, env.jitter())
            if deadline is not None and delay >= (yield from deadline.remaining()):
                deadline.now = yield Sleep(seconds=deadline.left)
                return (yield from _last_check(config, request_id, last, cancel_on_timeout))
            now = yield Sleep(seconds=delay)
            if deadline is not None:
                deadline.now = now
        try:
            status = yield from _status(config, request_id, env, deadline)
        except TransportError:
            # The exchange read the clock after the failure: was it cut short by the deadline?
            if deadline is None or deadline.left:
                raise
            return (yield from _time_out(config, request_id, last, cancel_on_timeout))
        yield Notify(event=StatusUpdate(status=status))
        if status.is_terminal:
            return status
        last = status.state
        del status
        check += 1


def _last_check(
    config: ApiConfig, request_id: str, last: Optional[JobState], cancel_on_timeout: bool
) -> Flow[JobStatus]:
    """At the deadline: one status request, sent once; its terminal answer still counts."""
    response = yield from send_once(build_status_request(config, request_id))
    if response is not None:
        try:
            status = parse_status_response(response, request_id)
        except HiggsfieldError:
            pass  # the deadline has passed: the last status seen stands
        else:
            yield Notify(event=StatusUpdate(status=status))
            if status.is_terminal:
                return status
            last = status.state
    return (yield from _time_out(config, request_id, last, cancel_on_timeout))


def _time_out(
    config: ApiConfig, request_id: str, last: Optional[JobState], cancel_on_timeout: bool
) -> Flow[JobStatus]:
    state = last.value if last is not None else None
    message = f"job {request_id} did not finish in time (last status: {state or 'unknown'})"
    cancelled = False
    if cancel_on_timeout and (last is None or last is JobState.QUEUED):
        # The deadline has passed: one attempt, bounded by the transport's own timeout.
        response = yield from send_once(build_cancel_request(config, request_id))
        if response is None:
            message += "; canceling it failed: the network failed"
        else:
            try:
                parse_cancel_response(response, request_id)
            except HiggsfieldError as exc:
                message += f"; canceling it failed: {exc}"
            else:
                cancelled = True
                message += "; the job was canceled"
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
    check waits the poll policy's initial delay (right after a submit). When ``env.poll.timeout``
    is near, the flow sleeps until it, checks one last time, and returns a terminal answer or
    raises WaitTimeoutError (after canceling the job if ``cancel_on_timeout`` and it is still
    queued).
    """
    deadline = yield from start_deadline(env.poll.timeout)
    return (
        yield from _wait(
            config, request_id, env, deadline, cancel_on_timeout=cancel_on_timeout, check_first=check_first
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
    request = build_submit_request(
        config,
        model,
        arguments,
        webhook_url=webhook_url,
        idempotency_key=idempotency_key,
        expires_after=expires_after,
    )
    deadline = yield from start_deadline(env.poll.timeout)
    try:
        job = yield from _submit(request, env, deadline)
    except TransportError as exc:
        # The exchange read the clock after the failure: was it cut short by the deadline?
        if deadline is None or deadline.left:
            raise
        raise WaitTimeoutError(
            f"the submit was not answered in time ({exc}); the job may have been created",
            request_id=None,
        ) from exc
    yield Notify(event=Enqueued(request_id=job.request_id))
    if job.is_terminal:
        # An idempotent replay of a finished job answers with its final state at once.
        yield Notify(event=StatusUpdate(status=job))
        return job
    request_id = job.request_id
    del request, job  # the wait needs the id only; these would live as long as it
    return (
        yield from _wait(
            config, request_id, env, deadline, cancel_on_timeout=cancel_on_timeout, check_first=False
        )
    )


def upload_flow(config: ApiConfig, content_type: str, body: Body, env: FlowEnv) -> Flow[UploadTarget]:
    """Ask for an upload slot, then PUT ``body`` to it without credentials; returns the slot.

    A ``StreamedBody`` is reopened for each PUT attempt rather than held in memory.
    """
    response = yield from call(UPLOAD_SLOT, build_upload_slot_request(config, content_type), env)
    target = parse_upload_slot_response(response, content_type)
    put = yield from exchange(build_upload_put_request(target, body), env, repeatable=True)
    assert isinstance(put, Response), "a Send is answered with a Response"
    parse_upload_put_response(put)
    return target


def estimate_flow(
    config: ApiConfig, model: str, arguments: Mapping[str, Any], env: FlowEnv
) -> Flow[Estimate]:
    """Price a generation without submitting it."""
    response = yield from call(ESTIMATE, build_estimate_request(config, model, arguments), env)
    return parse_estimate_response(response)


def delete_flow(config: ApiConfig, request_id: str, env: FlowEnv) -> Flow[Deletion]:
    """Delete a finished request's inputs, outputs, prompt and parameters."""
    response = yield from call(DELETE, build_delete_request(config, request_id), env)
    return parse_delete_response(response, request_id)


def download_flow(url: str, env: FlowEnv, *, user_agent: str = USER_AGENT) -> Flow[Downloaded]:
    """Download an output file into the runner's sink; returns what arrived.

    The GET carries no credentials. Each attempt is a ``StreamedSend``: the runner empties its
    sink and streams a 2xx body into it. A body whose size differs from its Content-Length,
    a network failure, or a 408/429/5xx answer is repeated from the start as ``env.retry``
    decides; redirects are followed (at most five). The caller keeps the sink's content only
    when the flow returns.

    Raises:
        InvalidArgumentError: ``url`` is not an http(s) URL.
        DownloadError: the body broke off or had the wrong size in the last attempt.
        TransportError: the network failed before the answer began.
        OutputExpiredError: a 404: the output expired or was deleted (a NotFoundError naming
            the output's URL without its query and the storage's code, such as NoSuchKey).
        APIError: any other error status.
        ProtocolError: too many redirects, or a redirect to a malformed URL.
    """
    request = build_download_request(url, user_agent=user_agent)
    answer = yield from exchange(request, env, repeatable=True, streamed=True)
    if isinstance(answer, Response):
        if answer.status < 400:
            raise protocol_error(answer, "unexpected answer to a download (a redirect not followed)")
        raise error_from_file_response(answer, url)
    if not 200 <= answer.status < 300:
        raise protocol_error(answer, "the runner streamed a non-2xx answer into the sink")
    return Downloaded(url=url, size=answer.received, content_type=answer.header("Content-Type"))
