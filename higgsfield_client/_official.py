"""What both clients share of the official client's surface: its attributes, its upload helpers and
its private httpx attributes (``_client``, ``_upload_client``, ``_transport``).

The official client sends everything through ``self._transport``, an ``HttpTransport`` over
``self._client``, an httpx client made on first use (a cached property), and PUTs uploads with
``self._upload_client``. Real code, and users' test suites above all, reach into these: an
``httpx.MockTransport`` client set as ``client.__dict__["_client"]`` before the first call, a
subclass whose ``_transport`` carries ``NoRetry()``, a strategy set as
``client._transport._retry_strategy``, ``client._transport.request(...)`` to an endpoint. So a
client here sends with its own transport until code has touched that surface (built, set or
overridden one of the three attributes), and from then on through it: a request that carries
credentials through ``_transport._client``, any other (the presigned PUT, downloads) through
``_upload_client``, each sent by this SDK's httpx transport and repeated as
``_transport._retry_strategy`` says. The requests are the core's, as always.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, ClassVar, Dict, Optional, Tuple

from higgsfield_proto import Outcome, Request, RetryPolicy

from ._calls import Calls
from ._connections import httpx_module, over_async_httpx_client, over_httpx_client
from ._uploads import UploadMixin

if TYPE_CHECKING:
    from higgsfield_transports import AsyncTransport, SyncTransport

    from ._runner import Sink

OFFICIAL_ATTRIBUTES = ("_client", "_upload_client", "_transport")
"""The official client's private attributes that code reads, replaces and overrides."""


def key_in_headers(client: Any) -> Optional[str]:
    """The API key in an httpx client's ``Authorization: Key <id>:<secret>`` header, if it has one."""
    headers = getattr(client, "headers", None)
    scheme, _, key = str(headers.get("Authorization", "") if headers is not None else "").partition(" ")
    return key.strip() if scheme.lower() == "key" and key.strip() else None


class SyncRoute:
    """Sends a request that carries credentials with ``api``, any other with ``other``."""

    def __init__(self, api: SyncTransport, other: SyncTransport) -> None:
        self._api = api
        self._other = other

    def _pick(self, request: Request) -> Any:
        return self._api if request.carries_credentials else self._other

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` once with the transport it belongs to."""
        outcome: Outcome = self._pick(request).send(request, timeout=timeout)
        return outcome

    def stream(
        self, request: Request, sink: Sink, *, timeout: Optional[float] = None, head: Any = None
    ) -> Outcome:
        """Stream ``request``'s answer into ``sink`` with the transport it belongs to."""
        outcome: Outcome = self._pick(request).stream(request, sink, timeout=timeout, head=head)
        return outcome

    def close(self) -> None:
        """Nothing to close: the httpx clients are the client's attributes."""


class AsyncRoute:
    """``SyncRoute`` for the async client."""

    def __init__(self, api: AsyncTransport, other: AsyncTransport) -> None:
        self._api = api
        self._other = other

    def _pick(self, request: Request) -> Any:
        return self._api if request.carries_credentials else self._other

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` once with the transport it belongs to."""
        outcome: Outcome = await self._pick(request).send(request)
        return outcome

    async def stream(self, request: Request, sink: Sink, *, head: Any = None) -> Outcome:
        """Stream ``request``'s answer into ``sink`` with the transport it belongs to."""
        outcome: Outcome = await self._pick(request).stream(request, sink, head=head)
        return outcome

    async def aclose(self) -> None:
        """Nothing to close: the httpx clients are the client's attributes."""


