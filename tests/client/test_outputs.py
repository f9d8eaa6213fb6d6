"""Outputs users can look at: result.save(), output.read(), and how results show and print."""

from __future__ import annotations

import base64
import pickle
from pathlib import Path
from typing import Any

import pytest

from higgsfield_client import (
    DownloadError,
    Embedded,
    InvalidArgumentError,
    JobResult,
    NotFoundError,
    SyncClient,
)
from higgsfield_client.testing import Emulator
from higgsfield_proto import JobState, JobStatus

from .harness import Harness

IMAGE_MODEL = "higgsfield-ai/soul/standard"
VIDEO_MODEL = "kling-video/v2.6/pro/image-to-video"


def _stored(harness: Harness, url: str) -> bytes:
    request_id, name = url.rsplit("/", 2)[-2:]
    return (harness.emulator.storage_dir / "outputs" / request_id / name).read_bytes()


async def _save(harness: Harness, result: JobResult, folder: Path, **options: Any) -> list[Path]:
    return await result.asave(folder, **options) if harness.is_async else result.save(folder, **options)


async def _read(harness: Harness, output: Any, **options: Any) -> bytes:
    data: bytes = await output.aread(**options) if harness.is_async else output.read(**options)
    return data


async def _embed(harness: Harness, shown: Any, **options: Any) -> Embedded:
    embedded: Embedded = await shown.aembed(**options) if harness.is_async else shown.embed(**options)
    return embedded


def _subscribe(harness: Harness, arguments: dict[str, Any], model: str = IMAGE_MODEL) -> JobResult:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> JobResult:
        result: JobResult = await client.subscribe(model, arguments)
        return result

    return harness.run(scenario)


def test_save_downloads_every_output_with_the_client_that_made_the_result(
    harness: Harness, tmp_path: Path
) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> tuple[JobResult, list[Path], list[Path], list[Path]]:
        result: JobResult = await client.subscribe(IMAGE_MODEL, {"prompt": "four kites", "batch_size": 4})
        first = await _save(harness, result, tmp_path / "out")
        inodes = [path.stat().st_ino for path in first]
        again = await _save(harness, result, tmp_path / "out")
        replaced = await _save(harness, result, tmp_path / "out", overwrite=True)
        assert [path.stat().st_ino for path in first] == inodes  # whole files are kept as they are
        return result, first, again, replaced

    result, first, again, replaced = harness.run(scenario)
    assert len(result.images) == 4
    assert first == again == replaced == [tmp_path / "out" / f"{result.request_id}-{n}.png" for n in range(4)]
    for path, url in zip(first, result.images, strict=True):
        assert path.read_bytes() == _stored(harness, url)
    outputs = [entry for entry in harness.emulator.journal if entry.route == "output"]
    assert len(outputs) == 12  # four GETs each time; the second and third end with the head
    assert all("authorization" not in entry.headers for entry in outputs)
    assert not list((tmp_path / "out").glob("*.part"))


def _with_a_missing_output(result: JobResult, base_url: str) -> JobResult:
    """``result`` whose third output is a file the storage does not have (404 NoSuchKey)."""
    images = list(result.images)
    images[2] = f"{base_url}/outputs/no-such-request/2.png"  # the same file name: <id>-2.png
    job = JobStatus(state=JobState.COMPLETED, request_id=result.request_id, images=tuple(images))
    return JobResult(job)


def test_save_after_a_partial_failure_names_the_output_and_fetches_only_what_is_missing(
    harness: Harness, tmp_path: Path
) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)
    folder = tmp_path / "out"

    async def scenario(client: Any) -> tuple[JobResult, NotFoundError, list[Path]]:
        result: JobResult = await client.subscribe(IMAGE_MODEL, {"prompt": "four kites", "batch_size": 4})
        with pytest.raises(NotFoundError) as failed:
            await client.download_outputs(_with_a_missing_output(result, harness.emulator.base_url), folder)
        inodes = [path.stat().st_ino for path in sorted(folder.iterdir())]
        harness.emulator.clear_journal()
        saved = await _save(harness, result, folder)
        assert [path.stat().st_ino for path in saved[:2]] == inodes
        return result, failed.value, saved

    result, error, saved = harness.run(scenario)
    rid = result.request_id
    assert str(error).startswith(f"{rid}-2.png (output 3 of 4) not saved: ")
    assert error.status_code == 404
    assert saved == [folder / f"{rid}-{n}.png" for n in range(4)]
    for path, url in zip(saved, result.images, strict=True):
        assert path.read_bytes() == _stored(harness, url)
    fetched = [entry.path.rsplit("/", 1)[1] for entry in harness.emulator.journal if entry.route == "output"]
    assert fetched == ["0.png", "1.png", "2.png", "3.png"]  # the first two ended with their head
    assert not list(folder.glob("*.part"))


