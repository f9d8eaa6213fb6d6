"""Target 6: ``import higgsfield_client`` in a fresh interpreter, ours against the official package.

Each sample is a new interpreter that times its own ``import higgsfield_client`` with
``time.perf_counter`` (interpreter start-up excluded; the whole process's wall time is printed
too). Ours runs from the checkout (``python -E -s`` in the repository root, so the package is
found on ``sys.path`` as an installed one would be, not through the editable-install hook); the
official one runs with ``-I`` in its own venv. Samples alternate, one warm-up each (to write
the bytecode caches) is not counted; the figure is the median of 10 (5 under --quick), ours over
the official's (target <= 0.7).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

from ._harness import REPO_DIR, Context, Figure, check, median, official_python, report

CODE = (
    "import time; started = time.perf_counter(); import higgsfield_client; "
    "print(time.perf_counter() - started, higgsfield_client.__file__)"
)
TARGET = 0.7


def _sample(command: List[str], cwd: Path) -> Tuple[float, float, str]:
    started = time.perf_counter()
    output = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started
    seconds, _, where = output.strip().partition(" ")
    return float(seconds), wall, where


def run(ctx: Context) -> List[Figure]:
    """Time both imports, alternating."""
    ours_command = [sys.executable, "-E", "-s", "-c", CODE]
    official_command = [str(official_python()), "-I", "-c", CODE]
    elsewhere = Path(tempfile.gettempdir())
    _, _, ours_file = _sample(ours_command, REPO_DIR)
    _, _, official_file = _sample(official_command, elsewhere)
    ours_here = ours_file.startswith(str(REPO_DIR / "higgsfield_client"))
    if not ours_here or official_file.startswith(str(REPO_DIR / "higgsfield_client")):
        raise RuntimeError(f"wrong packages imported: {ours_file}, {official_file}")
    ours: List[Tuple[float, float, str]] = []
    theirs: List[Tuple[float, float, str]] = []
    for _ in range(ctx.pick(10, 5)):
        ours.append(_sample(ours_command, REPO_DIR))
        theirs.append(_sample(official_command, elsewhere))
    ours_import, ours_wall = median([s[0] for s in ours]), median([s[1] for s in ours])
    their_import, their_wall = median([s[0] for s in theirs]), median([s[1] for s in theirs])
    ratio = ours_import / their_import
    return [report(Figure(
        name="import",
        text=(
            f"median of {len(ours)}: ours {ours_import * 1000:.1f} ms, "
            f"official {their_import * 1000:.1f} ms, "
            f"ratio {ratio:.2f} (target <= {TARGET}); whole process ours {ours_wall * 1000:.0f} ms, "
            f"official {their_wall * 1000:.0f} ms"
        ),
        met=check(ratio, at_most=TARGET),
        data={"ours": ours_import, "official": their_import, "ours_wall": ours_wall,
              "official_wall": their_wall},
    ))]
