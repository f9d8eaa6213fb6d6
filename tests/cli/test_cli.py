"""Every ``higgsfield`` subcommand against the emulator: output, JSON, files and exit codes."""

from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from higgsfield_client._statuses import InProgress, Queued
from higgsfield_client.cli._commands import UsageError, parse_arguments
from higgsfield_client.cli._output import Console, StatusLine, Transfers
from higgsfield_client.testing import Emulator

from .conftest import FAST, MODEL, Run, lines

pytestmark = pytest.mark.higgsfield_emulator(queue_time=0.05, run_time=0.05)


def _stored(emulator: Emulator, url: str) -> bytes:
    request_id, name = url.rsplit("/", 2)[-2:]
    return (emulator.storage_dir / "outputs" / request_id / name).read_bytes()


def test_help_shows_the_commands_examples_and_exit_codes(run: Run) -> None:
    ran = run("--help")
    assert ran.code == 0
    commands = ("submit", "status", "result", "cancel", "upload", "download", "estimate", "emulator", "demo")
    assert all(f"\n    {command} " in ran.out for command in commands)
    assert "examples:" in ran.out
    assert "exit codes:" in ran.out
    assert "7  --timeout passed" in ran.out
    assert run("submit", "--help").out.count("exit codes:") == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["submit", MODEL, "no-equals-sign"],
        ["submit", MODEL, "-f", "/nonexistent/args.json"],
        ["result", "some-id", "--timeout", "-1"],
        ["--retries", "-2", "status", "some-id"],
        ["upload", "picture.unknown-extension"],
        ["status", "some-id", "unexpected-extra"],
    ],
)
def test_usage_errors_exit_2(run: Run, argv: Any, higgsfield_emulator: Emulator) -> None:
    ran = run(*argv)
    assert ran.code == 2
    assert ran.out == ""
    assert "usage:" in ran.err or "rror:" in ran.err


def test_submit_prints_the_request_id_and_result_prints_the_outputs(
    run: Run, higgsfield_emulator: Emulator
) -> None:
    submitted = run("submit", MODEL, "prompt=a lighthouse", "num_images=4")
    assert submitted.code == 0
    (request_id,) = lines(submitted.out)
    assert higgsfield_emulator.job(request_id).arguments == {"prompt": "a lighthouse", "num_images": 4}
    status = run("--json", "status", request_id)
    assert status.code == 0
    assert json.loads(status.out)["request_id"] == request_id
    done = run("result", request_id, *FAST)
    assert done.code == 0
    urls = lines(done.out)
    assert len(urls) == 4
    assert all(url.startswith(higgsfield_emulator.base_url + "/outputs/") for url in urls)
    assert run("status", request_id).out == "completed\n"


def test_submit_wait_download_as_json(run: Run, higgsfield_emulator: Emulator, tmp_path: Path) -> None:
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"prompt": "from the file", "aspect_ratio": "1:1"}))
    folder = tmp_path / "out"
    ran = run("submit", MODEL, "-f", args, "prompt=overridden", "--json", *FAST, "--download", folder)
    assert ran.code == 0, ran.err
    document = json.loads(ran.out)
    assert document["status"] == "completed"
    job = higgsfield_emulator.job(document["request_id"])
    assert job.arguments == {"prompt": "overridden", "aspect_ratio": "1:1"}
    (url,) = [image["url"] for image in document["images"]]
    (file,) = document["files"]
    assert Path(file) == folder / f"{document['request_id']}-{url.rsplit('/', 1)[1]}"
    assert Path(file).read_bytes() == _stored(higgsfield_emulator, url)
    assert f"request {document['request_id']}" in ran.err


