"""docs/protocol-core.md: the adapter file it includes, then its Python blocks, run in order against
the emulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, List

import pytest

from higgsfield_client.testing import Emulator
from higgsfield_proto import Enqueued, JobState, StatusUpdate

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "protocol-core.md"
ADAPTER = ROOT / "examples" / "urllib_adapter.py"

pytestmark = pytest.mark.higgsfield_emulator(queue_time=0.05, run_time=0.05)


def python_blocks(markdown: str) -> List[str]:
    return re.findall(r"^```python\n(.*?)^```$", markdown, flags=re.DOTALL | re.MULTILINE)


def test_the_page_includes_the_adapter_file_and_shows_the_core_only() -> None:
    blocks = python_blocks(PAGE.read_text(encoding="utf-8"))
    assert '--8<-- "examples/urllib_adapter.py"\n' in blocks
    assert any("subscribe_flow" in block for block in blocks)
    assert any("upload_flow" in block for block in blocks)
    assert any("download_flow" in block for block in blocks)
    code = "\n".join(blocks)
    assert "higgsfield_client" not in code
    assert "higgsfield_transports" not in code


def test_the_page_runs_against_the_emulator(
    higgsfield_emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: Dict[str, Any] = {"__name__": "protocol_core_page"}
    exec(compile(ADAPTER.read_text(encoding="utf-8"), str(ADAPTER), "exec"), namespace)
    for block in python_blocks(PAGE.read_text(encoding="utf-8")):
        if not block.startswith("--8<--"):
            exec(compile(block, str(PAGE), "exec"), namespace)

    # Level 1: one submit and one status check, parsed.
    job, status = namespace["job"], namespace["status"]
    assert job.state is JobState.QUEUED
    assert status.request_id == job.request_id
    out = capsys.readouterr().out
    assert f"submitted {job.request_id} queued" in out

    # Level 2: the flow submitted once with a key, polled to the end, told each step.
    final = namespace["final"]
    assert final.state is JobState.COMPLETED
    events = namespace["events"]
    assert events[0] == Enqueued(request_id=final.request_id)
    assert isinstance(events[-1], StatusUpdate)
    assert events[-1].status == final
    submits = [entry for entry in higgsfield_emulator.journal if entry.route == "submit"]
    assert [("idempotency-key" in entry.headers) for entry in submits] == [False, True]

    # The upload and the download, byte for byte, neither with credentials.
    target = namespace["target"]
    stored = higgsfield_emulator.storage_dir / "uploads" / target.public_url.rsplit("/", 1)[1]
    assert stored.read_bytes() == (tmp_path / "input.png").read_bytes()
    output = higgsfield_emulator.storage_dir / "outputs" / final.request_id / "0.png"
    assert (tmp_path / "output.png").read_bytes() == output.read_bytes()
    assert namespace["downloaded"].size == output.stat().st_size
    for entry in higgsfield_emulator.journal:
        assert ("authorization" in entry.headers) is (entry.route not in ("put", "output"))
