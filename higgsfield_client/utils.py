"""The official ``higgsfield_client.utils``: a status object from a status payload, and the submit
path with its webhook."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Type
from urllib.parse import urlencode

from ._statuses import (
    NSFW,
    Cancelled,
    Completed,
    Failed,
    InProgress,
    Queued,
    Status,
    status_class,
    status_from_payload,
)
from .types_ import AnyJSON, StatusEnum

__all__ = [
    "NSFW",
    "STATUS_MAPPER",
    "AnyJSON",
    "Cancelled",
    "Completed",
    "Failed",
    "InProgress",
    "Queued",
    "Status",
    "StatusEnum",
    "get_status",
    "get_url",
]

STATUS_MAPPER: Dict[StatusEnum, Type[Status]] = {state: status_class(state) for state in StatusEnum}
"""The status class of each state."""


def get_status(data: Mapping[str, Any]) -> Status:
    """The status object for a status payload (``{"status": "completed", ...}``), carrying its
    request id (when the payload has one) and the payload.

    Raises:
        UnknownStatusError: ``status`` is missing or not one of the six states; also a
            ``ValueError``, which the official SDK raises.
    """
    return status_from_payload(data)


def get_url(application: str, webhook_url: Optional[str]) -> str:
    """The submit path of ``application`` (relative to the base URL), with
    ``?hf_webhook=<webhook_url>`` when one is given."""
    if webhook_url is None:
        return application
    return f"{application}?{urlencode({'hf_webhook': webhook_url})}"
