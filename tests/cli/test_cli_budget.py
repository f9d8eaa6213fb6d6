"""``higgsfield submit --max-credits N``: a job priced over N is refused before it is sent."""

from __future__ import annotations

from higgsfield_client.testing import Emulator

from .conftest import MODEL, Run, lines


def test_a_job_over_max_credits_is_refused_and_one_within_is_sent(
    run: Run, higgsfield_emulator: Emulator
) -> None:
    refused = run("submit", MODEL, "prompt=a lake", "num_images=2", "--max-credits", "2")
    assert (refused.code, refused.out) == (1, "")
    assert "BudgetExceededError" in refused.err
    assert "3.000 credits, over the budget of 2 credits; nothing was sent" in refused.err
    assert [e.route for e in higgsfield_emulator.journal] == ["estimate"]
    sent = run("submit", MODEL, "prompt=a lake", "--max-credits", "2")
    assert sent.code == 0
    assert len(lines(sent.out)) == 1
    assert len(higgsfield_emulator.jobs()) == 1


def test_max_credits_must_be_a_number(run: Run) -> None:
    ran = run("submit", MODEL, "prompt=x", "--max-credits", "lots")
    assert ran.code == 2
    assert "non-negative number of credits" in ran.err
