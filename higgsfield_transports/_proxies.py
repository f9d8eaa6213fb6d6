"""Which proxy a request goes through: an explicit one, or the environment's, read once."""

from __future__ import annotations

import urllib.request
from typing import Optional

from ._checks import Origin


class ProxyResolver:
    """Decides the proxy of each request from an explicit proxy or a snapshot of the environment.

    An explicit proxy applies to every request. Otherwise, with ``trust_env``, the standard
    ``<scheme>_proxy``/``all_proxy`` variables apply (lower case wins, as in curl) unless
    ``no_proxy`` matches the host. The environment is read once, when the resolver is made, and
    the decision is remembered per scheme and host (a bounded cache).
    """

    _CACHE_SIZE = 256

    def __init__(self, explicit: Optional[str], trust_env: bool) -> None:
        self._explicit = explicit
        self._proxies: dict[str, str] = {}
        if explicit is None and trust_env:
            self._proxies = dict(urllib.request.getproxies_environment())
        self._cache: dict[tuple[str, str], Optional[str]] = {}

    @property
    def environment(self) -> dict[str, str]:
        """The snapshot of the environment's proxy variables (scheme, ``all``, ``no``); a copy."""
        return dict(self._proxies)

    def proxy_for(self, origin: Origin) -> Optional[str]:
        """Return the proxy URL to use for a request to ``origin``, or None to connect directly."""
        if self._explicit is not None:
            return self._explicit
        if not self._proxies:
            return None
        key = (origin.scheme, origin.authority)
        try:
            return self._cache[key]
        except KeyError:
            pass
        proxy = self._decide(*key)
        if len(self._cache) >= self._CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = proxy
        return proxy

    def _decide(self, scheme: str, host: str) -> Optional[str]:
        proxies = self._proxies
        if "no" in proxies and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            host, proxies
        ):
            return None
        proxy = proxies.get(scheme) or proxies.get("all")
        if not proxy:
            return None
        return proxy if "://" in proxy else "http://" + proxy
