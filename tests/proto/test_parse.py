"""Response parsers: submit, status, cancel, uploads, estimate, delete, job outcomes."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from typing import Any, Optional

import pytest
from proto_support import (
    CANCEL_URL,
    COMPLETED_IMAGES,
    COMPLETED_VIDEO,
    CORRELATION_ID,
    ESTIMATE,
    FAILED,
    NSFW,
    REQUEST_ID,
    STATUS_URL,
    SUBMITTED,
    UPLOAD_SLOT,
    json_response,
)

from higgsfield_proto import (
    ARTIFACT_KEYS,
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    InvalidArgumentError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobNSFWError,
    JobState,
    NotCancellableError,
    NotFoundError,
    ProtocolError,
    Response,
    ServerError,
    UnknownStatusError,
    UploadRejectedError,
    job_status_from_payload,
    parse_cancel_response,
    parse_delete_response,
    parse_estimate_response,
    parse_status_response,
    parse_submit_response,
    parse_upload_put_response,
    parse_upload_slot_response,
    raise_for_job_outcome,
)

# -- submit ------------------------------------------------------------------------------------


def test_submit_answer_gives_the_queued_job_and_its_urls() -> None:
    job = parse_submit_response(json_response(200, SUBMITTED))
    assert job.state is JobState.QUEUED
    assert job.request_id == REQUEST_ID
    assert job.status_url == STATUS_URL
    assert job.cancel_url == CANCEL_URL
    assert job.payload == SUBMITTED
    assert not job.is_terminal


def test_submit_answer_accepts_id_in_place_of_request_id() -> None:
    job = parse_submit_response(json_response(201, {"status": "queued", "id": "abc"}))
    assert job.request_id == "abc"
    assert job.status_url is None
    assert job.cancel_url is None


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "queued"},
        {"status": "queued", "request_id": ""},
        {"status": "queued", "request_id": 12},
        {"status": "queued", "request_id": None},
    ],
)
def test_submit_answer_without_a_request_id_is_a_protocol_error(payload: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_submit_response(json_response(200, payload))
    assert info.value.status_code == 200
    assert info.value.correlation_id == CORRELATION_ID


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"", "no JSON"),
        (b"<html>ok</html>", "no JSON"),
        (b"\xff\xfe\x00garbage", "no JSON"),
        (b"[1, 2]", "JSON list"),
        (b'"queued"', "JSON str"),
        (b"null", "JSON NoneType"),
    ],
)
def test_submit_answer_that_is_not_a_json_object_is_a_protocol_error(body: bytes, kind: str) -> None:
    with pytest.raises(ProtocolError, match=kind) as info:
        parse_submit_response(Response(status=200, headers=(("X-Correlation-ID", "c9"),), body=body))
    assert info.value.correlation_id == "c9"


def test_submit_error_status_raises_the_typed_error() -> None:
    with pytest.raises(AuthenticationError):
        parse_submit_response(json_response(401, {"detail": "Invalid credentials"}))


def test_submit_redirect_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="redirect"):
        parse_submit_response(Response(status=302, headers=(("Location", "https://elsewhere"),)))


# -- status ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "state"),
    [
        ({"status": "queued", "request_id": REQUEST_ID}, JobState.QUEUED),
        ({"status": "in_progress", "request_id": REQUEST_ID}, JobState.IN_PROGRESS),
        (COMPLETED_IMAGES, JobState.COMPLETED),
        (FAILED, JobState.FAILED),
        (NSFW, JobState.NSFW),
        ({"status": "canceled", "request_id": REQUEST_ID}, JobState.CANCELED),
        ({"status": "cancelled", "request_id": REQUEST_ID}, JobState.CANCELED),
    ],
)
def test_status_answer_for_every_state(payload: dict[str, Any], state: JobState) -> None:
    status = parse_status_response(json_response(200, payload), REQUEST_ID)
    assert status.state is state
    assert status.request_id == REQUEST_ID
    assert status.is_terminal is state.is_terminal


@pytest.mark.parametrize(
    "value", ["succeeded", "running", "Completed", "CANCELED", "", None, 3, ["queued"], {"s": 1}]
)
def test_unknown_status_is_an_unknown_status_error_a_protocol_error_and_a_value_error(value: Any) -> None:
    response = json_response(200, {"status": value, "request_id": REQUEST_ID})
    with pytest.raises(UnknownStatusError) as info:
        parse_status_response(response, REQUEST_ID)
    error = info.value
    assert isinstance(error, ProtocolError)
    assert isinstance(error, ValueError)  # what the official SDK raises: `except ValueError` still works
    assert error.value == value
    assert error.request_id == REQUEST_ID
    assert error.status_code == 200
    assert error.correlation_id == CORRELATION_ID


def test_status_answer_without_status_key_is_unknown_status() -> None:
    with pytest.raises(UnknownStatusError):
        parse_status_response(json_response(200, {"request_id": REQUEST_ID}), REQUEST_ID)


@pytest.mark.parametrize(
    ("images", "urls"),
    [
        ([{"url": "https://cdn.example/out-1.png"}], ("https://cdn.example/out-1.png",)),
        (
            [{"url": "https://c/1.png"}, "https://c/2.png", {"image_url": "https://c/3.png"}],
            ("https://c/1.png", "https://c/2.png", "https://c/3.png"),
        ),
        ("https://c/only.png", ("https://c/only.png",)),
        ({"url": "https://c/single.png"}, ("https://c/single.png",)),
        ([], ()),
        (None, ()),
    ],
)
def test_status_images_as_objects_strings_or_lists(images: Any, urls: tuple[str, ...]) -> None:
    payload = {**COMPLETED_IMAGES, "images": images}
    assert parse_status_response(json_response(200, payload), REQUEST_ID).images == urls


@pytest.mark.parametrize(
    ("video", "url"),
    [
        ({"url": "https://cdn.example/out.mp4"}, "https://cdn.example/out.mp4"),
        ("https://cdn.example/bare.mp4", "https://cdn.example/bare.mp4"),
        ([{"url": "https://c/a.mp4"}, {"url": "https://c/b.mp4"}], "https://c/a.mp4"),
        ([], None),
    ],
)
def test_status_video(video: Any, url: Optional[str]) -> None:
    payload = {**COMPLETED_VIDEO, "video": video}
    status = parse_status_response(json_response(200, payload), REQUEST_ID)
    assert status.video == url
    assert status.images == ()


def test_status_of_the_documented_video_example() -> None:
    status = parse_status_response(json_response(200, COMPLETED_VIDEO), REQUEST_ID)
    assert status.video == "https://cdn.example/out.mp4"


def test_status_artifacts_zip_mov_jsx_fbx_ply() -> None:
    payload = {
        **COMPLETED_VIDEO,
        "zip": {"url": "https://c/a.zip"},
        "mov": "https://c/a.mov",
        "jsx": [{"url": "https://c/a.jsx"}, "https://c/b.jsx"],
        "fbx": {"url": "https://c/a.fbx"},
        "ply": ["https://c/a.ply"],
        "gltf": {"url": "https://c/ignored.gltf"},
    }
    status = parse_status_response(json_response(200, payload), REQUEST_ID)
    assert set(ARTIFACT_KEYS) == {"zip", "mov", "jsx", "fbx", "ply"}
    assert dict(status.artifacts) == {
        "zip": ("https://c/a.zip",),
        "mov": ("https://c/a.mov",),
        "jsx": ("https://c/a.jsx", "https://c/b.jsx"),
        "fbx": ("https://c/a.fbx",),
        "ply": ("https://c/a.ply",),
    }
    assert status.video == "https://cdn.example/out.mp4"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("images", [{"url": 5}]),
        ("images", [1]),
        ("images", True),
        ("video", {"href": "x"}),
        ("zip", [None]),
        ("ply", {"url": ["x"]}),
    ],
)
def test_status_outputs_of_the_wrong_type_are_a_protocol_error(key: str, value: Any) -> None:
    payload = {**COMPLETED_IMAGES, key: value}
    with pytest.raises(ProtocolError, match="malformed outputs") as info:
        parse_status_response(json_response(200, payload), REQUEST_ID)
    assert info.value.request_id == REQUEST_ID
    assert info.value.status_code == 200


def test_failed_status_carries_the_error_text() -> None:
    status = parse_status_response(json_response(200, FAILED), REQUEST_ID)
    assert status.error == "human readable failure message"
    structured = parse_status_response(
        json_response(200, {**FAILED, "error": {"code": "E1", "msg": "bad"}}), REQUEST_ID
    )
    assert structured.error is not None
    assert json.loads(structured.error) == {"code": "E1", "msg": "bad"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2026-09-08T12:00:00Z", "2026-09-08T12:00:00Z"), (1789000000, "1789000000"), (None, None)],
)
def test_status_expires_at_is_kept_verbatim(value: Any, expected: Optional[str]) -> None:
    payload = {**COMPLETED_IMAGES, "expires_at": value}
    assert parse_status_response(json_response(200, payload), REQUEST_ID).expires_at == expected


def test_status_answer_without_request_id_uses_the_one_asked_about() -> None:
    status = parse_status_response(json_response(200, {"status": "in_progress"}), REQUEST_ID)
    assert status.request_id == REQUEST_ID


def test_status_answer_without_request_id_and_nothing_asked_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="no request_id"):
        parse_status_response(json_response(200, {"status": "in_progress"}))


def test_status_answer_about_another_request_is_a_protocol_error() -> None:
    payload = {"status": "completed", "request_id": "someone-else"}
    with pytest.raises(ProtocolError, match="someone-else") as info:
        parse_status_response(json_response(200, payload), REQUEST_ID)
    assert info.value.request_id == REQUEST_ID


def test_status_urls_of_the_wrong_type_are_ignored() -> None:
    payload = {"status": "queued", "request_id": REQUEST_ID, "status_url": 1, "cancel_url": ["x"]}
    status = parse_status_response(json_response(200, payload), REQUEST_ID)
    assert status.status_url is None
    assert status.cancel_url is None


@pytest.mark.parametrize(("code", "cls"), [(404, NotFoundError), (401, AuthenticationError)])
def test_status_error_answers_carry_the_request_id(code: int, cls: type[APIError]) -> None:
    with pytest.raises(cls) as info:
        parse_status_response(json_response(code, {"detail": "Not found"}), REQUEST_ID)
    assert info.value.request_id == REQUEST_ID
    assert info.value.status_code == code


def test_job_status_from_payload_reads_every_field_and_keeps_the_value_frozen() -> None:
    payload = {
        **COMPLETED_IMAGES,
        "video": {"url": "https://cdn.example/v.mp4"},
        "zip": ["https://cdn.example/a.zip"],
        "error": {"code": 1},
        "expires_at": "2026-12-01T00:00:00Z",
        "status_url": "https://api.example/s",
        "cancel_url": 5,
    }
    parsed = job_status_from_payload(payload, request_id=REQUEST_ID)
    assert (parsed.images, parsed.video) == (("https://cdn.example/out-1.png",), "https://cdn.example/v.mp4")
    assert parsed.artifacts == {"zip": ("https://cdn.example/a.zip",)}
    assert (parsed.status_url, parsed.expires_at) == ("https://api.example/s", "2026-12-01T00:00:00Z")
    assert hash(parsed) == hash(dataclasses.replace(parsed))
    assert parsed.cancel_url is None
    assert parsed.error == '{"code": 1}'
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.request_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("payload", [None, [], "completed", 3])
def test_job_status_from_a_non_object_payload_is_a_protocol_error(payload: Any) -> None:
    with pytest.raises(ProtocolError):
        job_status_from_payload(payload)


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: f"  {text}\r\n".encode(),  # whitespace around the document
        lambda text: text.encode("utf-16"),  # not UTF-8: json's own detection reads it
    ],
    ids=["whitespace", "utf-16"],
)
def test_a_status_answer_json_accepts_is_read_like_plain_utf8(encode: Any) -> None:
    body = encode(json.dumps(COMPLETED_IMAGES))
    answer = Response(status=200, headers=(("Content-Type", "application/json"),), body=body)
    assert parse_status_response(answer, REQUEST_ID) == parse_status_response(
        json_response(200, COMPLETED_IMAGES), REQUEST_ID
    )


@pytest.mark.parametrize("tail", [b" trailing", b'{"status": "queued"}', b"\x00"])
def test_a_status_answer_with_data_after_its_json_is_a_protocol_error(tail: bytes) -> None:
    body = json.dumps(COMPLETED_IMAGES).encode() + tail
    answer = Response(status=200, headers=(("Content-Type", "application/json"),), body=body)
    with pytest.raises(ProtocolError):
        parse_status_response(answer, REQUEST_ID)


# -- cancel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [202, 200, 204])
def test_cancel_accepts_any_2xx_with_an_empty_body(code: int) -> None:
    parse_cancel_response(Response(status=code), REQUEST_ID)  # no exception: accepted


def test_cancel_400_means_the_job_already_started() -> None:
    response = json_response(400, {"detail": "Request is already processing"})
    with pytest.raises(NotCancellableError) as info:
        parse_cancel_response(response, REQUEST_ID)
    assert info.value.status_code == 400
    assert info.value.request_id == REQUEST_ID
    assert info.value.correlation_id == CORRELATION_ID


def test_cancel_400_about_concurrency_is_still_a_concurrency_error() -> None:
    response = json_response(400, {"detail": "Maximum number of concurrent requests (4) has been reached"})
    with pytest.raises(ConcurrencyLimitError):
        parse_cancel_response(response, REQUEST_ID)


@pytest.mark.parametrize(
    ("code", "cls"), [(404, NotFoundError), (401, AuthenticationError), (502, ServerError)]
)
def test_cancel_other_errors(code: int, cls: type[APIError]) -> None:
    with pytest.raises(cls) as info:
        parse_cancel_response(json_response(code, {"detail": "x"}), REQUEST_ID)
    assert not isinstance(info.value, NotCancellableError)


# -- upload slot -------------------------------------------------------------------------------


def test_upload_slot_keeps_the_documented_headers_verbatim() -> None:
    target = parse_upload_slot_response(json_response(200, UPLOAD_SLOT), "image/jpeg")
    assert target.public_url == "https://cdn.example/input/abc.jpeg"
    assert target.upload_url == UPLOAD_SLOT["upload_url"]
    assert target.content_type == "image/jpeg"
    assert target.upload_headers == (("Content-Type", "image/jpeg"), ("x-amz-tagging", "retention=temporary"))


@pytest.mark.parametrize(
    ("upload_headers", "expected"),
    [
        ("missing", (("Content-Type", "image/jpeg"),)),
        (None, (("Content-Type", "image/jpeg"),)),
        ({}, (("Content-Type", "image/jpeg"),)),
        (
            {"content-type": "image/jpg", "x-amz-meta-example": "1"},
            (("content-type", "image/jpg"), ("x-amz-meta-example", "1")),
        ),
        (
            {"x-amz-tagging": "retention=temporary"},
            (("x-amz-tagging", "retention=temporary"), ("Content-Type", "image/jpeg")),
        ),
    ],
)
def test_upload_slot_headers_missing_null_empty_or_mixed_case(
    upload_headers: Any, expected: tuple[tuple[str, str], ...]
) -> None:
    payload = dict(UPLOAD_SLOT)
    if upload_headers == "missing":
        del payload["upload_headers"]
    else:
        payload["upload_headers"] = upload_headers
    target = parse_upload_slot_response(json_response(200, payload), "image/png")
    assert target.upload_headers == expected
    names = [name.lower() for name, _ in target.upload_headers]
    assert names.count("content-type") == 1
    assert "authorization" not in names


def test_upload_slot_without_content_type_falls_back_to_the_requested_one() -> None:
    payload = {k: v for k, v in UPLOAD_SLOT.items() if k not in ("content_type", "upload_headers")}
    target = parse_upload_slot_response(json_response(200, payload), "video/mp4")
    assert target.content_type == "video/mp4"
    assert target.upload_headers == (("Content-Type", "video/mp4"),)


@pytest.mark.parametrize(
    "change",
    [
        {"public_url": None},
        {"upload_url": "ftp://storage/x"},
        {"upload_url": 5},
        {"upload_headers": ["Content-Type", "image/jpeg"]},
        {"upload_headers": {"Content-Length": 5}},
        {"upload_headers": "Content-Type: image/jpeg"},
    ],
)
def test_upload_slot_malformed_answers_are_protocol_errors(change: dict[str, Any]) -> None:
    payload = {**UPLOAD_SLOT, **change}
    with pytest.raises(ProtocolError, match="upload slot"):
        parse_upload_slot_response(json_response(200, payload), "image/jpeg")


def test_upload_slot_error_status_raises_typed_error() -> None:
    with pytest.raises(AuthenticationError):
        parse_upload_slot_response(json_response(401, {"detail": "Invalid credentials"}), "image/jpeg")


# -- presigned PUT -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 204])
def test_upload_put_accepts_any_2xx(code: int) -> None:
    parse_upload_put_response(Response(status=code))  # no exception: accepted


@pytest.mark.parametrize(("code", "cls"), [(403, UploadRejectedError), (400, UploadRejectedError)])
def test_upload_put_4xx_is_upload_rejected(code: int, cls: type[APIError]) -> None:
    xml = b"<?xml version='1.0'?><Error><Code>SignatureDoesNotMatch</Code></Error>"
    response = Response(status=code, headers=(("Content-Type", "application/xml"),), body=xml)
    with pytest.raises(cls) as info:
        parse_upload_put_response(response)
    assert type(info.value) is cls
    assert "SignatureDoesNotMatch" in info.value.body
    assert "application/xml" in str(info.value)


def test_upload_put_5xx_is_server_error_and_3xx_protocol_error() -> None:
    with pytest.raises(ServerError):
        parse_upload_put_response(Response(status=503))
    with pytest.raises(ProtocolError):
        parse_upload_put_response(Response(status=307))


# -- estimate ----------------------------------------------------------------------------------


def test_estimate_reads_decimal_strings_exactly() -> None:
    estimate = parse_estimate_response(json_response(200, ESTIMATE))
    assert estimate.credits == Decimal("1.500")
    assert str(estimate.credits) == "1.500"
    assert estimate.usd == Decimal("0.094")
    assert estimate.payload == ESTIMATE


def test_estimate_accepts_plain_numbers() -> None:
    estimate = parse_estimate_response(json_response(200, {"credits": 2, "usd": 0.125}))
    assert (estimate.credits, estimate.usd) == (Decimal(2), Decimal("0.125"))


@pytest.mark.parametrize(
    "payload",
    [
        {"usd": "0.094"},
        {"credits": "1.5"},
        {"credits": "lots", "usd": "0.1"},
        {"credits": "NaN", "usd": "0.1"},
        {"credits": "1.5", "usd": "Infinity"},
        {"credits": True, "usd": "0.1"},
        {"credits": None, "usd": "0.1"},
        {"credits": ["1"], "usd": "0.1"},
    ],
)
def test_estimate_non_decimal_values_are_protocol_errors(payload: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match="estimate"):
        parse_estimate_response(json_response(200, payload))


def test_estimate_error_status() -> None:
    with pytest.raises(NotFoundError):
        parse_estimate_response(json_response(404, {"detail": "Model not found"}))


# -- delete ------------------------------------------------------------------------------------


def test_delete_accepts_an_empty_answer() -> None:
    deletion = parse_delete_response(Response(status=204), REQUEST_ID)
    assert deletion.request_id == REQUEST_ID
    assert dict(deletion.payload) == {}


def test_delete_reads_the_deleted_request() -> None:
    body = {"request_id": REQUEST_ID, "deleted": True}
    deletion = parse_delete_response(json_response(200, body), REQUEST_ID)
    assert deletion.request_id == REQUEST_ID
    assert deletion.payload == body


def test_delete_with_a_non_string_request_id_keeps_the_one_asked_about() -> None:
    assert parse_delete_response(json_response(200, {"request_id": 7}), "r-1").request_id == "r-1"


def test_delete_errors() -> None:
    with pytest.raises(AuthenticationError) as info:
        parse_delete_response(json_response(401, {"detail": "Invalid credentials"}), REQUEST_ID)
    assert info.value.request_id == REQUEST_ID
    with pytest.raises(ProtocolError):
        parse_delete_response(Response(status=200, body=b"<html>"), REQUEST_ID)


# -- job outcomes ------------------------------------------------------------------------------


def test_completed_job_is_returned() -> None:
    status = job_status_from_payload(COMPLETED_IMAGES)
    assert raise_for_job_outcome(status) is status


@pytest.mark.parametrize(
    ("payload", "cls", "state"),
    [
        (FAILED, JobFailedError, "failed"),
        (NSFW, JobNSFWError, "nsfw"),
        ({"status": "canceled", "request_id": REQUEST_ID}, JobCancelledError, "canceled"),
    ],
)
def test_unsuccessful_jobs_raise_job_errors_with_id_and_payload(
    payload: dict[str, Any], cls: type[JobError], state: str
) -> None:
    with pytest.raises(cls) as info:
        raise_for_job_outcome(job_status_from_payload(payload))
    assert info.value.request_id == REQUEST_ID
    assert info.value.status == state
    assert info.value.payload == payload


def test_failed_job_error_text() -> None:
    with pytest.raises(JobFailedError, match="human readable failure message") as info:
        raise_for_job_outcome(job_status_from_payload(FAILED))
    assert info.value.error == "human readable failure message"
    with pytest.raises(JobFailedError, match="no reason given") as bare:
        raise_for_job_outcome(job_status_from_payload({"status": "failed", "request_id": "r"}))
    assert bare.value.error is None


@pytest.mark.parametrize("state", ["queued", "in_progress"])
def test_unfinished_job_outcome_is_an_invalid_argument(state: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not finished"):
        raise_for_job_outcome(job_status_from_payload({"status": state, "request_id": "r"}))