def test_a_file_of_another_size_is_refused_or_replaced_with_overwrite(
    harness: Harness, tmp_path: Path
) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> tuple[JobResult, list[Path]]:
        result: JobResult = await client.subscribe(IMAGE_MODEL, {"prompt": "kites", "batch_size": 4})
        second = (await _save(harness, result, tmp_path))[1]
        second.write_bytes(second.read_bytes()[:100])  # cut short by another program
        with pytest.raises(FileExistsError, match="a file of 100 bytes is there") as refused:
            await _save(harness, result, tmp_path)
        assert refused.value.filename == str(second)
        assert len(second.read_bytes()) == 100
        return result, await _save(harness, result, tmp_path, overwrite=True)

    result, saved = harness.run(scenario)
    for path, url in zip(saved, result.images, strict=True):
        assert path.read_bytes() == _stored(harness, url)
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in saved]


def test_an_output_reads_its_bytes_with_a_size_check(harness: Harness) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> tuple[str, bytes, DownloadError]:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": "a kite"})
        (image,) = result.images
        data = await _read(harness, image)
        with pytest.raises(DownloadError, match="over max_size") as raised:
            await _read(harness, image, max_size=len(data) - 1)
        assert await _read(harness, image, max_size=len(data)) == data
        return image, data, raised.value

    image, data, error = harness.run(scenario)
    assert data == _stored(harness, image)
    assert error.expected == len(data)
    reads = [entry for entry in harness.emulator.journal if entry.route == "output"]
    assert len(reads) == 3


def test_reading_an_expired_output_is_not_found(harness: Harness) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> None:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": "a kite"})
        harness.emulator.expire(result.request_id)
        await _read(harness, result.images[0])

    with pytest.raises(NotFoundError):
        harness.run(scenario)


def test_a_result_fetches_only_with_its_own_kind_of_client(harness: Harness, tmp_path: Path) -> None:
    result = _subscribe(harness, {"prompt": "a kite"})
    image = result.images[0]
    if harness.is_async:
        with pytest.raises(TypeError, match="await its asave"):
            result.save(tmp_path)
        with pytest.raises(TypeError, match="aread"):
            image.read()
        with pytest.raises(TypeError, match="aread"):
            result.embed()
    else:
        with pytest.raises(TypeError, match="call its save"):
            harness.run_plain(lambda: result.asave(tmp_path))
        with pytest.raises(TypeError, match="read"):
            harness.run_plain(image.aread)
        with pytest.raises(TypeError, match="read"):
            harness.run_plain(result.aembed)
    assert list(tmp_path.iterdir()) == []


def test_outputs_stay_strings_and_the_dict_stays_the_payload(harness: Harness) -> None:
    result = _subscribe(harness, {"prompt": "a kite"})
    (image,) = result.images
    assert isinstance(result, dict)
    assert result["images"][0]["url"] == image == image.url
    assert type(image.url) is str
    assert isinstance(image, str)
    assert image.kind == "image"
    assert result.outputs == [image]
    assert result.video is None


def test_a_video_result_shows_a_player_and_prints_in_one_line(harness: Harness) -> None:
    image = _subscribe(harness, {"prompt": "a kite"}).images[0]
    result = _subscribe(harness, {"prompt": "the kite flies", "image_url": image}, VIDEO_MODEL)
    assert result.video is not None
    assert result.video.kind == "video"
    html = result._repr_html_()
    assert f'<video src="{result.video}" controls' in html
    assert result.request_id in html
    assert "<img" not in html
    text = repr(result)
    assert "\n" not in text
    assert text.startswith(f"JobResult(request_id={result.request_id!r}, video='http://")
    assert str(result) == text  # print() is as compact


def _hand_made(urls: list[str], **payload: Any) -> JobResult:
    job = JobStatus(
        state=JobState.COMPLETED,
        request_id="req-1",
        payload={"status": "completed", "request_id": "req-1", **payload},
        images=tuple(urls),
        artifacts={"zip": ("https://cdn.example/a/b/bundle.zip?sig=secret",)},
        expires_at="2030-01-01T00:00:00Z",
    )
    return JobResult(job)


def test_html_shows_images_and_escapes_what_the_server_sent() -> None:
    hostile = 'https://cdn.example/x/"><script>alert(1)</script>.png'
    result = _hand_made(["https://cdn.example/req-1/0.png?sig=abc&x=1", hostile, "javascript:alert(1)"])
    html = result._repr_html_()
    assert '<img src="https://cdn.example/req-1/0.png?sig=abc&amp;x=1"' in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert 'src="javascript:' not in html
    assert "<code>javascript:alert(1)</code>" in html
    assert '<a href="https://cdn.example/a/b/bundle.zip?sig=secret"' in html
    assert "expires 2030-01-01T00:00:00Z" in html
    assert result.images[0]._repr_html_().startswith("<img ")


