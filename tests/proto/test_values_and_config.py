"""Credentials, ApiConfig and the plain value types."""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from proto_support import KEY_ID, SECRET

import higgsfield_proto as hp
from higgsfield_proto import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    ApiConfig,
    Credentials,
    CredentialsMissedError,
    FieldError,
    HiggsfieldError,
    InvalidArgumentError,
    JobState,
    Request,
    Response,
    StreamedBody,
    UploadTarget,
    job_status_from_payload,
)

# -- Credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key_id", "secret"),
    [
        ("abc:def", "abc", "def"),
        ("  abc:def\n", "abc", "def"),
        ("abc:de:f", "abc", "de:f"),
    ],
)
def test_credentials_from_string_splits_on_first_colon(value: str, key_id: str, secret: str) -> None:
    creds = Credentials.from_string(value)
    assert (creds.key_id, creds.secret) == (key_id, secret)
    assert creds.authorization == f"Key {key_id}:{secret}"


@pytest.mark.parametrize("value", ["", "abc", "abc:", ":def", "ab\nc:def", "abc:d\ref"])
def test_credentials_from_string_rejects_malformed_keys_without_echoing_them(value: str) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Credentials.from_string(value)
    if value:
        assert value not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HF_KEY": "a:b", "HF_API_KEY": "x", "HF_API_SECRET": "y"}, ("a", "b")),
        ({"HF_KEY": "", "HF_API_KEY": "x", "HF_API_SECRET": "y"}, ("x", "y")),
        ({"HF_API_KEY": "x", "HF_API_SECRET": "y"}, ("x", "y")),
    ],
)
def test_credentials_from_environment_prefers_hf_key(
    environ: dict[str, str], expected: tuple[str, str]
) -> None:
    creds = Credentials.from_environment(environ)
    assert (creds.key_id, creds.secret) == expected


@pytest.mark.parametrize("environ", [{}, {"HF_API_KEY": "x"}, {"HF_API_SECRET": "y"}, {"HF_KEY": ""}])
def test_credentials_from_environment_without_a_key_raises_credentials_missed(
    environ: dict[str, str],
) -> None:
    with pytest.raises(CredentialsMissedError):
        Credentials.from_environment(environ)
    assert issubclass(CredentialsMissedError, HiggsfieldError)


def test_credentials_repr_hides_the_secret() -> None:
    creds = Credentials(key_id=KEY_ID, secret=SECRET)
    assert SECRET not in repr(creds)
    assert KEY_ID in repr(creds)
    config = ApiConfig(credentials=creds)
    assert SECRET not in repr(config)


# -- ApiConfig ---------------------------------------------------------------------------------


def _config(base_url: str, *, allow_insecure_http: bool = False) -> ApiConfig:
    return ApiConfig(
        credentials=Credentials(key_id=KEY_ID, secret=SECRET),
        base_url=base_url,
        allow_insecure_http=allow_insecure_http,
    )


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        (DEFAULT_BASE_URL, "https://api.higgsfield.ai"),
        ("https://platform.higgsfield.ai/", "https://platform.higgsfield.ai"),
        ("https://proxy.example/higgsfield/", "https://proxy.example/higgsfield"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("http://localhost", "http://localhost"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
    ],
)
def test_api_config_accepts_https_and_loopback_http(base_url: str, root: str) -> None:
    config = _config(base_url)
    assert config.root == root
    assert config.url("requests/x/status") == f"{root}/requests/x/status"


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://api.higgsfield.ai",
        "api.higgsfield.ai",
        "https://",
        "https://api.higgsfield.ai/?x=1",
        "https://api.higgsfield.ai/#frag",
        "https://user:pw@api.higgsfield.ai",
        "http://api.higgsfield.ai",
        "https://api.higgsfield.ai:99999",
        "https://api.higgsfield.ai:port",
        "http://[::1",
    ],
)
def test_api_config_rejects_unusable_base_urls(base_url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        _config(base_url)


def test_api_config_allows_plain_http_to_a_remote_host_only_when_insisted() -> None:
    assert _config("http://api.internal", allow_insecure_http=True).root == "http://api.internal"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.higgsfield.ai/requests/1/status", True),
        ("https://API.higgsfield.ai:443/x", True),
        ("https://platform.higgsfield.ai/requests/1/status", False),
        ("http://api.higgsfield.ai/x", False),
        ("https://api.higgsfield.ai:8443/x", False),
        ("https://storage.example/presigned?X-Amz-Signature=1", False),
        ("https://api.higgsfield.ai:99999/x", False),
        ("https://[zz/", False),
    ],
)
def test_is_api_url_compares_scheme_host_and_port(url: str, expected: bool) -> None:
    assert _config(DEFAULT_BASE_URL).is_api_url(url) is expected


