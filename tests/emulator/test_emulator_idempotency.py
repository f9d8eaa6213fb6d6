"""Idempotency-Key: replays, fingerprint mismatches, key format, and keys not consumed."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import requests
from emu_helpers import SOUL, submit, wait_status

from higgsfield_client.testing import Emulator

BODY = {"prompt": "x", "aspect_ratio": "16:9", "style_id": None}
MISMATCH = {"detail": "Idempotency-Key reused with different parameters"}


def test_same_key_and_body_returns_the_original_request(
    emu: Emulator, http: requests.Session
) -> None:
    first = submit(http, emu, BODY, headers={"Idempotency-Key": "key-1"})
    reordered = dict(reversed(list(BODY.items())))
    again = submit(http, emu, reordered, headers={"Idempotency-Key": "key-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert len(emu.jobs()) == 1
    assert emu.jobs()[0].idempotency_key == "key-1"


def test_replay_after_the_job_finished_keeps_its_identity(
    emu: Emulator, http: requests.Session
) -> None:
    rid = submit(http, emu, BODY, headers={"Idempotency-Key": "key-2"}).json()["request_id"]
    wait_status(http, emu, rid)
    again = submit(http, emu, BODY, headers={"Idempotency-Key": "key-2"})
    assert again.json()["request_id"] == rid
    assert emu.job(rid).status == "completed"
    assert len(emu.jobs()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"body": {**BODY, "prompt": "y"}},
        {"body": {k: v for k, v in BODY.items() if k != "style_id"}},  # omitted versus null
        {"model": "higgsfield-ai/soul/v2/standard"},
        {"params": {"hf_webhook": "https://example.test/hook"}},
        {"headers": {"Hf-Expires-After": "3600"}},
    ],
    ids=["body", "null-vs-missing", "url", "webhook", "expires-after"],
)
def test_same_key_with_different_parameters_is_422(
    emu: Emulator, http: requests.Session, change: Dict[str, Any]
) -> None:
    assert submit(http, emu, BODY, headers={"Idempotency-Key": "key-3"}).status_code == 200
    headers = {"Idempotency-Key": "key-3", **change.get("headers", {})}
    response = submit(
        http, emu, change.get("body", BODY), model=change.get("model", SOUL), headers=headers,
        params=change.get("params"),
    )
    assert response.status_code == 422
    assert response.json() == MISMATCH
    assert len(emu.jobs()) == 1


def test_array_order_is_part_of_the_fingerprint(emu: Emulator, http: requests.Session) -> None:
    model = "alibaba/qwen-image-3/edit"
    body = {"prompt": "x", "image_urls": ["a", "b"]}
    headers = {"Idempotency-Key": "key-4"}
    assert submit(http, emu, body, model=model, headers=headers).status_code == 200
    swapped = {"prompt": "x", "image_urls": ["b", "a"]}
    assert submit(http, emu, swapped, model=model, headers=headers).json() == MISMATCH


def test_rejected_submit_does_not_consume_the_key(emu: Emulator, http: requests.Session) -> None:
    headers = {"Idempotency-Key": "key-5"}
    assert submit(http, emu, {}, headers=headers).status_code == 422
    unauthorized = requests.post(
        f"{emu.base_url}/{SOUL}", json={"prompt": "other"}, headers=headers, timeout=10
    )
    assert unauthorized.status_code == 401
    accepted = submit(http, emu, BODY, headers=headers)
    assert accepted.status_code == 200
    assert submit(http, emu, BODY, headers=headers).json() == accepted.json()


@pytest.mark.parametrize("key", ["has space", "x" * 256, "", "tab\there", "caf\u00e9"])
def test_malformed_keys_are_422(emu: Emulator, http: requests.Session, key: str) -> None:
    response = http.post(
        f"{emu.base_url}/{SOUL}",
        json=BODY,
        headers={"Idempotency-Key": key.encode("utf-8")},
        timeout=10,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    assert emu.jobs() == []


def test_longest_valid_key_is_accepted(emu: Emulator, http: requests.Session) -> None:
    key = "~" * 255
    assert submit(http, emu, BODY, headers={"Idempotency-Key": key}).status_code == 200
