"""Agent API media: the slot, the presigned PUT, confirmation and the public URL."""

from __future__ import annotations

import re
from typing import Any, Dict

import pytest
import requests
from emu_helpers import agent_url

from higgsfield_client.testing import AGENT_MEDIA_TYPES, Emulator


def _slot(http: requests.Session, emu: Emulator, extension: str = "jpeg",
          kind: str = "image") -> Dict[str, Any]:
    response = http.post(
        agent_url(emu, "/media"), json={"extension": extension, "type": kind}, timeout=10
    )
    assert response.status_code == 201, response.text
    slot: Dict[str, Any] = response.json()
    return slot


def _confirm(http: requests.Session, emu: Emulator, media_id: str, kind: str = "image"
             ) -> requests.Response:
    return http.post(agent_url(emu, f"/media/{media_id}/confirm"), json={"type": kind},
                     timeout=10)


def _put(slot: Dict[str, Any], data: bytes, **headers: str) -> requests.Response:
    # As the official agent upload does: only Content-Type, no credentials.
    sent = {"Content-Type": slot["content_type"], **headers}
    return requests.put(slot["upload_url"], data=data, headers=sent, timeout=10)


@pytest.mark.parametrize(
    ("kind", "extension", "content_type"),
    [
        ("image", "jpeg", "image/jpeg"),
        ("image", "PNG", "image/png"),
        ("video", "mp4", "video/mp4"),
        ("audio", "mp3", "audio/mpeg"),
        ("file", "pdf", "application/pdf"),
        ("file", "bin", "application/octet-stream"),
    ],
)
def test_media_slot_has_the_official_shape(
    emu: Emulator, http: requests.Session, kind: str, extension: str, content_type: str
) -> None:
    slot = _slot(http, emu, extension, kind)
    assert set(slot) == {"id", "type", "content_type", "upload_url", "url"}
    assert slot["id"] == f"m1.{extension.lower()}"
    assert (slot["type"], slot["content_type"]) == (kind, content_type)
    assert slot["upload_url"].startswith(f"{emu.base_url}/storage/")
    assert "X-Amz-Signature=" in slot["upload_url"]
    assert re.fullmatch(rf"{re.escape(emu.base_url)}/uploads/[0-9a-f]+\.{extension.lower()}",
                        slot["url"])


def test_media_ids_count_up_across_types(emu: Emulator, http: requests.Session) -> None:
    ids = [_slot(http, emu, "jpeg")["id"], _slot(http, emu, "wav", "audio")["id"],
           _slot(http, emu, "jpeg")["id"]]
    assert ids == ["m1.jpeg", "m2.wav", "m3.jpeg"]
    assert set(AGENT_MEDIA_TYPES) == {"image", "video", "audio", "file"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"extension": "jpeg", "type": "document"}, "type"),
        ({"extension": "jpeg", "type": ["image"]}, "type"),
        ({"extension": "jpeg"}, "type"),
        ({"type": "image"}, "extension"),
        ({"extension": 5, "type": "image"}, "extension"),
        ({"extension": "mp4", "type": "image"}, "extension"),
        ({"extension": "exe", "type": "video"}, "extension"),
        ({"extension": "", "type": "file"}, "extension"),
        ({"extension": "../x", "type": "file"}, "extension"),
        ({"extension": ".jpeg", "type": "image"}, "extension"),
    ],
)
def test_bad_type_or_extension_is_422_and_opens_nothing(
    emu: Emulator, http: requests.Session, body: Dict[str, Any], field: str
) -> None:
    response = http.post(agent_url(emu, "/media"), json=body, timeout=10)
    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [["body", field]]
    assert _slot(http, emu)["id"] == "m1.jpeg"


def test_media_body_that_is_not_a_json_object_is_422(
    emu: Emulator, http: requests.Session
) -> None:
    response = http.post(agent_url(emu, "/media"), json=["image"], timeout=10)
    assert response.status_code == 422


