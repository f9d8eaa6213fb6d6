"""Agent API answers that link an image the emulator generated and serves from its file store."""

from __future__ import annotations

import io
import re
from typing import Any, Dict, List

import pytest
import requests
from emu_helpers import accepted, agent_url, ended, open_session, read, texts, wait_state
from PIL import Image

from higgsfield_client.testing import Emulator


def _image_url(emu: Emulator) -> str:
    return re.escape(emu.base_url) + r"/agent-outputs/[0-9a-f]{32}\.png"


def _png(url: str) -> bytes:
    """Download ``url`` with no credentials at all; check it is a whole PNG; return its bytes."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG"
        image.verify()
    return response.content


def _size(data: bytes) -> Any:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def _reply(http: requests.Session, emu: Emulator, content: str) -> Dict[str, Any]:
    session_id = open_session(http, emu)
    message_id = accepted(http, emu, session_id, content)
    rows: List[Dict[str, Any]] = wait_state(http, emu, session_id, ended, after=message_id)[
        "messages"
    ]
    assert len(rows) == 1
    return rows[0]


def test_image_marker_links_a_png_the_emulator_serves_without_credentials(
    emu: Emulator, http: requests.Session
) -> None:
    row = _reply(http, emu, "a red fox [image]")
    assert row["status"] == "completed"
    parts = row["message"]["parts"]
    assert [part["type"] for part in parts] == ["step-start", "reasoning", "text", "text"]
    reply, url = texts(row)
    assert reply == "Echo: a red fox [image]"
    assert re.fullmatch(_image_url(emu), url)
    data = _png(url)
    assert _size(data) == (256, 256)
    # Served from the emulator's file store, the same bytes on every download.
    name = url.rsplit("/", 1)[1]
    assert (emu.storage_dir / "agent-outputs" / name).read_bytes() == data
    assert _png(url) == data
    entry = emu.journal[-1]
    assert (entry.route, entry.status, entry.fault) == ("agent-output", 200, None)
    assert "Authorization" not in entry.headers
    # A CDN URL: it needs no agent access either.
    emu.agent_access = False
    assert _png(url) == data
    assert emu.uploads == []


def test_scripted_images_follow_the_asset_urls_one_per_line(
    emu: Emulator, http: requests.Session
) -> None:
    job_output = "https://cdn.example/outputs/1.png"
    emu.script_agent_turn("completed", text="Here they are:", asset_urls=[job_output], images=2)
    row = _reply(http, emu, "two posters")
    reply, links = texts(row)
    assert reply == "Here they are:"
    listed, first, second = links.split("\n")
    assert listed == job_output
    assert re.fullmatch(_image_url(emu), first)
    assert re.fullmatch(_image_url(emu), second)
    assert first != second
    assert _png(first) != _png(second)


def test_an_answer_to_a_question_about_an_image_links_one(
    emu: Emulator, http: requests.Session
) -> None:
    session_id = open_session(http, emu)
    asked = accepted(http, emu, session_id, "a poster [question] [image]")
    parked = wait_state(http, emu, session_id, lambda s: s["status"] == "awaiting_input",
                        after=asked)
    (question,) = texts(parked["messages"][0])  # a question links nothing
    answered = accepted(http, emu, session_id, "blue")
    (row,) = wait_state(http, emu, session_id, ended, after=answered)["messages"]
    reply, url = texts(row)
    assert reply == "Echo: blue"
    assert question in row["message"]["parts"][1]["text"]  # the reasoning part
    assert re.fullmatch(_image_url(emu), url)
    _png(url)


@pytest.mark.parametrize("content", ["no image [fail] [image]", "a plain reply"])
def test_a_failed_or_unmarked_turn_links_no_image(
    emu: Emulator, http: requests.Session, content: str
) -> None:
    row = _reply(http, emu, content)
    assert len(texts(row)) == 1
    assert "/agent-outputs/" not in texts(row)[0]


def test_an_unknown_image_is_an_s3_404_without_credentials(emu: Emulator) -> None:
    response = requests.get(f"{emu.base_url}/agent-outputs/{'0' * 32}.png", timeout=10)
    assert response.status_code == 404
    assert "<Code>NoSuchKey</Code>" in response.text
    assert emu.journal[-1].route == "agent-output"


def test_image_downloads_get_only_the_faults_scripted_for_them(
    emu: Emulator, http: requests.Session
) -> None:
    (_, url) = texts(_reply(http, emu, "a fox [image]"))
    emu.script_fault("agent-output", "503")
    assert requests.get(url, timeout=10).status_code == 503
    data = _png(url)
    emu.script_fault("agent-output", "truncate")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(url, timeout=10).content  # noqa: B018 - reading the body is the point
    # Neither "*" nor fault_rate touch image downloads: an API route takes the "*" fault.
    emu.script_fault("*", "500")
    assert _png(url) == data
    assert http.post(agent_url(emu, "/sessions"), json={}, timeout=10).status_code == 500
    emu.fault_rate = 1.0
    assert _png(url) == data
    faults: List[Any] = [entry.fault for entry in emu.journal if entry.route == "agent-output"]
    assert faults == ["503", None, "truncate", None, None]


def test_full_size_images_make_full_size_answer_images(http: requests.Session) -> None:
    with Emulator(agent_turn_time=0, full_size_images=True) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        session_id = open_session(http, emulator)
        accepted(http, emulator, session_id, "big [image]")
        (_, url) = texts(read(http, emulator, session_id)["messages"][-1])
        assert _size(_png(url)) == (1024, 1024)
