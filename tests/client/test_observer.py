"""When a call is watched: only while a hook, a tracer provider or an INFO logger wants to know.

The one test per call that decides it is what a program that observes nothing pays
(``python -m bench otel`` measures it); these tests pin down what it answers.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any, Iterator

import pytest

from higgsfield_client._observe import Observer, check_hooks, tracer
from higgsfield_client._runner import Call
from higgsfield_proto import Send


def _flow() -> Iterator[Any]:
    yield Send  # never run: only the wrapping is looked at


@pytest.fixture
def quiet_logger() -> Iterator[None]:
    logger = logging.getLogger("higgsfield_client")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@pytest.mark.usefixtures("no_tracer_provider", "quiet_logger")
def test_a_call_nothing_watches_runs_its_own_flow() -> None:
    import opentelemetry.trace  # noqa: F401  - loaded, as by an instrumented library: still no provider

    assert tracer() is None
    assert Observer().watch(Call(flow=_flow())) is None


@pytest.mark.usefixtures("no_tracer_provider", "quiet_logger")
def test_a_hook_an_info_logger_or_a_tracer_provider_each_watch_a_call(spans: Any) -> None:
    call = Call(flow=_flow(), action="status", subject="r1")
    assert Observer().watch(call) is not None  # the spans fixture set a provider
    spans_off = Observer(check_hooks({"retry": [print]}, blocking=True))
    assert spans_off.watch(call) is not None


@pytest.mark.usefixtures("no_tracer_provider")
def test_an_info_logger_watches_a_call() -> None:
    logger = logging.getLogger("higgsfield_client")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert Observer().watch(Call(flow=_flow())) is not None
    finally:
        logger.setLevel(level)


def test_a_tracer_provider_named_by_the_environment_is_found() -> None:
    # OpenTelemetry loads a provider named by OTEL_PYTHON_TRACER_PROVIDER on first use.
    code = (
        "import opentelemetry.trace; from higgsfield_client._observe import tracer; "
        "found = tracer(); assert found is not None, found; print(type(found).__module__)"
    )
    env = {**os.environ, "OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "opentelemetry.sdk.trace"


@pytest.mark.parametrize(
    ("provider", "environment"),
    [
        ("opentelemetry.trace.NoOpTracerProvider()", {}),
        ("opentelemetry.sdk.trace.TracerProvider()", {"OTEL_SDK_DISABLED": "true"}),  # no-op tracers
    ],
)
def test_a_provider_that_traces_nothing_is_no_provider(provider: str, environment: dict[str, str]) -> None:
    code = (
        "import opentelemetry.trace, opentelemetry.sdk.trace; "
        f"opentelemetry.trace.set_tracer_provider({provider}); "
        "from higgsfield_client._observe import tracer; assert tracer() is None"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, **environment}, check=True)


def test_without_logging_loaded_no_logger_is_looked_up() -> None:
    code = (
        "import sys, higgsfield_client; from higgsfield_client._logs import INFO, logger_at; "
        "assert logger_at(INFO) is None; assert 'logging' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_header_that_only_looks_like_a_rate_limit_leaves_the_limits_alone() -> None:
    from higgsfield_proto import Request, Response

    observer = Observer()
    before = observer.rate_limits
    send = Send(request=Request(method="GET", url="https://api.example/requests/r1/status"))
    observer.saw(send, Response(status=200, headers=(("X-Old-Retry-After-Hint", "3"),)))
    assert observer.rate_limits is before
    observer.saw(send, Response(status=429, headers=(("Retry-After", "3"),)))
    assert observer.rate_limits.retry_after == 3.0
