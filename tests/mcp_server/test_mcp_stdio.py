"""``higgsfield-sansio mcp`` over stdio, as an MCP client starts it: every tool, waits, cancels, refusals.

One server (allowed folder ``allowed/`` of the module's scratch folder) serves the module's tests,
against one emulator; each test counts the jobs and requests it made itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional

import anyio
import pytest
from mcp import Client
from mcp_support import FAST, MODEL, Progress, call, connected, submits, waited

from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio

TOOLS = {
    "models_list",
    "model_get",
    "estimate",
    "generate",
    "job_status",
    "job_wait",
    "job_cancel",
    "upload",
    "download",
    "agent_run",
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mcp")
    (folder / "allowed").mkdir()
    (folder / "outside").mkdir()
    return folder


@pytest.fixture(scope="module")
async def client(emulator: Emulator, scratch: Path) -> AsyncIterator[Client]:
    async with connected(emulator, "--allow-dir", str(scratch / "allowed"), *FAST) as client:
        yield client


async def generated(
    client: Client, arguments: Dict[str, object], progress: Optional[Progress] = None, **options: object
) -> Dict[str, Any]:
    """``generate`` of ``MODEL`` with these arguments and tool options; the answer, which must
    be no error."""
    failed, document = await call(
        client, "generate", {"model_id": MODEL, "arguments": arguments, **options}, progress_callback=progress
    )
    assert not failed, document
    return document


async def test_the_server_offers_every_tool_with_a_description_written_for_a_model(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    generate = tools["generate"].description or ""
    assert "COSTS MONEY" in generate
    assert "idempotency_key" in generate
    assert "Free" in (tools["estimate"].description or "")
    assert "NEVER cancels" in (tools["job_wait"].description or "")
    assert set(tools["generate"].input_schema["required"]) == {"model_id", "arguments"}


async def test_models_list_and_model_get_read_the_catalog(client: Client) -> None:
    failed, listed = await call(client, "models_list", {"kind": "video"})
    assert not failed
    assert listed["count"] == len(listed["models"]) > 5
    assert {model["kind"] for model in listed["models"]} == {"video"}
    failed, model = await call(client, "model_get", {"model_id": MODEL})
    assert not failed
    names = {argument["name"]: argument for argument in model["arguments"]}
    assert names["prompt"]["required"] is True
    assert names["num_images"]["default"] == 1
    assert model["schema"]["properties"]["resolution"]["enum"] == ["2K", "4K"]
    assert model["price"]["per"] == "image"


async def test_an_unknown_model_is_refused_with_the_ids_it_may_have_meant(
    client: Client, emulator: Emulator
) -> None:
    before = submits(emulator)
    failed, document = await call(
        client, "generate", {"model_id": "higgsfield-ai/soul/standrd", "arguments": {"prompt": "x"}}
    )
    assert failed
    assert document["error"]["type"] == "unknown_model"
    assert MODEL in document["error"]["message"]
    assert submits(emulator) == before


async def test_estimate_prices_a_generation_without_submitting_it(client: Client, emulator: Emulator) -> None:
    before = len(emulator.jobs())
    failed, document = await call(
        client, "estimate", {"model_id": MODEL, "arguments": {"prompt": "a fox", "num_images": 2}}
    )
    assert not failed
    assert document["price"] == {"credits": "3.000", "usd": "0.188", "source": "api"}
    assert len(emulator.jobs()) == before


async def test_bad_arguments_get_a_tool_error_with_the_field_list_and_nothing_is_submitted(
    client: Client, emulator: Emulator
) -> None:
    before = submits(emulator)
    failed, document = await call(
        client,
        "generate",
        {"model_id": MODEL, "arguments": {"num_images": 9, "resolution": "8K", "colour": "red"}},
    )
    assert failed
    error = document["error"]
    assert error["type"] == "invalid_arguments"
    assert error["checked"] == "locally, against the model catalog"
    by_field = {tuple(field["loc"]): field["type"] for field in error["fields"]}
    assert by_field[("body", "prompt")] == "missing"
    assert by_field[("body", "colour")] == "extra_forbidden"
    assert ("body", "num_images") in by_field
    assert ("body", "resolution") in by_field
    assert submits(emulator) == before


async def test_generate_returns_the_request_id_at_once_and_job_wait_the_outputs(
    client: Client, emulator: Emulator
) -> None:
    started = await generated(client, {"prompt": "a lighthouse"}, idempotency_key="lighthouse-1")
    assert started["status"] == "queued"
    assert "job_wait" in started["next"]
    job = emulator.job(str(started["request_id"]))
    assert job.idempotency_key == "lighthouse-1"
    failed, done, _ = await waited(client, started["request_id"])
    assert not failed
    assert done["status"] == "completed"
    (output,) = done["outputs"]
    assert output["kind"] == "image"
    assert output["url"].startswith(emulator.base_url)
    failed, status = await call(client, "job_status", {"request_id": started["request_id"]})
    assert (failed, status["status"], status["outputs"]) == (False, "completed", done["outputs"])


async def test_job_wait_sends_progress_notifications_with_the_jobs_state(client: Client) -> None:
    started = await generated(client, {"prompt": "a red fox"})
    failed, done, progress = await waited(client, started["request_id"])
    assert (failed, done["status"]) == (False, "completed")
    assert "queued" in progress.messages
    assert "in_progress" in progress.messages
    assert progress.messages.index("queued") < progress.messages.index("in_progress")
    values = [value for value, _, _ in progress.seen]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    assert {total for _, total, _ in progress.seen} == {30.0}


async def test_generate_with_wait_seconds_waits_and_returns_the_outputs(client: Client) -> None:
    progress = Progress()
    document = await generated(client, {"prompt": "a paper boat"}, progress, wait_seconds=30)
    assert document["status"] == "completed"
    assert len(document["outputs"]) == 1
    assert "in_progress" in progress.messages


async def test_job_wait_at_its_timeout_returns_the_state_and_neither_cancels_nor_resubmits(
    client: Client, emulator: Emulator
) -> None:
    emulator.script_next_job(queue_time=60)
    started = await generated(client, {"prompt": "a slow one"})
    before = submits(emulator)
    failed, document = await call(
        client, "job_wait", {"request_id": started["request_id"], "timeout_seconds": 0.5}
    )
    assert not failed
    assert (document["request_id"], document["status"]) == (started["request_id"], "queued")
    assert "job_wait again" in document["next"]
    assert emulator.job(str(started["request_id"])).status == "queued"
    assert submits(emulator) == before
    assert not any(entry.route == "cancel" for entry in emulator.journal)


async def test_a_tool_call_canceled_by_the_client_stops_its_wait(client: Client, emulator: Emulator) -> None:
    emulator.script_next_job(queue_time=60)
    started = await generated(client, {"prompt": "waited for, then not"})
    request_id = started["request_id"]
    heard = anyio.Event()

    async def on_progress(progress: float, total: object, message: object) -> None:
        heard.set()

    def polls() -> int:
        return sum(1 for entry in emulator.journal if entry.route == "status" and request_id in entry.path)

    async with anyio.create_task_group() as group:
        group.start_soon(
            lambda: client.call_tool(
                "job_wait", {"request_id": request_id, "timeout_seconds": 45}, progress_callback=on_progress
            )
        )
        await heard.wait()
        group.cancel_scope.cancel()
    await anyio.sleep(1.0)  # a status check already on the wire may still arrive
    after_cancel = polls()
    await anyio.sleep(2.0)  # 40 poll intervals: a wait that went on would have checked again
    assert polls() == after_cancel
    # The job goes on, and the server answers the next call.
    failed, status = await call(client, "job_status", {"request_id": request_id})
    assert (failed, status["status"]) == (False, "queued")


async def test_a_retried_generate_with_the_same_key_creates_one_job(
    client: Client, emulator: Emulator
) -> None:
    arguments = {"prompt": "only once", "num_images": 2}
    jobs_before, submits_before = len(emulator.jobs()), submits(emulator)
    first = await generated(client, arguments, idempotency_key="retry-me-7")
    again = await generated(client, arguments, idempotency_key="retry-me-7")
    assert again["request_id"] == first["request_id"]
    assert "not billed again" in again["note"]
    # The server knew the key: the retry was answered with its job, not submitted again.
    sent = [entry for entry in emulator.journal if entry.route == "submit"][submits_before:]
    assert [entry.headers["Idempotency-Key"] for entry in sent] == ["retry-me-7"]
    # A server that does not know it (restarted) submits with it, and the API gives the same job.
    async with connected(emulator, *FAST) as restarted:
        later = await generated(restarted, arguments, idempotency_key="retry-me-7")
    assert later["request_id"] == first["request_id"]
    sent = [entry for entry in emulator.journal if entry.route == "submit"][submits_before:]
    assert [entry.headers["Idempotency-Key"] for entry in sent] == ["retry-me-7", "retry-me-7"]
    assert len(emulator.jobs()) == jobs_before + 1


async def test_job_cancel_says_which_case_applied(client: Client, emulator: Emulator) -> None:
    emulator.script_next_job(queue_time=60)
    queued = await generated(client, {"prompt": "cancel me"})
    failed, canceled = await call(client, "job_cancel", {"request_id": queued["request_id"]})
    assert (failed, canceled["canceled"], canceled["case"]) == (False, True, "was_queued")
    assert emulator.job(str(queued["request_id"])).status == "canceled"

    emulator.script_next_job(queue_time=0.0, run_time=60)
    running = await generated(client, {"prompt": "too late"})
    with anyio.fail_after(30):
        while emulator.job(str(running["request_id"])).status != "in_progress":  # noqa: ASYNC110
            await anyio.sleep(0.05)  # the emulator's state, in its own thread
    failed, refused = await call(client, "job_cancel", {"request_id": running["request_id"]})
    assert (failed, refused["canceled"], refused["case"]) == (False, False, "already_started")

    done = await generated(client, {"prompt": "finished"}, wait_seconds=30)
    failed, refused = await call(client, "job_cancel", {"request_id": done["request_id"]})
    assert (failed, refused["canceled"], refused["case"]) == (False, False, "already_finished")


async def test_a_failed_job_reports_its_error(client: Client) -> None:
    document = await generated(client, {"prompt": "a city at night [fail]"}, wait_seconds=30)
    assert document["status"] == "failed"
    assert document["error"]


async def test_an_unknown_job_is_a_not_found_error(client: Client) -> None:
    failed, document = await call(
        client, "job_status", {"request_id": "3f6c0000-0000-4000-8000-000000000000"}
    )
    assert failed
    assert document["error"]["type"] == "NotFoundError"
    assert document["error"]["status_code"] == 404


async def test_upload_of_a_file_in_an_allowed_folder_returns_a_public_url(
    client: Client, emulator: Emulator, scratch: Path
) -> None:
    picture = scratch / "allowed" / "input.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    failed, document = await call(client, "upload", {"source": str(picture)})
    assert not failed, document
    assert document["content_type"] == "image/png"
    assert document["bytes"] == 208
    assert document["url"].startswith(emulator.base_url)
    # A relative path is taken from the first allowed folder.
    failed, again = await call(client, "upload", {"source": "input.png"})
    assert (failed, again["bytes"]) == (False, 208)


async def test_a_path_outside_the_allowed_folders_is_refused(client: Client, scratch: Path) -> None:
    secret = scratch / "outside" / "secret.png"
    secret.write_bytes(b"\x89PNG\r\n\x1a\n")
    link = scratch / "allowed" / "link.png"
    link.symlink_to(secret)
    for source in (
        str(secret),
        str(scratch / "allowed" / ".." / "outside" / "secret.png"),
        str(link),
        "/etc/passwd",
    ):
        failed, document = await call(client, "upload", {"source": source})
        assert failed, source
        assert document["error"]["type"] == "outside_allowed_folders", source


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x.png",
        "http://localhost/x.png",
        "http://[::1]/x.png",
        "http://10.1.2.3/x.png",
        "http://192.168.1.1/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/x.png",
        "http://2130706433/x.png",
        "file:///etc/passwd",
        "ftp://example.com/x.png",
        "https://user:pass@example.com/x.png",
    ],
)
async def test_loopback_private_and_non_http_urls_are_refused(
    client: Client, emulator: Emulator, url: str
) -> None:
    before = len(emulator.journal)
    failed, document = await call(client, "upload", {"source": url})
    assert failed
    assert document["error"]["type"] == "url_refused"
    assert "pass" not in json.dumps(document)
    assert len(emulator.journal) == before  # not even an upload slot was asked for


async def test_download_saves_the_outputs_into_an_allowed_folder_only(client: Client, scratch: Path) -> None:
    done = await generated(client, {"prompt": "a snowy hut"}, wait_seconds=30)
    failed, document = await call(client, "download", {"request_id": done["request_id"], "to": "hut"})
    assert not failed, document
    (saved,) = document["files"]
    path = Path(saved["path"])
    assert path.parent == (scratch / "allowed" / "hut").resolve()
    assert path.name.startswith(str(done["request_id"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # noqa: ASYNC240 - a small local file
    failed, refused = await call(
        client, "download", {"request_id": done["request_id"], "to": str(scratch / "outside")}
    )
    assert failed
    assert refused["error"]["type"] == "outside_allowed_folders"
    assert not [name for name in os.listdir(scratch / "outside") if name.startswith(str(done["request_id"]))]


async def test_the_resources_show_the_catalog_and_a_job(client: Client) -> None:
    listed = await client.list_resources()
    assert "higgsfield://models" in {str(resource.uri) for resource in listed.resources}
    templates = await client.list_resource_templates()
    assert {template.uri_template for template in templates.resource_templates} == {
        "higgsfield://models/{+model_id}",
        "higgsfield://jobs/{request_id}",
    }
    catalog = json.loads((await client.read_resource("higgsfield://models")).contents[0].text)  # type: ignore[union-attr]
    assert MODEL in {model["model_id"] for model in catalog["models"]}
    model = json.loads((await client.read_resource(f"higgsfield://models/{MODEL}")).contents[0].text)  # type: ignore[union-attr]
    assert model["model_id"] == MODEL
    done = await generated(client, {"prompt": "for the resource"}, wait_seconds=30)
    job = json.loads((await client.read_resource(f"higgsfield://jobs/{done['request_id']}")).contents[0].text)  # type: ignore[union-attr]
    assert (job["status"], job["outputs"]) == ("completed", done["outputs"])
