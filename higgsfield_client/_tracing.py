"""OpenTelemetry spans of jobs, agent turns, HTTP exchanges and batches.

Loaded on the first call made once an application has loaded ``opentelemetry.trace`` (the ``otel``
extra: ``opentelemetry-api``), and used only while a tracer provider is configured. The HTTP
spans follow the OpenTelemetry HTTP client conventions; every attribute is built from redacted
values (``_observe``): no credential, no URL query, no header value.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, Optional, Union
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.environment_variables import OTEL_PYTHON_TRACER_PROVIDER
from opentelemetry.trace import (
    NoOpTracer,
    NoOpTracerProvider,
    ProxyTracerProvider,
    Span,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
)

from higgsfield_proto import Retrying, Send, StreamedOutcome, StreamedSend, TransportFailure

from ._observe import RATE_PREFIX as _RATE_PREFIX
from ._observe import RateLimits
from ._redact import redacted_url

SCOPE = "higgsfield_client"
"""The instrumentation scope's name."""

_seen: tuple[object, Optional[Tracer]] = (None, None)
# Whether the environment names a provider for the API to load (read once: a process's setting).
_FROM_ENVIRONMENT = OTEL_PYTHON_TRACER_PROVIDER in os.environ
_UNREAD = object()


def tracer(trace_api: ModuleType) -> Optional[Tracer]:
    """This package's tracer from the global tracer provider, or None when none is configured
    (the API's proxy or no-op provider, or a provider that hands out no-op tracers).

    This runs for every call. ``get_tracer_provider()`` looks the environment up each time it is
    called, which costs a few percent of a status call, so the API's global is read directly
    while it is there, the public function used only when the environment names a provider, or
    when a later API version keeps the global elsewhere. The tracer is made again only when the
    provider changes.
    """
    global _seen
    given: Any = getattr(trace_api, "_TRACER_PROVIDER", _UNREAD)
    if given is None and not _FROM_ENVIRONMENT:
        return None  # the usual case without tracing: no provider set
    provider: TracerProvider = (
        trace_api.get_tracer_provider() if given is None or given is _UNREAD else given
    )
    seen, found = _seen
    if provider is seen:
        return found
    found = None
    if not isinstance(provider, (ProxyTracerProvider, NoOpTracerProvider)):
        made = provider.get_tracer(SCOPE)
        found = None if isinstance(made, NoOpTracer) else made
    _seen = (provider, found)
    return found


def fail(span: Span, error: BaseException) -> None:
    """Mark ``span`` as failed by ``error``: its type as ``error.type``, and an ``exception`` event
    with the type and message (the package's messages hold no secret; no stack trace is kept)."""
    kind = "cancelled" if isinstance(error, GeneratorExit) else type(error).__qualname__
    message = "the call was cancelled" if isinstance(error, GeneratorExit) else str(error)
    span.set_attribute("error.type", kind)
    span.add_event("exception", {"exception.type": kind, "exception.message": message})
    span.set_status(Status(StatusCode.ERROR, message))


@contextlib.contextmanager
def current_span(tracer: Tracer, name: str, attributes: Mapping[str, Any], parent: Any) -> Iterator[Span]:
    """Start a span, make it current while the block runs, end it after; a block that raises
    marks it failed."""
    span = tracer.start_span(name, context=parent, attributes=dict(attributes))
    try:
        with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
            yield span
    except BaseException as error:
        fail(span, error)
        raise
    finally:
        span.end()


class Spans:
    """The spans of one watched call, under the context that was current when it began."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self.parent = otel_context.get_current()

    def start(self, name: str, attributes: Mapping[str, Any]) -> Span:
        """A span of the call's own (a job, a turn) under the caller's current one."""
        return self._tracer.start_span(name, context=self.parent, attributes=dict(attributes))

    def exchange(self, effect: Union[Send, StreamedSend], under: Optional[Span]) -> Span:
        """The CLIENT span of one HTTP exchange, under ``under`` (the job's or turn's span) or
        else under the caller's current span."""
        request = effect.request
        parts = urlsplit(request.url)  # a URL the core built or checked: its port is a number
        attributes: dict[str, Any] = {
            "http.request.method": request.method,
            "url.full": redacted_url(request.url),
            "server.address": parts.hostname or "",
            "server.port": parts.port or (443 if parts.scheme == "https" else 80),
        }
        if effect.attempt > 1:
            attributes["http.request.resend_count"] = effect.attempt - 1
        context = self.parent if under is None else trace.set_span_in_context(under, self.parent)
        return self._tracer.start_span(
            request.method, context=context, kind=SpanKind.CLIENT, attributes=attributes
        )


def answered(span: Span, answer: StreamedOutcome, limits: Optional[RateLimits], slow_down: bool) -> None:
    """Set what an exchange's answer says on its span: the status code, or the failure as
    ``error.type``; the ``x-ratelimit-*`` values it carries, and a ``higgsfield.rate_limit`` event
    when it asks the client to slow down (``slow_down``: a 429, or a Retry-After)."""
    if isinstance(answer, TransportFailure):
        span.set_attribute("error.type", answer.kind.value)
        span.set_status(Status(StatusCode.ERROR, f"{answer.kind.value} failure"))
        return
    span.set_attribute("http.response.status_code", answer.status)
    correlation = answer.header("X-Correlation-ID")
    if correlation:
        span.set_attribute("higgsfield.correlation_id", correlation)
    if answer.status >= 400:
        span.set_attribute("error.type", str(answer.status))
        span.set_status(Status(StatusCode.ERROR))
    if limits is None:
        return
    told = {
        f"higgsfield.ratelimit.{name[len(_RATE_PREFIX) :]}": value for name, value in limits.headers.items()
    }
    span.set_attributes(told)
    if slow_down:
        attributes: dict[str, Any] = {"http.response.status_code": answer.status, **told}
        if limits.retry_after is not None:
            attributes["higgsfield.retry_after"] = limits.retry_after
        span.add_event("higgsfield.rate_limit", attributes)


def retried(span: Span, event: Retrying) -> None:
    """A ``higgsfield.retry`` event on the span of the exchange that is repeated."""
    attributes: dict[str, Any] = {
        "higgsfield.retry.reason": event.reason,
        "higgsfield.retry.delay": event.delay,
        "higgsfield.retry.attempt": event.attempt,
    }
    if event.retry_after is not None:
        attributes["higgsfield.retry_after"] = event.retry_after
    span.add_event("higgsfield.retry", attributes)


def now_ns() -> int:
    """The time to end a span with, taken when its exchange ended."""
    return time.time_ns()
