"""Webhook URLs that carry a per-job token: made for ``webhook_url=``, checked on delivery. No I/O.

For deliveries that carry no signature (an account whose webhook secret was never revealed is
sent unsigned ones): the app adds a reference of its own choosing (an order id, a batch item) and
a token, an HMAC-SHA256 of that reference keyed with a secret of the app's, to the query of the
URL it submits. Only who knows the secret can make a URL the receiver accepts, and the reference
comes back with each delivery. The token is a secret in its own right: it never appears in an
error message or a repr.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Sequence, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._errors import InvalidArgumentError, WebhookSecretError, WebhookVerificationError
from ._webhooks import long_enough, secret_keys

REF_PARAM = "hf_ref"
"""The query parameter holding the app's reference."""
TOKEN_PARAM = "hf_token"
"""The query parameter holding the reference's token."""
MAX_REF = 200
"""The longest reference, in characters."""

# Domain separation: a token is an HMAC of this prefix and the reference, so that it can never
# be the signature of anything else made with the same key (a Standard Webhooks secret reused).
_CONTEXT = b"higgsfield-webhook-url-token/v1\x00"
# A receiver's query is read up to this many fields; a longer one is no URL this module made.
_MAX_FIELDS = 100

UrlTokenSecrets = Union[str, Sequence[str]]
"""One URL token secret, or several during a rotation (a token made with any of them is valid)."""


def _key(secret: str) -> bytes:
    if not secret:
        raise WebhookSecretError("a URL token secret is empty")
    return long_enough(secret.encode("utf-8"), "a URL token secret")


def _keys(secret: UrlTokenSecrets) -> list[bytes]:
    return secret_keys(secret, _key)


def check_url_token_secret(secret: UrlTokenSecrets) -> None:
    """Refuse a URL token secret, or a list of them, that cannot be trusted.

    A secret is any text of at least ``MIN_SECRET_BYTES`` bytes (UTF-8), such as
    ``secrets.token_urlsafe(32)``.

    Raises:
        WebhookSecretError: no secret, or an empty or shorter one. The message never contains
            the secret.
    """
    _keys(secret)


def _token(key: bytes, ref: str) -> str:
    digest = hmac.new(key, _CONTEXT + ref.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signed_webhook_url(base_url: str, secret: str, ref: str) -> str:
    """``base_url`` with the app's reference and its token added to the query, for ``webhook_url=``.

    The receiver (``verify_webhook_url``, or a ``WebhookReceiver`` with ``UrlToken``) accepts a
    delivery to this URL and hands back ``ref``. The query already in ``base_url`` is kept.

    Args:
        base_url: the receiver's public http(s) URL.
        secret: the app's URL token secret (at least ``MIN_SECRET_BYTES`` bytes), the first of
            a rotation.
        ref: the app's reference for the job: 1 to 200 printable characters.

    Returns:
        ``base_url`` with ``hf_ref=<ref>&hf_token=<token>`` added to its query. The URL is a
        secret as long as a delivery to it is trusted: keep it out of logs.

    Raises:
        WebhookSecretError: an empty or short secret.
        InvalidArgumentError: not an http(s) URL with a host, a query that already holds
            ``hf_ref`` or ``hf_token``, or a reference that is empty, too long or not printable.
    """
    key = _key(secret)
    if not isinstance(ref, str) or not 0 < len(ref) <= MAX_REF or not ref.isprintable():
        raise InvalidArgumentError(f"a webhook reference is 1 to {MAX_REF} printable characters")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError("the webhook base URL must be an http(s) URL with a host")
    kept = parse_qsl(parts.query, keep_blank_values=True)
    if any(name in (REF_PARAM, TOKEN_PARAM) for name, _ in kept):
        raise InvalidArgumentError(f"the webhook base URL already holds {REF_PARAM} or {TOKEN_PARAM}")
    query = urlencode([*kept, (REF_PARAM, ref), (TOKEN_PARAM, _token(key, ref))])
    return urlunsplit(parts._replace(query=query))


def verify_webhook_url(secret: UrlTokenSecrets, query: str) -> str:
    """Check the token in a delivery's URL query; return the app's reference.

    Args:
        secret: the app's URL token secret, or several during a rotation (a token made with any
            of them is valid).
        query: the raw query string of the URL the delivery was POSTed to (``a=1&hf_ref=...``).

    Returns:
        The reference given to ``signed_webhook_url``.

    Raises:
        WebhookVerificationError: no single ``hf_ref`` and ``hf_token``, or a token that none of
            the secrets made for this reference (compared in constant time).
        WebhookSecretError: no secret, or an empty or short one (checked first).
    """
    keys = _keys(secret)
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except ValueError:
        raise WebhookVerificationError("the webhook URL's query is too long") from None
    refs = [value for name, value in pairs if name == REF_PARAM]
    tokens = [value for name, value in pairs if name == TOKEN_PARAM]
    if len(refs) != 1 or len(tokens) != 1:
        raise WebhookVerificationError(f"the webhook URL holds no single {REF_PARAM} and {TOKEN_PARAM}")
    given = tokens[0].encode("utf-8")
    if not any(hmac.compare_digest(_token(key, refs[0]).encode("ascii"), given) for key in keys):
        raise WebhookVerificationError("the webhook URL's token does not match")
    return refs[0]
