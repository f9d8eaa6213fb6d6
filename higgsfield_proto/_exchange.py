"""The one exchange loop every flow uses: retries, Retry-After, redirects, deadline. No I/O here.

``exchange`` sends a request until it is answered for good. Failures are repeated as the
``RetryPolicy`` decides from the transport's facts (was the request written?) and the endpoint's
``repeatable`` flag; redirects are followed (only within the origin for a request carrying
credentials); the caller's deadline bounds every wait. A streamed exchange (a download) sends
``StreamedSend`` instead of ``Send``, and an answer whose body does not match its Content-Length
counts as a failure, so that it is repeated from the start.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Optional, Union
from urllib.parse import urldefrag, urljoin, urlsplit

from ._config import origin_of
from ._effects import Flow, Notify, Now, Send, Sleep, StreamedSend
from ._errors import DownloadError, InvalidArgumentError, TransportError, transport_error_from_failure
from ._http import FailureKind, Request, Response, StreamedOutcome, StreamedResponse, TransportFailure
from ._parse import protocol_error
from ._poll import PollPolicy
from ._retry import GiveUp, RetryPolicy
from ._retry_after import retry_after_seconds
from ._values import Retrying

MAX_REDIRECTS = 5
"""Redirects followed at most within one exchange."""

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# What no transport can put on the wire: controls, space, anything outside ASCII. A negated class:
# the same set as ranges up to U+10FFFF takes milliseconds to compile at import.
_BAD_URL_CHAR = re.compile(r"[^\x21-\x7e]")

Answer = Union[Response, StreamedResponse]


def _half() -> float:
    return 0.5


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowEnv:
    """What a flow needs from the outside world, passed in so that the core stays pure.

    Time is not among it: a flow asks the runner for the time (``Now``) when it needs it.

    Args:
        retry: the retry policy for every request of the flow.
        poll: the poll policy (and overall deadline) for flows that wait for a job.
        jitter: returns a uniform random number in [0, 1) each time it is called.
    """

    retry: RetryPolicy = RetryPolicy()
    poll: PollPolicy = PollPolicy()
    jitter: Callable[[], float] = _half


class Deadline:
    """The latest monotonic reading of a flow and the moment its time runs out."""

    def __init__(self, now: float, seconds: float) -> None:
        self.now = now
        self.at = now + seconds

    @property
    def left(self) -> float:
        """Seconds left at the latest reading (never negative)."""
        return max(0.0, self.at - self.now)

    def remaining(self) -> Flow[float]:
        """Read the clock, then return the seconds left."""
        self.now = yield Now()
        return self.left


def start_deadline(seconds: Optional[float]) -> Flow[Optional[Deadline]]:
    """A deadline ``seconds`` from now (read from the runner), or None without a limit."""
    if seconds is None:
        return None
    return Deadline((yield Now()), seconds)


def redirect(request: Request, response: Response) -> Optional[Request]:
    """The request that follows ``response`` to its Location, or None if there is none to follow.

    307/308 repeat the request as it was; 301/302/303 are followed for GET only (a client would
    turn any other method into a bodiless GET). A request carrying credentials follows only
    redirects within its origin (scheme, host, port), so that they never travel to another
    host; one without (a download, a presigned upload) follows any http(s) redirect.

    Raises:
        ProtocolError: a redirect to another origin with credentials, or to a malformed URL.
    """
    location = response.header("Location")
    if response.status not in _REDIRECT_STATUSES or not location:
        return None
    if response.status not in (307, 308) and request.method != "GET":
        return None
    target = urldefrag(urljoin(request.url, location.strip())).url
    parts = urlsplit(target)
    try:
        same_origin = origin_of(target) == origin_of(request.url)
    except InvalidArgumentError:
        raise protocol_error(response, "redirect to a malformed URL") from None
    if not same_origin and request.carries_credentials:
        where = parts.netloc.rpartition("@")[2] or f"a {parts.scheme or 'relative'} URL"
        raise protocol_error(
            response, f"refused to follow a redirect to another host ({where}); credentials stay home"
        )
    if parts.scheme not in ("http", "https"):
        raise protocol_error(response, "redirect to a URL that is not http(s)")
    if _BAD_URL_CHAR.search(target) or "@" in parts.netloc:
        raise protocol_error(response, "redirect to a malformed URL")
    return replace(request, url=target)


def declared_length(answer: Answer) -> Optional[int]:
    """The body length ``answer`` announces, when its body arrives as stored (no encoding)."""
    encoding = (answer.header("Content-Encoding") or "identity").strip().lower()
    value = (answer.header("Content-Length") or "").strip()
    if encoding != "identity" or not value.isdigit():
        return None  # a decoded body need not match the encoded length
    return int(value)


def _checked(outcome: StreamedOutcome) -> StreamedOutcome:
    """A streamed body cut short, or shorter or longer than its Content-Length, as the failure
    it is."""
    if isinstance(outcome, StreamedResponse):
        if outcome.failure is not None:
            return outcome.failure
        expected = declared_length(outcome)
        if expected is not None and outcome.received != expected:
            detail = f"the body ended at {outcome.received} of its {expected} bytes"
            return TransportFailure(
                kind=FailureKind.READ, detail=detail, request_written=True, response_started=True
            )
    return outcome


def _network_error(
    failure: TransportFailure,
    request: Request,
    attempts: int,
    *,
    streamed: bool,
    answer: Optional[StreamedResponse],
) -> TransportError:
    """The error for a failure that will not be repeated; a broken download is a DownloadError.

    ``answer`` is the last attempt's streamed answer, when its body had begun.
    """
    if not (streamed and failure.response_started):
        return transport_error_from_failure(failure, url=request.url, attempts=attempts)
    url = request.url.split("?", 1)[0]
    message = (
        f"download of {url} incomplete after {attempts} attempt{'s' if attempts != 1 else ''}: "
        f"{failure.detail}"
    )
    return DownloadError(
        message,
        url=url,
        received=None if answer is None else answer.received,
        expected=None if answer is None else declared_length(answer),
        kind=failure.kind.value,
        attempts=attempts,
    )


def _retrying(
    request: Request, attempt: int, delay: float, outcome: Union[Response, TransportFailure], now: float
) -> Retrying:
    """The event announcing the repeat of ``request`` after ``outcome`` (``now``: the wall clock,
    for a Retry-After date)."""
    url = request.url.split("?", 1)[0]
    if isinstance(outcome, TransportFailure):
        failure = outcome.kind.value
        return Retrying(method=request.method, url=url, attempt=attempt, delay=delay, failure=failure)
    told = retry_after_seconds(outcome, now=now)
    return Retrying(
        method=request.method, url=url, attempt=attempt, delay=delay, status=outcome.status, retry_after=told
    )


def exchange(
    request: Request,
    env: FlowEnv,
    deadline: Optional[Deadline] = None,
    *,
    repeatable: bool,
    streamed: bool = False,
    history: Optional[list[StreamedOutcome]] = None,
) -> Flow[Answer]:
    """Send ``request`` until it is answered for good; return the final answer (any status).

    Args:
        request: the first request (a redirect replaces it).
        env: the retry policy and jitter.
        deadline: the caller's deadline, or None; no wait runs past it.
        repeatable: the request may be repeated even after the server may have acted on it.
        streamed: send ``StreamedSend`` (the 2xx body goes to the runner's sink) and check the
            received length against Content-Length.
        history: when given, every outcome is appended to it.

    Raises:
        TransportError: the network failed for good (DownloadError once a streamed body began).
        ProtocolError: a redirect that may not be followed, or more than ``MAX_REDIRECTS``.
    """
    attempt = 0
    redirects = 0
    while True:
        attempt += 1
        streamed_answer: Optional[StreamedResponse] = None
        timeout = None if deadline is None else (yield from deadline.remaining())
        outcome: StreamedOutcome
        if streamed:
            outcome = yield StreamedSend(request=request, timeout=timeout, attempt=attempt)
            if isinstance(outcome, StreamedResponse):
                streamed_answer = outcome
            outcome = _checked(outcome)
        else:
            outcome = yield Send(request=request, timeout=timeout, attempt=attempt)
        if history is not None:
            history.append(outcome)
        if isinstance(outcome, StreamedResponse) or (isinstance(outcome, Response) and outcome.status < 300):
            return outcome  # the usual case: answered, nothing to repeat or follow
        now: float = yield Now()
        if deadline is not None:
            deadline.now = now
        wall: float = yield Now(wall=True)
        decision = env.retry.decide(
            attempt,
            outcome,
            repeatable=repeatable,
            jitter=env.jitter(),
            now=wall,
            remaining=None if deadline is None else deadline.left,
        )
        if isinstance(decision, GiveUp):
            if isinstance(outcome, TransportFailure):
                raise _network_error(outcome, request, attempt, streamed=streamed, answer=streamed_answer)
            following = redirect(request, outcome)
            if following is None:
                return replace(outcome, request=request)  # an error names the request it answers
            redirects += 1
            if redirects > MAX_REDIRECTS:
                raise protocol_error(outcome, f"more than {MAX_REDIRECTS} redirects")
            request, attempt = following, 0
            continue
        yield Notify(event=_retrying(request, attempt, decision.delay, outcome, wall))
        now = yield Sleep(seconds=decision.delay)
        if deadline is not None:
            deadline.now = now


def send_once(request: Request) -> Flow[Optional[Response]]:
    """Send ``request`` a single time, with no deadline; None if the network failed."""
    outcome = yield Send(request=request)
    return replace(outcome, request=request) if isinstance(outcome, Response) else None
