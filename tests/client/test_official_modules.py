"""The official modules behave as adaptations onto this SDK: types, utils, auth, exceptions,
mixins, the request controller base, error helpers and the Agent API's official names."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import anyio
import httpx
import pytest

import higgsfield_client
from higgsfield_client import (
    AgentAccessDeniedError,
    AsyncClient,
    Completed,
    CredentialsMissedError,
    Failed,
    HiggsfieldClientError,
    InvalidArgumentError,
    NotFoundError,
    ProtocolError,
    Queued,
    SessionBusyError,
    SyncClient,
    UnknownStatusError,
    ValidationError,
    types_,
    utils,
)
from higgsfield_client.agents.errors import InsufficientCreditsError, raise_for_agent_status
from higgsfield_client.auth import get_credential_key
from higgsfield_client.exceptions import CredentialsMissedError as OfficialCredentialsMissedError
from higgsfield_client.exceptions import HiggsfieldClientError as OfficialRoot
from higgsfield_client.http.client import RequestController
from higgsfield_client.http.error import extract_error_message, raise_for_status
from higgsfield_client.mixins import UploadMixin
from higgsfield_client.testing import Emulator
from higgsfield_proto import JobState

ROOT = Path(__file__).resolve().parents[2]


# -- types_ and utils ----------------------------------------------------------------------------


def test_types_holds_the_very_status_classes_of_the_package() -> None:
    for name in ("Status", "Queued", "InProgress", "Completed", "Failed", "NSFW", "Cancelled"):
        assert getattr(types_, name) is getattr(higgsfield_client, name)
    seen_by_class = {types_.Completed: "done", types_.Failed: "broke"}  # code keys dicts on them
    assert seen_by_class[type(utils.get_status({"status": "completed"}))] == "done"
    assert seen_by_class[Failed] == "broke"


def test_status_enum_is_the_core_job_state_with_the_official_members() -> None:
    assert types_.StatusEnum is JobState
    assert [member.name for member in types_.StatusEnum] == [
        "QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED", "NSFW", "CANCELED",
    ]  # fmt: skip
    assert types_.StatusEnum("in_progress") == "in_progress"
    assert types_.AnyJSON == Dict[str, Any]


def test_get_status_makes_the_status_object_of_a_payload() -> None:
    status = utils.get_status({"status": "failed", "request_id": "r-1", "error": "the GPU melted"})
    assert isinstance(status, Failed)
    assert status.request_id == "r-1"
    assert status.error == "the GPU melted"
    assert isinstance(utils.get_status({"status": "queued"}), Queued)  # no id needed, as officially
    assert isinstance(utils.get_status({"status": "cancelled"}), higgsfield_client.Cancelled)
    assert {state: cls.__name__ for state, cls in utils.STATUS_MAPPER.items()}[JobState.NSFW] == "NSFW"
    assert utils.STATUS_MAPPER[types_.StatusEnum.COMPLETED] is Completed


@pytest.mark.parametrize("payload", [{"status": "done"}, {}, {"status": None}, ["completed"]])
def test_get_status_refuses_an_unknown_status_as_the_value_error_the_official_raises(payload: Any) -> None:
    with pytest.raises(ValueError, match="unknown job status") as info:
        utils.get_status(payload)
    assert isinstance(info.value, UnknownStatusError)


def test_get_url_adds_the_webhook_as_the_official_does() -> None:
    assert utils.get_url("bytedance/seedream/v4/text-to-image", None) == "bytedance/seedream/v4/text-to-image"
    assert (
        utils.get_url("m/x", "https://hook.example/a?b=1")
        == "m/x?hf_webhook=https%3A%2F%2Fhook.example%2Fa%3Fb%3D1"
    )


# -- auth and exceptions -------------------------------------------------------------------------


def test_get_credential_key_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_KEY", "HF_API_KEY", "HF_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CredentialsMissedError):
        get_credential_key()
    monkeypatch.setenv("HF_API_KEY", "kid")
    monkeypatch.setenv("HF_API_SECRET", "sec")
    assert get_credential_key() == "kid:sec"
    monkeypatch.setenv("HF_KEY", "whole:key")
    assert get_credential_key() == "whole:key"
    monkeypatch.setenv("HF_KEY", "no-colon")
    with pytest.raises(InvalidArgumentError, match="key_id"):
        get_credential_key()


def test_the_official_exceptions_are_the_sdks_and_user_code_can_raise_them() -> None:
    assert OfficialRoot is HiggsfieldClientError
    assert OfficialCredentialsMissedError is CredentialsMissedError
    with pytest.raises(HiggsfieldClientError, match="set HF_KEY"):
        raise CredentialsMissedError("set HF_KEY")


# -- mixins --------------------------------------------------------------------------------------


def test_both_clients_are_upload_mixins_with_the_official_helpers() -> None:
    client = SyncClient(api_key="a:b")
    assert isinstance(client, UploadMixin)
    assert isinstance(AsyncClient(api_key="a:b"), UploadMixin)
    assert client.guess_mime_type("photo.JPG") == "image/jpeg"
    assert client.guess_mime_type(Path("clip.mp4")) == "video/mp4"
    assert client.guess_mime_type("notes.unknownext") == "application/octet-stream"
    assert UploadMixin.ensure_bytes("é") == "é".encode()
    assert UploadMixin.ensure_bytes(b"\x00") == b"\x00"
    with pytest.raises(InvalidArgumentError, match="bytes or str"):
        UploadMixin.ensure_bytes(3)  # type: ignore[arg-type]


def test_image_to_bytes_encodes_a_pillow_image() -> None:
    from PIL import Image

    data = UploadMixin.image_to_bytes(Image.new("RGB", (4, 4)), "png")
    assert data.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(UploadMixin.image_to_bytes(Image.new("RGBA", (2, 2))))).format == "JPEG"


# -- the request controller base -----------------------------------------------------------------


def test_build_urls_puts_the_job_on_a_base_url() -> None:
    urls = RequestController.build_urls("https://api.example", "a b")
    assert urls == {
        "status_url": "https://api.example/requests/a%20b/status",
        "response_url": "https://api.example/requests/a%20b/status",
        "cancel_url": "https://api.example/requests/a%20b/cancel",
    }
    with pytest.raises(InvalidArgumentError):
        RequestController.build_urls("https://api.example", "..")


def test_a_request_controller_alone_holds_urls_on_the_default_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HIGGSFIELD_BASE_URL", "https://staging.example")
    controller = RequestController("r-1", cancel_url="https://elsewhere.example/c")
    assert controller.request_id == "r-1"
    assert controller.status_url == controller.response_url == "https://staging.example/requests/r-1/status"
    assert controller.cancel_url == "https://elsewhere.example/c"
    assert repr(controller) == "RequestController(request_id='r-1')"


def test_the_clients_controllers_are_request_controllers() -> None:
    assert isinstance(SyncClient(api_key="a:b").get_request_controller("r-1"), RequestController)
    assert isinstance(AsyncClient(api_key="a:b").get_request_controller("r-1"), RequestController)
    assert issubclass(higgsfield_client.SyncRequestController, RequestController)


def test_a_controller_built_the_official_way_says_what_to_use_instead() -> None:
    with pytest.raises(TypeError, match="get_request_controller"):
        higgsfield_client.SyncRequestController("r-1", object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="get_request_controller"):
        higgsfield_client.AsyncRequestController("r-1", object())  # type: ignore[arg-type]


# -- http.error and agents.errors ----------------------------------------------------------------

REQUEST = httpx.Request("GET", "https://api.higgsfield.ai/requests/r-1/status")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(422, json={"detail": [{"loc": ["body", "prompt"]}]}), [{"loc": ["body", "prompt"]}]),
        (httpx.Response(400, json={"detail": "", "message": "bad prompt"}), "bad prompt"),
        (httpx.Response(500, json={"error": "boom"}), "boom"),
        (httpx.Response(502, text="<html>gateway</html>"), "<html>gateway</html>"),
        (httpx.Response(400, json=["a", "list"]), '["a","list"]'),
        (httpx.Response(400, json={"other": 1}), '{"other":1}'),
    ],
)
def test_extract_error_message_reads_as_the_official_does(answer: httpx.Response, message: Any) -> None:
    assert extract_error_message(answer) == message


def test_extract_error_message_reads_the_cause_of_an_sdk_error_too() -> None:
    with pytest.raises(NotFoundError) as info:
        raise_for_status(httpx.Response(404, json={"detail": "Request not found"}, request=REQUEST))
    assert extract_error_message(info.value.__cause__.response) == "Request not found"  # type: ignore[union-attr]


def test_raise_for_status_returns_for_a_2xx_and_raises_typed_errors_from_httpx() -> None:
    assert raise_for_status(httpx.Response(200, json={}, request=REQUEST)) is None
    answer = httpx.Response(
        422, json={"detail": [{"loc": ["body", "prompt"], "msg": "Field required"}]},
        headers={"X-Correlation-ID": "c-9"}, request=REQUEST,
    )  # fmt: skip
    with pytest.raises(ValidationError) as info:
        raise_for_status(answer)
    error = info.value
    assert isinstance(error, HiggsfieldClientError)
    assert error.status_code == 422
    assert error.correlation_id == "c-9"
    assert [str(field) for field in error.errors] == ["prompt: Field required"]
    cause = error.__cause__
    assert isinstance(cause, httpx.HTTPStatusError)
    assert cause.response is answer
    assert cause.response.headers["x-correlation-id"] == "c-9"
    assert cause.request is REQUEST


def test_raise_for_status_of_a_response_built_without_its_request() -> None:
    with pytest.raises(NotFoundError) as info:
        raise_for_status(httpx.Response(404))
    assert isinstance(info.value.__cause__, httpx.HTTPStatusError)
    with pytest.raises(ProtocolError):
        raise_for_status(httpx.Response(302, headers={"Location": "/x"}))


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (403, AgentAccessDeniedError),
        (402, InsufficientCreditsError),
        (409, SessionBusyError),
        (404, NotFoundError),
    ],
)
def test_raise_for_agent_status_maps_the_agent_apis_errors(status: int, error_type: type) -> None:
    assert raise_for_agent_status(httpx.Response(201, json={})) is None
    with pytest.raises(error_type) as info:
        raise_for_agent_status(httpx.Response(status, json={"detail": "no"}))
    assert isinstance(info.value.__cause__, httpx.HTTPStatusError)


# -- without httpx ---------------------------------------------------------------------------------

WITHOUT_HTTPX = r"""
import sys
sys.modules["httpx"] = None  # importing httpx now fails, as when it is not installed
import higgsfield_client.http.client, higgsfield_client.http.transport, higgsfield_client.http.error
import higgsfield_client.agents.errors
from higgsfield_client.http.retry import NoRetry
from higgsfield_client.http.transport import HttpTransport
from higgsfield_client.http.error import raise_for_status, extract_error_message