class ClientBase(UploadMixin):
    """What the sync and async clients share of the official client: the attributes ``base_url``,
    ``timeout`` and ``api_key``, the upload helpers of ``UploadMixin``, and the private httpx
    attributes real code reaches into (see the module's notes)."""

    _calls: Calls
    _asynchronous: ClassVar[bool] = False
    _overrides_official: ClassVar[bool] = False
    """True for a subclass that defines ``_client``, ``_upload_client`` or ``_transport``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        defines = any(name in vars(cls) for name in OFFICIAL_ATTRIBUTES)
        cls._overrides_official = cls._overrides_official or defines

    def _start_official(self, http_client: Any) -> None:
        """Set up the official surface (from ``__init__``): the ``http_client=`` given, and the
        retry policy each call asks for."""
        self._given_httpx = http_client
        self._made: Dict[str, Any] = {}
        self._uploads: Optional[Tuple[Any, Any]] = None
        self._calls.settings.retry_override = self._retry_now
        self._calls.settings.key_source = self._key_set_in

    @property
    def base_url(self) -> str:
        """The API root this client talks to."""
        return self._calls.settings.base_url

    @property
    def timeout(self) -> Optional[float]:
        """The seconds an answer may take to start, and between reads (the official attribute)."""
        return self._calls.settings.transport.timeout

    @property
    def api_key(self) -> Optional[str]:
        """The ``api_key=`` the client was built with, or None when it reads the environment."""
        return self._calls.settings.api_key

    # -- the official private attributes ------------------------------------------------------------

    def _httpx_client(self, *, credentials: bool) -> Any:
        lib = httpx_module("the client's _client and _upload_client")
        settings = self._calls.settings
        options: Dict[str, Any] = {"timeout": settings.transport.timeout}
        if credentials:
            options["base_url"] = settings.base_url
            options["headers"] = {
                "Authorization": settings.config.credentials.authorization,
                "Content-Type": "application/json",
                "User-Agent": settings.user_agent,
            }
        return (lib.AsyncClient if self._asynchronous else lib.Client)(**options)

    @functools.cached_property
    def _client(self) -> Any:
        """The official client's httpx client, made on first use: an ``httpx.Client`` (an
        ``httpx.AsyncClient`` for the async client) on the base URL, with the credentials,
        ``Content-Type: application/json``, the ``User-Agent`` and the timeout; the
        ``http_client=`` the client was given, if any.

        Set your own in its place (``client.__dict__["_client"] = httpx.Client(...)``) and the
        client sends its API requests through it.

        Raises:
            ImportError: httpx is not installed (the ``[httpx]`` extra).
            CredentialsMissedError: no credentials were given or found.
        """
        if self._given_httpx is not None:
            return self._given_httpx
        client = self._made["_client"] = self._httpx_client(credentials=True)
        return client

    @functools.cached_property
    def _upload_client(self) -> Any:
        """The official client's httpx client for what goes elsewhere than the API (the
        presigned upload PUT, downloads): no credentials, the client's timeout. Made on first
        use; set your own in its place and the client sends those through it.

        Raises:
            ImportError: httpx is not installed (the ``[httpx]`` extra).
        """
        client = self._made["_upload_client"] = self._httpx_client(credentials=False)
        return client

    @functools.cached_property
    def _transport(self) -> Any:
        """The official client's ``HttpTransport`` (``AsyncHttpTransport`` for the async client)
        over ``_client``, made on first use.

        ``client._transport.request(method, path, json=..., params=..., headers=...)`` sends a
        request of your own to the API, with the credentials, and returns the ``httpx.Response``.
        Its ``_retry_strategy`` stands for the client's retry policy (or is the strategy given as
        ``retry=``); set another and it decides the repeats of every call of the client. Set your
        own transport (in ``__dict__``, or in a subclass) and the client sends through it.

        Raises:
            ImportError: httpx is not installed (the ``[httpx]`` extra).
            CredentialsMissedError: no credentials were given or found.
        """
        from .http.retry import PolicyRetry
        from .http.transport import AsyncHttpTransport, HttpTransport

        settings = self._calls.settings
        strategy = settings.retry_strategy or PolicyRetry(settings.retry)
        kind = AsyncHttpTransport if self._asynchronous else HttpTransport
        transport = self._made["_transport"] = kind(self._client, strategy)
        return transport

    # -- sending through them once touched ------------------------------------------------------------

    def _touched(self) -> bool:
        """Whether code has reached the official surface: one of ``_client``, ``_upload_client``
        and ``_transport`` built, set on the client, or defined by a subclass."""
        if self._overrides_official:
            return True
        state = self.__dict__
        return "_transport" in state or "_client" in state or "_upload_client" in state

    def _key_set_in(self) -> Optional[str]:
        """The key in the ``Authorization`` header of the httpx client that code set as
        ``_client``, or inside the ``_transport`` it set: the official client would send those
        credentials through it (it never looks any up then)."""
        state = self.__dict__
        for client in (getattr(state.get("_transport"), "_client", None), state.get("_client")):
            key = key_in_headers(client)
            if key:
                return key
        return None

    def _official_transport(self) -> Any:
        """``_transport``, which must be an ``HttpTransport`` (``AsyncHttpTransport``) here.

        Raises:
            TypeError: it is something else.
        """
        from .http.transport import AsyncHttpTransport, HttpTransport

        transport = self._transport
        expected = AsyncHttpTransport if self._asynchronous else HttpTransport
        if not isinstance(transport, expected):
            raise TypeError(
                f"client._transport is a {type(transport).__name__}: the client sends through an "
                f"{expected.__name__}(httpx_client, strategy) of higgsfield_client.http.transport; "
                f"set one, or set your httpx client as client._client"
            )
        return transport

    def _retry_now(self) -> Optional[RetryPolicy]:
        """The retry policy of a call made now, when a strategy decides it: the official
        ``_transport``'s once the surface is touched, else the one given as ``retry=``; None
        leaves the client's ``RetryPolicy``."""
        if self._touched():
            strategy = self._official_transport()._retry_strategy
        else:
            strategy = self._calls.settings.retry_strategy
            if strategy is None:
                return None
        from .http.retry import retry_policy_of

        return retry_policy_of(strategy)

    def _official_route(self) -> Any:
        """The route of a call once the surface is touched: ``_transport._client`` for the API,
        ``_upload_client`` for the rest (a ``SyncRoute``, or an ``AsyncRoute`` in the running
        loop or trio run)."""
        api = self._official_transport()._sender()
        client = self._upload_client
        uploads = self._uploads
        stale = uploads is None or uploads[0] is not client
        if stale or (self._asynchronous and not uploads[1].is_usable()):  # type: ignore[index]
            wrap = over_async_httpx_client if self._asynchronous else over_httpx_client
            uploads = self._uploads = (client, wrap(client))
        assert uploads is not None
        return (AsyncRoute if self._asynchronous else SyncRoute)(api, uploads[1])

    def _forget_made(self) -> list[Any]:
        """Drop the official attributes the client made (they are made anew on the next use) and
        return the httpx clients among them, to close."""
        made, self._made = self._made, {}
        for name, value in made.items():
            if self.__dict__.get(name) is value:
                del self.__dict__[name]
        self._uploads = None
        return [value for name, value in made.items() if name != "_transport"]
