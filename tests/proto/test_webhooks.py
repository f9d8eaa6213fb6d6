"""Webhook deliveries: Standard Webhooks signatures (PROTOCOL.md 7.4) and event parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from proto_support import COMPLETED_IMAGES, COMPLETED_VIDEO, FAILED, NSFW, REQUEST_ID

from higgsfield_proto import (
    MIN_SECRET_BYTES,
    InvalidArgumentError,
    JobState,
    ProtocolError,
    UnknownStatusError,
    WebhookSecretError,
    WebhookVerificationError,
    check_webhook_secret,
    parse_webhook,
    sign_webhook,
    verify_webhook,
)

KEY = b"\x01\x02 higgsfield webhook key \xfe"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"another account's webhook key").decode()
NOW = 1_760_000_000
BODY = json.dumps({**COMPLETED_IMAGES, "expires_at": "2026-09-08T12:00:00Z"}).encode()
MSG_ID = "msg_2mV8sQbY1"


def _reference_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks algorithm written out independently of the code under test."""
    digest = hmac.new(key, msg_id.encode() + b"." + str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def _headers(signature: str, *, timestamp: int = NOW, msg_id: str = MSG_ID) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_sign_webhook_matches_the_standard_webhooks_algorithm() -> None:
    assert sign_webhook(SECRET, MSG_ID, NOW, BODY) == _reference_signature(KEY, MSG_ID, NOW, BODY)
    # A secret without the whsec_ prefix is the base64 key itself.
    assert sign_webhook(SECRET[len("whsec_") :], MSG_ID, NOW, BODY) == sign_webhook(SECRET, MSG_ID, NOW, BODY)


def test_valid_signature_verifies_and_parses_the_event() -> None:
    event = verify_webhook(SECRET, _headers(_reference_signature(KEY, MSG_ID, NOW, BODY)), BODY, now=NOW)
    assert event.webhook_id == MSG_ID
    assert event.timestamp == NOW
    assert event.status.state is JobState.COMPLETED
    assert event.status.request_id == REQUEST_ID
    assert event.status.images == ("https://cdn.example/out-1.png",)
    assert event.status.expires_at == "2026-09-08T12:00:00Z"


def test_headers_as_pairs_in_any_case() -> None:
    signature = _reference_signature(KEY, MSG_ID, NOW, BODY)
    pairs = [("Webhook-Id", MSG_ID), ("WEBHOOK-TIMESTAMP", str(NOW)), ("Webhook-Signature", signature)]
    assert verify_webhook(SECRET, pairs, BODY, now=NOW).webhook_id == MSG_ID


def test_one_matching_signature_among_several_is_enough() -> None:
    good = _reference_signature(KEY, MSG_ID, NOW, BODY)
    stale = _reference_signature(b"rotated-away", MSG_ID, NOW, BODY)
    for value in (f"{stale} {good}", f"{good} {stale}", f"v2,abc {stale}  {good}", f"{stale} v1a,x {good}"):
        assert verify_webhook(SECRET, _headers(value), BODY, now=NOW).status.request_id == REQUEST_ID


@pytest.mark.parametrize(
    "signature",
    [
        _reference_signature(b"another account's webhook key", MSG_ID, NOW, BODY),
        _reference_signature(KEY, "msg_other", NOW, BODY),
        _reference_signature(KEY, MSG_ID, NOW + 1, BODY),
        _reference_signature(KEY, MSG_ID, NOW, BODY)[3:],  # without the v1, prefix
        "v2," + _reference_signature(KEY, MSG_ID, NOW, BODY)[3:],
        "v1,not-base64!",
        "v1,",
        "v1,ü",
    ],
)
def test_non_matching_signatures_are_rejected(signature: str) -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_webhook(SECRET, _headers(signature), BODY, now=NOW)


_OTHER_KEYS = (b"another account", b"rotated-away", b"", KEY + b"!")


@pytest.mark.parametrize(
    "signature",
    [
        # Several forged entries, none of them right.
        "v1,AAAA v1,BBBB v1,CCCC",
        "v1," + base64.b64encode(b"x" * 32).decode() + " v1," + base64.b64encode(b"y" * 32).decode(),
        # Valid-looking signatures of this very delivery, made with other keys.
        " ".join(_reference_signature(key, MSG_ID, NOW, BODY) for key in _OTHER_KEYS),
        # The right digest, but only under prefixes other than v1.
        " ".join(
            prefix + _reference_signature(KEY, MSG_ID, NOW, BODY)[3:]
            for prefix in ("v2,", "v1a,", "V1,", "v0,", ",", "v1;")
        ),
        # The right digest of another message id or timestamp, among forged entries.
        f"v1,AAAA {_reference_signature(KEY, 'msg_other', NOW, BODY)} "
        f"{_reference_signature(KEY, MSG_ID, NOW - 1, BODY)} "
        f"v2,{_reference_signature(KEY, MSG_ID, NOW, BODY)[3:]}",
    ],
)
def test_a_header_of_several_signatures_all_wrong_is_rejected(signature: str) -> None:
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_webhook(SECRET, _headers(signature), BODY, now=NOW)


def test_any_of_several_secrets_verifies_during_a_rotation() -> None:
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, BODY))
    for secrets in ([OTHER_SECRET, SECRET], (SECRET, OTHER_SECRET), [SECRET]):
        assert verify_webhook(secrets, headers, BODY, now=NOW).webhook_id == MSG_ID
    with pytest.raises(WebhookVerificationError, match="no webhook signature matches"):
        verify_webhook(
            [OTHER_SECRET, "whsec_" + base64.b64encode(b"a third account's webhook key").decode()],
            headers,
            BODY,
            now=NOW,
        )