def test_repr_is_one_line_without_query_strings() -> None:
    result = _hand_made(["https://cdn.example/req-1/0.png?sig=abc", "https://cdn.example/req-1/1.png"])
    assert repr(result) == (
        "JobResult(request_id='req-1', image='https://cdn.example/…/0.png', "
        "image='https://cdn.example/…/1.png', zip='https://cdn.example/…/bundle.zip')"
    )
    assert repr(_hand_made([])).startswith("JobResult(request_id='req-1', zip=")


def test_a_pickled_result_leaves_its_client_behind_and_uses_the_default_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(queue_time=0, run_time=0) as emulator:
        with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
            result = client.subscribe(IMAGE_MODEL, {"prompt": "a kite"})
        copy = pickle.loads(pickle.dumps(result))
        assert copy == result
        assert copy.images == result.images
        assert pickle.loads(pickle.dumps(result.images[0])).kind == "image"
        monkeypatch.setenv("HF_KEY", "unused:downloads-send-no-credentials")
        (saved,) = copy.save(tmp_path)
        stored = emulator.storage_dir / "outputs" / result.request_id / "0.png"
        assert saved.read_bytes() == stored.read_bytes()
        assert copy.images[0].read() == saved.read_bytes()


def test_jupyter_shows_a_result_inline_and_prints_it_in_one_line() -> None:
    from IPython.core.formatters import DisplayFormatter

    result = _hand_made(["https://cdn.example/req-1/0.png"])
    shown, _ = DisplayFormatter().format(result)
    assert set(shown) == {"text/plain", "text/html"}
    assert shown["text/plain"] == repr(result)
    assert '<img src="https://cdn.example/req-1/0.png"' in shown["text/html"]
    image, _ = DisplayFormatter().format(result.images[0])
    assert image["text/plain"] == "'https://cdn.example/req-1/0.png'"
    assert image["text/html"].startswith('<img src="https://cdn.example/req-1/0.png"')


def test_embed_inlines_the_images_with_the_client_that_made_the_result(harness: Harness) -> None:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> tuple[JobResult, Embedded, Embedded, Embedded]:
        result = await client.subscribe(IMAGE_MODEL, {"prompt": "four kites", "batch_size": 4})
        return (
            result,
            await _embed(harness, result),
            await _embed(harness, result, max_size=100),  # over the cap: linked, as displayed
            await _embed(harness, result.images[1]),
        )

    result, whole, capped, one = harness.run(scenario)
    inlined = [base64.b64encode(_stored(harness, url)).decode() for url in result.images]
    assert all(f'<img src="data:image/png;base64,{data}"' in whole.html for data in inlined)
    assert harness.emulator.base_url not in whole.html  # nothing left to expire
    assert result.request_id in whole.html
    assert (whole.inlined, whole.linked) == (4, 0)
    assert (capped.inlined, capped.linked) == (0, 4)
    assert f'<img src="{result.images[0]}"' in capped.html
    assert capped.html.count("not embedded: larger than max_size") == 4
    assert (one.inlined, one.linked) == (1, 0)
    assert inlined[1] in one.html
    assert inlined[0] not in one.html


def test_embed_links_a_video_refuses_a_bad_cap_and_fails_on_an_expired_image() -> None:
    from IPython.core.formatters import DisplayFormatter

    with Emulator(queue_time=0, run_time=0) as emulator, SyncClient(
        base_url=emulator.base_url, api_key=emulator.api_key
    ) as client:
        image = client.subscribe(IMAGE_MODEL, {"prompt": "a kite"})
        video = client.subscribe(VIDEO_MODEL, {"prompt": "it flies", "image_url": image.images[0]})
        shown = video.embed()
        assert (shown.inlined, shown.linked) == (0, 1)
        assert f'<video src="{video.video}" controls' in shown.html
        assert "not embedded" not in shown.html  # a video is never inlined: no cap to name
        formats, _ = DisplayFormatter().format(image.embed())
        assert formats["text/html"].count('src="data:image/png;base64,') == 1
        assert formats["text/plain"] == "Embedded(inlined=1, linked=0)"
        for wrong in (0, -1, 1.5, True):
            with pytest.raises(InvalidArgumentError, match="max_size"):
                image.embed(max_size=wrong)
        emulator.expire(image.request_id)
        with pytest.raises(NotFoundError):
            image.embed()
