"""A request id from the server becomes a path of the next URL: an unusable one is refused."""

from __future__ import annotations

import pytest
from proto_support import json_response

from higgsfield_proto import (
    ApiConfig,
    Credentials,
    ProtocolError,
    build_status_request,
    job_status_from_payload,
    parse_submit_response,
)


@pytest.mark.parametrize("request_id", ["..", ".", "x" * 201, "a\nb", " lead", "\x7f"])
def test_an_unusable_request_id_is_a_protocol_error(request_id: str) -> None:
    with pytest.raises(ProtocolError, match="unusable request id"):
        parse_submit_response(json_response(200, {"status": "queued", "request_id": request_id}))
    with pytest.raises(ProtocolError, match="unusable request id"):
        job_status_from_payload({"status": "completed", "id": request_id})


@pytest.mark.parametrize("request_id", ["../../files/x", "a/b", "with space", "caf\u00e9"])
def test_an_id_with_path_characters_is_kept_and_encoded_into_one_segment(request_id: str) -> None:
    job = parse_submit_response(json_response(200, {"status": "queued", "request_id": request_id}))
    assert job.request_id == request_id
    config = ApiConfig(credentials=Credentials(key_id="k", secret="s"))
    url = build_status_request(config, job.request_id).url
    assert url.startswith("https://api.higgsfield.ai/requests/")
    assert url.endswith("/status")
    assert url.count("/") == len(["https:", "", "api.higgsfield.ai", "requests", "x", "status"]) - 1


def test_a_usable_request_id_is_kept() -> None:
    status = parse_submit_response(json_response(200, {"status": "queued", "request_id": "abc-1.2_~X"}))
    assert status.request_id == "abc-1.2_~X"