class Answer:
    text = "plain"
    def json(self):
        raise ValueError("not JSON")

print(extract_error_message(Answer()))
attempts = [
    lambda: HttpTransport(object(), NoRetry()).request("GET", "/x"),
    lambda: raise_for_status(Answer()),
]
for attempt in attempts:
    try:
        attempt()
    except ImportError as exc:
        print(exc)
"""


def test_without_httpx_the_modules_import_and_the_httpx_names_say_which_extra_to_install() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", WITHOUT_HTTPX], capture_output=True, text=True, cwd=ROOT, check=True
    )
    first, *errors = ran.stdout.splitlines()
    assert first == "plain"
    assert len(errors) == 2
    for error in errors:
        assert "httpx" in error
        assert "[httpx]" in error


# -- the Agent API's official constructors -----------------------------------------------------------


def test_the_official_agent_resources_are_the_clients_and_take_the_official_constructors(
    emulator: Emulator,
) -> None:
    from higgsfield_client.agents.resources import AgentsResource, Media, Sessions

    assert isinstance(SyncClient(api_key="a:b").agents, AgentsResource)
    headers = {"Authorization": f"Key {emulator.api_key}"}
    with httpx.Client(headers=headers) as client, httpx.Client() as upload_client:
        agents = AgentsResource(client, upload_client, emulator.base_url)
        session = agents.sessions.create()
        state = Sessions(client, emulator.base_url).messages(session.session_id)
        url = Media(client, upload_client, emulator.base_url).upload(b"\x89PNG\r\n\x1a\n", "png")
    assert session.session_id
    assert state.messages == ()
    assert url.startswith("http")
    sent = [entry for entry in emulator.journal if entry.route.startswith("agent")]
    assert {entry.headers.get("authorization") for entry in sent} == {f"Key {emulator.api_key}"}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_official_async_agent_resources(emulator: Emulator, backend: str) -> None:
    from higgsfield_client.agents.resources import AsyncAgentsResource, AsyncMedia, AsyncSessions

    async def main() -> Any:
        headers = {"Authorization": f"Key {emulator.api_key}"}
        async with httpx.AsyncClient(headers=headers) as client, httpx.AsyncClient() as upload_client:
            session = await AsyncAgentsResource(client, upload_client, emulator.base_url).sessions.create()
            state = await AsyncSessions(client, emulator.base_url).messages(session.session_id)
            media = AsyncMedia(client, upload_client, emulator.base_url)
            return session, state, await media.upload(b"\x89PNG\r\n\x1a\n", "png")

    session, state, url = anyio.run(main, backend=backend)
    assert session.session_id
    assert state.status == "idle"
    assert url.startswith("http")
