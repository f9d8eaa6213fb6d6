"""Response parsers for every public endpoint, and the mapping of error answers to typed errors.

Parsers return a value or raise a ``HiggsfieldError``; no KeyError, ValueError or JSON error leaks.
No I/O happens here.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union

from ._endpoints import CANCEL_ERRORS, FILE_ERRORS, GENERATION_ERRORS, STORAGE_ERRORS, ErrorTable, is_path_id
from ._errors import (
    APIError,
    HiggsfieldError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobNSFWError,
    OutputExpiredError,
    ProtocolError,
    RateLimitError,
    UnknownStatusError,
    ValidationError,
)
from ._http import Response, StreamedResponse
from ._retry_after import retry_after_seconds
from ._values import (
    ARTIFACT_KEYS,
    Deletion,
    Estimate,
    FieldError,
    JobState,
    JobStatus,
    UploadTarget,
)

_BODY_KEEP = 2000
_ARTIFACT_KEY_SET = frozenset(ARTIFACT_KEYS)
# The six states by their wire spelling, and the British spelling some answers use.
_STATES = {**{state.value: state for state in JobState}, "cancelled": JobState.CANCELED}


Answer = Union[Response, StreamedResponse]


def _correlation_id(response: Answer) -> Optional[str]:
    return response.header("X-Correlation-ID")


def _body_text(response: Response) -> str:
    return response.body[:_BODY_KEEP].decode("utf-8", errors="replace")


def _decode_json(response: Response) -> Any:
    try:
        # JSON on the network is UTF-8 (RFC 8259): decoding first skips json's guessing of
        # UTF-16/32. A document that does not fill the whole text (surrounding whitespace,
        # trailing data) or is not plain UTF-8 goes to json.loads, which decides.
        text = response.body.decode("utf-8")
        value, end = _JSON.raw_decode(text)
        if end == len(text):
            return value
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _NOT_JSON


_NOT_JSON = object()
_JSON = json.JSONDecoder()


def protocol_error(response: Answer, message: str, request_id: Optional[str] = None) -> ProtocolError:
    """A ``ProtocolError`` about ``response``, naming its status and correlation id."""
    return ProtocolError(
        f"{message} (HTTP {response.status}, correlation id {_correlation_id(response)})",
        status_code=response.status,
        correlation_id=_correlation_id(response),
        request_id=request_id,
    )


def _json_object(response: Response, what: str, request_id: Optional[str] = None) -> dict[str, Any]:
    data = _decode_json(response)
    if not isinstance(data, dict):
        kind = "no JSON" if data is _NOT_JSON else f"JSON {type(data).__name__}"
        raise protocol_error(response, f"{what}: expected a JSON object, got {kind}", request_id)
    return data


# ---------------------------------------------------------------------------------------------
# Errors


def _detail(data: Any, text: str) -> Any:
    if isinstance(data, dict):
        for key in ("detail", "details", "message", "error"):
            if data.get(key):
                return data[key]
    return text.strip()


def _field_errors(detail: Any) -> tuple[FieldError, ...]:
    if not isinstance(detail, list):
        return ()
    errors: list[FieldError] = []
    for item in detail:
        if isinstance(item, dict):
            loc = item.get("loc")
            loc_parts = tuple(loc) if isinstance(loc, list) else ((loc,) if loc is not None else ())
            errors.append(
                FieldError(loc=loc_parts, msg=str(item.get("msg", "")), type=str(item.get("type", "")))
            )
        else:
            errors.append(FieldError(loc=(), msg=str(item)))
    return tuple(errors)


def _machine_field(data: Any, name: str) -> Any:
    if isinstance(data, dict):
        if name in data:
            return data[name]
        nested = data.get("detail")
        if isinstance(nested, dict):
            return nested.get(name)
    return None


def _describe(detail: Any) -> str:
    if isinstance(detail, str):
        return detail[:300]
    if isinstance(detail, list):
        return "; ".join(str(error) for error in _field_errors(detail))[:300]
    return json.dumps(detail)[:300] if detail is not None else ""


def error_from_response(
    response: Response,
    *,
    request_id: Optional[str] = None,
    now: Optional[float] = None,
    errors: ErrorTable = GENERATION_ERRORS,
) -> HiggsfieldError:
    """Turn an unsuccessful answer into the matching typed error.

    Args:
        response: a non-2xx answer.
        request_id: the job concerned, when known.
        now: wall-clock time, to read a Retry-After date when the response has no Date header.
        errors: the error table of the endpoint's API family (the generation API's by default).

    Returns:
        An ``APIError`` subclass for 4xx/5xx, a ``ProtocolError`` for anything else.
    """
    if response.status < 400:
        # The flows follow same-origin redirects; any 3xx reaching a parser is one they refused.
        return protocol_error(response, "unexpected answer (a redirect not followed)", request_id)
    text = _body_text(response)
    data = _decode_json(response)
    detail = _detail(data, text)
    cls = errors.error_class(response.status, text)
    correlation = _correlation_id(response)
    described = _describe(detail) if data is not _NOT_JSON else _non_json_summary(response)
    message = f"HTTP {response.status}: {described}".rstrip(": ")
    context = [f"request_id={request_id}"] if request_id else []
    if correlation:
        context.append(f"correlation_id={correlation}")
    if context:
        message += f" [{', '.join(context)}]"
    common: dict[str, Any] = {
        "status_code": response.status,
        "detail": detail,
        "body": text,
        "request_id": request_id,
        "correlation_id": correlation,
    }
    if issubclass(cls, ValidationError):
        return cls(message, errors=_field_errors(detail), **common)
    if issubclass(cls, RateLimitError):
        code = _machine_field(data, "code")
        limit = _machine_field(data, "limit")
        return cls(
            message,
            retry_after=retry_after_seconds(response, now=now),
            code=code if isinstance(code, str) else None,
            limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
            **common,
        )
    return cls(message, **common)


# An S3-style XML error names its cause in <Code> (NoSuchKey, AccessDenied...).
_STORAGE_CODE = re.compile(r"<Code>\s*([A-Za-z0-9_.-]{1,64})\s*</Code>")


def error_from_file_response(response: Response, url: str) -> HiggsfieldError:
    """The error for an unsuccessful answer to the download of an output file.

    A 404 is an ``OutputExpiredError`` naming the output (its URL without the query, which may
    hold a signature), saying that it has expired or was deleted, with the storage's own code
    read from an S3-style XML body (``NoSuchKey``); any other status is read with
    ``FILE_ERRORS`` as ``error_from_response`` does.

    Args:
        response: a non-2xx answer from the file's host.
        url: the URL of the output asked for.
    """
    error = error_from_response(response, errors=FILE_ERRORS)
    if response.status != 404:
        return error
    assert isinstance(error, APIError), "a 404 is an APIError"
    shown = url.split("?", 1)[0].split("#", 1)[0]
    found = _STORAGE_CODE.search(error.body)
    code = found.group(1) if found else None
    message = f"output {shown} has expired or was deleted (HTTP 404"
    message += f", storage code {code})" if code else ")"
    if error.correlation_id:
        message += f" [correlation_id={error.correlation_id}]"
    return OutputExpiredError(
        message,
        url=shown,
        storage_code=code,
        status_code=404,
        detail=error.detail,
        body=error.body,
        correlation_id=error.correlation_id,
    )


def _non_json_summary(response: Response) -> str:
    content_type = response.header("Content-Type") or "no content type"
    return f"non-JSON answer ({content_type.split(';')[0]}, {len(response.body)} bytes)"


def _raise_for_status(
    response: Response, request_id: Optional[str] = None, errors: ErrorTable = GENERATION_ERRORS
) -> None:
    if not 200 <= response.status < 300:
        raise error_from_response(response, request_id=request_id, errors=errors)


# ---------------------------------------------------------------------------------------------
# Job statuses


def _url_list(value: Any, key: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    urls: list[str] = []
    for item in items:
        if isinstance(item, str):
            urls.append(item)
        elif isinstance(item, dict) and isinstance(item.get("url"), str):
            urls.append(item["url"])
        elif isinstance(item, dict) and isinstance(item.get("image_url"), str):
            urls.append(item["image_url"])
        else:
            raise ValueError(f"{key!r} holds {type(item).__name__}, not a URL")
    return tuple(urls)


def _optional_text(value: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def job_status_from_payload(payload: Any, *, request_id: Optional[str] = None) -> JobStatus:
    """Read a status payload (a status answer, a submit answer or a webhook body).

    Args:
        payload: the decoded JSON.
        request_id: the id the caller asked about; used when the payload omits it, and checked
            against it when present.

    Raises:
        UnknownStatusError: ``status`` is not one of the six states (``cancelled`` is accepted).
        ProtocolError: not an object, no request id, or output fields of the wrong type.
    """
    if not isinstance(payload, dict):
        raise ProtocolError(f"status payload is {type(payload).__name__}, not an object")
    raw_state = payload.get("status")
    state = _STATES.get(raw_state) if isinstance(raw_state, str) else None
    if state is None:
        raise UnknownStatusError(raw_state, request_id=request_id)
    get = payload.get
    found = get("request_id")
    if found is None:
        found = get("id")
    if found is None:
        found = request_id
    if not isinstance(found, str) or not found:
        raise ProtocolError("status payload carries no request_id", request_id=request_id)
    if not is_path_id(found):
        # It names the job in the next status URL: an empty or dot segment cannot.
        raise ProtocolError(f"status payload carries an unusable request id {found[:80]!r}")
    if request_id is not None and found != request_id:
        raise ProtocolError(f"asked about {request_id}, answer is about {found}", request_id=request_id)
    images_value, video_value = get("images"), get("video")
    try:
        images = _url_list(images_value, "images") if images_value is not None else ()
        videos = _url_list(video_value, "video") if video_value is not None else ()
        artifacts = (
            {}
            if _ARTIFACT_KEY_SET.isdisjoint(payload)
            else {key: _url_list(get(key), key) for key in ARTIFACT_KEYS if get(key) is not None}
        )
    except ValueError as exc:
        raise ProtocolError(f"malformed outputs: {exc}", request_id=found) from None
    status_url, cancel_url = get("status_url"), get("cancel_url")
    return JobStatus(
        state=state,
        request_id=found,
        payload=payload,
        status_url=status_url if isinstance(status_url, str) else None,
        cancel_url=cancel_url if isinstance(cancel_url, str) else None,
        images=images,
        video=videos[0] if videos else None,
        artifacts=artifacts,
        error=_optional_text(get("error")),
        expires_at=_optional_text(get("expires_at")),
    )


def _status_from_response(response: Response, what: str, request_id: Optional[str]) -> JobStatus:
    _raise_for_status(response, request_id)
    data = _json_object(response, what, request_id)
    try:
        return job_status_from_payload(data, request_id=request_id)
    except ProtocolError as exc:
        exc.status_code = response.status
        exc.correlation_id = _correlation_id(response)
        raise


def parse_submit_response(response: Response) -> JobStatus:
    """Read a submit answer: the new job's ``request_id`` and state (``queued``).

    Raises:
        APIError: an error status (401, 403, 404, 422, 429...), as its typed subclass.
        ProtocolError: a 2xx answer without a usable JSON object or request id.
    """
    return _status_from_response(response, "submit answer", None)


def parse_status_response(response: Response, request_id: Optional[str] = None) -> JobStatus:
    """Read a status answer for ``request_id``. Raises like ``parse_submit_response``."""
    return _status_from_response(response, "status answer", request_id)


def parse_cancel_response(response: Response, request_id: Optional[str] = None) -> None:
    """Accept any 2xx (202 is documented). Raises NotCancellableError for 400, else typed errors."""
    _raise_for_status(response, request_id, CANCEL_ERRORS)


def parse_delete_response(response: Response, request_id: str) -> Deletion:
    """Read the answer to deleting a request's data (an empty 2xx body is accepted)."""
    _raise_for_status(response, request_id)
    data = _json_object(response, "delete answer", request_id) if response.body.strip() else {}
    found = data.get("request_id", request_id)
    return Deletion(request_id=found if isinstance(found, str) else request_id, payload=data)