@pytest.mark.parametrize(("outcome", "code"), [("failed", 4), ("nsfw", 5)])
def test_a_job_that_ends_without_output_has_its_own_exit_code(
    run: Run, higgsfield_emulator: Emulator, outcome: str, code: int
) -> None:
    higgsfield_emulator.script_next_job(outcome, error="the model broke" if outcome == "failed" else None)
    ran = run("submit", MODEL, "prompt=x", "--wait", "--json", *FAST)
    assert ran.code == code
    error = json.loads(ran.out)["error"]
    assert error["exit_code"] == code
    assert error["status"] == outcome
    assert error["request_id"]
    assert f"{outcome}" in ran.err
    if outcome == "failed":
        assert error["error"] == "the model broke"


def test_cancel_then_result_is_cancelled(run: Run, higgsfield_emulator: Emulator) -> None:
    higgsfield_emulator.script_next_job(queue_time=30.0)
    (request_id,) = lines(run("submit", MODEL, "prompt=x").out)
    canceled = run("cancel", request_id)
    assert canceled.code == 0
    assert canceled.out == f"canceled {request_id}\n"
    assert run("result", request_id, *FAST).code == 6
    assert run("cancel", request_id).code == 1  # no longer queued: the API answers 400


def test_result_times_out_with_exit_code_7(run: Run, higgsfield_emulator: Emulator) -> None:
    higgsfield_emulator.script_next_job(queue_time=30.0)
    (request_id,) = lines(run("submit", MODEL, "prompt=x").out)
    started = time.monotonic()
    ran = run("result", request_id, "--timeout", "0.3", *FAST)
    assert ran.code == 7
    assert time.monotonic() - started < 5
    assert "WaitTimeoutError" in ran.err
    higgsfield_emulator.script_next_job(queue_time=30.0)
    assert run("submit", MODEL, "prompt=x", "--wait", "--timeout", "0.3", *FAST).code == 7


