"""Error answers map to typed errors (PROTOCOL.md section 6)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Optional

import pytest
from proto_support import CORRELATION_ID, REQUEST_ID, json_response

from higgsfield_proto import (
    CANCEL_ERRORS,
    FILE_ERRORS,
    STORAGE_ERRORS,
    APIError,
    AuthenticationError,
    BodyRule,
    ConcurrencyLimitError,
    ErrorTable,
    FieldError,
    HiggsfieldError,
    InsufficientCreditsError,
    ModelUnavailableError,
    NotCancellableError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    Response,
    ServerError,
    UploadRejectedError,
    ValidationError,
    error_from_response,
    parse_cancel_response,
    parse_estimate_response,
    parse_status_response,
    parse_submit_response,
    parse_upload_slot_response,
)

OCT_21_2015_072830 = datetime(2015, 10, 21, 7, 28, 30, tzinfo=timezone.utc).timestamp()
CONCURRENCY = "Maximum number of concurrent requests (4) has been reached"
PYDANTIC_422 = {
    "detail": [{"type": "missing", "loc": ["body", "prompt"], "msg": "Field required", "input": {}}]
}


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (400, {"detail": "image_url must be a public URL"}, ValidationError),
        (400, {"detail": CONCURRENCY}, ConcurrencyLimitError),
        (401, {"detail": "Invalid credentials"}, AuthenticationError),
        (402, {"detail": "Insufficient credits"}, InsufficientCreditsError),
        (402, {"detail": "Payment required"}, InsufficientCreditsError),
        (403, {"detail": "Not enough credits"}, InsufficientCreditsError),
        (403, {"detail": "Insufficient CREDITS to run this model"}, InsufficientCreditsError),
        # The generation API documents 403 as insufficient credits, whatever the body says.
        (403, {"detail": "Forbidden"}, InsufficientCreditsError),
        (404, {"detail": "Model not found"}, NotFoundError),
        (409, {"detail": "session_busy"}, APIError),
        (422, PYDANTIC_422, ValidationError),
        (423, {"detail": "Model temporarily blocked"}, ModelUnavailableError),
        (429, {"code": "account_queue_full", "limit": 8}, RateLimitError),
        (500, {"detail": "Internal Server Error"}, ServerError),
        (503, {"detail": "Model unavailable"}, ServerError),
        (504, {}, ServerError),
        (418, {"detail": "teapot"}, APIError),
    ],
)
def test_each_status_maps_to_its_class(status: int, body: dict[str, Any], cls: type[APIError]) -> None:
    response = json_response(status, body)
    error = error_from_response(response, request_id=REQUEST_ID)
    assert type(error) is cls
    assert isinstance(error, APIError)
    assert error.status_code == status
    assert error.body == json.dumps(body)
    assert error.request_id == REQUEST_ID
    assert error.correlation_id == CORRELATION_ID
    assert CORRELATION_ID in str(error)
    assert REQUEST_ID in str(error)
    assert str(error).startswith(f"HTTP {status}")


@pytest.mark.parametrize(
    "parse",
    [
        parse_submit_response,
        lambda r: parse_status_response(r, REQUEST_ID),
        parse_estimate_response,
        lambda r: parse_upload_slot_response(r, "image/jpeg"),
    ],
)
@pytest.mark.parametrize(
    ("status", "detail", "cls"),
    [
        (400, CONCURRENCY, ConcurrencyLimitError),
        (403, "Not enough credits", InsufficientCreditsError),
        (403, "Forbidden", InsufficientCreditsError),
        (429, "Too many requests", RateLimitError),
    ],
)
def test_parsers_raise_the_mapped_error(
    parse: Callable[[Response], Any], status: int, detail: str, cls: type[APIError]
) -> None:
    with pytest.raises(cls):
        parse(json_response(status, {"detail": detail}))


def test_400_validation_message_and_detail() -> None:
    error = error_from_response(json_response(400, {"detail": "prompt too long"}))
    assert isinstance(error, ValidationError)
    assert error.detail == "prompt too long"
    assert error.errors == ()
    assert "prompt too long" in str(error)


def test_400_concurrency_is_a_rate_limit_without_retry_after() -> None:
    error = error_from_response(json_response(400, {"detail": CONCURRENCY}))
    assert isinstance(error, ConcurrencyLimitError)
    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
    assert CONCURRENCY in str(error)


def test_422_carries_the_pydantic_field_list() -> None:
    body = {
        "detail": [
            {"type": "missing", "loc": ["body", "prompt"], "msg": "Field required", "input": {}},
            {"type": "greater_than", "loc": ["body", "duration"], "msg": "too short", "ctx": {"gt": 3}},
            {"type": "value_error", "loc": "body", "msg": "bad"},
            {"msg": "no location"},
            "a bare string",
        ]
    }
    error = error_from_response(json_response(422, body))
    assert isinstance(error, ValidationError)
    assert error.errors == (
        FieldError(loc=("body", "prompt"), msg="Field required", type="missing"),
        FieldError(loc=("body", "duration"), msg="too short", type="greater_than"),
        FieldError(loc=("body",), msg="bad", type="value_error"),
        FieldError(loc=(), msg="no location"),
        FieldError(loc=(), msg="a bare string"),
    )
    assert "prompt: Field required" in str(error)
    assert "duration: too short" in str(error)


def test_422_idempotency_mismatch_with_a_string_detail() -> None:
    error = error_from_response(
        json_response(422, {"detail": "Idempotency-Key reused with different parameters"})
    )
    assert isinstance(error, ValidationError)
    assert error.errors == ()


@pytest.mark.parametrize(
    ("body", "code", "limit"),
    [
        (
            {"detail": "Account queue is full", "code": "account_queue_full", "limit": 8},
            "account_queue_full",
            8,
        ),
        ({"detail": {"code": "account_queue_full", "limit": 12}}, "account_queue_full", 12),
        ({"detail": "slow down"}, None, None),
        ({"code": 5, "limit": "8"}, None, None),
        ({"code": "account_queue_full", "limit": True}, "account_queue_full", None),
    ],
)
def test_429_code_and_limit_at_top_level_or_under_detail(
    body: dict[str, Any], code: Optional[str], limit: Optional[int]
) -> None:
    error = error_from_response(json_response(429, body, headers=[("Retry-After", "30")]))
    assert isinstance(error, RateLimitError)
    assert (error.code, error.limit) == (code, limit)
    assert error.retry_after == 30.0


@pytest.mark.parametrize(
    ("headers", "now", "expected"),
    [
        ([("Retry-After", "12")], None, 12.0),
        ([("Retry-After", "1.5")], None, 1.5),
        (
            [("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT"), ("Date", "Wed, 21 Oct 2015 07:28:00 GMT")],
            None,
            30.0,
        ),
        ([("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")], OCT_21_2015_072830 - 5.0, 5.0),
        ([("Retry-After", "Wed, 21 Oct 2015 07:28:30 GMT")], None, None),
        ([], None, None),
    ],
)
def test_429_retry_after_seconds_or_http_date(
    headers: list[tuple[str, str]], now: Optional[float], expected: Optional[float]
) -> None:
    response = json_response(429, {"code": "account_queue_full", "limit": 4}, headers=headers)
    error = error_from_response(response, now=now)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == expected


def test_html_502_from_a_proxy_is_a_server_error_with_a_short_message() -> None:
    html = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
        + b"<!-- padding -->" * 400
        + b"</body>\r\n</html>\r\n"
    )
    response = Response(status=502, headers=(("Content-Type", "text/html; charset=utf-8"),), body=html)
    error = error_from_response(response, request_id=REQUEST_ID)
    assert isinstance(error, ServerError)
    message = str(error)
    assert message.startswith("HTTP 502: non-JSON answer (text/html, ")
    assert "<html>" not in message
    assert len(message) < 200
    assert error.body.startswith("<html>")
    assert len(error.body) <= 2000
    assert error.correlation_id is None


def test_non_json_answer_without_content_type() -> None:
    error = error_from_response(Response(status=500, body=b"oops"))
    assert isinstance(error, ServerError)
    assert "no content type" in str(error)
    assert error.detail == "oops"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"message": "from message"}, "from message"),
        ({"error": "from error"}, "from error"),
        ({"details": "from details"}, "from details"),
        ({"detail": "", "message": "second"}, "second"),
        ({"detail": {"reason": "obj"}}, {"reason": "obj"}),
    ],
)
def test_detail_is_taken_from_the_first_useful_field(body: dict[str, Any], detail: Any) -> None:
    error = error_from_response(json_response(500, body))
    assert isinstance(error, APIError)
    assert error.detail == detail


def test_json_without_a_message_uses_the_body_text() -> None:
    error = error_from_response(json_response(500, {"unrelated": 1}))
    assert isinstance(error, APIError)
    assert error.detail == '{"unrelated": 1}'
    listed = error_from_response(json_response(500, [1, 2]))
    assert isinstance(listed, APIError)
    assert listed.detail == "[1, 2]"


def test_empty_error_answer_has_a_bare_message() -> None:
    error = error_from_response(Response(status=503, body=b'{"detail": "  "}'))
    assert str(error) == "HTTP 503"


def test_undecodable_error_body_is_replaced_not_raised() -> None:
    error = error_from_response(Response(status=500, body=b"\xff\xfe\xfa bad bytes"))
    assert isinstance(error, ServerError)
    assert "\ufffd" in error.body


def test_a_non_error_status_gives_a_protocol_error() -> None:
    error = error_from_response(Response(status=304), request_id=REQUEST_ID)
    assert type(error) is ProtocolError
    assert error.status_code == 304
    assert error.request_id == REQUEST_ID


@pytest.mark.parametrize(
    ("table", "status", "cls"),
    [
        (STORAGE_ERRORS, 403, UploadRejectedError),
        (STORAGE_ERRORS, 400, UploadRejectedError),
        (STORAGE_ERRORS, 503, ServerError),
        (CANCEL_ERRORS, 400, NotCancellableError),
        (FILE_ERRORS, 404, NotFoundError),
        (FILE_ERRORS, 403, APIError),
        (ErrorTable(by_status={403: PermissionDeniedError}), 403, PermissionDeniedError),
    ],
)
def test_an_endpoint_family_table_decides_the_class_and_every_field_is_kept(
    table: ErrorTable, status: int, cls: type[APIError]
) -> None:
    error = error_from_response(json_response(status, {"detail": "credit"}), errors=table)
    assert type(error) is cls
    assert (error.status_code, error.detail, error.correlation_id) == (status, "credit", CORRELATION_ID)


def test_a_body_rule_wins_over_the_status_and_is_case_blind() -> None:
    table = ErrorTable(
        by_status={400: ValidationError},
        rules=(BodyRule(status=400, text="concurrent", error=ConcurrencyLimitError),),
    )
    assert table.error_class(400, "Maximum number of CONCURRENT requests") is ConcurrencyLimitError
    assert table.error_class(400, "prompt too long") is ValidationError
    assert table.error_class(409, "concurrent") is APIError
    assert table.error_class(502, "") is ServerError


def test_every_error_is_a_higgsfield_error() -> None:
    for status in (400, 401, 402, 403, 404, 422, 423, 429, 500, 599, 302):
        assert isinstance(error_from_response(Response(status=status)), HiggsfieldError)


def test_cancel_400_is_a_validation_error_subclass() -> None:
    with pytest.raises(ValidationError):
        parse_cancel_response(json_response(400, {"detail": "already started"}), REQUEST_ID)
