"""The benchmark results as charts: SVG files in docs/charts/, drawn from a run's record.

``python -m bench`` draws them after a run, and ``python -m bench --charts-only`` again from the
last run (``bench/.cache/last-run.json``). Each chart is drawn from the ``data`` of the figures it
needs and is left as it is when the run had none of them (a run of some suites only). Each one
names, under it, the command, the machine and the date of the run. matplotlib (the ``bench``
extra) draws them with its Agg backend; the files carry no date and fixed ids, so the same
record gives the same bytes.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import matplotlib
from matplotlib.figure import Figure as Canvas

matplotlib.use("Agg")

CHARTS_DIR = Path(__file__).resolve().parent.parent / "docs" / "charts"
OURS, RAW, HTTPX, OFFICIAL = "#1f6feb", "#8b949e", "#bf8700", "#cf222e"
Record = Dict[str, Any]
Data = Dict[str, Dict[str, Any]]


def _caption(record: Record) -> str:
    quick = " (--quick: smaller counts)" if "--quick" in record.get("command", "") else ""
    date = record.get("date", "date not recorded")
    return f"{record.get('command', 'python -m bench')}{quick}, {date}\n{record.get('machine', '')}"


def _canvas(width: float, height: float, rows: int = 1) -> Any:
    canvas = Canvas(figsize=(width, height), layout="constrained")
    axes = canvas.subplots(rows, 1, sharey=True, squeeze=False)[:, 0]
    for each in axes:
        each.spines[["top", "right"]].set_visible(False)
        each.grid(axis="y", alpha=0.3)
        each.set_axisbelow(True)
    return canvas, axes


def _save(canvas: Any, record: Record, path: Path) -> Path:
    canvas.text(0.0, 0.0, _caption(record), fontsize=7.5, color="#57606a", ha="left", va="bottom")
    canvas.get_layout_engine().set(rect=(0, 0.07, 1, 0.93))
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context({"svg.hashsalt": "higgsfield-bench", "svg.fonttype": "none"}):
        canvas.savefig(path, format="svg", metadata={"Date": None})
    return path


def _bars(axes: Any, groups: Sequence[str], series: Sequence[tuple[str, str, List[Optional[float]]]]) -> None:
    width = 0.8 / len(series)
    for index, (label, colour, values) in enumerate(series):
        legend: Optional[str] = label  # once per series
        for group, value in enumerate(values):
            if value is None:
                continue
            x = group + (index - (len(series) - 1) / 2) * width
            axes.bar(x, value, width * 0.92, color=colour, label=legend)
            legend = None
            axes.annotate(f"{value:,.0f}", (x, value), ha="center", va="bottom", fontsize=7.5,
                          xytext=(0, 2), textcoords="offset points")
    axes.set_xticks(range(len(groups)), groups)
    _legend_below(axes)


def _legend_below(axes: Any, columns: int = 1) -> None:
    """The legend under the plot, where it hides no bar, line or label."""
    axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.14), ncols=columns)


def status_cpu(data: Data, record: Record, into: Path) -> Optional[Path]:
    """Client CPU per ``status()`` call: ours against the raw libraries (measured in pairs in one
    process) and, below, ours against the official client (pairs of processes)."""
    transports = ["requests", "aiohttp", "trio"]
    raw = [data.get(f"status/{name}") for name in transports]
    official = [data.get(f"official/{name}") for name in transports]
    if not any(raw) and not any(official):
        return None
    # One above the other, so that each is as wide as the page.
    canvas, (left, right) = _canvas(7, 7.6, rows=2)
    groups = ["requests (sync)", "aiohttp (asyncio)", "trio"]

    def micro(figure: Optional[Dict[str, Any]], key: str) -> Optional[float]:
        return figure[key] * 1e6 if figure and key in figure else None

    httpx = data.get("status/trio-httpx")
    _bars(left, groups, [
        ("ours", OURS, [micro(f, "ours_cpu") for f in raw]),
        ("the raw library (h11 over anyio for trio)", RAW, [micro(f, "raw_cpu") for f in raw]),
        ("httpx under trio", HTTPX, [None, None, micro(httpx, "raw_cpu")]),
    ])
    left.set_title("against the raw HTTP libraries", fontsize=10)
    left.margins(y=0.12)
    left.set_ylabel("client CPU per call (µs)")
    right.set_ylabel("client CPU per call (µs)")
    _bars(right, groups, [
        ("ours", OURS, [micro(f, "ours_cpu") for f in official]),
        ("official higgsfield-client 0.2.0", OFFICIAL, [micro(f, "official_cpu") for f in official]),
    ])
    right.set_title("against the official client", fontsize=10)
    canvas.suptitle("CPU per status() call (lower is better)", fontsize=12)
    return _save(canvas, record, into / "status-cpu.svg")


def polling_requests(data: Data, record: Record, into: Path) -> Optional[Path]:
    """Status requests per job against the job's length, ours and the official client's: each
    job as a dot, the median as a line."""
    lengths = sorted(int(name.split("/")[1][:-1]) for name in data if name.startswith("polling/"))
    if not lengths:
        return None
    canvas, (axes,) = _canvas(7, 4.2)
    for who, colour, label in (("ours", OURS, "ours (2 s growing to 3 s)"),
                               ("official", OFFICIAL, "official 0.2.0 (every 0.5 s)")):
        medians = []
        for length in lengths:
            counts = data[f"polling/{length}s"][who]["requests"]
            axes.scatter([length] * len(counts), counts, s=10, color=colour, alpha=0.25, linewidths=0)
            medians.append(statistics.median(counts))
            axes.annotate(f"{medians[-1]:.0f}", (length, medians[-1]), fontsize=8, color=colour,
                          xytext=(5, -3 if who == "ours" else 3), textcoords="offset points")
        axes.plot(lengths, medians, marker="o", color=colour, label=label)
    axes.set_xticks(lengths, [f"{length} s" for length in lengths])
    axes.set_xlabel("job length (queue 1 s, then running)")
    axes.set_ylabel("status requests per job")
    axes.legend(frameon=False, fontsize=8, loc="upper left")  # the lines rise to the right
    canvas.suptitle("Status requests per job (lower is better)", fontsize=12)
    return _save(canvas, record, into / "polling-requests.svg")


def upload_memory(data: Data, record: Record, into: Path) -> Optional[Path]:
    """RSS growth over time during the big upload: ours on two runtimes, the official client's.

    The lines are the samples (every 50 ms, or later when the process holds the interpreter);
    the peak in each label is the kernel's high-water mark, which no sample can miss.
    """
    lines = []
    for transport, runtime, colour in (("requests", "sync", OURS), ("aiohttp", "asyncio", "#54aeff")):
        figure = data.get(f"upload/{transport}/memory") or {}
        official = figure.get("official") or {}
        if official.get("rss_samples"):
            kind = "SyncClient" if runtime == "sync" else "AsyncClient"
            style = "-" if runtime == "sync" else "--"
            samples, peak = official["rss_samples"], official["rss_growth"]
            lines.append((f"official {kind}", OFFICIAL, style, 1.4, samples, peak))
        if figure.get("ours_samples"):
            label = f"ours, {runtime} ({transport})"
            lines.append((label, colour, "-", 3.0, figure["ours_samples"], figure["ours"]))
    if not lines:
        return None
    canvas, (axes,) = _canvas(7, 4.6)
    for label, colour, style, width, samples, peak in lines:
        seconds, mib = [s[0] for s in samples], [s[1] for s in samples]
        axes.plot(seconds, mib, style, color=colour, linewidth=width,
                  label=f"{label}: peak +{peak / 2**20:,.1f} MiB, {seconds[-1]:,.1f} s")
        axes.plot(seconds[-1:], mib[-1:], "o", color=colour, markersize=4)
    axes.set_xlabel("seconds since the upload started")
    axes.set_ylabel("RSS growth (MiB)")
    _legend_below(axes, columns=2)
    size = "128 MiB" if "--quick" in record.get("command", "") else "1 GiB"
    canvas.suptitle(f"Memory while uploading a {size} file (lower is better)", fontsize=12)
    return _save(canvas, record, into / "upload-memory.svg")


CHARTS: List[Callable[[Data, Record, Path], Optional[Path]]] = [status_cpu, polling_requests, upload_memory]


def draw_charts(record: Record, into: Path = CHARTS_DIR) -> List[Path]:
    """Draw every chart the run's ``record`` has figures for into ``into``; returns the files."""
    data = {figure["name"]: figure["data"] for figure in record.get("figures", []) if figure.get("data")}
    drawn = [chart(data, record, into) for chart in CHARTS]
    return [path for path in drawn if path is not None]