def test_upload_then_confirm_and_the_url_serves_the_bytes(
    emu: Emulator, http: requests.Session
) -> None:
    slot = _slot(http, emu)
    early = _confirm(http, emu, slot["id"])
    assert early.status_code == 200
    assert early.json() == {"id": slot["id"], "status": "pending"}
    assert requests.get(slot["url"], timeout=10).status_code == 404
    data = b"\xff\xd8\xff" + bytes(range(256)) * 10
    put = _put(slot, data)
    assert put.status_code == 200, put.text
    confirmed = _confirm(http, emu, slot["id"])
    assert confirmed.status_code == 200
    assert confirmed.json() == {"id": slot["id"], "status": "uploaded"}
    assert _confirm(http, emu, slot["id"]).json()["status"] == "uploaded"  # repeatable
    public = requests.get(slot["url"], timeout=10)
    assert public.status_code == 200
    assert public.content == data
    assert public.headers["Content-Type"] == "image/jpeg"
    assert (slot["url"].rsplit("/", 1)[1], len(data)) in emu.uploads


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Content-Type": "image/png"}, 403),
        ({"Content-Type": ""}, 403),
        ({"Authorization": "Key {key}"}, 403),
    ],
    ids=["other-content-type", "empty-content-type", "credentials"],
)
def test_a_refused_put_stores_nothing_and_confirm_stays_pending(
    emu: Emulator, http: requests.Session, headers: Dict[str, str], status: int
) -> None:
    slot = _slot(http, emu)
    sent = {name: value.format(key=emu.api_key) for name, value in headers.items()}
    refused = _put(slot, b"jpeg bytes", **sent)
    assert refused.status_code == status
    assert "<Error>" in refused.text
    assert _confirm(http, emu, slot["id"]).json()["status"] == "pending"
    assert requests.get(slot["url"], timeout=10).status_code == 404
    assert _put(slot, b"jpeg bytes").status_code == 200  # the slot stays usable


def test_a_chunked_put_gets_411(emu: Emulator, http: requests.Session) -> None:
    slot = _slot(http, emu)
    refused = requests.put(
        slot["upload_url"], data=iter([b"jpeg ", b"bytes"]),
        headers={"Content-Type": slot["content_type"]}, timeout=10,
    )
    assert refused.status_code == 411
    assert _confirm(http, emu, slot["id"]).json()["status"] == "pending"


def test_confirm_refuses_unknown_ids_and_other_types(
    emu: Emulator, http: requests.Session
) -> None:
    slot = _slot(http, emu)
    unknown = _confirm(http, emu, "m99.jpeg")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Media not found"}
    mismatch = _confirm(http, emu, slot["id"], kind="video")
    assert mismatch.status_code == 422
    assert mismatch.json() == {"detail": "media_type_mismatch"}
    for body in ({}, {"type": "pdf"}):
        invalid = http.post(agent_url(emu, f"/media/{slot['id']}/confirm"), json=body,
                            timeout=10)
        assert invalid.status_code == 422
        assert invalid.json()["detail"][0]["loc"] == ["body", "type"]
    not_object = http.post(agent_url(emu, f"/media/{slot['id']}/confirm"), json=["image"],
                           timeout=10)
    assert not_object.status_code == 422


def test_media_routes_need_agent_access(emu: Emulator, http: requests.Session) -> None:
    slot = _slot(http, emu)
    emu.agent_access = False
    denied = [
        http.post(agent_url(emu, "/media"), json={"extension": "jpeg", "type": "image"},
                  timeout=10),
        _confirm(http, emu, slot["id"]),
    ]
    for response in denied:
        assert response.status_code == 403
        assert response.json() == {"detail": "agent_api_access_denied"}
    # The storage host is not the Agent API: the presigned PUT still works.
    assert _put(slot, b"bytes").status_code == 200


def test_journal_names_the_media_routes(emu: Emulator, http: requests.Session) -> None:
    slot = _slot(http, emu)
    _put(slot, b"bytes")
    _confirm(http, emu, slot["id"])
    requests.get(slot["url"], timeout=10)
    assert [(entry.route, entry.status) for entry in emu.journal] == [
        ("agent-media", 201), ("put", 200), ("agent-media-confirm", 200), ("upload", 200)
    ]
    assert "Authorization" not in emu.journal[1].headers


@pytest.mark.parametrize("route", ["agent-media", "agent-media-confirm"])
def test_media_routes_take_scripted_faults(
    emu: Emulator, http: requests.Session, route: str
) -> None:
    slot = _slot(http, emu)
    assert _put(slot, b"bytes").status_code == 200
    emu.script_fault(route, "502")
    emu.script_fault("*", "429")
    if route == "agent-media":
        def call() -> requests.Response:
            return http.post(agent_url(emu, "/media"), json={"extension": "png", "type": "image"},
                             timeout=10)
    else:
        def call() -> requests.Response:
            return _confirm(http, emu, slot["id"])
    assert call().status_code == 502
    limited = call()
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert [entry.fault for entry in emu.journal[-2:]] == ["502", "429"]
    answer = call()
    assert answer.status_code < 300
    # Faults answered instead of the route: the next slot is only the second one.
    if route == "agent-media":
        assert answer.json()["id"] == "m2.png"
