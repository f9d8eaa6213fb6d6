"""The MCP server's rules as plain objects: the ledger, confirmation tokens, redaction, folders."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from higgsfield_client.mcp import Quote
from higgsfield_client.mcp._money import Confirmations, Ledger, MoneyRefusal, fingerprint
from higgsfield_client.mcp._places import Folders
from higgsfield_client.mcp._results import REDACTED, Redactor, ToolFailure


def quote(credits: str) -> Quote:
    return Quote(credits=Decimal(credits), usd=None, source="api")


def test_a_reserved_charge_counts_against_the_budget_until_given_back() -> None:
    ledger = Ledger(budget=Decimal(5))
    first = ledger.charge("k1", "d1", quote("3"))
    assert first is not None
    with pytest.raises(MoneyRefusal) as refused:
        ledger.charge("k2", "d2", quote("3"))
    assert refused.value.kind == "budget_exceeded"
    assert refused.value.details["remaining_credits"] == "2"
    first.release()
    second = ledger.charge("k2", "d2", quote("3"))
    assert second is not None
    second.settle("job-2")
    assert ledger.describe() == {"spent_credits": "3", "budget_credits": "5", "remaining_credits": "2"}


def test_a_settled_key_and_fingerprint_is_not_charged_again_but_other_arguments_are() -> None:
    ledger = Ledger(budget=Decimal(4))
    charge = ledger.charge("key", "same", quote("3"))
    assert charge is not None
    charge.settle("job-1")
    assert ledger.charge("key", "same", quote("3")) is None
    with pytest.raises(MoneyRefusal, match="budget"):
        ledger.charge("key", "other", quote("3"))


def test_two_charges_that_turn_out_to_be_one_job_are_billed_once() -> None:
    ledger = Ledger(budget=Decimal(10))
    first, second = ledger.charge("k", "d", quote("3")), ledger.charge("k", "d", quote("3"))
    assert first is not None
    assert second is not None
    first.settle("job-1")
    second.settle("job-1")
    assert ledger.settled == Decimal(3)
    assert ledger.reserved == Decimal(0)


def test_the_per_call_cap_and_an_unknown_price() -> None:
    ledger = Ledger(max_per_call=Decimal(2))
    with pytest.raises(MoneyRefusal) as refused:
        ledger.charge("k", "d", quote("2.5"))
    assert refused.value.kind == "over_per_call_limit"
    with pytest.raises(MoneyRefusal) as refused:
        ledger.charge("k", "d", None)
    assert refused.value.kind == "price_unknown"
    unlimited = Ledger()
    assert not unlimited.limited
    assert unlimited.charge("k", "d", None) is not None


def test_a_confirmation_token_works_once_for_its_arguments_until_it_expires() -> None:
    now = [100.0]
    confirmations = Confirmations(Decimal(2), ttl=60, clock=lambda: now[0])
    assert not confirmations.required(quote("2"))
    assert confirmations.required(quote("2.01"))
    token = confirmations.issue("d", quote("3"))
    assert confirmations.redeem(token, "d") == quote("3")
    with pytest.raises(MoneyRefusal, match="unknown, used already or expired"):
        confirmations.redeem(token, "d")
    other = confirmations.issue("d", quote("3"))
    with pytest.raises(MoneyRefusal, match="other arguments"):
        confirmations.redeem(other, "e")
    with pytest.raises(MoneyRefusal, match="used already"):
        confirmations.redeem(other, "d")
    late = confirmations.issue("d", quote("3"))
    now[0] += 60
    with pytest.raises(MoneyRefusal, match="expired"):
        confirmations.redeem(late, "d")


def test_a_fingerprint_ignores_key_order_and_nothing_else() -> None:
    one = fingerprint("a/b", {"prompt": "x", "n": 1})
    assert fingerprint("/a/b/", {"n": 1, "prompt": "x"}) == one
    assert fingerprint("a/b", {"prompt": "x", "n": 2}) != one
    assert fingerprint("a/c", {"prompt": "x", "n": 1}) != one
    assert fingerprint("a/b", {"prompt": "x", "n": 1, "seed": None}) != one


def test_the_redactor_removes_the_key_and_url_signatures() -> None:
    redactor = Redactor(["key-id:s3cr3t-value", "s3cr3t-value", ""])
    text = (
        "failed with key-id:s3cr3t-value, s3cr3t-value, at "
        "https://bucket.s3.amazonaws.com/x.png?X-Amz-Credential=AKIA&X-Amz-Signature=abc123&keep=1"
    )
    cleaned = redactor.text(text)
    assert "s3cr3t" not in cleaned
    assert "abc123" not in cleaned
    assert "AKIA" not in cleaned
    assert "keep=1" in cleaned
    assert cleaned.count(REDACTED) == 4
    assert redactor.value({"a": [text, 1, None]})["a"][1:] == [1, None]


def test_folders_keep_paths_inside_and_say_why_not(tmp_path: Path) -> None:
    inside = tmp_path / "in"
    inside.mkdir()
    (inside / "a.png").write_bytes(b"x")
    (inside / "sub").mkdir()
    os.mkfifo(inside / "pipe")
    folders = Folders([inside.resolve()])
    with folders.open_file("a.png") as file:
        assert file.read() == b"x"
    for wrong, kind in (
        ("sub", "not_a_file"),
        ("pipe", "not_a_file"),
        ("missing.png", "not_a_file"),
        ("../in/../a.png", "not_a_file"),
        (str(tmp_path), "outside_allowed_folders"),
    ):
        with pytest.raises(ToolFailure) as refused:
            folders.open_file(wrong).close()
        assert refused.value.kind == kind, wrong
    assert folders.folder(None) == inside.resolve()
    assert folders.folder("new/deeper") == (inside / "new" / "deeper").resolve()
    with pytest.raises(ToolFailure) as refused:
        folders.folder("../elsewhere")
    assert refused.value.kind == "outside_allowed_folders"
    assert not (tmp_path / "elsewhere").exists()
    with pytest.raises(ToolFailure) as refused:
        Folders([]).folder(None)
    assert refused.value.kind == "no_file_access"