def _decimal(data: dict[str, Any], key: str, response: Response) -> Decimal:
    value = data.get(key)
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise protocol_error(response, f"estimate: {key!r} is not a decimal: {value!r}")


def parse_estimate_response(response: Response) -> Estimate:
    """Read ``{"credits": "1.500", "usd": "0.094"}`` into exact decimals."""
    _raise_for_status(response)
    data = _json_object(response, "estimate answer")
    return Estimate(
        credits=_decimal(data, "credits", response), usd=_decimal(data, "usd", response), payload=data
    )


# ---------------------------------------------------------------------------------------------
# Uploads


def _slot_url(data: dict[str, Any], name: str, response: Response) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise protocol_error(response, f"upload slot: {name} is not an http(s) URL")
    return value


def parse_upload_slot_response(response: Response, content_type: str) -> UploadTarget:
    """Read a generate-upload-url answer into an ``UploadTarget`` ready to PUT to.

    ``upload_headers`` may be missing, empty or mixed-case: the slot's headers are kept verbatim
    and ``Content-Type: <content_type>`` is added when none of them is a Content-Type.

    Raises:
        APIError: an error status. ProtocolError: missing URLs or headers of the wrong type.
    """
    _raise_for_status(response)
    data = _json_object(response, "upload slot")
    public_url = _slot_url(data, "public_url", response)
    upload_url = _slot_url(data, "upload_url", response)
    slot_type = data.get("content_type")
    slot_type = slot_type if isinstance(slot_type, str) and slot_type else content_type
    raw_headers = data.get("upload_headers") or {}
    if not isinstance(raw_headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw_headers.items()
    ):
        raise protocol_error(response, "upload slot: upload_headers is not a string mapping")
    headers = tuple(raw_headers.items())
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers += (("Content-Type", slot_type),)
    return UploadTarget(
        public_url=public_url, upload_url=upload_url, content_type=slot_type, upload_headers=headers
    )


