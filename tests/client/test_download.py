"""Downloads of outputs on every transport: streamed to disk, checked, retried, never credentialed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional, Tuple, Union

import anyio
import pytest

from higgsfield_client import (
    AsyncClient,
    DownloadError,
    InvalidArgumentError,
    NotFoundError,
    ProtocolError,
    RetryPolicy,
    SyncClient,
    TransportError,
)
from higgsfield_client._download import file_name_from_url
from higgsfield_client.testing import Emulator
from higgsfield_proto import Outcome, OutputExpiredError, Request, Response

from .harness import FAST_POLL, FAST_RETRY, Harness

MODEL = "higgsfield-ai/soul/standard"


def _outputs(harness: Harness) -> List[Any]:
    return [entry for entry in harness.emulator.journal if entry.route == "output"]


def _stored(harness: Harness, url: str) -> bytes:
    request_id, name = url.rsplit("/", 2)[-2:]
    return (harness.emulator.storage_dir / "outputs" / request_id / name).read_bytes()


def _leftovers(folder: Path) -> List[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".part"))


def _finished_image(harness: Harness) -> str:
    harness.emulator.script_next_job(queue_time=0.0, run_time=0.0)

    async def scenario(client: Any) -> str:
        result = await client.subscribe(MODEL, {"prompt": "a lighthouse"})
        url: str = result.images[0]
        return url

    return harness.run(scenario)


def test_a_folder_destination_names_the_file_after_the_url(harness: Harness, tmp_path: Path) -> None:
    url = _finished_image(harness)
    progress: List[Tuple[int, Optional[int]]] = []

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(url, tmp_path, progress=lambda *call: progress.append(call))
        return path

    path = harness.run(scenario)
    assert path == tmp_path / url.rsplit("/", 1)[1]
    expected = _stored(harness, url)
    assert path.read_bytes() == expected
    assert progress[0] == (0, len(expected))
    assert progress[-1] == (len(expected), len(expected))
    assert [n for n, _ in progress] == sorted(n for n, _ in progress)
    assert _leftovers(tmp_path) == []


def test_an_existing_file_is_replaced_only_when_asked(harness: Harness, tmp_path: Path) -> None:
    url = _finished_image(harness)
    target = tmp_path / "picture.bin"
    target.write_bytes(b"old content")

    async def refused(client: Any) -> None:
        await client.download(url, target)

    with pytest.raises(FileExistsError, match="overwrite=True"):
        harness.run(refused)
    assert target.read_bytes() == b"old content"

    async def replaced(client: Any) -> Path:
        path: Path = await client.download(url, target, overwrite=True)
        return path

    assert harness.run(replaced) == target
    assert target.read_bytes() == _stored(harness, url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["picture.bin"]


def test_two_jobs_outputs_into_one_folder_never_overwrite_each_other(
    harness: Harness, tmp_path: Path
) -> None:
    # Both jobs' first image is named 0.png on the emulator: the second download must not
    # silently replace the first.
    first, second = _finished_image(harness), _finished_image(harness)
    assert first.rsplit("/", 1)[1] == second.rsplit("/", 1)[1]

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(first, tmp_path)
        await client.download(second, tmp_path)
        return path

    with pytest.raises(FileExistsError):
        harness.run(scenario)
    (kept,) = tmp_path.iterdir()
    assert kept.read_bytes() == _stored(harness, first)


def test_a_new_folder_ending_with_a_separator_is_created(harness: Harness, tmp_path: Path) -> None:
    url = _finished_image(harness)

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(url, f"{tmp_path}/new/deeper/")
        return path

    path = harness.run(scenario)
    assert path.parent == tmp_path / "new" / "deeper"
    assert path.read_bytes() == _stored(harness, url)


def test_the_download_carries_no_credentials(harness: Harness, tmp_path: Path) -> None:
    url = _finished_image(harness)
    harness.emulator.clear_journal()

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(url, tmp_path)
        return path

    harness.run(scenario)
    (entry,) = _outputs(harness)
    secret = harness.emulator.api_key.split(":", 1)[1]
    assert entry.method == "GET"
    assert "authorization" not in entry.headers
    assert all(secret not in value for value in entry.headers.values())
    assert entry.headers["user-agent"].startswith("higgsfield-client-py")
    assert entry.status == 200


def test_a_body_cut_short_every_time_is_a_download_error_and_leaves_no_file(
    harness: Harness, tmp_path: Path
) -> None:
    url = _finished_image(harness)
    harness.emulator.script_fault("output", "truncate", count=FAST_RETRY.max_attempts)
    target = tmp_path / "out.png"

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(url, target)
        return path

    with pytest.raises(DownloadError) as raised:
        harness.run(scenario)
    size = len(_stored(harness, url))
    assert raised.value.expected == size + 16  # the fault promises 16 bytes more than it has
    assert raised.value.received < raised.value.expected
    assert raised.value.url == url
    assert len(_outputs(harness)) == FAST_RETRY.max_attempts
    assert not target.exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("fault", ["truncate", "503", "drop", "redirect_offhost"])
def test_a_failed_or_redirected_attempt_is_repeated_from_the_start(
    harness: Harness, tmp_path: Path, fault: str
) -> None:
    url = _finished_image(harness)
    harness.emulator.clear_journal()
    harness.emulator.script_fault("output", fault)

    async def scenario(client: Any) -> Path:
        path: Path = await client.download(url, tmp_path / "out.png")
        return path

    assert harness.run(scenario).read_bytes() == _stored(harness, url)
    attempts = _outputs(harness)
    assert [entry.fault for entry in attempts] == [fault, None]
    assert all("authorization" not in entry.headers for entry in attempts)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("gone", ["expired", "deleted"])
def test_an_expired_or_deleted_output_names_itself_and_the_storages_code(
    harness: Harness, tmp_path: Path, gone: str
) -> None:
    url = _finished_image(harness)
    request_id = url.rsplit("/", 2)[-2]
    if gone == "expired":
        harness.emulator.expire(request_id)

    async def scenario(client: Any) -> Path:
        if gone == "deleted":
            await client.delete(request_id)
        path: Path = await client.download(url, tmp_path)
        return path

    with pytest.raises(NotFoundError) as raised:  # what code written before catches still works
        harness.run(scenario)
    error = raised.value
    assert isinstance(error, OutputExpiredError)
    expected = f"output {url} has expired or was deleted (HTTP 404, storage code NoSuchKey)"
    assert str(error).startswith(expected)
    assert (error.status_code, error.url, error.storage_code) == (404, url, "NoSuchKey")
    assert list(tmp_path.iterdir()) == []


def test_save_and_read_of_an_expired_result_name_the_output(tmp_path: Path) -> None:
    with Emulator(queue_time=0, run_time=0) as emulator, SyncClient(
        base_url=emulator.base_url, api_key=emulator.api_key, poll=FAST_POLL
    ) as client:
        result = client.subscribe(MODEL, {"prompt": "a lighthouse", "batch_size": 4})
        emulator.expire(result.request_id)
        with pytest.raises(OutputExpiredError, match="has expired or was deleted") as saving:
            result.save(tmp_path)
        with pytest.raises(OutputExpiredError, match="storage code NoSuchKey") as reading:
            result.images[1].read()
    assert saving.value.url == result.images[0]
    assert reading.value.url == result.images[1]


def test_a_url_that_is_not_http_is_refused(harness: Harness, tmp_path: Path) -> None:
    async def scenario(client: Any) -> Path:
        path: Path = await client.download("file:///etc/passwd", tmp_path)
        return path

    with pytest.raises(InvalidArgumentError):
        harness.run(scenario)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://cdn.example/u/hf_123%20final.png?X-Amz-Signature=abc", "hf_123 final.png"),
        ("https://cdn.example/u/..%2F..%2Fetc%2Fpasswd", "_.._etc_passwd"),
        ("https://cdn.example/u/.hidden", "hidden"),
        ("https://cdn.example/u/a%3Ab%0A.mp4", "a_b_.mp4"),
        ("https://cdn.example/", "download"),
    ],
)
def test_file_names_from_urls_are_decoded_and_made_safe(url: str, name: str) -> None:
    assert file_name_from_url(url) == name


class SendOnly:
    """A user-supplied transport without ``stream``: answers every GET with a canned response
    (or with each of a list of responses in turn)."""

    def __init__(self, response: Union[Response, List[Response]]) -> None:
        self.responses = response if isinstance(response, list) else None
        self.response = response if isinstance(response, Response) else None
        self.requests: List[Request] = []

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        self.requests.append(request)
        if self.responses is not None:
            return self.responses.pop(0)
        assert self.response is not None
        return self.response

    def close(self) -> None:
        pass


class AsyncSendOnly(SendOnly):
    async def send(self, request: Request) -> Outcome:  # type: ignore[override]
        return super().send(request)

    async def aclose(self) -> None:
        pass


def _canned(body: bytes, length: int) -> Response:
    return Response(status=200, headers=(("Content-Length", str(length)),), body=body)


@pytest.mark.parametrize("flavor", ["sync", "async"])
def test_a_transport_without_stream_still_downloads(tmp_path: Path, flavor: str) -> None:
    url = "https://cdn.example/outputs/clip.mp4?sig=secret"
    if flavor == "sync":
        sync_transport = SendOnly(_canned(b"0123456789", 10))
        with SyncClient(api_key="k:s", transport=sync_transport) as client:
            path = client.download(url, tmp_path)
        requests = sync_transport.requests
    else:
        async_transport = AsyncSendOnly(_canned(b"0123456789", 10))

        async def main() -> Path:
            async with AsyncClient(api_key="k:s", transport=async_transport) as client:
                return await client.download(url, tmp_path)

        path = anyio.run(main)
        requests = async_transport.requests
    assert path == tmp_path / "clip.mp4"
    assert path.read_bytes() == b"0123456789"
    (request,) = requests
    assert request.header("Authorization") is None
    assert request.url == url


def test_a_body_shorter_than_its_content_length_is_retried_then_refused(tmp_path: Path) -> None:
    transport = SendOnly(_canned(b"short", 10))
    with SyncClient(transport=transport, retry=FAST_RETRY) as client, pytest.raises(DownloadError) as raised:
        client.download("https://cdn.example/x.png?sig=secret", tmp_path)
    assert (raised.value.received, raised.value.expected) == (5, 10)
    assert "sig=secret" not in str(raised.value)
    assert raised.value.url == "https://cdn.example/x.png"
    assert len(transport.requests) == FAST_RETRY.max_attempts
    assert list(tmp_path.iterdir()) == []


def test_the_module_level_functions_download_with_the_default_clients(
    higgsfield_emulator: Any, tmp_path: Path
) -> None:
    import higgsfield_client

    higgsfield_emulator.script_next_job(queue_time=0.0, run_time=0.0)
    controller = higgsfield_client.submit(MODEL, {"prompt": "a lighthouse"})
    url = controller.get().images[0]
    first = higgsfield_client.download(url, tmp_path / "sync.png")

    async def main() -> Path:
        return await higgsfield_client.download_async(url, tmp_path / "async.png")

    second = anyio.run(main)
    assert first.read_bytes() == second.read_bytes() != b""


def _redirect(location: str, status: int = 302) -> Response:
    return Response(status=status, headers=(("Location", location),))


def test_redirects_are_followed_anywhere_without_credentials(tmp_path: Path) -> None:
    transport = SendOnly(
        [
            _redirect("https://other.example/b/x.png?sig=1", 301),
            _redirect("/c/final.png", 307),
            _canned(b"pixels", 6),
        ]
    )
    with SyncClient(transport=transport) as client:
        path = client.download("https://cdn.example/a/start.png", tmp_path)
    assert path == tmp_path / "start.png"  # named after the URL asked for
    assert path.read_bytes() == b"pixels"
    assert [r.url for r in transport.requests] == [
        "https://cdn.example/a/start.png",
        "https://other.example/b/x.png?sig=1",
        "https://other.example/c/final.png",
    ]
    assert all(r.header("Authorization") is None for r in transport.requests)


def test_endless_redirects_and_redirects_off_http_are_protocol_errors(tmp_path: Path) -> None:
    endless = SendOnly(_redirect("/again"))
    with SyncClient(transport=endless) as client, pytest.raises(ProtocolError, match="more than 5"):
        client.download("https://cdn.example/loop.png", tmp_path)
    assert len(endless.requests) == 6
    off_http = SendOnly(_redirect("ftp://files.example/x"))
    with SyncClient(transport=off_http) as client, pytest.raises(ProtocolError, match="not http"):
        client.download("https://cdn.example/x.png", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_error_answer_from_a_transport_without_stream_is_raised(tmp_path: Path) -> None:
    missing = Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>")
    with SyncClient(transport=SendOnly(missing)) as client, pytest.raises(NotFoundError):
        client.download("https://cdn.example/gone.png", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_encoded_body_is_not_held_to_its_content_length(tmp_path: Path) -> None:
    encoded = Response(
        status=200, headers=(("Content-Length", "3"), ("Content-Encoding", "gzip")), body=b"decoded!"
    )
    with SyncClient(transport=SendOnly(encoded)) as client:
        path = client.download("https://cdn.example/x.bin", tmp_path)
    assert path.read_bytes() == b"decoded!"


def test_a_network_failure_before_any_answer_is_a_plain_transport_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # bound, never listening: connecting is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with SyncClient(retry=RetryPolicy.never()) as client, pytest.raises(TransportError) as raised:
            client.download(f"http://127.0.0.1:{port}/x.png", tmp_path)
    assert not isinstance(raised.value, DownloadError)
    assert raised.value.kind == "connect"


def test_a_malformed_url_is_refused(tmp_path: Path) -> None:
    with SyncClient() as client, pytest.raises(InvalidArgumentError):
        client.download("http://[::1/x.png", tmp_path)
