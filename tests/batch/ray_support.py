"""Ray in the test process, and what it changes there put back when done."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
from types import ModuleType
from typing import Iterator

# No usage reports, no token file in the home folder, and Ray's sessions in a folder of our own.
_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD)


@contextlib.contextmanager
def ray_process_state() -> Iterator[ModuleType]:
    """Ray, imported here; on leaving, ``ray.shutdown()`` (its processes end), and the signal
    handlers, ``sys.path`` and environment that importing and starting it change are put back.
    Its session folders go to a temporary folder (short: its socket paths live there), removed
    at the end."""
    handlers = {number: signal.getsignal(number) for number in _SIGNALS}
    path = list(sys.path)
    temp_dir = tempfile.mkdtemp(prefix="ray-")
    environment = {**_ENVIRONMENT, "RAY_TMPDIR": temp_dir}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    import ray

    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
        sys.path[:] = path
        for number, handler in handlers.items():
            signal.signal(number, handler)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
