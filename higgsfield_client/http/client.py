"""The official ``higgsfield_client.http.client``: the clients and request controllers, and the
other names the official module holds."""

from __future__ import annotations

import abc
import logging
import os
from typing import Dict, Optional

from higgsfield_proto import DEFAULT_BASE_URL, USER_AGENT, cancel_url, status_url

from .._async import AsyncClient, AsyncRequestController
from .._settings import DEFAULT_TIMEOUT, default_base_url
from .._statuses import DONE_STATUSES, NSFW, Cancelled, Completed, Failed, Status
from .._sync import SyncClient, SyncRequestController
from .._uploads import UploadMixin
from ..agents.resources import AgentsResource, AsyncAgentsResource
from ..auth import get_credential_key
from ..types_ import AnyJSON
from ..utils import get_status, get_url
from .error import raise_for_status
from .retry import create_default_retry_strategy
from .transport import AsyncHttpTransport, HttpTransport

__all__ = [
    "BASE_URL",
    "DEFAULT_POLLING_DELAY",
    "DEFAULT_TIMEOUT",
    "DONE_STATUSES",
    "NSFW",
    "USER_AGENT",
    "AgentsResource",
    "AnyJSON",
    "AsyncAgentsResource",
    "AsyncClient",
    "AsyncHttpTransport",
    "AsyncRequestController",
    "Cancelled",
    "Completed",
    "Failed",
    "HttpTransport",
    "RequestController",
    "Status",
    "SyncClient",
    "SyncRequestController",
    "UploadMixin",
    "create_default_retry_strategy",
    "get_credential_key",
    "get_status",
    "get_url",
    "logger",
    "raise_for_status",
]

BASE_URL = DEFAULT_BASE_URL
"""The API root: ``https://api.higgsfield.ai`` (a client built without ``base_url=`` reads
``HIGGSFIELD_BASE_URL`` first)."""

DEFAULT_POLLING_DELAY = 0.5
"""The official client's fixed interval between status checks, in seconds. The clients here
follow their ``PollPolicy`` instead; ``poll_request_status(delay=DEFAULT_POLLING_DELAY)`` polls
at this interval."""

logger = logging.getLogger(__name__)
"""The official module's logger (this SDK logs its exchanges to ``higgsfield_client``, its parent)."""


# An ABC only so that the clients' controllers can be registered as its subclasses (below).
class RequestController(metaclass=abc.ABCMeta):  # noqa: B024
    """The official base of the request controllers: a job's id and URLs.

    ``SyncRequestController`` and ``AsyncRequestController`` count as its subclasses
    (``isinstance`` and ``issubclass`` hold). Built on its own it only holds the URLs, on the
    default base URL (``HIGGSFIELD_BASE_URL``, else ``https://api.higgsfield.ai``) unless given;
    a client's ``get_request_controller(request_id)`` gives one that can act.

    Args:
        request_id: the job.
        response_url: its result URL (the status URL).
        status_url: its status URL.
        cancel_url: its cancel URL.

    Raises:
        InvalidArgumentError: ``request_id`` is not a usable id (and no URL was given).
    """

    def __init__(
        self,
        request_id: str,
        response_url: Optional[str] = None,
        status_url: Optional[str] = None,
        cancel_url: Optional[str] = None,
    ) -> None:
        self.request_id = request_id
        urls = self.build_urls(default_base_url(os.environ), request_id)
        self.response_url = response_url or urls["response_url"]
        self.status_url = status_url or urls["status_url"]
        self.cancel_url = cancel_url or urls["cancel_url"]

    @staticmethod
    def build_urls(base_url: str, request_id: str) -> Dict[str, str]:
        """The job's ``status_url``, ``response_url`` (the same) and ``cancel_url`` on ``base_url``,
        the id percent-encoded.

        Raises:
            InvalidArgumentError: ``request_id`` is not a usable id.
        """
        status = status_url(base_url, request_id)
        return {"status_url": status, "response_url": status, "cancel_url": cancel_url(base_url, request_id)}

    def __repr__(self) -> str:
        return f"RequestController(request_id={self.request_id!r})"


RequestController.register(SyncRequestController)
RequestController.register(AsyncRequestController)