def test_wrong_or_missing_credentials_exit_3(
    run: Run, higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = run("--api-key", "wrong:key", "status", "some-id")
    assert ran.code == 3
    assert "AuthenticationError" in ran.err
    monkeypatch.delenv("HF_KEY")
    ran = run("status", "some-id")
    assert ran.code == 3
    # Said in the command line's terms, not the library's (api_key=...).
    assert "--api-key ID:SECRET" in ran.err
    assert "HF_KEY" in ran.err
    assert "api_key=" not in ran.err
    ran = run("--json", "status", "some-id")
    assert json.loads(ran.out)["error"]["type"] == "CredentialsMissedError"


def test_a_network_failure_exits_8_naming_the_host_and_the_attempts(run: Run) -> None:
    with socket.socket() as sock:  # bound, never listening: connecting is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        ran = run("--base-url", base, "--api-key", "a:b", "--retries", "1", "status", "x")
    assert ran.code == 8
    assert "TransportError" in ran.err
    assert "reaching 127.0.0.1 after 2 attempts" in ran.err


def test_plain_http_to_another_host_needs_allow_insecure_http(
    run: Run, higgsfield_emulator: Emulator
) -> None:
    base = higgsfield_emulator.base_url.replace("127.0.0.1", "localhost.localdomain.invalid")
    refused = run("--base-url", base, "status", "x")
    assert refused.code == 2
    assert "--allow-insecure-http" in refused.err
    assert "allow_insecure_http=True" not in refused.err
    allowed = run("--base-url", base, "--allow-insecure-http", "--retries", "0", "status", "x")
    assert allowed.code == 8  # accepted, then the made-up host does not resolve


def test_an_api_error_exits_1(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("submit", "no/such/model", "prompt=x")
    assert ran.code == 1
    assert "NotFoundError" in ran.err


def test_upload_prints_the_public_url(run: Run, higgsfield_emulator: Emulator, tmp_path: Path) -> None:
    picture = tmp_path / "input.png"
    picture.write_bytes(b"\x89PNG" + bytes(range(256)) * 100)
    ran = run("upload", picture, "--json")
    assert ran.code == 0
    document = json.loads(ran.out)
    assert document["content_type"] == "image/png"
    assert document["bytes"] == picture.stat().st_size
    assert document["url"].startswith(higgsfield_emulator.base_url + "/uploads/")
    assert [size for _, size in higgsfield_emulator.uploads] == [picture.stat().st_size]
    assert lines(run("upload", picture).out)[0].startswith(higgsfield_emulator.base_url)


def test_download_saves_every_url(run: Run, higgsfield_emulator: Emulator, tmp_path: Path) -> None:
    higgsfield_emulator.script_next_job(queue_time=0.0, run_time=0.0)
    urls = lines(run("submit", MODEL, "prompt=x", "num_images=4", "--wait", *FAST).out)
    ran = run("download", *urls[:2], "--to", tmp_path / "new")
    assert ran.code == 0
    saved = [Path(line) for line in lines(ran.out)]
    assert [path.read_bytes() for path in saved] == [_stored(higgsfield_emulator, url) for url in urls[:2]]
    assert "downloaded 2 file(s)" in ran.err  # stderr is no terminal: one final line, no bars
    request_id = urls[0].rsplit("/", 2)[-2]
    higgsfield_emulator.expire(request_id)
    expired = run("download", urls[0], "--to", tmp_path)
    assert expired.code == 1
    assert f"output {urls[0]} has expired or was deleted (HTTP 404, storage code NoSuchKey)" in expired.err
    again = run("result", request_id, "--download", tmp_path / "again", *FAST)
    assert again.code == 1
    assert f"output {urls[0]} has expired or was deleted" in again.err
    assert "non-JSON answer" not in expired.err + again.err


def test_two_jobs_outputs_named_alike_never_overwrite_one_another(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    urls = []
    for _ in range(2):
        higgsfield_emulator.script_next_job(queue_time=0.0, run_time=0.0)
        urls += lines(run("submit", MODEL, "prompt=x", "--wait", *FAST).out)
    assert urls[0].rsplit("/", 1)[1] == urls[1].rsplit("/", 1)[1] == "0.png"
    ran = run("download", *urls, "--to", tmp_path)
    assert ran.code == 0
    saved = [Path(line) for line in lines(ran.out)]
    assert [path.name for path in saved] == ["0.png", "0-2.png"]
    assert [path.read_bytes() for path in saved] == [_stored(higgsfield_emulator, url) for url in urls]
    assert "downloaded 2 file(s)" in ran.err
    again = run("download", urls[1], "--to", tmp_path)
    assert again.code == 1
    assert "pass --overwrite" in again.err
    assert (tmp_path / "0.png").read_bytes() == _stored(higgsfield_emulator, urls[0])
    assert run("download", urls[1], "--to", tmp_path, "--overwrite").code == 0
    assert (tmp_path / "0.png").read_bytes() == _stored(higgsfield_emulator, urls[1])


def test_results_downloaded_into_one_folder_are_named_after_their_job(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    ids = []
    for _ in range(2):
        higgsfield_emulator.script_next_job(queue_time=0.0, run_time=0.0)
        ran = run("--json", "submit", MODEL, "prompt=x", "--download", tmp_path, *FAST)
        assert ran.code == 0, ran.err
        ids.append(json.loads(ran.out)["request_id"])
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{rid}-0.png" for rid in ids)
    first = tmp_path / f"{ids[0]}-0.png"
    again = run("result", ids[0], "--download", tmp_path, *FAST)
    assert again.code == 0  # the file is whole: it is kept, and named again
    assert again.out.splitlines() == [str(first)]
    first.write_bytes(b"another file")
    refused = run("result", ids[0], "--download", tmp_path, *FAST)
    assert refused.code == 1
    assert "pass --overwrite" in refused.err
    assert first.read_bytes() == b"another file"


def test_timeout_makes_one_last_check_at_the_deadline(run: Run, higgsfield_emulator: Emulator) -> None:
    higgsfield_emulator.script_next_job(queue_time=60.0)
    # The first check would come after 2 s: past the deadline, so it is made at the deadline.
    ran = run("submit", MODEL, "prompt=x", "--wait", "--timeout", "0.3")
    assert ran.code == 7
    assert "last status: queued" in ran.err


def test_estimate_prints_the_price(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("estimate", MODEL, "prompt=x", "--json")
    assert ran.code == 0
    document = json.loads(ran.out)
    assert float(document["credits"]) > 0
    assert isinstance(document["usd"], str)
    assert "credits ($" in run("estimate", MODEL, "prompt=x").out


def test_verbose_logs_each_exchange_on_stderr(run: Run, higgsfield_emulator: Emulator) -> None:
    ran = run("-v", "status", "unknown-id")
    assert ran.code == 1
    assert "GET http://" in ran.err
    assert "-> 404 (attempt 1" in ran.err
    assert higgsfield_emulator.api_key.split(":")[1] not in ran.err


def test_key_value_arguments_are_json_when_they_can_be(tmp_path: Path) -> None:
    pairs = ["n=5", "flag=true", 'code="007"', "text=hello world", "items=[1, 2]", "empty=", "a=b=c"]
    assert parse_arguments(pairs, None) == {
        "n": 5,
        "flag": True,
        "code": "007",
        "text": "hello world",
        "items": [1, 2],
        "empty": "",
        "a": "b=c",
    }
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(UsageError, match="JSON object"):
        parse_arguments([], str(listed))
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_arguments(["=value"], None)


def test_off_a_terminal_the_status_line_is_printed_per_change_and_bars_are_silent() -> None:
    ticks = iter([0.0, 0.5, 1.0])  # read when the line starts, then for each line printed
    plain = io.StringIO()
    console = Console(out=io.StringIO(), err=plain, json=False)
    line = StatusLine(console, "job", clock=lambda: next(ticks))
    for status in (Queued("r"), Queued("r"), InProgress("r")):
        line.update(status)
    line.close()
    bars = Transfers(console)
    bars.bar("clip.mp4")(10, 20)
    bars.close()
    assert lines(plain.getvalue()) == ["job: queued         0.5 s", "job: in_progress    1.0 s"]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["submit", MODEL, "no-equals-sign"], "expected KEY=VALUE, got 'no-equals-sign'"),
        (["result", "some-id", "--timeout", "-1"], "must be a positive number of seconds"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_under_json_are_json_documents(
    run: Run, higgsfield_emulator: Emulator, argv: Any, said: str
) -> None:
    ran = run("--json", *argv)
    assert ran.code == 2
    error = json.loads(ran.out)["error"]
    assert (error["type"], error["exit_code"]) == ("UsageError", 2)
    assert said in error["message"]
    assert said in ran.err


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("folder", "is a folder; upload takes one file"),
        ("missing.png", "missing.png: no such file"),
        ("notes.unknown-extension", "from its extension; pass --content-type TYPE"),
    ],
)
def test_upload_says_what_is_wrong_with_the_file_in_command_line_terms(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path, name: str, said: str
) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.unknown-extension").write_text("x")
    ran = run("upload", tmp_path / name)
    assert ran.code == 2
    assert said in ran.err
    assert "content_type=" not in ran.err
    assert higgsfield_emulator.uploads == []


def test_a_dead_download_url_is_named_without_its_query(
    run: Run, higgsfield_emulator: Emulator, tmp_path: Path
) -> None:
    dead = f"{higgsfield_emulator.base_url}/outputs/gone/0.png"
    ran = run("--json", "download", f"{dead}?signature=secret", "--to", tmp_path)
    assert ran.code == 1
    assert f"cannot download {dead}: OutputExpiredError: output " in ran.err
    assert "has expired or was deleted (HTTP 404, storage code NoSuchKey)" in ran.err
    error = json.loads(ran.out)["error"]
    assert (error["type"], error["url"], error["status_code"]) == ("OutputExpiredError", dead, 404)
    assert "secret" not in ran.out + ran.err
