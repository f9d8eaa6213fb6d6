"""Webhook URLs with a per-job token: made by signed_webhook_url, checked by verify_webhook_url."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from higgsfield_proto import (
    MIN_SECRET_BYTES,
    InvalidArgumentError,
    WebhookSecretError,
    WebhookVerificationError,
    check_url_token_secret,
    signed_webhook_url,
    verify_webhook_url,
)

SECRET = "app secret for webhook URL tokens, 48 bytes long"
OLD = "the app's previous URL token secret, rotated away"
BASE = "https://app.example/webhooks/higgsfield"


def _reference_token(secret: str, ref: str) -> str:
    """The token written out independently of the code under test."""
    message = b"higgsfield-webhook-url-token/v1\x00" + ref.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _query(url: str) -> str:
    return urlsplit(url).query


def test_a_signed_url_carries_the_reference_and_its_token_and_verifies() -> None:
    url = signed_webhook_url(BASE, SECRET, "order-42")
    assert url.startswith(BASE + "?")
    token = _reference_token(SECRET, "order-42")
    assert parse_qsl(_query(url)) == [("hf_ref", "order-42"), ("hf_token", token)]
    assert verify_webhook_url(SECRET, _query(url)) == "order-42"


def test_the_base_urls_own_query_is_kept_and_order_does_not_matter() -> None:
    url = signed_webhook_url(BASE + "?tenant=7&x=", SECRET, "a b/é?&=")
    pairs = parse_qsl(_query(url), keep_blank_values=True)
    assert pairs[:2] == [("tenant", "7"), ("x", "")]
    assert verify_webhook_url(SECRET, _query(url)) == "a b/é?&="
    assert verify_webhook_url(SECRET, urlencode(list(reversed(pairs)))) == "a b/é?&="


def test_any_secret_of_a_rotation_verifies() -> None:
    old_url = signed_webhook_url(BASE, OLD, "item-1")
    assert verify_webhook_url([SECRET, OLD], _query(old_url)) == "item-1"
    assert verify_webhook_url((OLD,), _query(old_url)) == "item-1"
    with pytest.raises(WebhookVerificationError, match="token does not match"):
        verify_webhook_url(SECRET, _query(old_url))


def _forged_queries() -> dict[str, str]:
    token = _reference_token(SECRET, "order-42")
    signed = urlencode({"hf_ref": "order-42", "hf_token": token})
    bare_digest = hmac.new(SECRET.encode(), b"order-42", hashlib.sha256).digest()
    return {
        "no token": urlencode({"hf_ref": "order-42"}),
        "no reference": urlencode({"hf_token": token}),
        "nothing": "",
        "another reference": urlencode({"hf_ref": "order-43", "hf_token": token}),
        "another secret": urlencode({"hf_ref": "order-42", "hf_token": _reference_token(OLD, "order-42")}),
        "truncated token": urlencode({"hf_ref": "order-42", "hf_token": token[:-1]}),
        "padded token": urlencode({"hf_ref": "order-42", "hf_token": token + "="}),
        "empty token": urlencode({"hf_ref": "order-42", "hf_token": ""}),
        "two tokens": urlencode([("hf_ref", "order-42"), ("hf_token", "x"), ("hf_token", token)]),
        "two references": urlencode([("hf_ref", "order-43"), ("hf_ref", "order-42"), ("hf_token", token)]),
        "not ascii": urlencode({"hf_ref": "order-42", "hf_token": "é" * 43}),
        "hmac without the context": urlencode(
            {"hf_ref": "order-42", "hf_token": base64.urlsafe_b64encode(bare_digest).decode().rstrip("=")}
        ),
        "too many fields": "&".join(f"f{n}=1" for n in range(200)) + "&" + signed,
    }


@pytest.mark.parametrize("query", list(_forged_queries().values()), ids=list(_forged_queries()))
def test_a_forged_or_damaged_url_is_refused_without_showing_the_token(query: str) -> None:
    with pytest.raises(WebhookVerificationError) as raised:
        verify_webhook_url(SECRET, query)
    assert _reference_token(SECRET, "order-42") not in str(raised.value)
    assert SECRET not in str(raised.value)


def test_the_token_is_compared_in_constant_time(compared: list[tuple[Any, Any]]) -> None:
    verify_webhook_url([OLD, SECRET], _query(signed_webhook_url(BASE, SECRET, "r")))
    assert [theirs for _, theirs in compared] == [_reference_token(SECRET, "r").encode()] * 2


SHORT = "x" * (MIN_SECRET_BYTES - 1)


@pytest.mark.parametrize("secret", ["", SHORT, "é" * 11], ids=["empty", "23 bytes", "22 bytes of UTF-8"])
def test_an_empty_or_short_secret_is_refused_everywhere_without_showing_it(secret: str) -> None:
    query = urlencode({"hf_ref": "r", "hf_token": "t"})
    attempts = [
        lambda: signed_webhook_url(BASE, secret, "r"),
        lambda: verify_webhook_url(secret, query),
        lambda: verify_webhook_url([SECRET, secret], query),
        lambda: check_url_token_secret(secret),
        lambda: check_url_token_secret([SECRET, secret]),
    ]
    for attempt in attempts:
        with pytest.raises(WebhookSecretError) as raised:
            attempt()
        assert not secret or secret not in str(raised.value)
    with pytest.raises(WebhookSecretError, match="at least one secret"):
        verify_webhook_url([], query)
    check_url_token_secret("y" * MIN_SECRET_BYTES)


@pytest.mark.parametrize(
    ("base_url", "ref"),
    [
        ("ftp://app.example/hook", "r"),
        ("app.example/hook", "r"),
        ("https:///hook", "r"),
        (BASE + "?hf_ref=mine", "r"),
        (BASE + "?a=1&hf_token=x", "r"),
        (BASE, ""),
        (BASE, "x" * 201),
        (BASE, "line\nbreak"),
        (BASE, None),
    ],
)
def test_bad_base_urls_and_references_are_refused(base_url: str, ref: Any) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        signed_webhook_url(base_url, SECRET, ref)
    assert SECRET not in str(raised.value)


@settings(deadline=None)
@given(ref=st.text(min_size=1, max_size=200).filter(str.isprintable), secret=st.text(min_size=24))
def test_any_reference_round_trips_and_only_its_own_token_verifies(ref: str, secret: str) -> None:
    url = signed_webhook_url(BASE + "?k=v", secret, ref)
    assert verify_webhook_url(secret, _query(url)) == ref
    other = "-" + ref[:199] if ref[:1] != "-" else "+" + ref[:199]
    forged = urlencode({"hf_ref": other, "hf_token": dict(parse_qsl(_query(url)))["hf_token"]})
    with pytest.raises(WebhookVerificationError):
        verify_webhook_url(secret, forged)