def parse_upload_put_response(response: Response) -> None:
    """Accept any 2xx from the storage host; 4xx is UploadRejectedError, 5xx ServerError."""
    _raise_for_status(response, errors=STORAGE_ERRORS)


# ---------------------------------------------------------------------------------------------
# Job outcomes


def raise_for_job_outcome(status: JobStatus) -> JobStatus:
    """Return a ``completed`` status; raise the matching JobError for failed, nsfw or canceled.

    Raises:
        JobFailedError, JobNSFWError, JobCancelledError: carrying request id and payload.
        InvalidArgumentError: the job has not finished yet.
    """
    common: dict[str, Any] = {
        "request_id": status.request_id,
        "status": status.state.value,
        "payload": status.payload,
    }
    if status.state is JobState.COMPLETED:
        return status
    if status.state is JobState.FAILED:
        reason = status.error or "no reason given"
        raise JobFailedError(f"job {status.request_id} failed: {reason}", error=status.error, **common)
    if status.state is JobState.NSFW:
        raise JobNSFWError(f"job {status.request_id} was rejected by moderation (nsfw)", **common)
    if status.state is JobState.CANCELED:
        raise JobCancelledError(f"job {status.request_id} was canceled", **common)
    raise InvalidArgumentError(f"job {status.request_id} has not finished ({status.state.value})")
