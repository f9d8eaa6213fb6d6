"""Each script in examples/ runs against the emulator and does what it says."""

from __future__ import annotations

import base64
import json
import logging
import sys
import time
from pathlib import Path
from typing import Iterator, List

import pytest
from batch.ray_support import ray_process_state

from higgsfield_client import JobFailedError, PollPolicy
from higgsfield_client.testing import Emulator
from higgsfield_proto import (
    ApiConfig,
    Credentials,
    FailureKind,
    FlowEnv,
    ProtocolError,
    Request,
    StreamedBody,
    TransportFailure,
    status_flow,
    submit_flow,
    upload_flow,
)

from .conftest import EXAMPLES, load, main_of

SECRET = "whsec_" + base64.b64encode(b"example-webhook-secret-32-bytes!").decode()
pytestmark = pytest.mark.higgsfield_emulator(queue_time=0.05, run_time=0.05, webhook_secret=SECRET)


def _saved(folder: Path) -> List[Path]:
    outputs = folder / "outputs"
    return sorted(outputs.iterdir()) if outputs.exists() else []


def test_every_example_has_a_test() -> None:
    tested = {
        "sync_quickstart",
        "asyncio_quickstart",
        "trio_quickstart",
        "batch",
        "batch_trio",
        "batch_ray",
        "webhook_receiver",
        "urllib_adapter",
        # Served by real servers in tests/webhooks/test_served_receivers.py, webhook_receiver too.
        "webhooks_fastapi",
        "webhooks_flask",
        "webhooks_django",
        "agent_asyncio",
        "agent_trio",
        "observability",
    }
    assert {path.stem for path in EXAMPLES.glob("*.py")} == tested


