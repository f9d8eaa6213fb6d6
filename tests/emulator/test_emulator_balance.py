"""The emulated account: a balance held at submit, charged on completion, refunded for failed,
NSFW and canceled jobs, a 403 once it does not cover a job, and the ledger of it all."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Iterator, List

import pytest
import requests
from emu_helpers import SOUL, submit, wait_status

from higgsfield_client.testing import Emulator

PRICE = Decimal("1.500")  # SOUL, one image


@pytest.fixture
def account() -> Iterator[Emulator]:
    with Emulator(queue_time=0.05, run_time=0.05, seed=3, balance=4) as emulator:
        yield emulator


@pytest.fixture
def session(account: Emulator) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.headers["Authorization"] = f"Key {account.api_key}"
        yield http


def kinds(emulator: Emulator) -> List[tuple[str, Decimal]]:
    return [(entry.kind, entry.credits) for entry in emulator.ledger]


def test_by_default_the_account_has_no_limit_and_still_keeps_its_ledger(
    emu: Emulator, http: requests.Session
) -> None:
    assert emu.balance is None
    for _ in range(3):
        request_id = submit(http, emu).json()["request_id"]
        wait_status(http, emu, request_id, {"completed"})
    assert emu.charged == PRICE * 3
    assert kinds(emu) == [("hold", PRICE), ("charge", PRICE)] * 3
    assert all(entry.balance is None for entry in emu.ledger)


def test_a_submit_holds_its_price_and_a_completed_job_is_charged_it(
    account: Emulator, session: requests.Session
) -> None:
    request_id = submit(session, account).json()["request_id"]
    assert account.held == PRICE
    assert account.balance == 4
    wait_status(session, account, request_id, {"completed"})
    assert account.balance == Decimal("2.500")
    assert account.held == 0
    assert kinds(account) == [("hold", PRICE), ("charge", PRICE)]
    charge = account.ledger[-1]
    assert (charge.request_id, charge.model_id, charge.balance) == (request_id, SOUL, Decimal("2.500"))


def test_past_the_balance_a_submit_is_answered_403_for_credits(
    account: Emulator, session: requests.Session
) -> None:
    account.script_next_job(queue_time=5.0)
    account.script_next_job(queue_time=5.0)
    assert submit(session, account).status_code == 200
    assert submit(session, account).status_code == 200
    refused = submit(session, account)
    assert refused.status_code == 403
    assert "credits" in refused.json()["detail"]
    assert "3.000 held" in refused.json()["detail"]
    assert len(account.jobs()) == 2
    account.balance = 10  # a top-up
    assert submit(session, account).status_code == 200
    assert account.held == PRICE * 3


def test_failed_nsfw_and_canceled_jobs_are_refunded(account: Emulator, session: requests.Session) -> None:
    failed = submit(session, account, {"prompt": "x [fail]"}).json()["request_id"]
    nsfw = submit(session, account, {"prompt": "x [nsfw]"}).json()["request_id"]
    wait_status(session, account, failed, {"failed"})
    wait_status(session, account, nsfw, {"nsfw"})
    account.script_next_job(queue_time=5.0)
    queued = submit(session, account).json()["request_id"]
    assert session.post(f"{account.base_url}/requests/{queued}/cancel", timeout=10).status_code == 202
    assert account.balance == 4
    assert account.held == 0
    assert account.refunded == PRICE * 3
    assert account.charged == 0
    assert sorted(kind for kind, _ in kinds(account)) == ["hold"] * 3 + ["refund"] * 3


def test_an_idempotent_repeat_holds_nothing_more(account: Emulator, session: requests.Session) -> None:
    headers = {"Idempotency-Key": "same-key"}
    first = submit(session, account, headers=headers).json()
    assert submit(session, account, headers=headers).json() == first
    assert kinds(account)[:1] == [("hold", PRICE)]
    assert [kind for kind, _ in kinds(account)].count("hold") == 1


@pytest.mark.parametrize("bad", [-1, "x", True, float("inf")])
def test_a_bad_balance_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="balance"):
        Emulator(balance=bad)  # type: ignore[arg-type]
    emulator = Emulator()
    with pytest.raises(ValueError, match="balance"):
        emulator.balance = bad  # type: ignore[assignment]


def test_the_command_line_takes_a_balance() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "higgsfield_client.testing", "--port", "0", "--balance", "2",
         "--queue-time", "5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed: List[str] = []
        while not printed or not printed[-1].startswith("export HIGGSFIELD_BASE_URL"):
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its URL"
            printed.append(line)
        assert "Balance: 2 credits\n" in printed
        base = printed[-1].split("=", 1)[1].strip().strip("'")
        key = next(line for line in printed if line.startswith("export HF_KEY="))
        auth = {"Authorization": f"Key {key.split('=', 1)[1].strip().strip(chr(39))}"}
        answers = [
            requests.post(f"{base}/{SOUL}", json={"prompt": "p"}, headers=auth, timeout=10).status_code
            for _ in range(2)
        ]
        assert answers == [200, 403]
    finally:
        process.terminate()
        process.wait(timeout=30)
