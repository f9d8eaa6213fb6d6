"""Proxies for the h11 transport: parsing a proxy URL, routes, and opening a CONNECT tunnel."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Optional
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

import anyio.abc
import h11

from ._checks import Origin

RouteKey = tuple[str, str, int, str]


class TunnelRefused(Exception):
    """The proxy did not open a CONNECT tunnel."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Proxy:
    """An ``http://`` proxy: where it listens and the Basic credentials its URL carried."""

    url: str
    host: str
    port: int
    authorization: Optional[str]

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """Parse an ``http://[user:password@]host[:port]`` proxy URL.

        Raises:
            ValueError: not an http:// URL with a host.
        """
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("the proxy must be an http:// URL with a host")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(url=url, host=parts.hostname, port=parts.port or 80, authorization=authorization)


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    """How to reach an origin: directly, or through a proxy (made once per origin and proxy)."""

    origin: Origin
    proxy: Optional[Proxy]
    key: RouteKey

    @classmethod
    def to(cls, origin: Origin, proxy: Optional[Proxy]) -> Route:
        """The route to ``origin``, through ``proxy`` if given."""
        key = (origin.scheme, origin.host, origin.port, proxy.url if proxy else "")
        return cls(origin=origin, proxy=proxy, key=key)

    def target(self, parts: SplitResult) -> str:
        """The request target of a URL on this route."""
        path = parts.path or "/"
        if self.proxy is not None and self.origin.scheme == "http":
            # A plain-HTTP request to a proxy names the whole URL (absolute-form).
            return urlunsplit(("http", self.origin.authority, path, parts.query, ""))
        return f"{path}?{parts.query}" if parts.query else path

    @property
    def tunnel_authority(self) -> str:
        """``host:port`` of the origin, as a CONNECT request names it."""
        host = f"[{self.origin.host}]" if ":" in self.origin.host else self.origin.host
        return f"{host}:{self.origin.port}"


async def open_tunnel(stream: anyio.abc.ByteStream, route: Route) -> None:
    """Ask the route's proxy for a CONNECT tunnel to its origin, on ``stream``.

    Raises:
        TunnelRefused: the proxy answered anything but 2xx, or misbehaved.
    """
    assert route.proxy is not None
    tunnel = h11.Connection(our_role=h11.CLIENT)
    headers = [("Host", route.tunnel_authority)]
    if route.proxy.authorization is not None:
        headers.append(("Proxy-Authorization", route.proxy.authorization))
    request = h11.Request(method="CONNECT", target=route.tunnel_authority, headers=headers)
    await stream.send(tunnel.send(request) + (tunnel.send(h11.EndOfMessage()) or b""))
    while True:
        event = tunnel.next_event()
        if event is h11.NEED_DATA:
            try:
                tunnel.receive_data(await stream.receive())
            except anyio.EndOfStream:
                tunnel.receive_data(b"")
        elif not isinstance(event, h11.InformationalResponse):
            break
    if not isinstance(event, h11.Response):
        raise TunnelRefused("the proxy closed the connection instead of opening a tunnel")
    if not 200 <= event.status_code < 300:
        raise TunnelRefused(f"proxy answered {event.status_code} to CONNECT")
    if tunnel.trailing_data[0]:
        raise TunnelRefused("the proxy sent data before the TLS handshake")
