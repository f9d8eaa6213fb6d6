"""higgsfield_proto imports no I/O, no event loop, no clock, no randomness, nothing outside the stdlib."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

BLOCKED = [
    "socket", "_socket", "ssl", "_ssl", "select", "selectors", "asyncio", "_asyncio", "trio", "anyio",
    "sniffio", "requests", "aiohttp", "h11", "httpx", "urllib3", "random", "_random", "secrets",
    "threading", "concurrent", "multiprocessing", "subprocess", "urllib.request", "http.client",
    "http.server", "email.utils",
]  # fmt: skip

CHILD = r"""
import json, os, sys, time

ROOT, BLOCKED = sys.argv[1], set(json.loads(sys.argv[2]))


class Refuse:
    # A meta path finder: any import of a blocked name (or a submodule of one) fails.
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"higgsfield_proto must not import {name}")
        return None


def forbidden(*args, **kwargs):
    raise AssertionError("higgsfield_proto read a clock or slept")


for name in [m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED)]:
    del sys.modules[name]  # so that an import really goes through the finder
sys.meta_path.insert(0, Refuse())
time.sleep = time.time = time.monotonic = time.perf_counter = time.time_ns = forbidden
time.monotonic_ns = forbidden

try:
    import random  # noqa: F401
except ImportError:
    pass
else:
    raise AssertionError("the import blocker does not work")

before = set(sys.modules)
sys.path.insert(0, ROOT)
package_dir = os.path.join(ROOT, "higgsfield_proto")
names = sorted(f[:-3] for f in os.listdir(package_dir) if f.endswith(".py") and f != "__init__.py")
import importlib
hp = importlib.import_module("higgsfield_proto")
for name in names:
    importlib.import_module("higgsfield_proto." + name)

# Use the package too: nothing may be imported lazily or read a clock at call time.
config = hp.ApiConfig(credentials=hp.Credentials(key_id="id", secret="secret"))
env = hp.FlowEnv(poll=hp.PollPolicy(timeout=30.0))
flow = hp.subscribe_flow(config, "higgsfield-ai/soul/standard", {"prompt": "p"}, env, idempotency_key="k")
answers = [
    hp.Response(status=429, headers=(("Retry-After", "Wed, 21 Oct 2015 07:28:01 GMT"),
                                     ("Date", "Wed, 21 Oct 2015 07:28:00 GMT"))),
    hp.Response(status=200, body=b'{"status": "queued", "request_id": "r1"}'),
    hp.TransportFailure(kind=hp.FailureKind.READ, request_written=True),
    hp.Response(status=200, body=b'{"status": "completed", "request_id": "r1", "images": ["u"]}'),
]
now, effect = 0.0, next(flow)
try:
    while True:
        if isinstance(effect, hp.Send):
            reply = answers.pop(0)
        elif isinstance(effect, hp.Sleep):
            now += effect.seconds
            reply = now
        elif isinstance(effect, hp.Now):
            reply = now + 1445412480.0 if effect.wall else now
        else:
            reply = None
        effect = flow.send(reply)
except StopIteration as stop:
    assert stop.value.state is hp.JobState.COMPLETED
secret = "whsec_" + "QUJD" * 8
body = b'{"status": "failed", "request_id": "r2", "error": "x"}'
sig = hp.sign_webhook(secret, "m1", 1700000000, body)
event = hp.verify_webhook(secret, {"webhook-id": "m1", "webhook-timestamp": "1700000000",
                                   "webhook-signature": sig}, body, now=1700000000.0)
assert event.status.error == "x"
hp.error_from_response(hp.Response(status=502, body=b"<html>"), now=0.0)

new = sorted({m.split(".")[0] for m in set(sys.modules) - before})
stdlib = sorted(sys.stdlib_module_names)
print(json.dumps({"new": new, "stdlib": stdlib}))
"""


def _run_child() -> dict[str, list[str]]:
    # -I: no user site, no PYTHONPATH, no current directory; -S: no site-packages at all, so a
    # third-party import fails outright. Coverage's subprocess hook is therefore not loaded either.
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHILD, str(ROOT), json.dumps(BLOCKED)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, list[str]] = json.loads(completed.stdout)
    return result


def test_the_core_imports_and_runs_without_network_event_loops_clocks_or_randomness() -> None:
    result = _run_child()
    assert "higgsfield_proto" in result["new"]


def test_the_core_imports_only_the_standard_library() -> None:
    result = _run_child()
    foreign = set(result["new"]) - set(result["stdlib"]) - {"higgsfield_proto"}
    assert not foreign, f"higgsfield_proto imported non-stdlib modules: {sorted(foreign)}"
    assert not set(result["new"]) & {name.split(".")[0] for name in BLOCKED if "." not in name}
