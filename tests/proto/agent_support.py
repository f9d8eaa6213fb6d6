"""Wire fixtures of the Agent API for the protocol tests: rows, answers, a session's slices."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from higgsfield_proto import Response

SESSION_ID = "s-1f0c"
MESSAGE_ID = "m-user-1"


def user_row(
    message_id: str = MESSAGE_ID, status: str = "processing", cost: Optional[str] = None
) -> Dict[str, Any]:
    return {
        "message_id": message_id,
        "role": "user",
        "status": status,
        "message": {"type": "text", "text": "hello"},
        "created_at": "2026-09-01T00:00:00Z",
        "llm_cost_usd": cost,
    }


def assistant_row(message_id: str, status: str, text: str = "the answer") -> Dict[str, Any]:
    return {
        "message_id": message_id,
        "role": "assistant",
        "status": status,
        "message": {
            "parts": [
                {"type": "step-start"},
                {"type": "reasoning", "text": "thinking...", "state": "done"},
                {"type": "text", "text": text},
            ]
        },
        "created_at": "2026-09-01T00:00:01Z",
    }


def answer(payload: Any, status: int = 200) -> Response:
    return Response(
        status=status, headers=(("Content-Type", "application/json"),), body=json.dumps(payload).encode()
    )


def slice_of(status: str, *rows: Dict[str, Any]) -> Response:
    """A history answer: the session's status and the rows after the cursor."""
    return answer({"status": status, "messages": list(rows)})


def sent(message_id: str) -> Response:
    return answer({"message_id": message_id, "status": "processing"}, status=202)


def history(*rows: Dict[str, Any], status: str = "idle") -> Response:
    return slice_of(status, *rows)


def detail(status: int, text: str) -> Response:
    return answer({"detail": text}, status=status)


def rows_of(response: Response) -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = json.loads(response.body)["messages"]
    return rows
