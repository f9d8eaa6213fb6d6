"""What the tools answer: JSON documents as MCP tool results, errors with their fields, no secrets.

Every result is one JSON object, both as the tool's structured content and as its text (what an
LLM reads). An error is ``{"error": {"type": ..., "message": ..., ...}}`` with ``is_error`` set:
``type`` names the case (``invalid_arguments``, ``unknown_model``, ``budget_exceeded``, an API
error's class name...), and ``fields`` lists a validation error's fields in the API's 422 shape.

Before anything leaves the server, `Redactor` replaces the API key (and its secret) and the
signature parameters of any URL's query with ``[redacted]``; the SDK's own messages already leave
them out, and this keeps it so whatever a message quotes.
"""

from __future__ import annotations

import errno
import json
import re
from collections.abc import Mapping
from typing import Any, Dict, Iterable, List

from mcp_types import CallToolResult, ContentBlock, TextContent

from higgsfield_proto import APIError, FieldError, HiggsfieldError, UnknownModelError, ValidationError

from ._money import MoneyRefusal

REDACTED = "[redacted]"

# Query parameters that carry a URL's signature or credentials (S3, GCS, Azure, CloudFront...).
_SIGNED_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
    r"x-goog-credential|signature|sig|token|policy|key-pair-id|se|sp|sv|sr|skoid|sktid)=)[^&#\s\"'<>]*"
)


class Redactor:
    """Removes secrets from what the server sends: ``secrets`` verbatim, and URL signatures.

    Args:
        secrets: strings never to show (the API key and its secret); empty ones are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so that the whole key goes before a part of it could be matched.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def text(self, text: str) -> str:
        """``text`` without secrets and URL signatures."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _SIGNED_QUERY.sub(lambda match: match.group(1) + REDACTED, text)

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(item) for item in value]
        return value


class ToolFailure(Exception):
    """A failure a tool reports as its result: ``kind`` and ``details`` go into the error object."""

    def __init__(self, kind: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.details = details


def fields(errors: Iterable[FieldError]) -> List[Dict[str, Any]]:
    """A 422 field list as the API writes it: ``loc``, ``msg``, ``type``."""
    return [{"loc": list(error.loc), "msg": error.msg, "type": error.type} for error in errors]


def error_document(error: BaseException) -> Dict[str, Any]:
    """The ``error`` object that describes ``error`` to the model.

    Raises:
        BaseException: ``error`` itself when it is no failure a tool reports (a bug).
    """
    if isinstance(error, (ToolFailure, MoneyRefusal)):
        return {"type": error.kind, "message": str(error), **error.details}
    if isinstance(error, HiggsfieldError):
        return _sdk_error(error)
    if isinstance(error, FileExistsError):
        return {"type": "file_exists", "message": f"{error.filename} exists already", "path": error.filename}
    if isinstance(error, OSError):
        reason = error.strerror or errno.errorcode.get(error.errno or 0, "") or str(error)
        return {"type": "os_error", "message": f"{error.filename or ''}: {reason}".lstrip(": ")}
    raise error


def _sdk_error(error: HiggsfieldError) -> Dict[str, Any]:
    described: Dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, UnknownModelError):
        described.update(type="unknown_model", model_id=error.model_id)
        if error.foreign is not None:
            described["plane"] = error.foreign.plane
    elif isinstance(error, ValidationError):
        where = "locally, against the model catalog" if error.local else "by the API"
        described.update(type="invalid_arguments", fields=fields(error.errors), checked=where)
    if isinstance(error, APIError) and not getattr(error, "local", False):
        for name in ("status_code", "request_id", "correlation_id"):
            value = getattr(error, name, None)
            if value is not None:
                described[name] = value
    return described


class Answers:
    """Turns documents and failures into tool results, redacted."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def ok(self, document: Mapping[str, Any]) -> CallToolResult:
        """A successful result holding ``document``."""
        return self._result(dict(document), is_error=False)

    def error(self, error: BaseException) -> CallToolResult:
        """An error result describing ``error`` (see `error_document`)."""
        return self._result({"error": error_document(error)}, is_error=True)

    def _result(self, document: Dict[str, Any], *, is_error: bool) -> CallToolResult:
        clean = self.redactor.value(document)
        text = json.dumps(clean, indent=1, ensure_ascii=False)
        content: List[ContentBlock] = [TextContent(type="text", text=text)]
        return CallToolResult(content=content, structured_content=clean, is_error=is_error)

    def json(self, document: Any) -> str:
        """``document`` as redacted JSON text (a resource's contents)."""
        return json.dumps(self.redactor.value(document), indent=1, ensure_ascii=False)
