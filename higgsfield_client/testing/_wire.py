"""HTTP helpers the emulator's route modules share: error bodies, body reading, JSON objects."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from aiohttp import web

# Typed request-storage keys where aiohttp has them (3.14+); plain strings before that.
_RequestKey: Any = getattr(web, "RequestKey", None)
CORRELATION_ID: Any = _RequestKey("correlation_id", str) if _RequestKey else "correlation_id"
BODY_LENGTH: Any = _RequestKey("body_length", int) if _RequestKey else "body_length"


def detail(status: int, message: Any, headers: Optional[Dict[str, str]] = None) -> web.Response:
    """A FastAPI-style error answer: ``{"detail": message}`` with ``status``."""
    return web.json_response({"detail": message}, status=status, headers=headers)


def loc_error(kind: str, loc: List[Any], msg: str, value: Any) -> Dict[str, Any]:
    """One pydantic v2-style validation error item, as the API answers a 422."""
    return {"type": kind, "loc": loc, "msg": msg, "input": value}


async def read_body(request: web.Request) -> bytes:
    """Read the whole request body and note its length for the journal."""
    raw = await request.read()
    request[BODY_LENGTH] = len(raw)
    return raw


def parse_object(raw: bytes) -> Tuple[Optional[Dict[str, Any]], List[Dict[str, Any]]]:
    """Decode a JSON object body; on failure return pydantic-style errors instead."""
    try:
        value = json.loads(raw) if raw.strip() else None
    except ValueError as exc:
        return None, [loc_error("json_invalid", ["body", 0], "JSON decode error", str(exc))]
    if not isinstance(value, dict):
        return None, [loc_error("dict_type", ["body"], "Input should be a valid dictionary", value)]
    return value, []


def s3_error(status: int, code: str, message: str) -> web.Response:
    """An S3-style XML error answer, as the storage host and the CDN give them."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>\n"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
