"""Authentication, the model catalog, argument validation, estimates and X-Correlation-ID."""

from __future__ import annotations

import re
from typing import Any, Dict

import pytest
import requests
from emu_helpers import KLING, SOUL, submit

from higgsfield_client.testing import DEFAULT_MODELS, Emulator

# One valid body per PROTOCOL.md section 10 model: the required arguments only.
MINIMAL_BODIES: Dict[str, Dict[str, Any]] = {
    "higgsfield-ai/soul/standard": {"prompt": "p"},
    "higgsfield-ai/soul/v2/standard": {"prompt": "p"},
    "bytedance/seedream/v4/text-to-image": {"prompt": "p", "resolution": "2K"},
    "higgsfield-ai/dop/standard": {"prompt": "p", "image_url": "u"},
    "higgsfield-ai/dop/lite": {"prompt": "p", "image_url": "u"},
    "higgsfield-ai/dop/turbo": {"prompt": "p", "image_url": "u"},
    "kling-video/v2.1/pro/image-to-video": {"prompt": "p", "image_url": "u"},
    "kling-video/v2.6/pro/image-to-video": {"prompt": "p", "image_url": "u", "duration": 5},
    "bytedance/seedance-2.0/image-to-video": {"image_url": "u"},
    "minimax/hailuo-2.3/standard/image-to-video": {"prompt": "p", "image_url": "u"},
    "alibaba/wan-3.0/text-to-video": {"prompt": "p"},
    "alibaba/qwen-image-3/edit": {"prompt": "p", "image_urls": ["u"]},
    "veo3.1/image-to-video": {"prompt": "p", "image_url": "u"},
    "sora-2/text-to-video": {"prompt": "p"},
    "higgsfield/genjutsu/motion-transfer/v1.0": {"video_url": "v", "image_urls": ["u"]},
    "z-image/turbo": {"prompt": "p"},
    "recraft/v4.1/text-to-image": {"prompt": "p"},
}


