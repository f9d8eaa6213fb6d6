"""The official ``higgsfield_client.agents.errors``: the Agent API's errors, and the typed error
for an ``httpx.Response`` of the Agent API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from higgsfield_proto import (
    AGENT_ERRORS,
    AgentAccessDeniedError,
    AgentBackendError,
    AgentError,
    AgentTimeoutError,
    SessionBusyError,
)
from higgsfield_proto import AgentInsufficientCreditsError as InsufficientCreditsError

from ..http.error import raise_answer_error

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AgentAccessDeniedError",
    "AgentBackendError",
    "AgentError",
    "AgentTimeoutError",
    "InsufficientCreditsError",
    "SessionBusyError",
    "raise_for_agent_status",
]


def raise_for_agent_status(response: httpx.Response) -> None:
    """Return if ``response`` (of the Agent API) is a 2xx; raise its typed error otherwise.

    403 is ``AgentAccessDeniedError``, 402 ``InsufficientCreditsError``, 409
    ``SessionBusyError``, 5xx ``AgentBackendError``, as in the official SDK; any other error is
    typed too (``NotFoundError``, ``ValidationError``...) where the official raises httpx's
    ``HTTPStatusError``, from which this one is chained.

    Raises:
        AgentError, APIError: the answer's error.
        ImportError: httpx is not installed.
    """
    raise_answer_error(response, AGENT_ERRORS)
