"""Secrets stay secret: with DEBUG logging on the root logger, a whole workflow (uploads, jobs
that complete and fail, a wrong key, network faults) leaves neither the API secret nor a presigned
URL's signature in any log record, repr, str or exception text; and the safety rails for TLS
verification and plain http hold (test_tls checks the warning for verify=False)."""

from __future__ import annotations

import logging
import traceback
from typing import Any, List, Set
from urllib.parse import urlencode

import anyio
import pytest

from higgsfield_client import (
    AsyncClient,
    AuthenticationError,
    InvalidArgumentError,
    JobFailedError,
    SyncClient,
)
from higgsfield_client.testing import Emulator
from higgsfield_proto import Credentials, UploadTarget, build_upload_put_request

from .support import IMAGE_MODEL, harness_for

WRONG_KEY = "intruder-id:wrong-secret-77aa"


def texts_of(value: Any) -> List[str]:
    """``repr`` and ``str`` of a value, and for an exception its attributes and traceback too."""
    found = [repr(value), str(value)]
    if isinstance(value, BaseException):
        found.append("".join(traceback.format_exception(type(value), value, value.__traceback__)))
        found.extend(repr(attribute) for attribute in vars(value).values())
    return found


def test_no_secret_reaches_logs_reprs_or_errors(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug records too
    seen: List[Any] = []
    with Emulator(queue_time=0.0, run_time=0.02, retry_after=0, seed=11) as emu:
        faults = [("submit", "drop"), ("status", "503"), ("put", "truncate"), ("upload-url", "429")]
        for route, kind in faults:
            emu.script_fault(route, kind)
        harness = harness_for(transport, emu)

        async def scenario(client: Any) -> None:
            seen.append(client)
            seen.append(await client.upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png"))
            result = await client.subscribe(IMAGE_MODEL, {"prompt": "a lake"}, on_queue_update=seen.append)
            seen.extend([result, result.images])
            controller = await client.submit(IMAGE_MODEL, {"prompt": "[fail] please"})
            seen.append(controller)
            seen.append(await controller.status())
            seen.append(await controller.get())  # the failed job's result
            with pytest.raises(JobFailedError) as failed:
                await controller.get(raise_on_failure=True)
            seen.append(failed.value)
            seen.append(await client.estimate(IMAGE_MODEL, {"prompt": "x"}))

        async def intruder(client: Any) -> None:
            seen.append(client)
            with pytest.raises(AuthenticationError) as refused:
                await client.subscribe(IMAGE_MODEL, {"prompt": "x"})
            seen.append(refused.value)

        harness.run(scenario)
        harness.run(intruder, api_key=WRONG_KEY)
        puts = [entry for entry in emu.journal if entry.route == "put"]
        signatures: Set[str] = {value for entry in puts for value in entry.query.getall("X-Amz-Signature")}
        upload_url = f"{emu.base_url}{puts[0].path}?{urlencode(list(puts[0].query.items()))}"
        secret = emu.api_key.split(":", 1)[1]

    assert signatures, "the workflow made no upload"
    headers = (("Content-Type", "image/png"),)
    target = UploadTarget(
        public_url=seen[1], upload_url=upload_url, content_type="image/png", upload_headers=headers
    )
    credentials = Credentials.from_string(emu.api_key)
    seen.extend([target, build_upload_put_request(target, b"x"), credentials])

    texts = [record.getMessage() for record in caplog.records]
    texts += [record.exc_text or "" for record in caplog.records]
    texts.append(caplog.text)
    for value in seen:
        texts.extend(texts_of(value))
    haystack = "\n".join(texts)
    assert "DEBUG" in caplog.text  # the run really logged at debug level
    for needle in (secret, emu.api_key, WRONG_KEY.split(":")[1], *signatures):
        assert needle not in haystack, f"a secret leaked: ...{needle[-4:]}"


def test_an_invalid_key_is_refused_without_showing_it() -> None:
    key = "no-colon-" + "secret-xyz"  # built, so that the traceback's source line cannot show it
    with pytest.raises(InvalidArgumentError) as caught:
        Credentials.from_string(key)
    assert key not in "".join(texts_of(caught.value))


@pytest.mark.parametrize("base_url", ["http://example.com", "http://10.0.0.5:8080", "HTTP://api.example"])
def test_plain_http_is_refused_for_a_remote_host_unless_explicitly_allowed(base_url: str) -> None:
    # Like the official SDK, a client reads its configuration on first use, not when built.
    client = SyncClient(base_url=base_url, api_key="id:secret")
    with pytest.raises(InvalidArgumentError, match="allow_insecure_http"):
        client.get_request_controller("abc").status_url  # noqa: B018 - reading it is the test
    with pytest.raises(InvalidArgumentError, match="allow_insecure_http"):
        client.status("abc")  # refused before anything is sent

    async def main() -> None:
        async_client = AsyncClient(base_url=base_url, api_key="id:secret")
        with pytest.raises(InvalidArgumentError, match="allow_insecure_http"):
            await async_client.status("abc")

    anyio.run(main)
    allowed = SyncClient(base_url=base_url, api_key="id:secret", allow_insecure_http=True)
    assert allowed.get_request_controller("abc").status_url.endswith("/requests/abc/status")


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_is_accepted_on_loopback(base_url: str) -> None:
    client = SyncClient(base_url=base_url, api_key="id:secret")
    assert client.get_request_controller("abc").status_url.startswith(base_url)
