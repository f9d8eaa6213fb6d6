"""A request id from the server becomes a path of the next URL: an unusable one is refused."""

from __future__ import annotations

import pytest
from proto_support import json_response

from higgsfield_proto import ProtocolError, job_status_from_payload, parse_submit_response


@pytest.mark.parametrize("request_id", ["../../files/x", "a/b", "..", "with space", "x" * 201, "caf\u00e9"])
def test_an_unusable_request_id_is_a_protocol_error(request_id: str) -> None:
    with pytest.raises(ProtocolError, match="unusable request id"):
        parse_submit_response(json_response(200, {"status": "queued", "request_id": request_id}))
    with pytest.raises(ProtocolError, match="unusable request id"):
        job_status_from_payload({"status": "completed", "id": request_id})


def test_a_usable_request_id_is_kept() -> None:
    status = parse_submit_response(json_response(200, {"status": "queued", "request_id": "abc-1.2_~X"}))
    assert status.request_id == "abc-1.2_~X"
