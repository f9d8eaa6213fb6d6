"""Request builders for every public endpoint. Pure functions: no I/O happens here."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Optional
from urllib.parse import urlencode, urlsplit

from ._config import USER_AGENT, ApiConfig
from ._endpoints import CANCEL, DELETE, ESTIMATE, STATUS, SUBMIT, UPLOAD_SLOT
from ._errors import InvalidArgumentError
from ._http import Body, Headers, Request, without_query
from ._values import UploadTarget

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9._-]+)*$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_HEADER_SAFE = re.compile(r"^[^\r\n\x00]*$")

MIN_EXPIRES_AFTER = 3600
"""The shortest retention ``Hf-Expires-After`` accepts, in seconds."""


def status_url(config: ApiConfig, request_id: str) -> str:
    """The URL of a job's status on ``config``'s base URL, the id percent-encoded.

    Raises:
        InvalidArgumentError: ``request_id`` is not a usable id.
    """
    return STATUS.url(config, request_id=request_id)


def cancel_url(config: ApiConfig, request_id: str) -> str:
    """The URL that cancels a job on ``config``'s base URL, the id percent-encoded.

    Raises:
        InvalidArgumentError: ``request_id`` is not a usable id.
    """
    return CANCEL.url(config, request_id=request_id)


def _model_path(model: str) -> str:
    model = model.strip("/") if isinstance(model, str) else model
    # fullmatch, not match: "$" also matches before a trailing newline. Dot segments would be
    # collapsed by URL normalisation and reach another endpoint.
    if (
        not isinstance(model, str)
        or not _MODEL_ID.fullmatch(model)
        or any(part in (".", "..") for part in model.split("/"))
    ):
        raise InvalidArgumentError(
            f"invalid model id {model!r}: expected slash-separated segments such as "
            "'bytedance/seedream/v4/text-to-image'"
        )
    return model


def _json_body(arguments: Mapping[str, Any]) -> bytes:
    if not isinstance(arguments, Mapping):
        raise InvalidArgumentError(
            f"arguments must be a mapping of model arguments, got {type(arguments).__name__}"
        )
    try:
        return json.dumps(dict(arguments), ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"arguments are not JSON-serialisable: {exc}") from None


def build_submit_request(
    config: ApiConfig,
    model: str,
    arguments: Mapping[str, Any],
    *,
    webhook_url: Optional[str] = None,
    idempotency_key: Optional[str] = None,
    expires_after: Optional[int] = None,
) -> Request:
    """Build ``POST {base}/{model}`` with the arguments as a flat JSON object.

    Args:
        config: where to send it and the credentials.
        model: the model id, slashes and dots kept (``kling-video/v2.6/pro/image-to-video``).
        arguments: the model's arguments, sent at the top level of the body.
        webhook_url: sent as the ``hf_webhook`` query parameter.
        idempotency_key: sent as ``Idempotency-Key`` (1-255 visible ASCII characters); makes the
            submit safe to repeat.
        expires_after: seconds of retention, sent as ``Hf-Expires-After`` (at least 3600).

    Raises:
        InvalidArgumentError: a malformed model id, key, webhook URL or retention, or arguments
            that cannot be JSON.
    """
    query = ""
    if webhook_url is not None:
        if not isinstance(webhook_url, str) or not webhook_url.startswith(("https://", "http://")):
            # Its query may hold a token (signed_webhook_url): the message shows the URL without it.
            shown = without_query(webhook_url) if isinstance(webhook_url, str) else type(webhook_url).__name__
            raise InvalidArgumentError(f"webhook_url must be an http(s) URL, got {shown!r}")
        query = urlencode({"hf_webhook": webhook_url})
    headers: Headers = ()
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not _IDEMPOTENCY_KEY.fullmatch(idempotency_key):
            raise InvalidArgumentError(
                "idempotency_key must be 1-255 visible ASCII characters without whitespace"
            )
        headers += (("Idempotency-Key", idempotency_key),)
    if expires_after is not None:
        if (
            isinstance(expires_after, bool)
            or not isinstance(expires_after, int)
            or expires_after < MIN_EXPIRES_AFTER
        ):
            raise InvalidArgumentError(
                f"expires_after must be an integer number of seconds >= {MIN_EXPIRES_AFTER}, "
                f"got {expires_after!r}"
            )
        headers += (("Hf-Expires-After", str(expires_after)),)
    return SUBMIT.request(
        config, model=_model_path(model), query=query, headers=headers, body=_json_body(arguments)
    )


def build_status_request(config: ApiConfig, request_id: str) -> Request:
    """Build ``GET {base}/requests/{id}/status`` (the id percent-encoded).

    Raises:
        InvalidArgumentError: the id is not 1-200 printable characters, or is a dot segment.
    """
    return STATUS.request(config, request_id=request_id)


def build_cancel_request(config: ApiConfig, request_id: str) -> Request:
    """Build ``POST {base}/requests/{id}/cancel`` (no body). Raises InvalidArgumentError."""
    return CANCEL.request(config, request_id=request_id)


def build_delete_request(config: ApiConfig, request_id: str) -> Request:
    """Build ``DELETE {base}/requests/{id}``. Raises InvalidArgumentError for a bad id."""
    return DELETE.request(config, request_id=request_id)


def build_estimate_request(config: ApiConfig, model: str, arguments: Mapping[str, Any]) -> Request:
    """Build ``POST {base}/estimate/{model}`` with the same body a submit would carry."""
    return ESTIMATE.request(config, model=_model_path(model), body=_json_body(arguments))


def build_upload_slot_request(config: ApiConfig, content_type: str) -> Request:
    """Build ``POST {base}/files/generate-upload-url`` asking for a slot of ``content_type``."""
    if not isinstance(content_type, str) or "/" not in content_type or not _HEADER_SAFE.fullmatch(
        content_type
    ):
        raise InvalidArgumentError(f"invalid content type {content_type!r}")
    body = json.dumps({"content_type": content_type}).encode("utf-8")
    return UPLOAD_SLOT.request(config, body=body)


def build_upload_put_request(target: UploadTarget, body: Body) -> Request:
    """Build the presigned ``PUT`` of ``body`` to the slot.

    It carries exactly ``target.upload_headers`` and never a credential: no ApiConfig is involved.
    """
    return Request(method="PUT", url=target.upload_url, headers=target.upload_headers, body=body)


def build_download_request(url: str, *, user_agent: str = USER_AGENT) -> Request:
    """Build the ``GET`` of an output file: a User-Agent, the body as stored, never credentials.

    ``Accept-Encoding: identity`` asks for the stored bytes, so that their count can be checked
    against ``Content-Length``.

    Raises:
        InvalidArgumentError: ``url`` is not an absolute http(s) URL.
    """
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        shown = url.split("?", 1)[0] if isinstance(url, str) else url
        raise InvalidArgumentError(f"cannot download {shown!r}: not an http(s) URL")
    headers = (("User-Agent", user_agent), ("Accept-Encoding", "identity"))
    return Request(method="GET", url=url, headers=headers)
