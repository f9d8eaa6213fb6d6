"""Presigned uploads: the slot, the storage host's PUT rules, and the public URL."""

from __future__ import annotations

import hashlib
import socket
import time
import tracemalloc
from pathlib import Path
from typing import Any, Dict
from urllib.parse import urlsplit

import pytest
import requests

from higgsfield_client.testing import Emulator


def _slot(http: requests.Session, emu: Emulator, content_type: str = "image/png") -> Dict[str, Any]:
    response = http.post(
        f"{emu.base_url}/files/generate-upload-url", json={"content_type": content_type}, timeout=10
    )
    assert response.status_code == 200, response.text
    body: Dict[str, Any] = response.json()
    return body


def test_slot_has_the_documented_shape(emu: Emulator, http: requests.Session) -> None:
    slot = _slot(http, emu, "image/jpeg")
    assert set(slot) == {"public_url", "upload_url", "content_type", "upload_headers"}
    assert slot["content_type"] == "image/jpeg"
    assert "X-Amz-Signature=" in slot["upload_url"]
    headers = slot["upload_headers"]
    assert headers["Content-Type"] == "image/jpeg"
    signed = {name for name in headers if name.lower().startswith("x-amz-meta-")}
    assert signed, "the slot must carry a signed extra header"


@pytest.mark.parametrize(
    "content_type",
    ["image/jpeg", "image/jpg", "image/png", "image/webp", "image/gif", "audio/wav",
     "audio/x-wav", "video/mp4"],
)
def test_every_supported_content_type_round_trips(
    emu: Emulator, http: requests.Session, content_type: str
) -> None:
    slot = _slot(http, emu, content_type)
    data = content_type.encode() * 100
    put = requests.put(slot["upload_url"], data=data, headers=slot["upload_headers"], timeout=10)
    assert put.status_code == 200, put.text
    public = requests.get(slot["public_url"], timeout=10)
    assert public.status_code == 200
    assert public.content == data
    assert public.headers["Content-Type"] == content_type


@pytest.mark.parametrize("body", [{"content_type": "application/octet-stream"}, {}, []])
def test_unsupported_or_missing_content_type_is_422(
    emu: Emulator, http: requests.Session, body: Any
) -> None:
    response = http.post(f"{emu.base_url}/files/generate-upload-url", json=body, timeout=10)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def _breakers(slot: Dict[str, Any], api_key: str) -> Dict[str, Dict[str, Any]]:
    headers = dict(slot["upload_headers"])
    signed = next(name for name in headers if name.lower().startswith("x-amz-meta-"))
    without = {k: v for k, v in headers.items() if k != signed}
    key_id, secret = api_key.split(":")
    return {
        "authorization": {"headers": {**headers, "Authorization": f"Key {api_key}"}},
        "legacy-credentials": {"headers": {**headers, "hf-api-key": key_id, "hf-secret": secret}},
        "other-content-type": {"headers": {**headers, "Content-Type": "image/jpeg"}},
        "no-content-type": {"headers": {k: v for k, v in headers.items() if k != "Content-Type"}},
        "missing-slot-header": {"headers": without},
        "altered-slot-header": {"headers": {**headers, signed: "0" * 32}},
        "wrong-signature": {
            "headers": headers,
            "url": slot["upload_url"].replace("X-Amz-Signature=", "X-Amz-Signature=0"),
        },
    }


@pytest.mark.parametrize(
    "case",
    ["authorization", "legacy-credentials", "other-content-type", "no-content-type",
     "missing-slot-header", "altered-slot-header", "wrong-signature"],
)
def test_put_is_rejected_when_it_breaks_a_rule(
    emu: Emulator, http: requests.Session, case: str
) -> None:
    slot = _slot(http, emu)
    breaker = _breakers(slot, emu.api_key)[case]
    with requests.Session() as bare:  # no default headers, like a storage client
        response = bare.put(
            breaker.get("url", slot["upload_url"]), data=b"abc", headers=breaker["headers"],
            timeout=10,
        )
    assert response.status_code == 403
    assert "<Error>" in response.text
    assert requests.get(slot["public_url"], timeout=10).status_code == 404
    assert emu.uploads == []


def test_expired_slot_is_rejected() -> None:
    with Emulator(upload_url_ttl=0.05) as emulator, requests.Session() as http:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        slot = _slot(http, emulator)
        time.sleep(0.1)
        response = requests.put(
            slot["upload_url"], data=b"abc", headers=slot["upload_headers"], timeout=10
        )
        assert response.status_code == 403
        assert "expired" in response.text


