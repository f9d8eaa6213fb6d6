"""The official ``higgsfield_client.agents.types``: the Agent API's values."""

from higgsfield_proto import (
    AgentMessage,
    AgentSession,
    MessageStatus,
    SessionState,
    SessionStatus,
    TurnResult,
)

__all__ = ["AgentMessage", "AgentSession", "MessageStatus", "SessionState", "SessionStatus", "TurnResult"]
