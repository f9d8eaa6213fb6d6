"""The MCP server's rules as plain objects: the spending limits, confirmation tokens, redaction, folders."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from higgsfield_client import AsyncClient
from higgsfield_client._budget import Amount, JobPrice
from higgsfield_client.mcp._money import Confirmations, Limits, MoneyRefusal, fingerprint
from higgsfield_client.mcp._places import Folders
from higgsfield_client.mcp._results import REDACTED, Redactor, ToolFailure


def quote(credits: str) -> JobPrice:
    return JobPrice(amount=Amount(credits=Decimal(credits)), source="estimate")


def test_the_per_call_cap_and_an_unknown_price_are_refused_before_anything_is_sent() -> None:
    limits = Limits(AsyncClient(api_key="a:b"), budget=None, max_per_call=Decimal(2))
    limits.check(quote("2"))
    with pytest.raises(MoneyRefusal) as refused:
        limits.check(quote("2.5"))
    assert refused.value.kind == "over_per_call_limit"
    assert "--max-credits-per-call" in str(refused.value)
    assert refused.value.details["max_credits_per_call"] == "2"
    with pytest.raises(MoneyRefusal) as refused:
        limits.check(None)
    assert refused.value.kind == "price_unknown"
    unlimited = Limits(AsyncClient(api_key="a:b"), budget=None, max_per_call=None)
    assert not unlimited.limited
    unlimited.check(None)


def test_the_budget_is_the_clients_ledger_and_ends_with_the_server() -> None:
    client = AsyncClient(api_key="a:b")
    limits = Limits(client, budget=Decimal(5), max_per_call=None)
    assert limits.describe()["remaining_credits"] == "5"
    with pytest.raises(MoneyRefusal) as refused:
        limits.check(quote("5.5"))
    assert refused.value.kind == "budget_exceeded"
    assert "budget of 5 credits (--budget)" in str(refused.value)
    limits.close()
    assert not client._calls.ledger.active


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