def test_chunked_upload_is_refused_with_411_and_stores_nothing(
    emu: Emulator, http: requests.Session
) -> None:
    slot = _slot(http, emu)
    parts = [b"a" * 1000, b"b" * 5000, b"c"]
    # requests sends a generator body with Transfer-Encoding: chunked and no Content-Length.
    response = requests.put(
        slot["upload_url"], data=iter(parts), headers=slot["upload_headers"], timeout=10
    )
    assert response.status_code == 411
    assert response.headers["Content-Type"].startswith("application/xml")
    assert "<Code>MissingContentLength</Code>" in response.text
    journal_put = [e for e in emu.journal if e.route == "put"][-1]
    assert journal_put.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in journal_put.headers
    assert journal_put.status == 411
    assert journal_put.body_length == 6001  # read to its end, then dropped
    assert emu.uploads == []
    assert requests.get(slot["public_url"], timeout=10).status_code == 404
    # The slot is still open for a PUT that states its length.
    retry = requests.put(
        slot["upload_url"], data=b"".join(parts), headers=slot["upload_headers"], timeout=10
    )
    assert retry.status_code == 200
    assert requests.get(slot["public_url"], timeout=10).content == b"".join(parts)


def test_raw_chunked_put_gets_411_length_required(
    emu: Emulator, http: requests.Session
) -> None:
    slot = _slot(http, emu)
    target = urlsplit(slot["upload_url"])
    assert target.hostname is not None
    assert target.port is not None
    lines = [f"PUT {target.path}?{target.query} HTTP/1.1", f"Host: {target.netloc}"]
    lines += [f"{name}: {value}" for name, value in slot["upload_headers"].items()]
    lines += ["Transfer-Encoding: chunked", "Connection: close"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection((target.hostname, target.port), timeout=10) as sock:
        sock.sendall(head + b"3\r\nabc\r\n0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 411 Length Required"
    assert b"<Code>MissingContentLength</Code>" in rest
    assert emu.uploads == []


def test_big_upload_is_streamed_to_disk_and_served_back(
    emu: Emulator, http: requests.Session, tmp_path: Path
) -> None:
    slot = _slot(http, emu, "video/mp4")
    source = tmp_path / "big.mp4"
    block = hashlib.sha256(b"seed").digest() * 32768  # 1 MiB
    with source.open("wb") as sink:
        for index in range(20):
            sink.write(bytes([index]) + block[1:])
    total = source.stat().st_size
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    tracemalloc.start()
    try:
        with source.open("rb") as stream:  # requests streams a file, with Content-Length
            response = requests.put(
                slot["upload_url"], data=stream, headers=slot["upload_headers"], timeout=60
            )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert response.status_code == 200
    assert peak < total // 4, f"the upload was buffered: peak {peak} bytes"
    put = [e for e in emu.journal if e.route == "put"][-1]
    assert put.headers["Content-Length"] == str(total)
    assert put.body_length == total
    name = slot["public_url"].rsplit("/", 1)[1]
    assert (name, total) in emu.uploads
    assert (emu.storage_dir / "uploads" / name).stat().st_size == total
    digest = hashlib.sha256()
    with requests.get(slot["public_url"], stream=True, timeout=60) as public:
        assert int(public.headers["Content-Length"]) == total
        for chunk in public.iter_content(1 << 16):
            digest.update(chunk)
    assert digest.hexdigest() == expected


@pytest.mark.parametrize("style", ["missing", "empty"])
def test_slot_without_upload_headers_needs_just_the_content_type(style: str) -> None:
    with Emulator(upload_headers_style=style) as emulator, requests.Session() as http:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        slot = _slot(http, emulator, "image/gif")
        if style == "missing":
            assert "upload_headers" not in slot
        else:
            assert slot["upload_headers"] == {}
        bare = requests.put(slot["upload_url"], data=b"x", timeout=10)
        assert bare.status_code == 403
        ok = requests.put(
            slot["upload_url"], data=b"gif", headers={"Content-Type": "image/gif"}, timeout=10
        )
        assert ok.status_code == 200
        assert requests.get(slot["public_url"], timeout=10).content == b"gif"


def test_lowercase_upload_headers_work_when_echoed(emu: Emulator, http: requests.Session) -> None:
    emu.upload_headers_style = "lowercase"
    slot = _slot(http, emu, "image/jpg")
    assert slot["upload_headers"]["content-type"] == "image/jpg"
    assert all(name == name.lower() for name in slot["upload_headers"])
    response = requests.put(slot["upload_url"], data=b"j", headers=slot["upload_headers"])
    assert response.status_code == 200
    with pytest.raises(ValueError, match="upload_headers_style"):
        emu.upload_headers_style = "weird"


def test_upload_headers_without_content_type_accept_a_bare_put(
    emu: Emulator, http: requests.Session
) -> None:
    emu.upload_headers_style = "no_content_type"
    slot = _slot(http, emu)
    assert "Content-Type" not in slot["upload_headers"]
    assert slot["upload_headers"]
    response = requests.put(slot["upload_url"], data=b"p", headers=slot["upload_headers"])
    assert response.status_code == 200
