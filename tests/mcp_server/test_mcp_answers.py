"""What the tools answer in the cases the other modules leave out, in process: the error kinds a
model reads, the resources' refusals, the options' checks, and a refused submit given back to
the budget."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, AsyncIterator, Dict

import anyio
import pytest
from mcp import Client, MCPError
from mcp_support import MODEL, call, in_process

from higgsfield_client import AsyncClient, Budget, InvalidArgumentError
from higgsfield_client.mcp import HiggsfieldServer, ServerOptions
from higgsfield_client.testing import Emulator

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def allowed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("allowed")
    (folder / "notes.txt").write_text("not a picture")
    (folder / "a-file").write_text("in the way")
    return folder


@pytest.fixture(scope="module")
async def client(emulator: Emulator, allowed: Path) -> AsyncIterator[Client]:
    async with in_process(emulator, ServerOptions(allow_dirs=(allowed,), max_wait=20)) as client:
        yield client


async def refused(client: Client, tool: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    failed, document = await call(client, tool, arguments)
    assert failed, document
    return dict(document["error"])


async def test_a_model_of_another_plane_is_named_as_such(client: Client) -> None:
    error = await refused(client, "model_get", {"model_id": "nano_banana_2"})
    assert error["type"] == "unknown_model"
    assert error["plane"] == "the subscription plane"
    assert "nano-banana" in error["message"]


async def test_model_get_shows_what_the_catalog_notes_about_a_model(client: Client) -> None:
    failed, model = await call(client, "model_get", {"model_id": "bytedance/seedream/v4/text-to-image"})
    assert not failed
    assert "allowed values are not documented" in model["note"]
    assert model["source"].endswith(")")


async def test_an_unknown_kind_lists_the_kinds(client: Client) -> None:
    error = await refused(client, "models_list", {"kind": "audio"})
    assert (error["type"], error["kinds"]) == ("unknown_kind", ["image", "video"])


async def test_an_idempotency_key_the_api_would_refuse_is_refused_first(
    client: Client, emulator: Emulator
) -> None:
    jobs = len(emulator.jobs())
    error = await refused(
        client, "generate", {"model_id": MODEL, "arguments": {"prompt": "x"}, "idempotency_key": "two words"}
    )
    assert error["type"] == "invalid_idempotency_key"
    assert len(emulator.jobs()) == jobs


async def test_a_file_of_no_known_type_is_refused_with_what_to_pass(client: Client) -> None:
    error = await refused(client, "upload", {"source": "notes.txt"})
    assert error["type"] == "unknown_content_type"
    assert "content_type" in error["message"]


async def test_a_download_again_keeps_whole_files_and_never_replaces_another(
    client: Client, allowed: Path
) -> None:
    failed, done = await call(
        client, "generate", {"model_id": MODEL, "arguments": {"prompt": "twice"}, "wait_seconds": 20}
    )
    assert (failed, done["status"]) == (False, "completed")
    failed, first = await call(client, "download", {"request_id": done["request_id"]})
    assert not failed
    failed, again = await call(client, "download", {"request_id": done["request_id"]})
    assert (failed, again["files"]) == (False, first["files"])
    saved = anyio.Path(first["files"][0]["path"])
    await saved.write_bytes(b"the user's own file, of another size")
    error = await refused(client, "download", {"request_id": done["request_id"]})
    assert error["type"] == "file_exists"
    assert error["path"] == str(saved)
    assert await saved.read_bytes() == b"the user's own file, of another size"
    error = await refused(client, "download", {"request_id": done["request_id"], "to": "a-file/inside"})
    assert error["type"] == "os_error"


async def test_a_download_of_a_job_not_completed_is_refused(client: Client, emulator: Emulator) -> None:
    emulator.script_next_job(queue_time=60)
    _, started = await call(client, "generate", {"model_id": MODEL, "arguments": {"prompt": "later"}})
    error = await refused(client, "download", {"request_id": started["request_id"]})
    assert (error["type"], error["status"]) == ("not_completed", "queued")


async def test_a_wait_too_short_for_one_check_still_answers_the_state(
    client: Client, emulator: Emulator
) -> None:
    emulator.script_next_job(queue_time=60)
    _, started = await call(client, "generate", {"model_id": MODEL, "arguments": {"prompt": "soon"}})
    failed, document = await call(
        client, "job_wait", {"request_id": started["request_id"], "timeout_seconds": 1e-6}
    )
    assert (failed, document["status"]) == (False, "queued")


async def test_the_resources_refuse_an_unknown_model_and_an_unknown_job(client: Client) -> None:
    with pytest.raises(MCPError, match="not in the catalog"):
        await client.read_resource("higgsfield://models/no/such/model")
    with pytest.raises(MCPError, match="no job"):
        await client.read_resource("higgsfield://jobs/3f6c0000-0000-4000-8000-000000000000")


async def test_an_estimate_nobody_can_give_is_price_unknown(client: Client, emulator: Emulator) -> None:
    emulator.script_fault("estimate", "500")
    error = await refused(
        client, "estimate", {"model_id": "higgsfield-ai/popcorn/auto", "arguments": {"prompt": "x"}}
    )
    assert error["type"] == "price_unknown"


async def test_a_submit_the_api_refuses_gives_its_credits_back(emulator: Emulator) -> None:
    async with in_process(emulator, ServerOptions(budget=Decimal(3))) as client:
        first = {"model_id": MODEL, "arguments": {"prompt": "one"}, "idempotency_key": "given-back-1"}
        failed, done = await call(client, "generate", first)
        assert not failed, done
        # The same key with other arguments: the API answers 422, and nothing was created.
        other = {**first, "arguments": {"prompt": "another"}}
        error = await refused(client, "generate", other)
        assert error["status_code"] == 422
        failed, last = await call(client, "generate", {"model_id": MODEL, "arguments": {"prompt": "two"}})
        assert not failed, last
        assert last["spending"]["remaining_credits"] == "0.000"


@pytest.mark.parametrize(
    "options",
    [
        {"budget": Decimal(-1)},
        {"confirm_above": Decimal("NaN")},
        {"max_credits_per_call": Decimal("-0.5")},
        {"max_wait": 0},
    ],
)
def test_options_out_of_range_are_refused(options: Dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        ServerOptions(**options)


async def test_the_budget_charges_a_completed_job_and_refunds_a_failed_one(emulator: Emulator) -> None:
    async with in_process(emulator, ServerOptions(budget=Decimal(10), max_wait=20)) as client:
        emulator.script_next_job(outcome="failed")
        waited = {"model_id": MODEL, "wait_seconds": 20}
        failed, document = await call(client, "generate", {**waited, "arguments": {"prompt": "lost"}})
        assert (failed, document["status"]) == (False, "failed"), document
        failed, document = await call(client, "generate", {**waited, "arguments": {"prompt": "kept"}})
        assert (failed, document["status"]) == (False, "completed"), document
        failed, priced = await call(client, "estimate", {"model_id": MODEL, "arguments": {"prompt": "x"}})
        assert not failed, priced
    spending = priced["spending"]
    assert (spending["charged_credits"], spending["in_flight_credits"]) == ("1.500", "0.000")
    assert (spending["spent_credits"], spending["remaining_credits"]) == ("1.500", "8.500")


async def test_a_budget_the_client_has_of_its_own_is_held_too_and_named(emulator: Emulator) -> None:
    api = AsyncClient(base_url=emulator.base_url, api_key=emulator.api_key, budget=Budget(max_credits=1))
    server = HiggsfieldServer(ServerOptions(budget=Decimal(10)), client=api)
    jobs = len(emulator.jobs())
    async with api, Client(server.server) as client:
        error = await refused(client, "generate", {"model_id": MODEL, "arguments": {"prompt": "dear"}})
    await server.aclose()
    assert error["type"] == "budget_exceeded"
    assert "over the budget of 1 credits" in error["message"]
    assert (error["price"]["credits"], error["remaining_credits"]) == ("1.500", "10")
    assert len(emulator.jobs()) == jobs
