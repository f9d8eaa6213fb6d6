"""Check that the official ``higgsfield-client==0.2.0``'s agent calls work against the emulator.

Run from the repository root with the dev venv::

    .venv/bin/python -m bench.official_agents

The first run installs the official package from PyPI into its own venv,
``bench/.cache/official-venv`` (the one the benchmarks use; it is never a dependency of this
project). The check then starts four emulators in this process, all with one key: the one the
checks talk to, one without agent access (403), one without credits (402) and one whose next
session creations answer 503. It runs ``bench/_official_agents_driver.py`` with the official
venv's interpreter (``-I``: only the official package is importable there). The driver points
``SyncClient(base_url=..., api_key=...)`` and ``AsyncClient(...)`` at the emulator and, for each,
exercises ``client.agents``: ``sessions.create()``, ``send()``, ``messages(after=...)``,
``interrupt()``, ``run()`` for a plain turn, a failing turn (``[fail]``), a question turn with
an ``on_question`` callback and one without (``[question]``), a turn linking a generated image
(``[image]``) and a timed-out turn (``[hang]``), ``media.upload(data, extension, type)``, and the
typed errors. It prints one line per check.

Then this side reads the main emulator's journal: every request the official client sent must
have been answered 2xx, except the 409 the busy check provokes (an emulator that answered 404 or
422 to an official request would show here even if the official client swallowed it).

The exit status is 0 when every check passed, 1 otherwise. It takes about a minute (the official
``run()`` waits 2 s before its first poll). It is not part of ``make test``: its first run needs
PyPI.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import List

from higgsfield_client.testing import Emulator

from ._harness import BENCH_DIR, _clean_env, official_python

DRIVER = BENCH_DIR / "_official_agents_driver.py"
TURN_TIME = 0.2


def journal_checks(emulator: Emulator) -> List[str]:
    """Failures seen in the emulator's journal of the official client's requests."""
    failures: List[str] = []
    entries = emulator.journal
    routes = Counter(entry.route for entry in entries)
    print(f"journal: {len(entries)} requests: "
          + ", ".join(f"{route} {count}" for route, count in sorted(routes.items())), flush=True)
    busy = [entry for entry in entries if entry.status == 409]
    odd = [entry for entry in entries if entry.status is None or not 200 <= entry.status < 300]
    odd = [entry for entry in odd if entry not in busy]
    for entry in odd:
        failures.append(f"{entry.method} {entry.path} answered {entry.status}")
    if len(busy) != 2 or any(entry.route != "agent-message" for entry in busy):
        failures.append(f"expected two 409 on agent-message (one per client), saw {len(busy)}")
    puts = [entry for entry in entries if entry.route == "put"]
    if not puts or any("Authorization" in entry.headers for entry in puts):
        failures.append("the media PUTs are missing or carried credentials")
    return failures


def main() -> int:
    """Run the driver against fresh emulators; returns the exit status."""
    python = official_python()
    with ExitStack() as stack:
        emulator = stack.enter_context(Emulator(agent_turn_time=TURN_TIME))
        key = emulator.api_key
        denied = stack.enter_context(Emulator(api_key=key, agent_access=False))
        broke = stack.enter_context(Emulator(api_key=key, agent_credits=False))
        faulty = stack.enter_context(Emulator(api_key=key))
        faulty.script_fault("agent-sessions", "503", count=2)  # one per client
        params = {
            "base_url": emulator.base_url,
            "api_key": key,
            "denied": denied.base_url,
            "broke": broke.base_url,
            "faulty": faulty.base_url,
        }
        print(f"emulator at {emulator.base_url} (agent_turn_time={TURN_TIME}); driver {DRIVER.name}",
              flush=True)
        completed = subprocess.run(
            [str(python), "-I", str(DRIVER), json.dumps(params)],
            cwd=Path(tempfile.gettempdir()),
            env=_clean_env(),
            timeout=600,
            check=False,
        )
        failures = journal_checks(emulator)
    for failure in failures:
        print(f"FAIL journal: {failure}", flush=True)
    if not failures:
        print("ok   journal: every official request answered 2xx but the two provoked 409s; "
              "media PUTs without credentials", flush=True)
    return 0 if completed.returncode == 0 and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
