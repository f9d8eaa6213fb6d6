"""No secret in anything observability exports: span names, attributes, events and statuses, log
records (message and fields), event hook values. A property test: random API key secrets,
webhook URL tokens and passwords, a download URL's password, and the storage's signatures,
through uploads, retries, rate limits, a subscribe, a download, a cancel and an error, under the
sync client, asyncio and trio."""

from __future__ import annotations

import logging
import string
import tempfile
from pathlib import Path
from typing import Any, List

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from higgsfield_client import NotFoundError
from higgsfield_client.testing import Emulator

from .harness import FAST_POLL, FAST_RETRY, Harness

MODEL = "higgsfield-ai/soul/standard"
secrets = st.text(alphabet=string.ascii_letters + string.digits, min_size=16, max_size=40)


def exported_texts(spans: Any, records: List[logging.LogRecord], hooked: List[Any]) -> List[str]:
    """Everything a span exporter, a log handler or a hook could pass on, as text."""
    texts: List[str] = []
    for span in spans.finished():
        texts.append(span.name)
        texts.extend(f"{key}={value!r}" for key, value in (span.attributes or {}).items())
        texts.append(str(span.status.description))
        for event in span.events:
            texts.append(event.name)
            texts.extend(f"{key}={value!r}" for key, value in (event.attributes or {}).items())
    for record in records:
        texts.append(record.getMessage())
        texts.append(repr(vars(record)))
    texts.extend(repr(value) for value in hooked)
    return texts


@pytest.mark.parametrize("transport", ["requests", "aiohttp", "trio"])
# No shrinking: an example costs a few seconds, and a random secret is as telling as a short one.
@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(key_secret=secrets, token=secrets, password=secrets)
def test_no_secret_reaches_a_span_a_log_record_or_a_hook(
    transport: str,
    key_secret: str,
    token: str,
    password: str,
    spans: Any,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    spans.clear()
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="higgsfield_client")
    hooked: List[Any] = []
    hooks = {"request": [hooked.append], "response": [hooked.append], "retry": [hooked.append]}
    # The webhook goes to a closed loopback port: deliveries fail at once, and nothing else learns it.
    webhook = f"http://hooks:{password}@127.0.0.1:9/done?token={token}"
    with Emulator(api_key=f"key-id:{key_secret}", queue_time=0.0, run_time=0.0, retry_after=0) as emulator:
        harness = Harness(transport=transport, emulator=emulator)

        async def scenario(client: Any) -> None:
            image = await client.upload(b"\x89PNG not really", "image/png")
            emulator.script_fault("status", "429")
            emulator.script_fault("status", "503")
            result = await client.subscribe(
                MODEL, {"prompt": "a harbour", "image_url": image}, webhook_url=webhook
            )
            # An output URL with a password in it, answered 503 once: a retry names the URL.
            emulator.script_fault("output", "503")
            output = result.images[0].url.replace("http://", f"http://fetch:{password}@", 1)
            await client.download(output, tempfile.mkdtemp(dir=tmp_path))  # a folder of the example's own
            emulator.script_next_job(queue_time=60.0)
            controller = await client.submit(MODEL, {"prompt": "never mind"}, webhook_url=webhook)
            await controller.cancel()
            with pytest.raises(NotFoundError):
                await client.status("00000000-0000-4000-8000-000000000000")

        harness.run(scenario, event_hooks=hooks, poll=FAST_POLL, retry=FAST_RETRY)
        (put,) = [entry for entry in emulator.journal if entry.route == "put"]
        signature = put.query["X-Amz-Signature"]

    records = [record for record in caplog.records if record.name.startswith("higgsfield_")]
    # All of it was observed: jobs, retries, a rate limit, exchanges, hooks.
    assert [span.attributes["higgsfield.job.status"] for span in spans.named("higgsfield.job")] == [
        "completed",
        "canceled",
    ]
    assert {event.name for span in spans.finished() for event in span.events} >= {
        "higgsfield.retry",
        "higgsfield.rate_limit",
    }
    assert {record.levelno for record in records} == {logging.DEBUG, logging.INFO, logging.WARNING}
    assert len(hooked) >= 15
    for text in exported_texts(spans, records, hooked):
        for secret in (key_secret, token, password, signature):
            assert secret not in text
