"""``agent_run``: a turn of the Agent API, with progress, and the agent's questions put to the user.

When the agent asks a question (its session turns ``awaiting_input``), the question goes to the
user the way the MCP connection allows:

- a client that supports elicitation, on a connection that can carry a request from the server
  in the middle of a call (protocol versions up to 2025-11-25): the server asks
  (``elicitation/create``), sends the answer to the agent and goes on waiting, in the same call;
- a client that supports elicitation on a 2026-07-28 connection: the call answers
  ``input_required`` with the question; the client asks the user and calls again with the answer
  (and the state the server handed it), and the server sends it and goes on waiting;
- any other client, or a user who declines: the call returns the question with the session id,
  and the next ``agent_run`` with that session id and the answer as its text answers it.

A turn still running when the wait's bound passes goes on; the result says how to wait again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Dict, Optional, Union

from mcp.server.elicitation import AcceptedElicitation, render_elicitation_schema
from mcp.server.mcpserver import Context
from mcp_types import ElicitRequest, ElicitRequestFormParams, ElicitResult, InputRequiredResult
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from higgsfield_proto import AgentTimeoutError, SessionState, TurnResult

from .._async import AsyncClient
from ._results import ToolFailure

Progress = Callable[[str], Awaitable[None]]
_ANSWER_KEY = "answer"


class Answer(BaseModel):
    """The user's answer to the agent's question (the elicitation's form)."""

    answer: str = Field(description="your answer to the agent")


@dataclass(frozen=True, slots=True, kw_only=True)
class Unanswered:
    """The question could not be put to the user, or the user declined it (``declined``)."""

    declined: bool


class AgentTurns:
    """The work of ``agent_run``, on ``client.agents`` of the server's client.

    Args:
        client: the client the Agent API is reached through.
        max_wait: the most seconds one call waits for a turn.
    """

    def __init__(self, client: AsyncClient, max_wait: float) -> None:
        self.client = client
        self.max_wait = max_wait

    async def run(
        self,
        ctx: Context[Any, Any],
        progress: Progress,
        *,
        text: str,
        session_id: Optional[str],
        message_id: Optional[str],
    ) -> Union[Dict[str, Any], InputRequiredResult]:
        """Send ``text`` (in a new session, or in ``session_id``) and wait for the turn; or, with
        ``message_id``, wait again for a turn still running; or finish an ``input_required``
        round. Returns the turn's outcome, or the ``input_required`` answer."""
        sessions = self.client.agents.sessions

        async def on_update(state: SessionState) -> None:
            await progress(f"agent: {getattr(state.status, 'value', state.status)}")

        state = _round_state(ctx)
        try:
            if state is not None:
                session_id = str(state["session_id"])
                answer = _accepted(ctx)
                if answer is None:
                    return _question(session_id, str(state["question"]), declined=True)
                result = await sessions.run(session_id, answer, timeout=self.max_wait, on_update=on_update)
            elif message_id is not None:
                if session_id is None or text:
                    raise ToolFailure(
                        "invalid_call",
                        "to wait again for a turn, give its session_id and message_id, and no text",
                    )
                result = await sessions.wait(
                    session_id, message_id, timeout=self.max_wait, on_update=on_update
                )
            else:
                if not text.strip():
                    raise ToolFailure("invalid_call", "the message (text) is empty")
                if session_id is None:
                    session_id = (await sessions.create()).session_id
                result = await sessions.run(session_id, text, timeout=self.max_wait, on_update=on_update)
            while result.status == "awaiting_input":
                asked = await self._ask(ctx, result)
                if isinstance(asked, InputRequiredResult):
                    return asked
                if isinstance(asked, Unanswered):
                    return _question(str(result.session_id), result.text, declined=asked.declined)
                result = await sessions.run(
                    str(result.session_id), asked, timeout=self.max_wait, on_update=on_update
                )
        except AgentTimeoutError as exc:
            return {
                "status": "running",
                "session_id": exc.session_id,
                "message_id": exc.message_id,
                "next": (
                    f"the turn goes on after {self.max_wait:g} s: call agent_run with this session_id "
                    "and message_id (and no text) to wait again"
                ),
            }
        return _outcome(result)

    async def _ask(
        self, ctx: Context[Any, Any], result: TurnResult
    ) -> Union[str, InputRequiredResult, Unanswered]:
        """The user's answer to the question of ``result`` (asked in this call), the
        ``input_required`` answer that asks it, or `Unanswered`."""
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.elicitation is None:
            return Unanswered(declined=False)
        question = result.text or "The agent needs more input."
        if ctx.session.can_send_request:
            elicited = await ctx.elicit(f"The Higgsfield agent asks: {question}", Answer)
            if isinstance(elicited, AcceptedElicitation) and elicited.data.answer:
                return elicited.data.answer
            return Unanswered(declined=True)
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            request = ElicitRequest(
                params=ElicitRequestFormParams(
                    message=f"The Higgsfield agent asks: {question}",
                    requested_schema=render_elicitation_schema(Answer),
                )
            )
            state = json.dumps({"session_id": result.session_id, "question": question})
            return InputRequiredResult(input_requests={_ANSWER_KEY: request}, request_state=state)
        return Unanswered(declined=False)


def _round_state(ctx: Context[Any, Any]) -> Optional[Dict[str, Any]]:
    """The state of an ``input_required`` round this call finishes, or None for a first call.

    The state was written by `AgentTurns._ask`; the MCP SDK seals it on the way out and refuses
    a round whose state it did not seal, so what comes back is what was written.
    """
    if ctx.request_state is None:
        return None
    state: Dict[str, Any] = json.loads(ctx.request_state)
    return state


def _accepted(ctx: Context[Any, Any]) -> Optional[str]:
    responses = ctx.input_responses or {}
    response = responses.get(_ANSWER_KEY)
    if not isinstance(response, ElicitResult) or response.action != "accept" or not response.content:
        return None
    answer = response.content.get("answer")
    return str(answer) if answer else None


def _question(session_id: str, question: str, *, declined: bool) -> Dict[str, Any]:
    how = "The user declined to answer. " if declined else ""
    return {
        "status": "awaiting_input",
        "session_id": session_id,
        "question": question,
        "next": (
            f"{how}The agent asks the question above. Ask the user, then call agent_run with "
            "this session_id and the answer as text."
        ),
    }


def _outcome(result: TurnResult) -> Dict[str, Any]:
    described: Dict[str, Any] = {
        "status": result.status,
        "session_id": result.session_id,
        "message_id": result.message_id,
        "text": result.text,
        "asset_urls": result.asset_urls,
    }
    if result.cost_usd is not None:
        described["cost_usd"] = str(result.cost_usd)
    return described
