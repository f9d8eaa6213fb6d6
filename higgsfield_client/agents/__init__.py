"""The Agent API (``client.agents``): sessions, turns, questions and media, sync and async.

A drop-in for the official ``higgsfield_client.agents``: the same names and call shapes, with
retries where they are safe, questions answered once, resumable timeouts and the turn's cost.
Loaded on first use of ``client.agents`` (or of one of these names), not by
``import higgsfield_client``.
"""

from higgsfield_proto import AgentTurnFailedError

from .errors import (
    AgentAccessDeniedError,
    AgentBackendError,
    AgentError,
    AgentTimeoutError,
    InsufficientCreditsError,
    SessionBusyError,
)
from .resources import (
    DEFAULT_TURN_TIMEOUT,
    AgentsResource,
    AsyncAgents,
    AsyncAgentsResource,
    AsyncMedia,
    AsyncSessions,
    SyncAgents,
    SyncMedia,
    SyncSessions,
)
from .types import AgentMessage, AgentSession, MessageStatus, SessionState, SessionStatus, TurnResult

__all__ = [
    "DEFAULT_TURN_TIMEOUT",
    "AgentAccessDeniedError",
    "AgentBackendError",
    "AgentError",
    "AgentMessage",
    "AgentSession",
    "AgentTimeoutError",
    "AgentTurnFailedError",
    "AgentsResource",
    "AsyncAgents",
    "AsyncAgentsResource",
    "AsyncMedia",
    "AsyncSessions",
    "InsufficientCreditsError",
    "MessageStatus",
    "SessionBusyError",
    "SessionState",
    "SessionStatus",
    "SyncAgents",
    "SyncMedia",
    "SyncSessions",
    "TurnResult",
]