def test_authorization_key_header_is_accepted(emu: Emulator) -> None:
    response = requests.post(
        f"{emu.base_url}/{SOUL}",
        json={"prompt": "x"},
        headers={"Authorization": f"Key {emu.api_key}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["status"] == "queued"


def test_legacy_header_pair_is_accepted(emu: Emulator) -> None:
    key_id, secret = emu.api_key.split(":", 1)
    response = requests.post(
        f"{emu.base_url}/{SOUL}",
        json={"prompt": "x"},
        headers={"hf-api-key": key_id, "hf-secret": secret},
        timeout=10,
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Key wrong:credentials"},
        {"Authorization": "Bearer {key}"},
        {"Authorization": "Key {key_id}"},
        {"hf-api-key": "{key_id}"},
        {"hf-api-key": "{key_id}", "hf-secret": "nope"},
    ],
    ids=["none", "wrong", "bearer", "id-only", "legacy-id-only", "legacy-wrong-secret"],
)
def test_missing_or_wrong_credentials_get_401_on_every_api_route(
    emu: Emulator, headers: Dict[str, str]
) -> None:
    key_id = emu.api_key.split(":")[0]
    sent = {name: value.format(key=emu.api_key, key_id=key_id) for name, value in headers.items()}
    base = emu.base_url
    calls = [
        ("POST", f"{base}/{SOUL}", {"prompt": "x"}),
        ("GET", f"{base}/requests/00000000-0000-4000-8000-000000000000/status", None),
        ("POST", f"{base}/requests/00000000-0000-4000-8000-000000000000/cancel", None),
        ("DELETE", f"{base}/requests/00000000-0000-4000-8000-000000000000", None),
        ("POST", f"{base}/files/generate-upload-url", {"content_type": "image/png"}),
        ("POST", f"{base}/estimate/{SOUL}", {"prompt": "x"}),
    ]
    for method, url, body in calls:
        response = requests.request(method, url, json=body, headers=sent, timeout=10)
        assert response.status_code == 401, (method, url)
        assert response.json() == {"detail": "Invalid credentials"}
    assert emu.jobs() == []


def test_unknown_model_is_404(emu: Emulator, http: requests.Session) -> None:
    response = submit(http, emu, model="no-such/model/v1")
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


def test_catalog_has_every_protocol_section_10_model(
    emu: Emulator, http: requests.Session
) -> None:
    assert set(MINIMAL_BODIES) <= {model.model_id for model in DEFAULT_MODELS}
    for model, body in MINIMAL_BODIES.items():
        response = submit(http, emu, body, model=model)
        assert response.status_code == 200, (model, response.text)
        assert response.json()["status"] == "queued"


def test_missing_required_arguments_get_422_with_the_field_list(
    emu: Emulator, http: requests.Session
) -> None:
    response = submit(http, emu, {"duration": 5}, model=KLING)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [item["loc"] for item in detail] == [["body", "prompt"], ["body", "image_url"]]
    assert {item["type"] for item in detail} == {"missing"}
    assert detail[0]["msg"] == "Field required"
    assert detail[0]["input"] == {"duration": 5}
    assert emu.jobs() == []


def test_choice_and_range_arguments_are_validated(emu: Emulator, http: requests.Session) -> None:
    body = {"prompt": "x", "aspect_ratio": "5:4", "seed": 0, "style_strength": 2, "batch_size": 3}
    response = submit(http, emu, body)
    assert response.status_code == 422
    by_field = {item["loc"][1]: item for item in response.json()["detail"]}
    assert by_field["aspect_ratio"]["type"] == "literal_error"
    assert "'16:9'" in by_field["aspect_ratio"]["msg"]
    assert by_field["seed"]["type"] == "greater_than_equal"
    assert by_field["style_strength"]["type"] == "less_than_equal"
    assert by_field["batch_size"]["type"] == "literal_error"


def test_wrong_argument_type_is_422(emu: Emulator, http: requests.Session) -> None:
    response = submit(http, emu, {"prompt": 42})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "string_type"


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", b"", b'"text"'])
def test_body_that_is_not_a_json_object_is_422(
    emu: Emulator, http: requests.Session, raw: bytes
) -> None:
    response = http.post(
        f"{emu.base_url}/{SOUL}", data=raw, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)


def test_estimate_prices_a_body_in_decimal_strings(emu: Emulator, http: requests.Session) -> None:
    one = http.post(f"{emu.base_url}/estimate/{SOUL}", json={"prompt": "x"}, timeout=10)
    four = http.post(
        f"{emu.base_url}/estimate/{SOUL}", json={"prompt": "x", "batch_size": 4}, timeout=10
    )
    assert one.status_code == four.status_code == 200
    assert set(one.json()) == {"credits", "usd"}
    for value in (*one.json().values(), *four.json().values()):
        assert isinstance(value, str)
        assert re.fullmatch(r"\d+\.\d{3}", value)
    assert one.json() == {"credits": "1.500", "usd": "0.094"}
    assert float(four.json()["credits"]) == 4 * float(one.json()["credits"])
    assert emu.jobs() == []


def test_estimate_rejects_unknown_models_and_invalid_bodies(
    emu: Emulator, http: requests.Session
) -> None:
    assert http.post(f"{emu.base_url}/estimate/nope/x", json={}, timeout=10).status_code == 404
    missing = http.post(f"{emu.base_url}/estimate/{KLING}", json={"prompt": "x"}, timeout=10)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "image_url"]


def test_every_response_has_a_unique_correlation_id(emu: Emulator, http: requests.Session) -> None:
    request_id = submit(http, emu).json()["request_id"]
    responses = [
        submit(http, emu),
        submit(http, emu, {}),
        submit(http, emu, model="nope/x"),
        http.get(f"{emu.base_url}/requests/{request_id}/status", timeout=10),
        http.get(f"{emu.base_url}/requests/unknown/status", timeout=10),
        http.post(f"{emu.base_url}/estimate/{SOUL}", json={"prompt": "x"}, timeout=10),
        http.get(f"{emu.base_url}/no/such/route", timeout=10),
        requests.get(f"{emu.base_url}/requests/{request_id}/status", timeout=10),
        requests.put(f"{emu.base_url}/storage/nothing", data=b"x", timeout=10),
        requests.get(f"{emu.base_url}/uploads/nothing.png", timeout=10),
    ]
    ids = [response.headers.get("X-Correlation-ID") for response in responses]
    assert all(ids), ids
    assert len(set(ids)) == len(ids)


def test_unknown_route_answers_json_not_found(emu: Emulator, http: requests.Session) -> None:
    response = http.get(f"{emu.base_url}/no/such/route", timeout=10)
    assert response.status_code in (404, 405)
    assert "detail" in response.json()


def test_https_with_a_trusted_certificate(tmp_path: object) -> None:
    trustme = pytest.importorskip("trustme")
    import ssl
    from pathlib import Path

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    ca_file = Path(str(tmp_path)) / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with Emulator(ssl_context=server_context) as emulator:
        assert emulator.base_url.startswith("https://localhost:")
        response = requests.post(
            f"{emulator.base_url}/{SOUL}",
            json={"prompt": "x"},
            headers={"Authorization": f"Key {emulator.api_key}"},
            verify=str(ca_file),
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["status_url"].startswith("https://localhost:")