@pytest.mark.parametrize("name", ["sync_quickstart", "asyncio_quickstart", "trio_quickstart"])
def test_a_quickstart_generates_and_downloads_an_image(
    name: str,
    higgsfield_emulator: Emulator,
    in_tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main_of(name)()
    out = capsys.readouterr().out
    (job,) = higgsfield_emulator.jobs()
    assert job.status == "completed"
    (saved,) = _saved(in_tmp_path)
    assert saved.name == f"{job.request_id}-0.png"  # named after its job: none overwrites another
    stored = higgsfield_emulator.storage_dir / "outputs" / job.request_id / "0.png"
    assert saved.read_bytes() == stored.read_bytes()
    assert f"saved {Path('outputs') / saved.name}" in out
    assert "completed" in out


@pytest.mark.parametrize("name", ["sync_quickstart", "asyncio_quickstart", "trio_quickstart"])
def test_a_quickstart_tells_a_failed_job_and_saves_nothing(
    name: str,
    higgsfield_emulator: Emulator,
    in_tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    higgsfield_emulator.script_next_job("failed", error="the GPU melted")
    if name == "asyncio_quickstart":  # it asks the result to raise
        with pytest.raises(JobFailedError, match="the GPU melted"):
            main_of(name)()
    else:
        main_of(name)()
    out = capsys.readouterr().out
    assert _saved(in_tmp_path) == []
    assert "saved" not in out
    if name == "sync_quickstart":
        assert "failed: the GPU melted" in out
    if name == "trio_quickstart":
        assert "failed" in out


def test_the_batch_makes_every_postcard_once_and_a_second_run_sends_nothing(
    higgsfield_emulator: Emulator, in_tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("batch")
    higgsfield_emulator.script_next_job("failed", error="one of them fails")
    example["main"]()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(example["ITEMS"])
    assert sum(line.startswith("failed") for line in out) == 1
    assert sum(line.startswith("completed") for line in out) == len(example["ITEMS"]) - 1
    assert len(list((in_tmp_path / "postcards").glob("city-*/0.png"))) == len(example["ITEMS"]) - 1
    example["main"]()
    assert len(capsys.readouterr().out.splitlines()) == len(example["ITEMS"])
    assert len(higgsfield_emulator.jobs()) == len(example["ITEMS"])


def test_the_trio_batch_reads_a_generator_and_reports_its_counts(
    higgsfield_emulator: Emulator, in_tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main_of("batch_trio")()
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("8 completed, 0 failed in ")
    assert sorted(line.split()[1] for line in out[:-1]) == sorted(f"city-{n}:" for n in range(1, 9))
    assert len(list((in_tmp_path / "postcards-trio").glob("city-*/0.png"))) == 8
    assert len(higgsfield_emulator.jobs()) == 8


@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")
def test_the_ray_example_writes_each_postcard_through_two_actors(
    higgsfield_emulator: Emulator, in_tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load("batch_ray")
    higgsfield_emulator.script_next_job("failed", error="one of them fails")
    with ray_process_state():  # the workers poll on the client's own schedule: about 2 s
        example["main"]()
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(example["ROWS"]) == len(higgsfield_emulator.jobs())
    assert sum(line.startswith("failed") for line in out) == 1
    assert sum(line.startswith("completed") for line in out) == len(example["ROWS"]) - 1
    written = sorted(path.relative_to(in_tmp_path).as_posix() for path in in_tmp_path.rglob("*.*"))
    finished = [line.split()[1].rstrip(":") for line in out if line.startswith("completed")]
    assert written == sorted(f"postcards-ray/{name}/0.png" for name in finished)


def test_the_batch_file_of_the_docs_runs_from_the_command_line(
    higgsfield_emulator: Emulator, in_tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from higgsfield_client.cli import main

    source = EXAMPLES / "batch_prompts.jsonl"
    argv = ["batch", str(source), "--model", "higgsfield-ai/soul/standard", "--out", "postcards"]
    argv += ["--poll-interval", "0.05", "--base-url", higgsfield_emulator.base_url]
    assert main([*argv, "--api-key", higgsfield_emulator.api_key]) == 0
    results = in_tmp_path / "postcards" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["lighthouse", "harbour", "market", "4"]
    assert {line["status"] for line in lines} == {"completed"}
    assert "4 items: 4 completed, 0 failed" in capsys.readouterr().err


def test_the_webhook_receiver_gets_a_verified_event(
    higgsfield_emulator: Emulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_WEBHOOK_SECRET", SECRET)
    main_of("webhook_receiver")()
    out = capsys.readouterr().out
    (job,) = higgsfield_emulator.jobs()
    assert job.webhook_url is not None
    assert f"job {job.request_id} completed" in out
    # The emulator records the attempt once the receiver's answer is back, which may come just
    # after the example printed the event: wait for it, within a bound.
    deadline = time.monotonic() + 10.0
    while not higgsfield_emulator.webhook_deliveries[0].delivered and time.monotonic() < deadline:
        time.sleep(0.02)
    (delivery,) = higgsfield_emulator.webhook_deliveries
    assert delivery.request_id == job.request_id
    assert any(attempt.status == 200 for attempt in delivery.attempts)


# -- the urllib adapter of the protocol-core page ------------------------------------------------


def _adapter_config(emulator: Emulator) -> ApiConfig:
    return ApiConfig(credentials=Credentials.from_string(emulator.api_key), base_url=emulator.base_url)


def test_the_urllib_adapter_generates_and_downloads(
    higgsfield_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    main_of("urllib_adapter")()
    (job,) = higgsfield_emulator.jobs()
    out = capsys.readouterr().out
    stored = higgsfield_emulator.storage_dir / "outputs" / job.request_id / "0.png"
    assert f"{job.request_id}: {stored.stat().st_size} bytes in " in out
    saved = Path(out.rsplit(" bytes in ", 1)[1].strip())
    try:
        assert saved.read_bytes() == stored.read_bytes()
    finally:
        saved.unlink()
    (download,) = [entry for entry in higgsfield_emulator.journal if entry.route == "output"]
    assert "authorization" not in download.headers


def test_the_urllib_adapter_never_follows_a_redirect_to_another_host(higgsfield_emulator: Emulator) -> None:
    example = load("urllib_adapter")
    config = _adapter_config(higgsfield_emulator)
    job = example["run"](submit_flow(config, example["MODEL"], {"prompt": "p"}, FlowEnv()))
    higgsfield_emulator.clear_journal()
    higgsfield_emulator.script_fault("status", "redirect_offhost")
    with pytest.raises(ProtocolError, match="another host"):
        example["run"](status_flow(config, job.request_id, FlowEnv()))
    # The redirect named this very emulator under another host name: had urllib followed it,
    # a second status request (with the credentials) would be in the journal.
    assert [entry.route for entry in higgsfield_emulator.journal] == ["status"]


def test_the_urllib_adapter_streams_an_upload_with_its_length_and_no_credentials(
    higgsfield_emulator: Emulator,
) -> None:
    example = load("urllib_adapter")
    payload = b"\x89PNG" + bytes(range(256)) * 300
    body = StreamedBody(open=lambda: iter([payload[:1000], payload[1000:]]), length=len(payload))
    target = example["run"](upload_flow(_adapter_config(higgsfield_emulator), "image/png", body, FlowEnv()))
    (put,) = [entry for entry in higgsfield_emulator.journal if entry.route == "put"]
    assert put.headers["content-length"] == str(len(payload))
    assert "authorization" not in put.headers
    stored = higgsfield_emulator.storage_dir / "uploads" / target.public_url.rsplit("/", 1)[1]
    assert stored.read_bytes() == payload


def test_the_urllib_adapter_reports_a_refused_connection_as_nothing_written() -> None:
    import socket

    with socket.socket() as sock:  # bound, never listening: connecting is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        example = load("urllib_adapter")
        outcome = example["send"](Request(method="POST", url=f"http://127.0.0.1:{port}/x", body=b"{}"))
    assert isinstance(outcome, TransportFailure)
    assert (outcome.kind, outcome.request_written) == (FailureKind.CONNECT, False)


# -- the Agent API ----------------------------------------------------------------------------


@pytest.fixture
def fast_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    from higgsfield_client.agents import _calls

    monkeypatch.setattr(_calls, "TURN_POLL", PollPolicy(initial_delay=0.02, max_delay=0.05))


def test_the_asyncio_agent_example_answers_a_question_and_stops_a_long_turn(
    higgsfield_emulator: Emulator, fast_turns: None, capsys: pytest.CaptureFixture[str]
) -> None:
    main_of("agent_asyncio")()
    out = capsys.readouterr().out
    (session,) = higgsfield_emulator.agent_sessions()
    assert f"session {session.session_id}" in out
    assert "agent asks: Which style" in out
    assert "completed: Echo: warm colours, please" in out
    assert "cost: 0.0020 USD" in out
    assert "interrupted: the turn ended idle" in out
    assert [upload for upload in higgsfield_emulator.uploads if upload[0].endswith(".png")]


def test_the_trio_agent_example_answers_from_a_worker_thread(
    higgsfield_emulator: Emulator, fast_turns: None, capsys: pytest.CaptureFixture[str]
) -> None:
    main_of("agent_trio")()
    out = capsys.readouterr().out.splitlines()
    assert "completed: Echo: a lighthouse" in out
    assert "  processing" in out or "  awaiting_input" in out


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """The logging configuration as it was before the test (an example configures its own)."""
    root, own = logging.getLogger(), logging.getLogger("higgsfield_client")
    handlers, levels = list(root.handlers), (root.level, own.level)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(levels[0])
        own.setLevel(levels[1])


@pytest.mark.usefixtures("no_tracer_provider", "logging_restored")
def test_the_observability_example_prints_the_job_s_spans_and_log_lines(
    higgsfield_emulator: Emulator,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    # The exporter's default stream is the sys.stdout of the SDK's import, which an earlier test
    # in this process may have made under pytest's own capture: this test's is given instead.
    service_name, _, *rest = ConsoleSpanExporter.__init__.__defaults__ or ()
    monkeypatch.setattr(ConsoleSpanExporter.__init__, "__defaults__", (service_name, sys.stdout, *rest))
    main_of("observability")()
    out = capsys.readouterr().out
    (job,) = higgsfield_emulator.jobs()
    assert out.rstrip().endswith(f"{job.request_id}: completed")
    spans = [json.loads(text) for text in _json_objects(out)]
    names = [span["name"] for span in spans]
    assert names.count("higgsfield.job") == 1
    assert names[-1] == "make a postcard"  # the application's span ends last, the job's inside it
    (made,) = [span for span in spans if span["name"] == "higgsfield.job"]
    assert made["attributes"]["higgsfield.request_id"] == job.request_id
    assert made["attributes"]["higgsfield.job.status"] == "completed"
    assert made["resource"]["attributes"]["service.name"] == "postcards"
    assert {span["name"] for span in spans} >= {"POST", "GET"}
    infos = [record.getMessage() for record in caplog.records if record.name == "higgsfield_client"]
    assert infos[0] == f"job {job.request_id} submitted (model higgsfield-ai/soul/standard)"
    assert infos[-1] == f"job {job.request_id} completed"


def _json_objects(text: str) -> List[str]:
    """The JSON objects the console exporter printed, one after another, pretty-printed."""
    decoder, found, at = json.JSONDecoder(), [], text.find("{")
    while at != -1:
        _, end = decoder.raw_decode(text, at)
        found.append(text[at:end])
        at = text.find("{", end)
    return found
