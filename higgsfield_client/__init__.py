"""Python SDK for the Higgsfield AI generation API: a drop-in for the official ``higgsfield-client``.

Submit image and video jobs, follow them, fetch results, cancel, upload inputs; from plain Python
(``SyncClient`` and the module-level functions), asyncio or trio (``AsyncClient`` and the
``*_async`` functions). Failed, NSFW and canceled jobs raise typed errors. ``client.agents`` is the
Agent API.
"""

from typing import TYPE_CHECKING

from higgsfield_proto import DEFAULT_BASE_URL as BASE_URL
from higgsfield_proto import (
    AgentAccessDeniedError,
    AgentBackendError,
    AgentError,
    AgentInsufficientCreditsError,
    AgentMessage,
    AgentSession,
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
    MessageStatus,
    ModelUnavailableError,
    NetworkTimeoutError,
    NotCancellableError,
    NotFoundError,
    PermissionDeniedError,
    PollPolicy,
    ProtocolError,
    RateLimitError,
    RetryPolicy,
    ServerError,
    SessionBusyError,
    SessionState,
    SessionStatus,
    TransportError,
    TurnResult,
    UnknownStatusError,
    UploadRejectedError,
    ValidationError,
    WaitTimeoutError,
)

from ._async import AsyncClient, AsyncRequestController
from ._defaults import defaults as _defaults
from ._defaults import on_default_async, on_default_sync
from ._errors import HiggsfieldClientError
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

submit = on_default_sync(SyncClient.submit)
subscribe = on_default_sync(SyncClient.subscribe)
status = on_default_sync(SyncClient.status)
result = on_default_sync(SyncClient.result)
cancel = on_default_sync(SyncClient.cancel)
upload = on_default_sync(SyncClient.upload)
upload_file = on_default_sync(SyncClient.upload_file)
upload_image = on_default_sync(SyncClient.upload_image)
estimate = on_default_sync(SyncClient.estimate)
delete = on_default_sync(SyncClient.delete)
download = on_default_sync(SyncClient.download)
download_outputs = on_default_sync(SyncClient.download_outputs)

submit_async = on_default_async(AsyncClient.submit)
subscribe_async = on_default_async(AsyncClient.subscribe)
status_async = on_default_async(AsyncClient.status)
result_async = on_default_async(AsyncClient.result)
cancel_async = on_default_async(AsyncClient.cancel)
upload_async = on_default_async(AsyncClient.upload)
upload_file_async = on_default_async(AsyncClient.upload_file)
upload_image_async = on_default_async(AsyncClient.upload_image)
estimate_async = on_default_async(AsyncClient.estimate)
delete_async = on_default_async(AsyncClient.delete)
download_async = on_default_async(AsyncClient.download)
download_outputs_async = on_default_async(AsyncClient.download_outputs)


if TYPE_CHECKING:
    # Served by __getattr__ below; declared so that type checkers know their types.
    sync_client: SyncClient
    async_client: AsyncClient


def __getattr__(name: str) -> object:
    # The official module exposes its default clients as ``sync_client`` and ``async_client``.
    if name == "sync_client":
        return _defaults.sync()
    if name == "async_client":
        return _defaults.async_()
    raise AttributeError(f"module 'higgsfield_client' has no attribute {name!r}")


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
    "RetryPolicy",
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
