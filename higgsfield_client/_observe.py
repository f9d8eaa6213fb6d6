"""What a client observes of the calls it runs: rate limits and retry warnings always; spans,
event hooks and job logs while something watches.

Every call pays one test (``Observer.watch``): are there event hooks, is OpenTelemetry loaded with
a tracer provider configured, does the ``higgsfield_client`` logger write INFO records? When
none is the case - the usual one - the call runs its flow as it is; otherwise ``_watch`` puts a
watching flow around it. Every answer is looked at for rate-limit headers (``saw``), and every
retry is logged as a warning (``notified``), whether watched or not. Nothing here loads
``logging`` or ``opentelemetry``: the first is looked up once loaded by someone else, the second
is used only once the application has loaded it.
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import operator
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, Protocol, TypeVar, Union

from higgsfield_proto import (
    Headers,
    InvalidArgumentError,
    JobStatus,
    Response,
    Retrying,
    StreamedOutcome,
    StreamedResponse,
    TransportFailure,
    retry_after_seconds,
)

from ._logs import INFO, WARNING, logger_at
from ._redact import redacted_url

if TYPE_CHECKING:
    from higgsfield_proto import Send, StreamedSend

    from ._budget import JobPrice
    from ._runner import Call, WatchedFlow

T = TypeVar("T")
Hook = Callable[[Any], Any]
EventHooks = Mapping[str, Sequence[Hook]]
"""``{"request": [...], "response": [...], "retry": [...]}``: functions called with a
``RequestInfo`` before each exchange, a ``ResponseInfo`` after it, and the ``Retrying`` event
before each repeat (the names are httpx's)."""
HOOK_NAMES = ("request", "response", "retry")

RATE_PREFIX = "x-ratelimit-"
_first = operator.itemgetter(0)
_MODULES = sys.modules

ITEM: contextvars.ContextVar[tuple[Optional[str], Optional[JobPrice]]] = contextvars.ContextVar(
    "higgsfield_item", default=(None, None)
)
"""The id of the batch item whose work runs in this context, and its price under the batch's
budget: its job spans carry them."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestInfo:
    """What a ``request`` event hook gets: a request about to be sent, redacted.

    Attributes:
        method: the HTTP method.
        url: the URL without its query or user info (a presigned URL's signature stays out).
        headers: the headers, with the values of credentials, cookies and tokens redacted.
        attempt: 1 for the first time this request is sent, 2 for its first repeat, and so on.
    """

    method: str
    url: str
    headers: Headers = ()
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseInfo:
    """What a ``response`` event hook gets: how one exchange ended, redacted.

    Attributes:
        request: the request, as its ``request`` hooks saw it.
        status: the HTTP status, or None when the network failed.
        headers: the answer's headers (cookies redacted); empty when the network failed.
        elapsed: seconds from sending to the answer (its body included, unless streamed).
        failure: the network failure's kind (``"connect"``, ``"timeout"``...), or None.
    """

    request: RequestInfo
    status: Optional[int] = None
    headers: Headers = ()
    elapsed: float = 0.0
    failure: Optional[str] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    """The rate-limit facts of the last answer that carried any (``client.rate_limits``).

    The API answers a full queue with ``429`` and ``Retry-After``; ``x-ratelimit-*`` headers are
    kept too, when an answer has them.

    Attributes:
        headers: the answer's ``x-ratelimit-*`` headers, names in lower case.
        retry_after: the seconds its ``Retry-After`` asked for, or None.
        status: its HTTP status, or None before any answer carried rate-limit facts.
        url: the URL it answered (without its query).
        seen_at: when it arrived (Unix time), or None.
    """

    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: Optional[float] = None
    status: Optional[int] = None
    url: Optional[str] = None
    seen_at: Optional[float] = None

    def _number(self, suffix: str) -> Optional[float]:
        try:
            return float(self.headers[RATE_PREFIX + suffix])
        except (KeyError, ValueError):
            return None

    @property
    def limit(self) -> Optional[float]:
        """``x-ratelimit-limit`` as a number, if the answer had it."""
        return self._number("limit")

    @property
    def remaining(self) -> Optional[float]:
        """``x-ratelimit-remaining`` as a number, if the answer had it."""
        return self._number("remaining")

    @property
    def reset(self) -> Optional[float]:
        """``x-ratelimit-reset`` as a number, if the answer had it."""
        return self._number("reset")


def rate_limits_of(answer: Union[Response, StreamedResponse], url: str) -> Optional[RateLimits]:
    """The rate-limit facts ``answer`` carries, or None when it carries none."""
    limits = {name.lower(): value for name, value in answer.headers if name.lower().startswith(RATE_PREFIX)}
    told = answer.header("Retry-After")
    if not limits and told is None:
        return None
    wall = time.time()
    retry_after = retry_after_seconds(answer, now=wall) if isinstance(answer, Response) else None
    return RateLimits(
        headers=limits, retry_after=retry_after, status=answer.status, url=redacted_url(url), seen_at=wall
    )


def is_rate_limit_answer(limits: RateLimits) -> bool:
    """True for an answer that asks the client to slow down: a 429, or any Retry-After."""
    return limits.status == 429 or limits.retry_after is not None


def check_hooks(
    event_hooks: Optional[EventHooks], *, blocking: bool
) -> Optional[dict[str, tuple[Hook, ...]]]:
    """The event hooks, checked; None when there are none.

    Args:
        event_hooks: a mapping of ``"request"``, ``"response"`` and ``"retry"`` to lists of
            callables.
        blocking: they are for the sync client, where a coroutine function cannot be awaited.

    Raises:
        InvalidArgumentError: an unknown event name, a value that is not a list of callables, or
            a coroutine function given to the sync client.
    """
    if event_hooks is None:
        return None
    if not isinstance(event_hooks, Mapping):
        raise InvalidArgumentError(
            "event_hooks must be a mapping of event names to lists of functions, "
            f"got {type(event_hooks).__name__}"
        )
    checked: dict[str, tuple[Hook, ...]] = {}
    for name, given in event_hooks.items():
        hooks: object = given
        if name not in HOOK_NAMES:
            raise InvalidArgumentError(f"unknown event hook {name!r}: use {', '.join(map(repr, HOOK_NAMES))}")
        if isinstance(hooks, (str, bytes)) or not isinstance(hooks, Sequence):
            raise InvalidArgumentError(f"event_hooks[{name!r}] must be a list of functions")
        for hook in hooks:
            if not callable(hook):
                raise InvalidArgumentError(
                    f"event_hooks[{name!r}] holds {type(hook).__name__}, not a function"
                )
            if blocking and inspect.iscoroutinefunction(hook):
                raise InvalidArgumentError(
                    f"event_hooks[{name!r}] holds a coroutine function: use AsyncClient, "
                    "or pass a plain function"
                )
        if hooks:
            checked[name] = tuple(hooks)
    return checked or None


_tracing: Optional[ModuleType] = None


def tracer() -> Any:
    """The OpenTelemetry tracer of this package, or None: OpenTelemetry is not loaded (an
    application that configures a tracer provider has loaded it), or no provider is configured.

    ``_tracing`` is imported on the first call that finds ``opentelemetry.trace`` loaded.
    """
    trace_api = sys.modules.get("opentelemetry.trace")
    if trace_api is None:
        return None
    global _tracing
    if _tracing is None:
        from . import _tracing as module

        _tracing = module
    return _tracing.tracer(trace_api)


def current_context() -> Any:
    """The OpenTelemetry context of the caller (its current span), or None when not tracing."""
    return None if tracer() is None else sys.modules["opentelemetry.context"].get_current()


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any], *, parent: Any = None) -> Iterator[Any]:
    """A span of the caller's (a batch, an item) made current in this context while the block
    runs, ended when it ends; nothing when not tracing. Yields the span, or None.

    Args:
        name: the span's name.
        attributes: its attributes (no secret may be among them).
        parent: the context to start it in (``current_context()`` taken in another thread, say);
            default: the current one.
    """
    found = tracer()
    if found is None:
        yield None
        return
    assert _tracing is not None
    with _tracing.current_span(found, name, attributes, parent) as made:
        yield made


@contextlib.contextmanager
def item(item_id: str, price: Optional[JobPrice] = None) -> Iterator[Any]:
    """A batch item's span (``higgsfield.batch.item``, with the item id) made current, and the
    item id and ``price`` (what the batch's budget counted for it) given to the job spans
    started inside; yields the span, or None when not tracing."""
    token = ITEM.set((item_id, price))
    try:
        with span("higgsfield.batch.item", {"higgsfield.batch.item_id": item_id}) as made:
            yield made
    finally:
        ITEM.reset(token)


class Jobs(Protocol):
    """The jobs a client follows between calls (``_watch.JobBook``, made by the first watched call)."""

    def ended(self, status: JobStatus) -> None:
        """Stop following the job of ``status``, a final one, and end its span."""
        ...

    def close(self) -> None:
        """End every open job's span."""
        ...


class Observer:
    """What one client observes of the calls it runs (see the module docstring).

    Args:
        hooks: the checked event hooks (``check_hooks``), or None.

    Attributes:
        rate_limits: the rate-limit facts of the last answer that carried any.
        jobs: the jobs this client submitted and has not seen end yet, while something watches.
    """

    def __init__(self, hooks: Optional[dict[str, tuple[Hook, ...]]] = None) -> None:
        self.hooks = hooks
        self.rate_limits = RateLimits()
        self.jobs: Optional[Jobs] = None

    def watch(self, call: Call[T, Any]) -> Optional[WatchedFlow[T]]:
        """The call's flow wrapped to be watched, or None when nothing watches it."""
        # Every call runs this: without OpenTelemetry loaded, not even ``tracer()`` is called.
        found = None if _MODULES.get("opentelemetry.trace") is None else tracer()
        logger = logger_at(INFO)
        if found is None and logger is None and self.hooks is None:
            return None
        from ._watch import watched

        return watched(call, self, found, logger)

    def saw(self, effect: Union[Send, StreamedSend], answer: StreamedOutcome) -> None:
        """Keep the rate-limit facts of ``answer``, if it has any, and warn of a rate limit."""
        if isinstance(answer, TransportFailure):
            return
        names = " ".join(map(_first, answer.headers)).lower()  # one pass in C: this runs for every answer
        if RATE_PREFIX not in names and "retry-after" not in names:
            return
        limits = rate_limits_of(answer, effect.request.url)
        if limits is None:
            return
        self.rate_limits = limits
        if is_rate_limit_answer(limits):
            warn_rate_limit(effect.request.method, limits)

    def notified(self, event: object) -> None:
        """Warn of a retry."""
        if isinstance(event, Retrying):
            logger = logger_at(WARNING)
            if logger is not None:
                after = "" if event.retry_after is None else f"; Retry-After {event.retry_after:g} s"
                url = redacted_url(event.url)
                logger.warning(
                    "retrying %s %s: attempt %d failed (%s); next attempt in %.2f s%s",
                    event.method,
                    url,
                    event.attempt,
                    event.reason,
                    event.delay,
                    after,
                    extra={
                        "http_method": event.method,
                        "http_url": url,
                        "attempt": event.attempt,
                        "reason": event.reason,
                        "delay": event.delay,
                        "retry_after": event.retry_after,
                    },
                )

    def ended(self, status: JobStatus) -> None:
        """A job's final status, learnt outside the client's calls (from its webhook): the job is
        followed no more, and its span ends."""
        if self.jobs is not None:
            self.jobs.ended(status)

    def close(self) -> None:
        """End the spans of jobs still open (the client is closed: it will not see them end)."""
        if self.jobs is not None:
            self.jobs.close()


def warn_rate_limit(method: str, limits: RateLimits) -> None:
    """Log a rate-limit answer as a warning."""
    logger = logger_at(WARNING)
    if logger is None:
        return
    after = "" if limits.retry_after is None else f"; Retry-After {limits.retry_after:g} s"
    told = "".join(f"; {name} {value}" for name, value in sorted(limits.headers.items()))
    logger.warning(
        "rate limited: %s %s answered %s%s%s",
        method,
        limits.url,
        limits.status,
        after,
        told,
        extra={
            "http_method": method,
            "http_url": limits.url,
            "http_status": limits.status,
            "retry_after": limits.retry_after,
            "rate_limits": dict(limits.headers),
        },
    )
