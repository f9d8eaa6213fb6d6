"""Request builders: URLs, headers and bodies for every endpoint (PROTOCOL.md 2-5, 8)."""

from __future__ import annotations

import json
import math
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

import pytest
from proto_support import KEY_ID, REQUEST_ID, SECRET, secret_free

from higgsfield_proto import (
    MIN_EXPIRES_AFTER,
    ApiConfig,
    Credentials,
    InvalidArgumentError,
    Request,
    StreamedBody,
    UploadTarget,
    build_cancel_request,
    build_delete_request,
    build_estimate_request,
    build_status_request,
    build_submit_request,
    build_upload_put_request,
    build_upload_slot_request,
)
from higgsfield_proto._endpoints import STATUS

AUTH = f"Key {KEY_ID}:{SECRET}"


def _body(request: Request) -> Any:
    assert isinstance(request.body, bytes)
    return json.loads(request.body)


# -- submit ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "model",
    [
        "higgsfield-ai/soul/standard",
        "bytedance/seedream/v4/text-to-image",
        "kling-video/v2.5-turbo/pro/image-to-video",
        "veo3.1/image-to-video",
        "alibaba/wan-3.0/text-to-video",
        "z-image/turbo",
        "sora-2",
    ],
)
def test_submit_posts_the_flat_arguments_to_the_model_path_unencoded(config: ApiConfig, model: str) -> None:
    arguments = {"prompt": "A quiet alpine lake at sunrise", "aspect_ratio": "16:9", "seed": 7}
    request = build_submit_request(config, model, arguments)
    assert request.method == "POST"
    assert request.url == f"https://api.higgsfield.ai/{model}"
    assert _body(request) == arguments
    assert request.header("Authorization") == AUTH
    assert request.header("Content-Type") == "application/json"
    assert request.header("Idempotency-Key") is None
    assert request.header("Hf-Expires-After") is None


def test_submit_strips_surrounding_slashes_of_the_model_id(config: ApiConfig) -> None:
    request = build_submit_request(config, "/higgsfield-ai/soul/standard/", {})
    assert request.url == "https://api.higgsfield.ai/higgsfield-ai/soul/standard"


def test_submit_keeps_non_ascii_arguments_as_utf8(config: ApiConfig) -> None:
    request = build_submit_request(config, "z-image/turbo", {"prompt": "снег и 雪"})
    assert isinstance(request.body, bytes)
    assert "снег и 雪".encode() in request.body


@pytest.mark.parametrize(
    "webhook_url",
    [
        "https://hooks.example/higgsfield?token=a&b=c d",
        "https://hooks.example/path/ü#frag",
        "http://127.0.0.1:9000/hook",
    ],
)
def test_submit_url_encodes_the_webhook_as_hf_webhook(config: ApiConfig, webhook_url: str) -> None:
    request = build_submit_request(config, "higgsfield-ai/soul/standard", {}, webhook_url=webhook_url)
    parts = urlsplit(request.url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://api.higgsfield.ai/higgsfield-ai/soul/standard"
    )
    assert parse_qs(parts.query) == {"hf_webhook": [webhook_url]}
    assert "&" not in parts.query
    assert " " not in parts.query
    assert "#" not in request.url


def test_submit_sends_idempotency_key_and_retention_headers(config: ApiConfig) -> None:
    request = build_submit_request(
        config,
        "higgsfield-ai/soul/standard",
        {"prompt": "p"},
        idempotency_key="3f0b9a8e-0c6e-4df5-8c1e-4cf2a0f7d3a1",
        expires_after=7200,
    )
    assert request.header("Idempotency-Key") == "3f0b9a8e-0c6e-4df5-8c1e-4cf2a0f7d3a1"
    assert request.header("Hf-Expires-After") == "7200"
    assert request.header("Authorization") == AUTH


