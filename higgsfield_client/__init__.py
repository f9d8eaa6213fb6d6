"""Python SDK for the Higgsfield AI generation API: a drop-in for the official ``higgsfield-client``.

Submit image and video jobs, follow them, fetch results, cancel, upload inputs; from plain Python
(``SyncClient`` and the module-level functions), asyncio or trio (``AsyncClient`` and the
``*_async`` functions). Failed, NSFW and canceled jobs come back as their result, as in the official
SDK (``result.raise_for_status()`` or ``raise_on_failure=True`` raise typed errors instead).
``client.agents`` is the Agent API.

Importing the package loads the official surface and no more: the Agent API's types, the
capabilities (``agents``, ``batch``, ``ray``, ``webhooks``, ``mcp``, ``testing``, ``cli``...) and the
official package's other modules (``exceptions``, ``http``, ``types_``, ``auth``, ``utils``,
``mixins``) load on first use, as attributes of the package or by importing them.
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
    OutputExpiredError,
    PermissionDeniedError,
    PollPolicy,
    ProtocolError,
    RateLimitError,
    Retrying,
    RetryPolicy,
    ServerError,
    SessionBusyError,
    TransportError,
    UnknownModelError,
    UnknownStatusError,
    UploadRejectedError,
    ValidationError,
    WaitTimeoutError,
    WebhookSecretError,
)

from ._async import AsyncClient, AsyncRequestController
from ._budget import Amount, Budget, BudgetBlock, BudgetExceededError, JobPrice, ModelSpent, Spent
from ._defaults import defaults as _defaults
from ._defaults import on_default_async as _on_default_async
from ._defaults import on_default_sync as _on_default_sync
from ._errors import HiggsfieldArgumentWarning, HiggsfieldClientError
from ._observe import RateLimits, RequestInfo, ResponseInfo
from ._outputs import Embedded, Output
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
from ._version import __version__

submit = _on_default_sync(SyncClient.submit)
"""Submit a job; returns its controller: [`SyncClient.submit`][higgsfield_client.SyncClient.submit] on the
default client."""
subscribe = _on_default_sync(SyncClient.subscribe)
"""Submit a job and wait for it; returns its result:
[`SyncClient.subscribe`][higgsfield_client.SyncClient.subscribe] on the default client."""
status = _on_default_sync(SyncClient.status)
"""A job's status, checked once: [`SyncClient.status`][higgsfield_client.SyncClient.status] on the default
client."""
result = _on_default_sync(SyncClient.result)
"""Wait for a job to finish; returns its result: [`SyncClient.result`][higgsfield_client.SyncClient.result]
on the default client."""
cancel = _on_default_sync(SyncClient.cancel)
"""Cancel a queued job: [`SyncClient.cancel`][higgsfield_client.SyncClient.cancel] on the default client."""
upload = _on_default_sync(SyncClient.upload)
"""Upload bytes; returns their public URL: [`SyncClient.upload`][higgsfield_client.SyncClient.upload] on
the default client."""
upload_file = _on_default_sync(SyncClient.upload_file)
"""Upload a file, streamed from disk; returns its public URL:
[`SyncClient.upload_file`][higgsfield_client.SyncClient.upload_file] on the default client."""
upload_image = _on_default_sync(SyncClient.upload_image)
"""Upload a PIL image; returns its public URL:
[`SyncClient.upload_image`][higgsfield_client.SyncClient.upload_image] on the default client."""
estimate = _on_default_sync(SyncClient.estimate)
"""Price a generation without submitting it: [`SyncClient.estimate`][higgsfield_client.SyncClient.estimate]
on the default client."""
delete = _on_default_sync(SyncClient.delete)
"""Delete a finished request's inputs, outputs, prompt and parameters:
[`SyncClient.delete`][higgsfield_client.SyncClient.delete] on the default client."""
download = _on_default_sync(SyncClient.download)
"""Download an output URL into a file or a folder:
[`SyncClient.download`][higgsfield_client.SyncClient.download] on the default client."""
download_outputs = _on_default_sync(SyncClient.download_outputs)
"""Download every output of a result into a folder:
[`SyncClient.download_outputs`][higgsfield_client.SyncClient.download_outputs] on the default client."""

submit_async = _on_default_async(AsyncClient.submit)
"""Submit a job; returns its controller: [`AsyncClient.submit`][higgsfield_client.AsyncClient.submit] on
the default async client, awaited."""
subscribe_async = _on_default_async(AsyncClient.subscribe)
"""Submit a job and wait for it; returns its result:
[`AsyncClient.subscribe`][higgsfield_client.AsyncClient.subscribe] on the default async client, awaited."""
status_async = _on_default_async(AsyncClient.status)
"""A job's status, checked once: [`AsyncClient.status`][higgsfield_client.AsyncClient.status] on the
default async client, awaited."""
result_async = _on_default_async(AsyncClient.result)
"""Wait for a job to finish; returns its result:
[`AsyncClient.result`][higgsfield_client.AsyncClient.result] on the default async client, awaited."""
cancel_async = _on_default_async(AsyncClient.cancel)
"""Cancel a queued job: [`AsyncClient.cancel`][higgsfield_client.AsyncClient.cancel] on the default async
client, awaited."""
upload_async = _on_default_async(AsyncClient.upload)
"""Upload bytes; returns their public URL: [`AsyncClient.upload`][higgsfield_client.AsyncClient.upload] on
the default async client, awaited."""
upload_file_async = _on_default_async(AsyncClient.upload_file)
"""Upload a file, streamed from disk; returns its public URL:
[`AsyncClient.upload_file`][higgsfield_client.AsyncClient.upload_file] on the default async client,
awaited."""
upload_image_async = _on_default_async(AsyncClient.upload_image)
"""Upload a PIL image; returns its public URL:
[`AsyncClient.upload_image`][higgsfield_client.AsyncClient.upload_image] on the default async client,
awaited."""
estimate_async = _on_default_async(AsyncClient.estimate)
"""Price a generation without submitting it:
[`AsyncClient.estimate`][higgsfield_client.AsyncClient.estimate] on the default async client, awaited."""
delete_async = _on_default_async(AsyncClient.delete)
"""Delete a finished request's inputs, outputs, prompt and parameters:
[`AsyncClient.delete`][higgsfield_client.AsyncClient.delete] on the default async client, awaited."""
download_async = _on_default_async(AsyncClient.download)
"""Download an output URL into a file or a folder:
[`AsyncClient.download`][higgsfield_client.AsyncClient.download] on the default async client, awaited."""
download_outputs_async = _on_default_async(AsyncClient.download_outputs)
"""Download every output of a result into a folder:
[`AsyncClient.download_outputs`][higgsfield_client.AsyncClient.download_outputs] on the default async
client, awaited."""


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
    from . import auth as auth
    from . import batch as batch
    from . import cli as cli
    from . import exceptions as exceptions
    from . import http as http
    from . import mcp as mcp
    from . import mixins as mixins
    from . import models as models
    from . import ray as ray
    from . import testing as testing
    from . import types_ as types_
    from . import utils as utils
    from . import webhooks as webhooks

    sync_client: SyncClient
    async_client: AsyncClient

_AGENT_TYPES = frozenset(
    {"AgentMessage", "AgentSession", "MessageStatus", "SessionState", "SessionStatus", "TurnResult"}
)
_CAPABILITIES = frozenset({"agents", "batch", "cli", "mcp", "models", "ray", "testing", "webhooks"})
# The official package's module layout, for code that imports from it.
_OFFICIAL_MODULES = frozenset({"auth", "exceptions", "http", "mixins", "types_", "utils"})


def __getattr__(name: str) -> object:
    # The official module exposes its default clients as ``sync_client`` and ``async_client``.
    if name == "sync_client":
        return _defaults.sync()
    if name == "async_client":
        return _defaults.async_()
    if name in _AGENT_TYPES:
        return getattr(importlib.import_module(".agents", __name__), name)
    if name in _CAPABILITIES or name in _OFFICIAL_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'higgsfield_client' has no attribute {name!r}")


def __dir__() -> typing.List[str]:
    return sorted({*__all__, *_CAPABILITIES, *_OFFICIAL_MODULES, "sync_client", "async_client"})


__all__ = [
    "__version__",
    "BASE_URL",
    "DONE_STATUSES",
    "NSFW",
    "APIError",
    "Amount",
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
    "Budget",
    "BudgetBlock",
    "BudgetExceededError",
    "Cancelled",
    "Completed",
    "ConcurrencyLimitError",
    "CredentialsMissedError",
    "Deletion",
    "DownloadError",
    "Embedded",
    "Estimate",
    "Failed",
    "HiggsfieldArgumentWarning",
    "HiggsfieldClientError",
    "InProgress",
    "InsufficientCreditsError",
    "InvalidArgumentError",
    "JobCancelledError",
    "JobError",
    "JobFailedError",
    "JobNSFWError",
    "JobPrice",
    "JobResult",
    "MessageStatus",
    "ModelSpent",
    "ModelUnavailableError",
    "NetworkTimeoutError",
    "NotCancellableError",
    "NotFoundError",
    "Output",
    "OutputExpiredError",
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
    "Spent",
    "Status",
    "SyncClient",
    "SyncRequestController",
    "TransportError",
    "TurnResult",
    "UnknownModelError",
    "UnknownStatusError",
    "UploadRejectedError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookSecretError",
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
