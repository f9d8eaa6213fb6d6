"""bench/_charts.py: the performance page's charts, drawn from a run's record."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

from .support import load_script

charts = load_script("bench/_charts.py", "bench_charts")


def _figure(name: str, **data: Any) -> Dict[str, Any]:
    return {"name": name, "text": "", "met": None, "data": data}


def _samples(seconds: float, peak: float) -> List[List[float]]:
    return [[round(seconds * i / 20, 3), round(peak * i / 20, 1)] for i in range(21)]


RECORD: Dict[str, Any] = {
    "machine": "2 cores, Test CPU, Python 3.11.7 (CPython), Linux 6.1",
    "command": "python -m bench status official polling upload",
    "date": "2026-11-30",
    "figures": [
        _figure("status/requests", ours_cpu=685e-6, raw_cpu=852e-6),
        _figure("status/aiohttp", ours_cpu=365e-6, raw_cpu=314e-6),
        _figure("status/trio", ours_cpu=459e-6, raw_cpu=337e-6),
        _figure("status/trio-httpx", ours_cpu=471e-6, raw_cpu=1223e-6),
        _figure("official/requests", ours_cpu=1098e-6, official_cpu=861e-6),
        _figure("official/aiohttp", ours_cpu=358e-6, official_cpu=1481e-6),
        _figure("official/trio", ours_cpu=452e-6, official_cpu=1257e-6),
        _figure("polling/5s", ours={"requests": [3, 3, 4]}, official={"requests": [11, 11, 12]}),
        _figure("polling/30s", ours={"requests": [12, 12, 13]}, official={"requests": [60, 59, 61]}),
        _figure(
            "upload/requests/memory",
            ours=0,
            raw=0,
            ours_samples=_samples(3.1, 0.3),
            official={"seconds": 146.0, "rss_growth": 3058 * 2**20, "rss_samples": _samples(146.0, 2044)},
        ),
        _figure("upload/requests/throughput", ours_mib_s=332.0, raw_mib_s=361.0, ratio=0.89),
    ],
}


def test_each_chart_is_drawn_with_the_run_named_under_it(tmp_path: Path) -> None:
    drawn = charts.draw_charts(RECORD, tmp_path)
    assert [path.name for path in drawn] == ["status-cpu.svg", "polling-requests.svg", "upload-memory.svg"]
    for path in drawn:
        svg = path.read_text()
        assert svg.startswith("<?xml")
        assert "python -m bench status official polling upload, 2026-11-30" in svg
        assert "2 cores, Test CPU" in svg
        assert "--quick" not in svg
    assert "official higgsfield-client 0.2.0" in (tmp_path / "status-cpu.svg").read_text()
    memory = (tmp_path / "upload-memory.svg").read_text()
    # The peak is the high-water mark the suite measured, not the highest sample.
    assert "official SyncClient: peak +3,058.0 MiB, 146.0 s" in memory
    assert "ours, sync (requests): peak +0.0 MiB, 3.1 s" in memory
    assert "1 GiB" in memory


def test_the_same_record_gives_the_same_bytes(tmp_path: Path) -> None:
    first = charts.draw_charts(RECORD, tmp_path / "first")
    second = charts.draw_charts(copy.deepcopy(RECORD), tmp_path / "second")
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]
    changed = copy.deepcopy(RECORD)
    changed["figures"][0]["data"]["ours_cpu"] = 700e-6
    (third, *_) = charts.draw_charts(changed, tmp_path / "third")
    assert third.read_bytes() != first[0].read_bytes()


def test_a_run_of_some_suites_draws_only_their_charts_and_a_quick_one_says_so(tmp_path: Path) -> None:
    record = dict(RECORD, command="python -m bench polling --quick")
    record["figures"] = [figure for figure in RECORD["figures"] if figure["name"].startswith("polling/")]
    drawn = charts.draw_charts(record, tmp_path)
    assert [path.name for path in drawn] == ["polling-requests.svg"]
    assert "(--quick: smaller counts)" in drawn[0].read_text()
    assert charts.draw_charts({"figures": []}, tmp_path / "none") == []
