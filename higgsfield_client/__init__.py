"""Python SDK for the Higgsfield AI generation API: a drop-in for the official ``higgsfield-client``.

Submit image and video jobs, follow them, fetch results, cancel, upload inputs; from plain Python
(``SyncClient`` and the module-level functions), asyncio or trio (``AsyncClient`` and the
``*_async`` functions). Failed, NSFW and canceled jobs raise typed errors. ``client.agents`` is the
Agent API.

Importing the package loads the official surface and no more: the Agent API's types, and the
capabilities (``agents``, ``batch``, ``ray``, ``webhooks``, ``testing``, ``cli``...) load on first
use, as attributes of the package or by importing them.
"""

import importlib
import typing

from higgsfield_proto import DEFAULT_BASE_URL as BASE_URL
from higgsfield_proto import (
    AgentAccessDeniedError,
    AgentBackendError,
    AgentError,
    AgentInsufficientCreditsError,
    AgentTimeoutError,
    AgentTurnFailedError,
    APIError,
    AuthenticationError,
    ConcurrencyLimitError,
    CredentialsMissedError,
    Deletion,
    DownloadError,
    Estimate,
    InsufficientCreditsError,
    InvalidArgumentError,
    JobCancelledError,
    JobError,
    JobFailedError,
    JobNSFWError,
    ModelUnavailableError,
    NetworkTimeoutError,
    NotCancellableError,
    NotFoundError,
    PermissionDeniedError,
    PollPolicy,
    ProtocolError,
    RateLimitError,
    Retrying,
    RetryPolicy,
    ServerError,
    SessionBusyError,
    TransportError,
    UnknownStatusError,
    UploadRejectedError,
    ValidationError,
    WaitTimeoutError,
)

from ._async import AsyncClient, AsyncRequestController
from ._defaults import defaults as _defaults
from ._defaults import on_default_async as _on_default_async
from ._defaults import on_default_sync as _on_default_sync
from ._errors import HiggsfieldClientError
from ._observe import RateLimits, RequestInfo, ResponseInfo
from ._outputs import Output
from ._statuses import (
    DONE_STATUSES,
    NSFW,
    Cancelled,
    Completed,
    Failed,
    InProgress,
    JobResult,
    Queued,
    Status,
)
from ._sync import SyncClient, SyncRequestController

submit = _on_default_sync(SyncClient.submit)
subscribe = _on_default_sync(SyncClient.subscribe)
status = _on_default_sync(SyncClient.status)
result = _on_default_sync(SyncClient.result)
cancel = _on_default_sync(SyncClient.cancel)
upload = _on_default_sync(SyncClient.upload)
upload_file = _on_default_sync(SyncClient.upload_file)
upload_image = _on_default_sync(SyncClient.upload_image)
estimate = _on_default_sync(SyncClient.estimate)
delete = _on_default_sync(SyncClient.delete)
download = _on_default_sync(SyncClient.download)
download_outputs = _on_default_sync(SyncClient.download_outputs)

submit_async = _on_default_async(AsyncClient.submit)
subscribe_async = _on_default_async(AsyncClient.subscribe)
status_async = _on_default_async(AsyncClient.status)
result_async = _on_default_async(AsyncClient.result)
cancel_async = _on_default_async(AsyncClient.cancel)
upload_async = _on_default_async(AsyncClient.upload)
upload_file_async = _on_default_async(AsyncClient.upload_file)
upload_image_async = _on_default_async(AsyncClient.upload_image)
estimate_async = _on_default_async(AsyncClient.estimate)
delete_async = _on_default_async(AsyncClient.delete)
download_async = _on_default_async(AsyncClient.download)
download_outputs_async = _on_default_async(AsyncClient.download_outputs)


if typing.TYPE_CHECKING:
    # Served by __getattr__ below; declared so that type checkers know their types.
    from higgsfield_proto import (
        AgentMessage,
        AgentSession,
        MessageStatus,
        SessionState,
        SessionStatus,
        TurnResult,
    )

    from . import agents as agents
    from . import batch as batch
    from . import cli as cli
    from . import models as models
    from . import ray as ray
    from . import testing as testing
    from . import webhooks as webhooks

    sync_client: SyncClient
    async_client: AsyncClient

_AGENT_TYPES = frozenset(
    {"AgentMessage", "AgentSession", "MessageStatus", "SessionState", "SessionStatus", "TurnResult"}
)
_CAPABILITIES = frozenset({"agents", "batch", "cli", "models", "ray", "testing", "webhooks"})


def __getattr__(name: str) -> object:
    # The official module exposes its default clients as ``sync_client`` and ``async_client``.
    if name == "sync_client":
        return _defaults.sync()
    if name == "async_client":
        return _defaults.async_()
    if name in _AGENT_TYPES:
        return getattr(importlib.import_module(".agents", __name__), name)
    if name in _CAPABILITIES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'higgsfield_client' has no attribute {name!r}")


def __dir__() -> typing.List[str]:
    return sorted({*__all__, *_CAPABILITIES, "sync_client", "async_client"})


__all__ = [
    "BASE_URL",
    "DONE_STATUSES",
    "NSFW",
    "APIError",
    "AgentAccessDeniedError",
    "AgentBackendError",
    "AgentError",
    "AgentInsufficientCreditsError",
    "AgentMessage",
    "AgentSession",
    "AgentTimeoutError",
    "AgentTurnFailedError",
    "AsyncClient",
    "AsyncRequestController",
    "AuthenticationError",
    "Cancelled",
    "Completed",
    "ConcurrencyLimitError",
    "CredentialsMissedError",
    "Deletion",
    "DownloadError",
    "Estimate",
    "Failed",
    "HiggsfieldClientError",
    "InProgress",
    "InsufficientCreditsError",
    "InvalidArgumentError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobNSFWError",
    "JobResult",
    "MessageStatus",
    "ModelUnavailableError",
    "NetworkTimeoutError",
    "NotCancellableError",
    "NotFoundError",
    "Output",
    "PermissionDeniedError",
    "PollPolicy",
    "ProtocolError",
    "Queued",
    "RateLimitError",
    "RateLimits",
    "RequestInfo",
    "ResponseInfo",
    "RetryPolicy",
    "Retrying",
    "ServerError",
    "SessionBusyError",
    "SessionState",
    "SessionStatus",
    "Status",
    "SyncClient",
    "SyncRequestController",
    "TransportError",
    "TurnResult",
    "UnknownStatusError",
    "UploadRejectedError",
    "ValidationError",
    "WaitTimeoutError",
    "cancel",
    "cancel_async",
    "delete",
    "delete_async",
    "download",
    "download_async",
    "download_outputs",
    "download_outputs_async",
    "estimate",
    "estimate_async",
    "result",
    "result_async",
    "status",
    "status_async",
    "submit",
    "submit_async",
    "subscribe",
    "subscribe_async",
    "upload",
    "upload_async",
    "upload_file",
    "upload_file_async",
    "upload_image",
    "upload_image_async",
]
