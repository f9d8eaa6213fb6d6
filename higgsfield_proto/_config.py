"""Credentials and the API endpoint a client talks to. No I/O happens here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ._errors import CredentialsMissedError, InvalidArgumentError
from ._http import Headers

DEFAULT_BASE_URL = "https://api.higgsfield.ai"
"""The API root used when neither ``base_url=`` nor ``HIGGSFIELD_BASE_URL`` names another."""
USER_AGENT = "higgsfield-client-py/1.0"
"""The official SDK's constant, kept so that servers see the same client string."""

_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
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


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``, the port defaulted from the scheme.

    Raises:
        InvalidArgumentError: the host or port cannot be read.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidArgumentError(f"invalid URL (host or port) {url!r}") from exc
    scheme = parts.scheme.lower()
    default_port = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default_port


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiConfig:
    """Where the API is and who is calling: the input of every request builder.

    Args:
        credentials: the API key (its secret never appears in ``repr``).
        base_url: the API root, ``https://api.higgsfield.ai`` by default. Plain ``http://`` is
            accepted only for loopback hosts unless ``allow_insecure_http`` is set.
        user_agent: the ``User-Agent`` header value.
        allow_insecure_http: accept a plain ``http://`` base URL on a non-loopback host.

    Raises:
        InvalidArgumentError: the base URL is not an http(s) URL without query, fragment and
            user info, or is plain http on another host without ``allow_insecure_http``.
    """

    credentials: Credentials
    base_url: str = DEFAULT_BASE_URL
    user_agent: str = USER_AGENT
    allow_insecure_http: bool = False
    root: str = field(init=False, repr=False, compare=False)
    """The base URL without a trailing slash."""
    _headers: Headers = field(init=False, repr=False, compare=False)
    _json_headers: Headers = field(init=False, repr=False, compare=False)

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
        origin_of(self.base_url)
        # Derived once, at construction: every request of the client carries these.
        object.__setattr__(self, "root", self.base_url.rstrip("/"))
        headers = (("Authorization", self.credentials.authorization), ("User-Agent", self.user_agent))
        object.__setattr__(self, "_headers", headers)
        object.__setattr__(self, "_json_headers", (*headers, ("Content-Type", "application/json")))

    def url(self, path: str) -> str:
        """Join ``path`` (no leading slash, already percent-encoded) onto the base URL."""
        return f"{self.root}/{path}"

    def is_api_url(self, url: str) -> bool:
        """True when ``url`` has the API's scheme, host and port (credentials may go there)."""
        try:
            return origin_of(url) == origin_of(self.base_url)
        except InvalidArgumentError:
            return False

    def api_headers(self, *, json_body: bool = True) -> Headers:
        """The headers every API request carries, credentials included.

        Args:
            json_body: add ``Content-Type: application/json`` (the official SDK sends it on every
                API request, bodiless ones included).
        """
        return self._json_headers if json_body else self._headers
