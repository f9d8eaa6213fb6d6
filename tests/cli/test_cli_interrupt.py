"""Ctrl-C while ``higgsfield-sansio`` waits: the job goes on, and the command says how to find it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import List

import pytest

from higgsfield_client import SyncClient
from higgsfield_client.testing import Emulator

from .conftest import FAST, MODEL

pytestmark = pytest.mark.higgsfield_emulator(queue_time=30.0, run_time=30.0)


def _interrupted(emulator: Emulator, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``higgsfield-sansio ARGV`` until it checks a job's status, then press Ctrl-C (SIGINT).

    Waiting for the first status check, not for a fixed time, puts the Ctrl-C into the wait even
    when a cold interpreter is slow to import (a fresh venv compiling its bytecode).
    """
    env = {**os.environ, "HF_KEY": emulator.api_key, "HIGGSFIELD_BASE_URL": emulator.base_url}
    command: List[str] = [sys.executable, "-c", "from higgsfield_client.cli import main; exit(main())"]
    process = subprocess.Popen(
        [*command, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not any(entry.route == "status" for entry in emulator.journal) and process.poll() is None:
        assert time.monotonic() < deadline, "the command checked no status"
        time.sleep(0.05)
    time.sleep(0.1)  # into the wait after that check
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_ctrl_c_during_wait_names_the_job_and_how_to_resume_or_cancel(higgsfield_emulator: Emulator) -> None:
    ran = _interrupted(higgsfield_emulator, "submit", MODEL, "prompt=a long one", "--wait", *FAST)
    (job,) = higgsfield_emulator.jobs()
    assert ran.returncode == 130
    assert ran.stdout == ""
    assert f"higgsfield-sansio result {job.request_id}" in ran.stderr
    assert f"higgsfield-sansio cancel {job.request_id}" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_ctrl_c_during_wait_under_json_prints_a_json_error(higgsfield_emulator: Emulator) -> None:
    ran = _interrupted(higgsfield_emulator, "--json", "submit", MODEL, "prompt=a long one", "--wait", *FAST)
    (job,) = higgsfield_emulator.jobs()
    assert ran.returncode == 130
    error = json.loads(ran.stdout)["error"]
    assert error["type"] == "WaitInterrupted"
    assert (error["request_id"], error["exit_code"]) == (job.request_id, 130)
    assert f"higgsfield-sansio result {job.request_id}" in error["message"]


def test_ctrl_c_while_following_a_job_says_the_same(higgsfield_emulator: Emulator) -> None:
    with SyncClient(base_url=higgsfield_emulator.base_url, api_key=higgsfield_emulator.api_key) as client:
        request_id = client.submit(MODEL, {"prompt": "a long one"}).request_id
    followed = _interrupted(higgsfield_emulator, "result", request_id, *FAST)
    assert followed.returncode == 130
    assert f"higgsfield-sansio result {request_id}" in followed.stderr
    assert f"higgsfield-sansio cancel {request_id}" in followed.stderr


class _FailsWhenFinalized:
    def __del__(self) -> None:
        raise ValueError("a finalizer's own bug")


def test_a_response_cut_while_being_built_is_finalized_quietly_and_nothing_else_is() -> None:
    import http.client

    from higgsfield_client.cli._main import _quiet_cut_responses

    seen: List[object] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(type(unraisable.exc_value))
    try:
        with _quiet_cut_responses():
            # What Ctrl-C leaves when it lands in HTTPResponse.__init__: no fp, so Python 3.13's
            # close() fails when the object is finalized.
            cut = http.client.HTTPResponse.__new__(http.client.HTTPResponse)
            del cut
            other = _FailsWhenFinalized()
            del other
    finally:
        sys.unraisablehook = previous
    assert seen == [ValueError]
