"""The official ``HttpTransport`` and ``AsyncHttpTransport`` (``higgsfield_client.http.transport``),
built on this SDK's httpx transport and protocol core.

``transport.request(method, url, **kwargs)`` takes httpx's arguments (``json=``, ``params=``,
``headers=``, ``content=``...) and returns the ``httpx.Response``, as the official one does. A
path is resolved on the httpx client's ``base_url``. The request is repeated as the transport's
``_retry_strategy`` says (read at each request: setting it takes effect), but never when that is
unsafe: a POST without an ``Idempotency-Key`` is not sent again once the server may have acted
on it. An error answer raises the SDK's typed error (``NotFoundError``, ``ServerError``... all
``HiggsfieldClientError``), chained from httpx's ``HTTPStatusError``; a network failure raises
``TransportError``, never an httpx exception. The client's default ``Authorization`` header goes
only to the origin of its ``base_url`` (the API's, when it has none).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from higgsfield_proto import FlowEnv, Request, Response, send_flow

from .._connections import httpx_module, over_async_httpx_client, over_httpx_client
from .._errors import HiggsfieldClientError
from .._observe import Observer
from .._runner import Call, run_async, run_sync, running_library
from .._settings import default_base_url, jitter
from .error import extract_error_message, raise_for_status
from .retry import RetryStrategy, retry_policy_of

if TYPE_CHECKING:
    import httpx

    from higgsfield_transports import AsyncTransport, SyncTransport

__all__ = [
    "AsyncHttpTransport",
    "HiggsfieldClientError",
    "HttpTransport",
    "RetryStrategy",
    "extract_error_message",
    "logger",
]

logger = logging.getLogger(__name__)
"""The official module's logger (this SDK logs its exchanges to ``higgsfield_client``, its parent)."""

# Framing and the host are httpx's to write; the answer's body arrives decoded.
_REQUEST_HEADERS_LEFT_TO_HTTPX = frozenset({"host", "content-length", "transfer-encoding"})
_ANSWER_HEADERS_DROPPED = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _origin(url: httpx.URL) -> Tuple[str, str, Optional[int]]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _seconds(timeout: Any) -> Optional[float]:
    """The seconds a ``timeout=`` argument allows the whole request, retries included.

    Raises:
        TypeError: a value that is neither seconds nor an ``httpx.Timeout``.
    """
    lib = httpx_module("HttpTransport")
    if timeout is None or timeout is lib.USE_CLIENT_DEFAULT:
        return None
    if isinstance(timeout, lib.Timeout):
        read: Optional[float] = timeout.read
        return read
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout)
    raise TypeError(f"timeout= is seconds or an httpx.Timeout, not {type(timeout).__name__}")


def _prepare(
    client: Union[httpx.Client, httpx.AsyncClient], method: str, url: str, kwargs: Dict[str, Any]
) -> Tuple[httpx.Request, Optional[float]]:
    """httpx's request for the arguments of ``request`` (its body not yet read), and the timeout."""
    lib = httpx_module("HttpTransport")
    timeout = _seconds(kwargs.pop("timeout", None))
    built = client.build_request(method, url, **kwargs)
    home = client.base_url if str(client.base_url) else lib.URL(default_base_url(os.environ))
    if _origin(built.url) != _origin(home):
        built.headers.pop("Authorization", None)  # credentials stay home
    return built, timeout


def _core_request(built: httpx.Request, body: bytes) -> Request:
    headers = tuple(
        (name, value)
        for name, value in built.headers.multi_items()
        if name.lower() not in _REQUEST_HEADERS_LEFT_TO_HTTPX
    )
    return Request(method=built.method, url=str(built.url), headers=headers, body=body or None)


def _answered(built: httpx.Request, answer: Response) -> httpx.Response:
    """The ``httpx.Response`` to ``built`` for the final answer (raising its typed error if it is
    one). Its body arrives decoded: the encoding and length headers are left out."""
    lib = httpx_module("HttpTransport")
    headers = [(name, value) for name, value in answer.headers if name.lower() not in _ANSWER_HEADERS_DROPPED]
    response: httpx.Response = lib.Response(answer.status, headers=headers, content=answer.body)
    response.request = built
    raise_for_status(response)
    return response


def _env(strategy: Any) -> FlowEnv:
    return FlowEnv(retry=retry_policy_of(strategy), jitter=jitter)


class HttpTransport:
    """Sends requests with an ``httpx.Client`` as the official ``HttpTransport`` does, repeating
    them as ``retry_strategy`` says (see the module's notes for what differs).

    Args:
        client: the ``httpx.Client`` to send with, its ``base_url`` and default headers applied;
            it stays yours to close.
        retry_strategy: a ``RetryStrategy`` (or a ``RetryPolicy``); ``_retry_strategy`` may be
            set later.
    """

    def __init__(self, client: httpx.Client, retry_strategy: RetryStrategy) -> None:
        self._client = client
        self._retry_strategy = retry_strategy
        self._sending: Optional[Tuple[httpx.Client, SyncTransport]] = None

    def _sender(self) -> SyncTransport:
        """The SDK transport over ``_client`` (made anew if ``_client`` was replaced)."""
        if self._sending is None or self._sending[0] is not self._client:
            self._sending = (self._client, over_httpx_client(self._client))
        return self._sending[1]

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return its 2xx ``httpx.Response``.

        Args:
            method: the HTTP method.
            url: a path on the client's ``base_url``, or an absolute URL.
            kwargs: httpx's request arguments; ``timeout=`` (seconds, or an ``httpx.Timeout``
                whose read limit is taken) bounds the whole request, repeats included.

        Raises:
            APIError: an error answer after the repeats, as its typed subclass, chained from
                ``httpx.HTTPStatusError``.
            TransportError: the network failed for good.
        """
        built, timeout = _prepare(self._client, method, url, dict(kwargs))
        flow = send_flow(_core_request(built, built.read()), _env(self._retry_strategy), timeout=timeout)
        return _answered(built, run_sync(Call(flow=flow), self._sender(), Observer()))


class AsyncHttpTransport:
    """``HttpTransport`` over an ``httpx.AsyncClient``, under asyncio or trio.

    Args:
        client: the ``httpx.AsyncClient`` to send with; it stays yours to close.
        retry_strategy: a ``RetryStrategy`` (or a ``RetryPolicy``); ``_retry_strategy`` may be
            set later.
    """

    def __init__(self, client: httpx.AsyncClient, retry_strategy: RetryStrategy) -> None:
        self._client = client
        self._retry_strategy = retry_strategy
        self._sending: Optional[Tuple[httpx.AsyncClient, AsyncTransport]] = None

    def _sender(self) -> AsyncTransport:
        """The SDK transport over ``_client`` for the running event loop or trio run."""
        sending = self._sending
        if sending is None or sending[0] is not self._client or not sending[1].is_usable():  # type: ignore[attr-defined]
            sending = self._sending = (self._client, over_async_httpx_client(self._client))
        return sending[1]

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request and return its 2xx ``httpx.Response`` (see ``HttpTransport.request``).

        Raises:
            APIError: an error answer after the repeats, chained from ``httpx.HTTPStatusError``.
            TransportError: the network failed for good.
        """
        import sniffio

        built, timeout = _prepare(self._client, method, url, dict(kwargs))
        request = _core_request(built, await built.aread())
        flow = send_flow(request, _env(self._retry_strategy), timeout=timeout)
        library = running_library(sniffio.current_async_library())
        return _answered(built, await run_async(Call(flow=flow), self._sender(), library, Observer()))