def test_submit_accepts_the_extreme_idempotency_keys_and_retention(config: ApiConfig) -> None:
    for key in ("k", "~" * 255, "!#$%&'*+-.^_`|~"):
        assert build_submit_request(config, "m", {}, idempotency_key=key).header("Idempotency-Key") == key
    assert build_submit_request(config, "m", {}, expires_after=MIN_EXPIRES_AFTER).header(
        "Hf-Expires-After"
    ) == str(MIN_EXPIRES_AFTER)


@pytest.mark.parametrize(
    "model",
    [
        "",
        "/",
        "bad model",
        "a//b",
        "a/../b",
        "a/./b",
        "a/b/..",
        "-leading-dash",
        "a/b?x=1",
        "a/b#f",
        "a/b\n",
        "a/%2e%2e/b",
        "ümlaut/model",
        None,
        42,
    ],
)
def test_submit_rejects_malformed_model_ids(config: ApiConfig, model: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        build_submit_request(config, model, {})
    with pytest.raises(InvalidArgumentError):
        build_estimate_request(config, model, {})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"idempotency_key": ""},
        {"idempotency_key": "has space"},
        {"idempotency_key": "tab\tkey"},
        {"idempotency_key": "newline\n"},
        {"idempotency_key": "x" * 256},
        {"idempotency_key": "ключ"},
        {"idempotency_key": 123},
        {"expires_after": MIN_EXPIRES_AFTER - 1},
        {"expires_after": 0},
        {"expires_after": True},
        {"expires_after": 3600.0},
        {"expires_after": "7200"},
        {"webhook_url": "ftp://hooks.example/x"},
        {"webhook_url": "hooks.example/x"},
        {"webhook_url": b"https://hooks.example"},
    ],
)
def test_submit_rejects_invalid_options(config: ApiConfig, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        build_submit_request(config, "higgsfield-ai/soul/standard", {"prompt": "p"}, **kwargs)


def test_a_refused_webhook_url_is_named_without_its_query(config: ApiConfig) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        build_submit_request(config, "m/x", {}, webhook_url="ftp://hooks.example/in?hf_ref=1&hf_token=s3cret")
    assert str(raised.value) == "webhook_url must be an http(s) URL, got 'ftp://hooks.example/in?...'"


@pytest.mark.parametrize(
    "arguments",
    [
        ["prompt", "p"],
        "prompt=p",
        None,
        {"seed": math.nan},
        {"seed": math.inf},
        {"when": object()},
        {"bytes": b"raw"},
    ],
)
def test_submit_rejects_arguments_that_are_not_a_json_object(config: ApiConfig, arguments: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        build_submit_request(config, "higgsfield-ai/soul/standard", arguments)
    with pytest.raises(InvalidArgumentError):
        build_estimate_request(config, "higgsfield-ai/soul/standard", arguments)


def test_invalid_argument_error_is_also_a_value_error() -> None:
    assert issubclass(InvalidArgumentError, ValueError)


# -- status, cancel, delete --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "method", "suffix", "json_type"),
    [
        (build_status_request, "GET", "/status", True),
        (build_cancel_request, "POST", "/cancel", True),
        (build_delete_request, "DELETE", "", False),
    ],
)
def test_request_id_endpoints(
    config: ApiConfig, builder: Any, method: str, suffix: str, json_type: bool
) -> None:
    request = builder(config, REQUEST_ID)
    assert request.method == method
    assert request.url == f"https://api.higgsfield.ai/requests/{REQUEST_ID}{suffix}"
    assert request.body is None
    assert request.header("Authorization") == AUTH
    assert (request.header("Content-Type") == "application/json") is json_type


def test_request_id_endpoints_follow_a_custom_base_url() -> None:
    config = ApiConfig(credentials=Credentials(key_id="a", secret="b"), base_url="http://127.0.0.1:8080/api/")
    assert build_status_request(config, "r-1").url == "http://127.0.0.1:8080/api/requests/r-1/status"


@pytest.mark.parametrize("request_id", ["", ".", "..", "id\n", "\x00", " lead", "x" * 201, None, 5])
@pytest.mark.parametrize("builder", [build_status_request, build_cancel_request, build_delete_request])
def test_request_id_endpoints_reject_ids_that_cannot_name_a_path_segment(
    config: ApiConfig, builder: Any, request_id: Any
) -> None:
    with pytest.raises(InvalidArgumentError):
        builder(config, request_id)


@pytest.mark.parametrize(
    ("request_id", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("../x", "..%2Fx"),
        ("é", "%C3%A9"),
    ],
)
@pytest.mark.parametrize("builder", [build_status_request, build_cancel_request, build_delete_request])
def test_request_ids_are_percent_encoded_into_one_path_segment(
    config: ApiConfig, builder: Any, request_id: str, segment: str
) -> None:
    url = builder(config, request_id).url
    assert url.split("/requests/", 1)[1].split("/")[0] == segment


# -- estimate ----------------------------------------------------------------------------------


def test_estimate_posts_the_submit_body_to_the_estimate_path(config: ApiConfig) -> None:
    arguments = {"prompt": "slow dolly in", "image_url": "https://cdn.example/in.jpg", "duration": 5}
    request = build_estimate_request(config, "kling-video/v2.6/pro/image-to-video", arguments)
    assert request.method == "POST"
    assert request.url == "https://api.higgsfield.ai/estimate/kling-video/v2.6/pro/image-to-video"
    assert _body(request) == arguments
    assert request.header("Authorization") == AUTH


# -- uploads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["image/jpeg", "image/jpg", "audio/x-wav", "video/mp4"])
def test_upload_slot_request_names_the_content_type(config: ApiConfig, content_type: str) -> None:
    request = build_upload_slot_request(config, content_type)
    assert request.method == "POST"
    assert request.url == "https://api.higgsfield.ai/files/generate-upload-url"
    assert _body(request) == {"content_type": content_type}
    assert request.header("Authorization") == AUTH


@pytest.mark.parametrize("content_type", ["", "jpeg", "image/jpeg\r\nX-Evil: 1", "image/jpeg\n", None])
def test_upload_slot_request_rejects_bad_content_types(config: ApiConfig, content_type: Any) -> None:
    with pytest.raises(InvalidArgumentError):
        build_upload_slot_request(config, content_type)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ((("Content-Type", "image/jpeg"), ("x-amz-tagging", "retention=temporary")), b"\xff\xd8jpeg"),
        ((("content-type", "image/jpg"), ("x-amz-meta-example", "1")), b""),
        ((("Content-Type", "video/mp4"),), None),
    ],
)
def test_upload_put_carries_exactly_the_slot_headers_and_no_credential(
    headers: tuple[tuple[str, str], ...], body: Optional[bytes]
) -> None:
    target = UploadTarget(
        public_url="https://cdn.example/input/abc.jpeg",
        upload_url="https://storage.example/presigned?X-Amz-Signature=abc",
        content_type="image/jpeg",
        upload_headers=headers,
    )
    request = build_upload_put_request(target, body)
    assert request.method == "PUT"
    assert request.url == target.upload_url
    assert request.headers == headers
    assert request.body is body
    assert request.header("Authorization") is None
    assert secret_free(request, SECRET, KEY_ID)


def test_upload_put_passes_a_streamed_body_through_unread() -> None:
    def never_read() -> list[bytes]:
        raise AssertionError("the builder must not read the body")

    body = StreamedBody(open=never_read, length=10)
    target = UploadTarget(
        public_url="https://cdn.example/a",
        upload_url="https://s/p",
        content_type="video/mp4",
        upload_headers=(),
    )
    assert build_upload_put_request(target, body).body is body


def test_an_endpoint_names_the_ids_it_needs(config: ApiConfig) -> None:
    assert STATUS.ids == ("request_id",)
    with pytest.raises(InvalidArgumentError, match="request_id"):
        STATUS.url(config)
    with pytest.raises(InvalidArgumentError, match="request_id"):
        STATUS.url(config, request_id="r", other="x")
    assert STATUS.url(config, request_id="r") == "https://api.higgsfield.ai/requests/r/status"
