"""Every snippet of the official SDK's README runs unchanged against this package.

The snippets (``seed_readme.md``, a copy of the official README) are executed verbatim with the
environment pointed at the emulator by the ``higgsfield_emulator`` fixture. Async snippets run
under asyncio as written, and again under trio with only ``asyncio.run(main())`` swapped for
``trio.run(main)``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import trio
from PIL import Image

import higgsfield_client
from higgsfield_client.testing import Emulator

SNIPPETS = re.findall(r"```python\n(.*?)```", (Path(__file__).parent / "seed_readme.md").read_text(), re.S)
README_REQUEST_ID = "cdbe9381-e617-438f-ac99-b18eb52a05a0"
MODEL = "bytedance/seedream/v4/text-to-image"


def _run(code: str, name: str) -> Dict[str, Any]:
    namespace: Dict[str, Any] = {"__name__": "__main__"}
    exec(compile(code, name, "exec"), namespace)
    return namespace


def _is_async(code: str) -> bool:
    return "asyncio.run(main())" in code


def _snippets(kind: str) -> List[Any]:
    chosen = []
    for index, code in enumerate(SNIPPETS):
        uses_files = "path/to/example.jpeg" in code or "example.jpeg" in code or "await higgsfield" in code
        by_id = README_REQUEST_ID in code
        if kind == "jobs" and not uses_files and not by_id and "request_controller.cancel()" not in code:
            chosen.append(pytest.param(code, id=f"snippet{index}"))
        if kind == "cancel-after-get" and "request_controller.cancel()" in code:
            chosen.append(pytest.param(code, id=f"snippet{index}"))
        if kind == "by-id" and by_id:
            chosen.append(pytest.param(code, id=f"snippet{index}"))
    return chosen


def _trio_variant(code: str) -> str:
    return code.replace("import asyncio\n", "import trio\n").replace("asyncio.run(main())", "trio.run(main)")


def test_the_copy_holds_all_sixteen_snippets() -> None:
    assert len(SNIPPETS) == 16


@pytest.mark.parametrize("code", _snippets("jobs"))
def test_job_snippets_run_and_print_an_image_url(
    code: str, higgsfield_emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(code, "readme")
    printed = capsys.readouterr().out
    assert higgsfield_emulator.base_url in printed or "Status:" in printed
    submits = [e for e in higgsfield_emulator.journal if e.route == "submit"]
    assert len(submits) == 1
    assert submits[0].path == f"/{MODEL}"
    if _is_async(code):
        _run(_trio_variant(code), "readme-trio")
        assert len([e for e in higgsfield_emulator.journal if e.route == "submit"]) == 2


@pytest.mark.parametrize("code", _snippets("cancel-after-get"))
def test_controller_snippets_run_until_cancel_of_a_finished_job(
    code: str, higgsfield_emulator: Emulator
) -> None:
    # The snippet cancels after get(): the job has finished, so the API answers 400.
    variants = [code, _trio_variant(code)] if _is_async(code) else [code]
    for variant in variants:
        with pytest.raises(higgsfield_client.NotCancellableError):
            _run(variant, "readme")
    cancels = [e for e in higgsfield_emulator.journal if e.route == "cancel"]
    assert len(cancels) == len(variants)
    webhooks = [e.query.get("hf_webhook") for e in higgsfield_emulator.journal if e.route == "submit"]
    assert webhooks == ["https://example.com/webhook"] * len(variants)


@pytest.mark.parametrize("code", _snippets("by-id"))
def test_request_id_snippets_follow_the_readme_request(code: str, higgsfield_emulator: Emulator) -> None:
    variants = [code, _trio_variant(code)] if _is_async(code) else [code]
    for variant in variants:
        higgsfield_emulator.script_next_job("completed", request_id=README_REQUEST_ID)
        higgsfield_client.submit(MODEL, {"prompt": "made for the README's request id"})
        with pytest.raises(higgsfield_client.NotCancellableError):
            _run(variant, "readme")
    paths = {e.path for e in higgsfield_emulator.journal if e.route in ("status", "cancel")}
    assert paths == {f"/requests/{README_REQUEST_ID}/status", f"/requests/{README_REQUEST_ID}/cancel"}


def test_upload_snippets_run_in_order(
    higgsfield_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "path" / "to").mkdir(parents=True)
    Image.new("RGB", (40, 30), "orange").save(tmp_path / "path" / "to" / "example.jpeg")
    Image.new("RGB", (20, 20), "teal").save(tmp_path / "example.jpeg")
    upload_snippets = [code for code in SNIPPETS if "upload" in code]
    assert len(upload_snippets) == 4
    namespace: Dict[str, Any] = {}
    for code in upload_snippets[:3]:
        namespace.update(_run(code, "readme-upload"))
    # The async snippet uses top-level await and the previous snippets' data and image.
    body = "".join(f"    {line}\n" for line in upload_snippets[3].splitlines())
    async_code = f"async def main():\n{body}    return url\n"
    for runner in ("asyncio", "trio"):
        scope = {**namespace, "__name__": "__main__"}
        exec(compile(async_code, "readme-upload-async", "exec"), scope)
        url = asyncio.run(scope["main"]()) if runner == "asyncio" else trio.run(scope["main"])
        assert url.startswith(higgsfield_emulator.base_url)
    puts = [e for e in higgsfield_emulator.journal if e.route == "put"]
    assert len(puts) == 3 + 3 * 2
    assert all("authorization" not in e.headers for e in puts)
    assert {e.headers["content-type"] for e in puts} == {"image/jpeg"}