def test_an_empty_list_of_secrets_is_refused() -> None:
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, BODY))
    with pytest.raises(WebhookSecretError, match="at least one secret"):
        verify_webhook([], headers, BODY, now=NOW)
    with pytest.raises(WebhookSecretError, match="at least one secret"):
        check_webhook_secret(())


def test_wrong_secret_is_rejected() -> None:
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, BODY))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OTHER_SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize(
    "body",
    [
        BODY + b" ",
        BODY.replace(b"completed", b"failed___"),
        json.dumps(json.loads(BODY), indent=1).encode(),  # same JSON, different bytes
        b"",
    ],
)
def test_tampered_body_is_rejected(body: bytes) -> None:
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, BODY))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, body, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_timestamp_outside_five_minutes_is_rejected_both_directions(offset: int) -> None:
    timestamp = NOW + offset
    headers = _headers(_reference_signature(KEY, MSG_ID, timestamp, BODY), timestamp=timestamp)
    with pytest.raises(WebhookVerificationError, match="tolerance"):
        verify_webhook(SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-300, 300, 0, -1, 1])
def test_timestamp_within_five_minutes_is_accepted(offset: int) -> None:
    timestamp = NOW + offset
    headers = _headers(_reference_signature(KEY, MSG_ID, timestamp, BODY), timestamp=timestamp)
    assert verify_webhook(SECRET, headers, BODY, now=NOW).timestamp == timestamp


def test_custom_tolerance() -> None:
    timestamp = NOW - 600
    headers = _headers(_reference_signature(KEY, MSG_ID, timestamp, BODY), timestamp=timestamp)
    assert verify_webhook(SECRET, headers, BODY, now=NOW, tolerance=900).timestamp == timestamp
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, headers, BODY, now=NOW, tolerance=60)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_or_empty_headers_are_rejected(missing: str) -> None:
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, BODY))
    without = {k: v for k, v in headers.items() if k != missing}
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(SECRET, without, BODY, now=NOW)
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify_webhook(SECRET, {**headers, missing: ""}, BODY, now=NOW)


