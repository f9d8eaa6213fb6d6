"""Redaction: what observability shows of a URL or of headers, without the secrets they carry.

No I/O here. Every span attribute, log record and event hook value of the client is built from
these, so that no credential, presigned URL signature, webhook token or cookie leaves the client
through them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from higgsfield_proto import Headers

REDACTED = "[redacted]"
"""What a secret header's value reads as."""

# Header names whose values are secrets: credentials, cookies, signatures, tokens.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "hf-api-key", "hf-secret"}
)
_SECRET_PARTS = ("secret", "token", "signature", "password", "api-key", "auth", "credential")


def redacted_url(url: str) -> str:
    """``url`` without its query, fragment and user info: a presigned URL's signature, a
    webhook's token and a proxy's password stay out."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"


def is_secret_header(name: str) -> bool:
    """True for a header whose value may be a secret (``Authorization``, ``Cookie``, ...)."""
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(part in lowered for part in _SECRET_PARTS)


def redacted_headers(headers: Headers) -> Headers:
    """``headers`` with the value of each secret one replaced by ``[redacted]``."""
    return tuple((name, REDACTED if is_secret_header(name) else value) for name, value in headers)