def test_api_headers_carry_credentials_user_agent_and_json_type() -> None:
    config = _config(DEFAULT_BASE_URL)
    assert config.api_headers() == (
        ("Authorization", f"Key {KEY_ID}:{SECRET}"),
        ("User-Agent", USER_AGENT),
        ("Content-Type", "application/json"),
    )
    assert ("Content-Type", "application/json") not in config.api_headers(json_body=False)


# -- Values ------------------------------------------------------------------------------------


def test_request_repr_shows_header_names_but_never_their_values() -> None:
    request = Request(method="GET", url="https://x/y", headers=(("Authorization", f"Key {KEY_ID}:{SECRET}"),))
    assert "Authorization" in repr(request)
    assert SECRET not in repr(request)


def test_header_lookup_is_case_insensitive_and_returns_the_first_value() -> None:
    response = Response(status=200, headers=(("x-correlation-id", "a"), ("X-Correlation-ID", "b")))
    assert response.header("X-CORRELATION-ID") == "a"
    assert response.header("Missing") is None
    assert Request(method="GET", url="u", headers=(("A", "1"),)).header("a") == "1"


def test_streamed_body_reopens_its_source_on_every_pass() -> None:
    opened: list[int] = []

    def source() -> list[bytes]:
        opened.append(1)
        return [b"ab", b"c"]

    body = StreamedBody(open=source, length=3)
    assert b"".join(body.chunks()) == b"abc"
    assert b"".join(body.chunks()) == b"abc"
    assert len(opened) == 2


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (JobState.QUEUED, False),
        (JobState.IN_PROGRESS, False),
        (JobState.COMPLETED, True),
        (JobState.FAILED, True),
        (JobState.NSFW, True),
        (JobState.CANCELED, True),
    ],
)
def test_job_state_terminality(state: JobState, terminal: bool) -> None:
    assert state.is_terminal is terminal
    status = job_status_from_payload({"status": state.value, "request_id": "r"})
    assert status.is_terminal is terminal


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (FieldError(loc=("body", "prompt"), msg="Field required", type="missing"), "prompt: Field required"),
        (FieldError(loc=("body", "images", 0), msg="bad"), "images.0: bad"),
        (FieldError(loc=("body",), msg="not an object"), "body: not an object"),
        (FieldError(loc=(), msg="oops"), "body: oops"),
    ],
)
def test_field_error_str_names_the_field(error: FieldError, text: str) -> None:
    assert str(error) == text


def test_upload_target_repr_hides_the_presigned_url() -> None:
    target = UploadTarget(
        public_url="https://cdn.example/a.jpg",
        upload_url="https://storage.example/p?X-Amz-Signature=topsecret",
        content_type="image/jpeg",
        upload_headers=(("Content-Type", "image/jpeg"),),
    )
    assert "topsecret" not in repr(target)
    assert "https://cdn.example/a.jpg" in repr(target)


def test_statuses_with_artifacts_are_hashable() -> None:
    status = job_status_from_payload({"status": "completed", "request_id": "r", "zip": "https://c/z.zip"})
    assert hash(status) == hash(job_status_from_payload(dict(status.payload)))


# -- the shape of every value type ---------------------------------------------------------------

_VALUE_TYPES = sorted(
    (value for value in vars(hp).values() if isinstance(value, type) and dataclasses.is_dataclass(value)),
    key=lambda cls: cls.__name__,
)


def test_the_core_exports_its_value_types() -> None:
    names = {cls.__name__ for cls in _VALUE_TYPES}
    assert {"Request", "Response", "Send", "FlowEnv", "JobStatus", "RetryPolicy", "Endpoint"} <= names


# The official SDK's Agent API types keep its positional order, so that code built on them runs.
_OFFICIAL_SHAPES = {"AgentMessage", "AgentSession", "SessionState", "TurnResult"}


@pytest.mark.parametrize("cls", _VALUE_TYPES, ids=lambda cls: cls.__name__)
def test_every_value_type_is_a_frozen_slotted_keyword_only_dataclass_with_the_generated_init(
    cls: type,
) -> None:
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in vars(cls)
    if cls.__name__ in _OFFICIAL_SHAPES:
        return
    assert all(field.kw_only for field in dataclasses.fields(cls))
    # No hand-written shortcut: the __init__ is the one dataclasses generated.
    assert cls.__init__.__code__.co_filename != inspect.getsourcefile(cls)  # type: ignore[misc]
    with pytest.raises(TypeError):
        cls(object())  # a positional argument is refused