@pytest.mark.parametrize("timestamp", ["-5", "1.5e9", "soon", "١٧٦٠٠٠٠٠٠٠", "1" * 13])
def test_timestamp_that_is_not_unix_seconds_is_rejected(timestamp: str) -> None:
    headers = {**_headers(sign_webhook(SECRET, MSG_ID, NOW, BODY)), "webhook-timestamp": timestamp}
    with pytest.raises(WebhookVerificationError, match="not a Unix time"):
        verify_webhook(SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize("secret", ["whsec_***not base64***", "whsec_ключ", "whsec_abc"])
def test_a_secret_that_is_not_base64_is_a_secret_error_not_a_verification_error(secret: str) -> None:
    # A misconfigured receiver must not answer 401 for two hours of retries: it is an
    # argument error of the caller's, whatever the delivery.
    with pytest.raises(WebhookSecretError, match="not base64") as raised:
        verify_webhook(secret, _headers("v1,x"), BODY, now=NOW)
    assert not isinstance(raised.value, WebhookVerificationError)
    assert secret[len("whsec_") :] not in str(raised.value)


SHORT_KEY = b"k" * (MIN_SECRET_BYTES - 1)
EMPTY_OR_SHORT = {  # the secret, and the key it holds
    "empty": ("", b""),
    "prefix alone": ("whsec_", b""),
    "short": ("whsec_" + base64.b64encode(SHORT_KEY).decode(), SHORT_KEY),
    "short without prefix": (base64.b64encode(SHORT_KEY).decode(), SHORT_KEY),
    "one byte": ("whsec_" + base64.b64encode(b"x").decode(), b"x"),
}


@pytest.mark.parametrize(("secret", "key"), list(EMPTY_OR_SHORT.values()), ids=list(EMPTY_OR_SHORT))
def test_empty_or_short_secrets_are_refused_everywhere_without_showing_them(secret: str, key: bytes) -> None:
    body_headers = _headers(_reference_signature(key, MSG_ID, NOW, BODY))
    attempts = [
        lambda: check_webhook_secret(secret),
        lambda: check_webhook_secret([SECRET, secret]),
        lambda: sign_webhook(secret, MSG_ID, NOW, BODY),
        # A delivery "signed" with the same empty or short key is refused too.
        lambda: verify_webhook(secret, body_headers, BODY, now=NOW),
        lambda: verify_webhook([secret, SECRET], body_headers, BODY, now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(WebhookSecretError) as raised:
            attempt()
        assert isinstance(raised.value, InvalidArgumentError)
        encoded = secret.removeprefix("whsec_")
        assert not encoded or encoded not in str(raised.value)


def test_the_shortest_standard_webhooks_secret_is_accepted() -> None:
    key = b"k" * MIN_SECRET_BYTES  # 24 bytes: the Standard Webhooks minimum
    secret = "whsec_" + base64.b64encode(key).decode()
    check_webhook_secret(secret)
    headers = _headers(_reference_signature(key, MSG_ID, NOW, BODY))
    assert verify_webhook(secret, headers, BODY, now=NOW).webhook_id == MSG_ID


def test_a_bad_secret_is_refused_before_the_delivery_is_looked_at() -> None:
    with pytest.raises(WebhookSecretError, match="empty"):
        verify_webhook("whsec_", {}, b"", now=NOW)


def test_signature_matches_but_body_is_not_a_status_payload() -> None:
    for body, error in (
        (b"not json", ProtocolError),
        (b'{"status": "exploded", "request_id": "r"}', UnknownStatusError),
    ):
        headers = _headers(sign_webhook(SECRET, MSG_ID, NOW, body))
        with pytest.raises(error):
            verify_webhook(SECRET, headers, body, now=NOW)


def test_verification_compares_in_constant_time(compared: list[tuple[Any, Any]]) -> None:
    good = _reference_signature(KEY, MSG_ID, NOW, BODY)
    verify_webhook(SECRET, _headers(good), BODY, now=NOW)
    assert compared
    assert compared[-1][1] == good.encode()


# -- parse_webhook (unsigned deliveries) --------------------------------------------------------


def test_parse_unsigned_delivery() -> None:
    event = parse_webhook(json.dumps(FAILED).encode())
    assert event.status.state is JobState.FAILED
    assert event.status.error == "human readable failure message"
    assert event.webhook_id is None
    assert event.timestamp is None


def test_parse_keeps_id_and_timestamp_when_present() -> None:
    headers = [("webhook-id", "msg_1"), ("webhook-timestamp", "1760000000")]
    event = parse_webhook(BODY, headers)
    assert (event.webhook_id, event.timestamp) == ("msg_1", 1_760_000_000)
    assert parse_webhook(BODY, {"webhook-timestamp": "later"}).timestamp is None


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", ProtocolError),
        (b"\xff\x00", ProtocolError),
        (b"[1]", ProtocolError),
        (b'{"status": "completed"}', ProtocolError),
        (b'{"status": "done", "request_id": "r"}', UnknownStatusError),
        (b"[" * 100_000, ProtocolError),
    ],
)
def test_parse_rejects_non_status_bodies_with_protocol_errors(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_webhook(body)


# -- the two body shapes ------------------------------------------------------------------------


def _under_payload(flat: dict[str, Any]) -> dict[str, Any]:
    top = {key: flat.get(key) for key in ("request_id", "status", "error")}
    return {**top, "payload": {key: value for key, value in flat.items() if key not in top}}


@pytest.mark.parametrize(
    "flat", [COMPLETED_IMAGES, COMPLETED_VIDEO, FAILED, NSFW], ids=["images", "video", "failed", "nsfw"]
)
def test_a_body_with_its_results_under_payload_reads_as_the_flat_one(flat: dict[str, Any]) -> None:
    nested = json.dumps(_under_payload(flat)).encode()
    assert parse_webhook(nested).status == parse_webhook(json.dumps(flat).encode()).status
    # Signed, it verifies and reads the same way.
    headers = _headers(_reference_signature(KEY, MSG_ID, NOW, nested))
    assert verify_webhook(SECRET, headers, nested, now=NOW).status == parse_webhook(nested).status


def test_the_nested_shape_as_receivers_see_it() -> None:
    body = {
        "request_id": REQUEST_ID,
        "status": "completed",
        "error": None,
        "payload": {"images": [{"url": "https://cdn.example/a.png"}, {"url": "https://cdn.example/b.png"}]},
    }
    status = parse_webhook(json.dumps(body).encode()).status
    assert (status.state, status.request_id) == (JobState.COMPLETED, REQUEST_ID)
    assert status.images == ("https://cdn.example/a.png", "https://cdn.example/b.png")
    assert status.error is None
    # The event's payload is flat, as a status answer's: result["images"] reads the same.
    assert dict(status.payload) == {
        "request_id": REQUEST_ID, "status": "completed", "error": None, "images": body["payload"]["images"]
    }


def test_the_top_level_fields_win_over_the_nested_ones_and_a_null_payload_is_empty() -> None:
    body = {"request_id": REQUEST_ID, "status": "failed", "error": "no ink",
            "payload": {"status": "completed", "request_id": "someone-else", "error": "ignored"}}
    status = parse_webhook(json.dumps(body).encode()).status
    assert (status.state, status.request_id, status.error) == (JobState.FAILED, REQUEST_ID, "no ink")
    empty = parse_webhook(json.dumps({"request_id": REQUEST_ID, "status": "nsfw", "payload": None}).encode())
    assert (empty.status.state, empty.status.images, dict(empty.status.payload)) == (
        JobState.NSFW, (), {"request_id": REQUEST_ID, "status": "nsfw"}
    )


@pytest.mark.parametrize("payload", [[], "images", 3, True])
def test_a_payload_that_is_not_an_object_is_a_protocol_error(payload: Any) -> None:
    body = json.dumps({"request_id": REQUEST_ID, "status": "completed", "payload": payload}).encode()
    with pytest.raises(ProtocolError, match="'payload' is"):
        parse_webhook(body)
