"""Authentication, the model catalog, argument validation, estimates and X-Correlation-ID."""

from __future__ import annotations

import re
import string
from typing import Any, Dict, List, Tuple

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
    "veo3.1/image-to-video": {"prompt": "p", "image_url": "https://x.test/u.png"},  # minLength 3
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


# The routes that must answer without credentials: the presigned upload URL and the public files.
PUBLIC_ROUTES = {
    ("PUT", "/storage/{slot_id}"),
    ("GET", "/uploads/{name}"),
    ("HEAD", "/uploads/{name}"),
    ("GET", "/outputs/{request_id}/{name}"),
    ("HEAD", "/outputs/{request_id}/{name}"),
    ("GET", "/agent-outputs/{name}"),
    ("HEAD", "/agent-outputs/{name}"),
    ("GET", "/docs/openapi.json"),
    ("HEAD", "/docs/openapi.json"),
}
# A plausible value for each path parameter; a route with a new parameter must add it here.
PATH_VALUES = {
    "request_id": "0b6f3c52-8d1e-4f7a-9c2b-5e4d3a2f1b0c",
    "model_id": SOUL,
    "slot_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    "name": "0.png",
    "session_id": "50eeb94c-c396-439d-b504-aee2147b7ec0",
    "media_id": "m1.jpeg",
}


def registered_routes(emu: Emulator) -> List[Tuple[str, str, str, str]]:
    """(method, path template, route name, URL with plausible values) of every route served.

    Read from the router of the app the emulator is serving, so a route added later is walked too.
    """
    runner = emu._runner  # the live app: a route registered any way at all shows up here
    assert runner is not None
    routes = []
    for route in runner.app.router.routes():
        resource = route.resource
        assert resource is not None
        assert route.name is not None
        template = resource.canonical
        names = [field for _, field, _, _ in string.Formatter().parse(template) if field]
        missing = set(names) - set(PATH_VALUES)
        assert not missing, f"add plausible values for {sorted(missing)} of {template}"
        path = resource.url_for(**{name: PATH_VALUES[name] for name in names})
        routes.append((route.method, template, route.name, f"{emu.base_url}{path}"))
    return routes


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Key wrong:credentials"},
        {"Authorization": "Key {key_id}:wrong"},
        {"Authorization": "Bearer {key}"},
        {"Authorization": "Key {key_id}"},
        {"hf-api-key": "wrong", "hf-secret": "wrong"},
        {"hf-api-key": "{key_id}", "hf-secret": "nope"},
        {"hf-api-key": "{key_id}"},
    ],
    ids=[
        "none", "wrong-key", "wrong-secret", "bearer", "id-only",
        "legacy-wrong", "legacy-wrong-secret", "legacy-id-only",
    ],
)
def test_every_registered_route_needs_credentials_except_the_file_urls(
    emu: Emulator, headers: Dict[str, str]
) -> None:
    key_id = emu.api_key.split(":")[0]
    sent = {name: value.format(key=emu.api_key, key_id=key_id) for name, value in headers.items()}
    routes = registered_routes(emu)
    served = {(method, template) for method, template, _, _ in routes}
    assert served >= PUBLIC_ROUTES
    assert len(routes) > len(PUBLIC_ROUTES)
    for method, template, name, url in routes:
        response = requests.request(
            method,
            url,
            headers=sent,
            json={"prompt": "a lake at dawn"} if method == "POST" else None,
            data=b"abc" if method == "PUT" else None,
            timeout=10,
        )
        # The plausible values reached the route being walked, not a neighbour.
        assert emu.journal[-1].route == name, (method, template, emu.journal[-1].route)
        if (method, template) in PUBLIC_ROUTES:
            assert response.status_code != 401, (method, template, response.text)
        else:
            assert response.status_code == 401, (method, template, response.status_code)
            if method != "HEAD":
                assert response.json() == {"detail": "Invalid credentials"}
    assert emu.jobs() == []
    assert emu.uploads == []
    assert emu.agent_sessions() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nonexistent"),
        ("GET", "/"),
        ("PATCH", "/requests/x/status"),
        ("OPTIONS", "/files/generate-upload-url"),
        ("DELETE", "/storage/abc"),
        ("POST", "/uploads/x.png"),
        ("GET", "/outputs/a/b/c"),
    ],
)
def test_unmatched_paths_and_methods_need_credentials_before_not_found(
    emu: Emulator, http: requests.Session, method: str, path: str
) -> None:
    anonymous = requests.request(method, f"{emu.base_url}{path}", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "Invalid credentials"}
    assert "Allow" not in anonymous.headers
    known = http.request(method, f"{emu.base_url}{path}", timeout=10)
    assert known.status_code in (404, 405)
    assert "detail" in known.json()


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
    # soul/reference's published schema has the choices and ranges of the first soul models.
    body = {"prompt": "x", "aspect_ratio": "5:4", "seed": 0, "style_strength": 2, "batch_size": 3,
            "image_reference_url": "https://x.test/face.png"}
    response = submit(http, emu, body, model="higgsfield-ai/soul/reference")
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
