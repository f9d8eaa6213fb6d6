"""Job lifecycle, outcomes, status shapes, outputs, cancel, delete, retention and capacity."""

from __future__ import annotations

import io
import re
import time
from datetime import datetime, timezone
from typing import Set

import pytest
import requests
from emu_helpers import KLING, submit, wait_status, wait_until
from PIL import Image

from higgsfield_client.testing import Emulator

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WEEK = 7 * 24 * 3600
# Its published schema takes "720p" (soul/standard's takes "2K" or "4K").
POPCORN = "higgsfield-ai/popcorn/auto"


def _epoch(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def test_submit_answers_queued_with_absolute_urls(emu: Emulator, http: requests.Session) -> None:
    response = submit(http, emu)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "request_id", "status_url", "cancel_url"}
    assert body["status"] == "queued"
    rid = body["request_id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", rid)
    assert body["status_url"] == f"{emu.base_url}/requests/{rid}/status"
    assert body["cancel_url"] == f"{emu.base_url}/requests/{rid}/cancel"


def test_job_goes_queued_then_in_progress_then_completed(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_next_job(queue_time=1.0, run_time=1.0)
    rid = submit(http, emu).json()["request_id"]
    seen = [wait_status(http, emu, rid, {"queued", "in_progress", "completed"})["status"]]
    assert seen == ["queued"]
    seen.append(wait_status(http, emu, rid, {"in_progress", "completed"})["status"])
    seen.append(wait_status(http, emu, rid, {"completed"})["status"])
    assert seen == ["queued", "in_progress", "completed"]
    info = emu.job(rid)
    assert info.started_at is not None
    assert info.finished_at is not None
    assert info.submitted_at <= info.started_at <= info.finished_at


def test_in_flight_status_shape(emu: Emulator, http: requests.Session) -> None:
    emu.script_next_job(queue_time=30)
    rid = submit(http, emu).json()["request_id"]
    body = http.get(f"{emu.base_url}/requests/{rid}/status", timeout=10).json()
    assert body == {
        "status": "queued",
        "request_id": rid,
        "status_url": f"{emu.base_url}/requests/{rid}/status",
        "cancel_url": f"{emu.base_url}/requests/{rid}/cancel",
    }


def test_completed_image_status_has_images_and_expires_at(
    emu: Emulator, http: requests.Session
) -> None:
    rid = submit(http, emu, {"prompt": "x", "batch_size": 4}).json()["request_id"]
    body = wait_status(http, emu, rid)
    assert set(body) == {"status", "request_id", "status_url", "cancel_url", "images", "expires_at"}
    assert body["status"] == "completed"
    assert len(body["images"]) == 4
    assert len({image["url"] for image in body["images"]}) == 4
    assert ISO_Z.match(body["expires_at"])
    assert abs(_epoch(body["expires_at"]) - (time.time() + WEEK)) < 120


def test_completed_video_status_has_video(emu: Emulator, http: requests.Session) -> None:
    rid = submit(http, emu, {"prompt": "x", "image_url": "u"}, model=KLING).json()["request_id"]
    body = wait_status(http, emu, rid)
    assert set(body) == {"status", "request_id", "status_url", "cancel_url", "video", "expires_at"}
    assert set(body["video"]) == {"url"}
    video = requests.get(body["video"]["url"], timeout=10)
    assert video.status_code == 200
    assert video.headers["Content-Type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"


@pytest.mark.parametrize(
    ("prompt", "status", "keys"),
    [
        ("a cat [nsfw]", "nsfw", {"status", "request_id", "expires_at"}),
        ("a cat [fail]", "failed", {"status", "request_id", "error", "expires_at"}),
    ],
)
def test_prompt_markers_drive_the_outcome(
    emu: Emulator, http: requests.Session, prompt: str, status: str, keys: Set[str]
) -> None:
    rid = submit(http, emu, {"prompt": prompt}).json()["request_id"]
    body = wait_status(http, emu, rid)
    assert body["status"] == status
    assert set(body) == keys
    if status == "failed":
        assert isinstance(body["error"], str)
        assert body["error"]


def test_scripted_outcomes_apply_in_order_and_beat_markers(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_next_job("failed", error="boom")
    emu.script_next_job("nsfw")
    emu.script_next_job("completed")
    assert submit(http, emu, {}).status_code == 422  # a refused submit takes no script
    first = submit(http, emu).json()["request_id"]
    second = submit(http, emu).json()["request_id"]
    third = submit(http, emu, {"prompt": "x [fail]"}).json()["request_id"]
    assert wait_status(http, emu, first) == {
        "status": "failed",
        "request_id": first,
        "error": "boom",
        "expires_at": wait_status(http, emu, first)["expires_at"],
    }
    assert wait_status(http, emu, second)["status"] == "nsfw"
    assert wait_status(http, emu, third)["status"] == "completed"
    with pytest.raises(ValueError, match="outcome"):
        emu.script_next_job("canceled")


def test_cancel_while_queued_is_202_with_empty_body(emu: Emulator, http: requests.Session) -> None:
    emu.script_next_job(queue_time=30)
    body = submit(http, emu).json()
    response = http.post(body["cancel_url"], timeout=10)
    assert response.status_code == 202
    assert response.content == b""
    status = http.get(body["status_url"], timeout=10).json()
    assert status == {"status": "canceled", "request_id": body["request_id"]}
    assert http.post(body["cancel_url"], timeout=10).status_code == 400


def test_cancel_after_start_is_400(emu: Emulator, http: requests.Session) -> None:
    emu.script_next_job(queue_time=0, run_time=30)
    body = submit(http, emu).json()
    wait_status(http, emu, body["request_id"], {"in_progress"})
    response = http.post(body["cancel_url"], timeout=10)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    assert emu.job(body["request_id"]).status == "in_progress"


def test_cancel_and_status_of_unknown_ids_are_404(emu: Emulator, http: requests.Session) -> None:
    rid = "00000000-0000-4000-8000-000000000000"
    assert http.post(f"{emu.base_url}/requests/{rid}/cancel", timeout=10).status_code == 404
    assert http.get(f"{emu.base_url}/requests/{rid}/status", timeout=10).status_code == 404
    with pytest.raises(KeyError):
        emu.job(rid)


def test_image_outputs_are_real_pngs_with_the_asked_aspect_ratio(
    emu: Emulator, http: requests.Session
) -> None:
    body = {"prompt": "x", "aspect_ratio": "16:9", "resolution": "720p"}
    rid = submit(http, emu, body, model=POPCORN).json()["request_id"]
    url = wait_status(http, emu, rid)["images"][0]["url"]
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    assert int(response.headers["Content-Length"]) == len(response.content)
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert max(image.size) <= 256
    assert abs(image.size[0] / image.size[1] - 16 / 9) < 0.02
    assert requests.get(url, timeout=10).content == response.content


def test_output_format_jpg_gives_a_jpeg(emu: Emulator, http: requests.Session) -> None:
    body = {"prompt": "x", "aspect_ratio": "3:4", "output_format": "jpg"}
    rid = submit(http, emu, body, model="recraft/v4.1/text-to-image").json()["request_id"]
    url = wait_status(http, emu, rid)["images"][0]["url"]
    response = requests.get(url, timeout=10)
    assert response.headers["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    assert abs(image.size[0] / image.size[1] - 3 / 4) < 0.02


def test_full_size_images_match_the_resolution() -> None:
    with Emulator(queue_time=0, run_time=0, full_size_images=True) as emulator, \
            requests.Session() as http:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        body = {"prompt": "x", "aspect_ratio": "16:9", "resolution": "720p"}
        rid = submit(http, emulator, body, model=POPCORN).json()["request_id"]
        url = wait_status(http, emulator, rid)["images"][0]["url"]
        image = Image.open(io.BytesIO(requests.get(url, timeout=10).content))
        assert image.size == (1280, 720)


def test_outputs_of_unfinished_or_unknown_jobs_are_404(
    emu: Emulator, http: requests.Session
) -> None:
    emu.script_next_job(queue_time=30)
    rid = submit(http, emu).json()["request_id"]
    assert requests.get(f"{emu.base_url}/outputs/{rid}/0.png", timeout=10).status_code == 404
    assert requests.get(f"{emu.base_url}/outputs/nope/0.png", timeout=10).status_code == 404


def test_hf_expires_after_sets_expires_at(emu: Emulator, http: requests.Session) -> None:
    rid = submit(http, emu, headers={"Hf-Expires-After": "3600"}).json()["request_id"]
    body = wait_status(http, emu, rid)
    finished = emu.job(rid).finished_at
    assert finished is not None
    assert abs(_epoch(body["expires_at"]) - (finished + 3600)) <= 1


@pytest.mark.parametrize("value", ["3599", "604801", "abc", "1.5", "-3600", ""])
def test_hf_expires_after_out_of_range_or_malformed_is_422(
    emu: Emulator, http: requests.Session, value: str
) -> None:
    response = submit(http, emu, headers={"Hf-Expires-After": value})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header", "hf-expires-after"]
    assert emu.jobs() == []


def test_expired_outputs_stop_working_but_status_answers(
    emu: Emulator, http: requests.Session
) -> None:
    rid = submit(http, emu).json()["request_id"]
    url = wait_status(http, emu, rid)["images"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    emu.expire(rid)
    assert requests.get(url, timeout=10).status_code == 404
    status = http.get(f"{emu.base_url}/requests/{rid}/status", timeout=10)
    assert status.status_code == 200
    assert status.json()["status"] == "completed"
    assert _epoch(status.json()["expires_at"]) <= time.time()


def test_retention_caps_hf_expires_after(http: requests.Session) -> None:
    with Emulator(retention=7200) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        assert submit(http, emulator, headers={"Hf-Expires-After": "7200"}).status_code == 200
        assert submit(http, emulator, headers={"Hf-Expires-After": "7201"}).status_code == 422


def test_delete_finished_request_is_idempotent_and_removes_outputs(
    emu: Emulator, http: requests.Session
) -> None:
    rid = submit(http, emu).json()["request_id"]
    url = wait_status(http, emu, rid)["images"][0]["url"]
    assert requests.get(url, timeout=10).status_code == 200
    first = http.delete(f"{emu.base_url}/requests/{rid}", timeout=10)
    again = http.delete(f"{emu.base_url}/requests/{rid}", timeout=10)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"request_id": rid, "deleted": True}
    assert requests.get(url, timeout=10).status_code == 404
    status = http.get(f"{emu.base_url}/requests/{rid}/status", timeout=10)
    assert status.status_code == 200
    assert status.json()["status"] == "completed"
    assert emu.job(rid).deleted


def test_delete_unfinished_is_400_and_unknown_is_404(emu: Emulator, http: requests.Session) -> None:
    emu.script_next_job(queue_time=30)
    rid = submit(http, emu).json()["request_id"]
    response = http.delete(f"{emu.base_url}/requests/{rid}", timeout=10)
    assert response.status_code == 400
    assert "detail" in response.json()
    unknown = http.delete(f"{emu.base_url}/requests/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 404


def test_concurrency_limit_keeps_extra_jobs_queued(http: requests.Session) -> None:
    with Emulator(queue_time=0, run_time=0.3, concurrency_limit=1, timing_jitter=0) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        first = submit(http, emulator).json()["request_id"]
        second = submit(http, emulator).json()["request_id"]
        assert {emulator.job(first).status, emulator.job(second).status} <= {
            "queued", "in_progress", "completed"}
        if emulator.job(first).status == "in_progress":
            assert emulator.job(second).status == "queued"
        wait_status(http, emulator, second)
        one, two = emulator.job(first), emulator.job(second)
        assert one.finished_at is not None
        assert two.started_at is not None
        assert two.started_at >= one.finished_at - 1e-6


def test_full_queue_answers_429_account_queue_full(http: requests.Session) -> None:
    with Emulator(queue_time=30, queue_limit=5, retry_after=3) as emulator:
        http.headers["Authorization"] = f"Key {emulator.api_key}"
        assert submit(http, emulator, {"prompt": "x", "batch_size": 4}).status_code == 200
        assert submit(http, emulator).status_code == 200
        full = submit(http, emulator, headers={"Idempotency-Key": "k-1"})
        assert full.status_code == 429
        assert full.headers["Retry-After"] == "3"
        assert full.json() == {
            "detail": "Account queue is full", "code": "account_queue_full", "limit": 5}
        assert len(emulator.jobs()) == 2
        victim = emulator.jobs()[1].request_id
        assert http.post(f"{emulator.base_url}/requests/{victim}/cancel").status_code == 202
        retried = submit(http, emulator, headers={"Idempotency-Key": "k-1"})
        assert retried.status_code == 200


def test_jobs_snapshot_lists_accepted_jobs(emu: Emulator, http: requests.Session) -> None:
    ids = [submit(http, emu).json()["request_id"] for _ in range(3)]
    assert [info.request_id for info in emu.jobs()] == ids
    wait_until(lambda: all(i.status == "completed" for i in emu.jobs()) or None)
