"""What every test shares: a cache directory of its own, so that no test reads the model catalog
a developer refreshed into their real cache (``higgsfield-sansio models refresh``); ``spans``, a
tracer provider whose spans a test reads."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Tuple

import pytest

Node = Tuple[str, List[str], List[Any]]
"""A span as a test compares it: its label, the names of its events, its children (nodes)."""

_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class SpanLog:
    """The spans a test's code exported, through the OpenTelemetry SDK's in-memory exporter."""

    def __init__(self, exporter: Any) -> None:
        self.exporter = exporter

    def finished(self) -> List[Any]:
        """Every finished span, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> List[Any]:
        """The finished spans called ``name``, in the order they started."""
        return sorted(
            (span for span in self.finished() if span.name == name), key=lambda span: span.start_time
        )

    def clear(self) -> None:
        self.exporter.clear()

    def tree(self) -> List[Node]:
        """The finished spans as trees: each root (a span whose parent was not exported), its
        children in the order they started."""
        finished = sorted(self.finished(), key=lambda span: span.start_time)
        exported = {span.context.span_id for span in finished}
        children: Dict[int, List[Any]] = defaultdict(list)
        roots = []
        for span in finished:
            if span.parent is not None and span.parent.span_id in exported:
                children[span.parent.span_id].append(span)
            else:
                roots.append(span)

        def node(span: Any) -> Node:
            return (
                label(span),
                [event.name for event in span.events],
                [node(c) for c in children[span.context.span_id]],
            )

        return [node(root) for root in roots]


def label(span: Any) -> str:
    """A span in a few words: an HTTP span as ``GET /requests/{id}/status 200 resend=1`` (ids
    templated), a job's as ``job completed``, a turn's, a batch item's, else its name."""
    attributes = span.attributes or {}
    if "http.request.method" in attributes:
        path = attributes["url.full"].split("/", 3)[3]
        templated = "/".join(
            "{id}" if _ID.match(part) or part.endswith(".png") else part for part in path.split("/")
        )
        outcome = attributes.get("http.response.status_code", attributes.get("error.type"))
        resend = attributes.get("http.request.resend_count")
        return f"{attributes['http.request.method']} /{templated} {outcome}" + (
            f" resend={resend}" if resend else ""
        )
    if span.name == "higgsfield.job":
        return f"job {attributes.get('higgsfield.job.status')}"
    if span.name == "higgsfield.agent.turn":
        return f"turn {attributes.get('higgsfield.agent.turn.status')}"
    if span.name == "higgsfield.batch.item":
        item = attributes.get("higgsfield.batch.item_id")
        return f"item {item} {attributes.get('higgsfield.batch.item_status')}"
    return str(span.name)


def _reset_tracer_provider() -> None:
    # The API sets its global provider once per process; tests set one each, as the API's own
    # tests do (opentelemetry.test.globals_test.reset_trace_globals).
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]


@pytest.fixture
def no_tracer_provider() -> Iterator[None]:
    """No global tracer provider before the test, nor after it (for code that sets its own)."""
    _reset_tracer_provider()
    try:
        yield
    finally:
        _reset_tracer_provider()


@pytest.fixture
def spans() -> Iterator[SpanLog]:
    """A global tracer provider (the OpenTelemetry SDK's) for the test, exporting every span to
    memory as it ends; removed afterwards, so that no other test traces."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _reset_tracer_provider()
    trace.set_tracer_provider(provider)
    try:
        yield SpanLog(exporter)
    finally:
        provider.shutdown()
        _reset_tracer_provider()


@pytest.fixture(scope="session", autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("HIGGSFIELD_CACHE_DIR")
    os.environ["HIGGSFIELD_CACHE_DIR"] = str(tmp_path_factory.mktemp("higgsfield-cache"))
    yield
    if before is None:
        del os.environ["HIGGSFIELD_CACHE_DIR"]
    else:
        os.environ["HIGGSFIELD_CACHE_DIR"] = before
