"""Credentials and the API endpoint a client talks to. No I/O happens here."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple
from urllib.parse import urlsplit

from ._errors import CredentialsMissedError, InvalidArgumentError
from ._http import Request

DEFAULT_BASE_URL = "https://api.higgsfield.ai"
USER_AGENT = "higgsfield-client-py/1.0"
"""The official SDK's constant, kept so that servers see the same client string."""

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, repr=False)
class Credentials:
    """An API key: ``key_id`` and ``secret``, sent as ``Authorization: Key <id>:<secret>``."""

    key_id: str
    secret: str

    @classmethod
    def from_string(cls, value: str) -> Credentials:
        """Parse ``"<key_id>:<secret>"``.

        Raises:
            InvalidArgumentError: the value is not two non-empty parts joined by a colon.
        """
        key_id, sep, secret = value.strip().partition(":")
        if not sep or not key_id or not secret or any(c in value.strip() for c in "\r\n"):
            raise InvalidArgumentError(
                "an API key must look like '<key_id>:<key_secret>' (the value is not shown)"
            )
        return cls(key_id=key_id, secret=secret)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Credentials:
        """Read ``HF_KEY``, else ``HF_API_KEY`` with ``HF_API_SECRET``, from ``environ``.

        Raises:
            CredentialsMissedError: neither form is set.
        """
        whole = environ.get("HF_KEY")
        if whole:
            return cls.from_string(whole)
        key_id, secret = environ.get("HF_API_KEY"), environ.get("HF_API_SECRET")
        if key_id and secret:
            return cls.from_string(f"{key_id}:{secret}")
        raise CredentialsMissedError(
            "no Higgsfield credentials: pass api_key='<id>:<secret>' or set HF_KEY "
            "(or HF_API_KEY and HF_API_SECRET)"
        )

    @property
    def authorization(self) -> str:
        """The Authorization header value."""
        return f"Key {self.key_id}:{self.secret}"

    def __repr__(self) -> str:
        return f"Credentials(key_id={self.key_id!r}, secret='***')"


def _origin(url: str) -> Tuple[str, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"invalid URL (host or port) {url!r}") from exc
    scheme = parts.scheme.lower()
    default_port = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default_port


@dataclass(frozen=True)
class ApiConfig:
    """Where the API is and who is calling: the input of every request builder.

    Args:
        base_url: the API root, ``https://api.higgsfield.ai`` by default. Plain ``http://`` is
            accepted only for loopback hosts unless ``allow_insecure_http`` is set.
        credentials: the API key (its secret never appears in ``repr``).
        user_agent: the ``User-Agent`` header value.
    """

    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    user_agent: str = USER_AGENT
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        try:
            parts = urlsplit(self.base_url)
        except ValueError as exc:  # "http://[::1" is an invalid IPv6 literal
            raise InvalidArgumentError(f"base_url is not a valid URL: {self.base_url!r}") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidArgumentError(f"base_url must be an http(s) URL, got {self.base_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise InvalidArgumentError("base_url must not carry a query, fragment or user info")
        if (
            parts.scheme == "http"
            and parts.hostname.lower() not in _LOOPBACK_HOSTS
            and not self.allow_insecure_http
        ):
            raise InvalidArgumentError(
                f"refusing plain http:// for non-loopback host {parts.hostname!r}: credentials "
                "would travel unencrypted (pass allow_insecure_http=True to insist)"
            )
        _origin(self.base_url)

    @functools.cached_property
    def root(self) -> str:
        """The base URL without a trailing slash."""
        return self.base_url.rstrip("/")

    def url(self, path: str) -> str:
        """Join ``path`` (no leading slash) onto the base URL."""
        return f"{self.root}/{path}"

    def is_api_url(self, url: str) -> bool:
        """True when ``url`` has the API's scheme, host and port (credentials may go there)."""
        try:
            return _origin(url) == _origin(self.base_url)
        except InvalidArgumentError:
            return False

    def api_headers(self, *, json_body: bool = True) -> Tuple[Tuple[str, str], ...]:
        """The headers every API request carries, credentials included.

        The same tuple comes back each time (transports can tell headers they checked already).
        """
        return self._json_api_headers if json_body else self._api_headers

    # Built once per config (a cached_property writes past the frozen __setattr__).
    @functools.cached_property
    def _api_headers(self) -> Tuple[Tuple[str, str], ...]:
        return (("Authorization", self.credentials.authorization), ("User-Agent", self.user_agent))

    @functools.cached_property
    def _json_api_headers(self) -> Tuple[Tuple[str, str], ...]:
        return (*self._api_headers, ("Content-Type", "application/json"))

    @functools.cached_property
    def _status_requests(self) -> Dict[str, Request]:
        # The status requests built for this config, by request id (see build_status_request).
        return {}

