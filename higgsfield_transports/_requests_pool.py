"""The requests transport's own session, sent through its adapter's urllib3 pool directly.

``Session.request`` does a great deal per call that the transport's own session does not need:
a ``Request`` and a ``PreparedRequest`` (the URL parsed and re-quoted, the headers merged and
checked again), a cookie jar merged for the call and one made for the answer, hooks, the
environment's settings merged, and in the adapter the urllib3 pool key built again (about 30
fields) for every request. The transport's own session holds nothing those steps would add:
cookies are all refused, there are no hooks, no auth, no params, and ``trust_env`` is off (the
transport resolves proxies itself). What it does hold - its default headers, its adapters with
their pool managers, TLS settings (CA bundle, verification, an ``ssl.SSLContext``) and proxy
managers - is used here as requests uses it, through the adapter's own methods.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional, Union
from urllib.parse import SplitResult

import requests
import requests.adapters
import urllib3
from requests.utils import urldefragauth

from higgsfield_proto import Request

from ._bodies import BodySource
from ._checks import Origin, without_framing

_BODILESS_METHODS = frozenset({"GET", "HEAD"})


class _Route(NamedTuple):
    """Where the requests to one origin (through one proxy, or none) go."""

    key: tuple[Origin, Optional[str]]
    pool: urllib3.HTTPConnectionPool
    retries: Any
    absolute_target: bool


class PoolSender:
    """Sends requests through the urllib3 pools of the transport's own requests session.

    Args:
        session: the transport's own session (cookies refused, ``trust_env`` off).
        verify: what requests' ``verify`` would be for every request.
    """

    def __init__(self, session: requests.Session, verify: Union[bool, str, None]) -> None:
        self._session = session
        self._verify = verify
        # The session's default headers, which requests sends unless a request sets them.
        self._defaults: dict[str, tuple[str, Any]] = {
            name.lower(): (name, value) for name, value in session.headers.items()
        }
        # The pool of the last route: a client talks to one origin almost always. It is the
        # pool its manager handed out last, so the manager cannot have evicted (and closed) it:
        # a pool manager evicts only its least recently used pool, when it makes a new one,
        # and a lookup of any other route replaces this one.
        self._last: Optional[_Route] = None

    def forget(self) -> None:
        """Drop the remembered pool (the transport closes its pools)."""
        self._last = None

    def urlopen(
        self,
        request: Request,
        origin: Origin,
        parts: SplitResult,
        proxy: Optional[str],
        source: Optional[BodySource],
        timeout: tuple[float, Optional[float]],
    ) -> urllib3.BaseHTTPResponse:
        """Send ``request`` through the pool of its route; the answer's head has been read.

        Raises:
            Exception: urllib3's and requests' own exceptions, for the transport to translate.
        """
        route = self._last
        if route is None or route.key != (origin, proxy):
            route = self._last = self._route(request.url, origin, proxy)
        given: dict[str, tuple[str, Any]] = {}
        for name, value in without_framing(request.headers):
            key = name.lower()
            known = given.get(key)
            if known is not None and known[0] == name and known[1]:
                value = f"{known[1]}, {value}"  # a name repeated as is: one line, as requests sends it
            given[key] = (name, value)
        headers = {**self._defaults, **given}
        body: Any = None
        length: Optional[int] = 0
        if source is not None:
            length = source.length
            if length != 0:
                body = source.chunks()
        elif request.body:
            body = request.body
            length = len(body)
        # Framing as requests prepares it: a length when known (0 only for a method that may
        # carry a body), else chunked.
        if length is None:
            headers["transfer-encoding"] = ("Transfer-Encoding", "chunked")
        elif length or request.method not in _BODILESS_METHODS:
            headers["content-length"] = ("Content-Length", str(length))
        if route.absolute_target:
            target = urldefragauth(request.url)
        else:
            target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        return route.pool.urlopen(
            request.method,
            target,
            body=body,
            headers=dict(headers.values()),
            retries=route.retries,
            redirect=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            chunked=length is None,
            preload_content=False,
            decode_content=False,
        )

    def _route(self, url: str, origin: Origin, proxy: Optional[str]) -> _Route:
        """Look the route's pool up as ``HTTPAdapter.send`` does."""
        adapter = self._session.get_adapter(url)
        assert isinstance(adapter, requests.adapters.HTTPAdapter), "the transport mounted it"
        prepared = requests.PreparedRequest()
        prepared.url = url
        proxies = {origin.scheme: proxy} if proxy is not None else None
        pool = adapter.get_connection_with_tls_context(prepared, self._verify, proxies=proxies)
        assert isinstance(pool, urllib3.HTTPConnectionPool)
        adapter.cert_verify(pool, url, self._verify, None)  # type: ignore[no-untyped-call]
        # Through a proxy, plain HTTP asks for the absolute URL (HTTPAdapter.request_url); a
        # SOCKS proxy or a CONNECT tunnel (HTTPS) carries the request as it is.
        absolute = proxy is not None and origin.scheme == "http" and not proxy.lower().startswith("socks")
        return _Route((origin, proxy), pool, adapter.max_retries, absolute)
