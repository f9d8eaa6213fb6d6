"""See one job: its OpenTelemetry spans printed by the console exporter, and its log lines.

Needs the OpenTelemetry SDK (``pip install opentelemetry-sdk``; the client itself needs only the
API, the ``otel`` extra). Credentials come from HF_KEY (or HF_API_KEY + HF_API_SECRET), the API
root from HIGGSFIELD_BASE_URL if set. Try it locally with the emulator:

    higgsfield-sansio emulator --port 8000     # prints the two export lines to paste
    python examples/observability.py
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import higgsfield_client

MODEL = "higgsfield-ai/soul/standard"


def main() -> None:
    # The application configures tracing and logging; the client only reports to them.
    provider = TracerProvider(resource=Resource.create({"service.name": "postcards"}))
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("higgsfield_client").setLevel(logging.INFO)

    with trace.get_tracer("postcards").start_as_current_span("make a postcard"):
        result = higgsfield_client.subscribe(MODEL, arguments={"prompt": "A lighthouse at dawn"})
    print(f"{result.request_id}: {result['status']}")
    provider.shutdown()


if __name__ == "__main__":
    main()
