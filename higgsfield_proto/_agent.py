"""The Agent API's values, endpoints, builders and parsers. No I/O happens here.

The official SDK's types keep their names, fields and positional order (``AgentMessage``,
``SessionState``, ``TurnResult``, ``AgentSession``), so that code written for it runs unchanged;
they are frozen and slotted like every value of the core.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Union
from urllib.parse import urlencode

from ._config import ApiConfig
from ._endpoints import Endpoint, ErrorTable
from ._errors import (
    AgentAccessDeniedError,
    AgentBackendError,
    AgentInsufficientCreditsError,
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    SessionBusyError,
    ValidationError,
)
from ._http import Body, Request, Response
from ._parse import error_from_response, protocol_error

MAX_CONTENT = 20_000
"""The longest message the Agent API accepts, in characters."""
MEDIA_TYPES = ("image", "video", "audio", "file")
"""The kinds of media an agent message can refer to (``media.upload``'s ``kind``)."""
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,16}")
# http(s) URLs in an answer's text, ending at whitespace, a closing bracket or a quote.
_URL = re.compile(r"https?://[^\s)\]>\"']+")


class SessionStatus(str, enum.Enum):
    """The states of an agent session, spelled as on the wire."""

    IDLE = "idle"
    PROCESSING = "processing"
    AWAITING_INPUT = "awaiting_input"
    TERMINATED = "terminated"


class MessageStatus(str, enum.Enum):
    """The states of a message row, spelled as on the wire."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


_TERMINAL = (MessageStatus.COMPLETED, MessageStatus.FAILED)


def _session_status(value: object) -> Union[SessionStatus, str]:
    """A known status as the enum; an unknown one kept as its string (forward compatible)."""
    if value is None:
        return SessionStatus.IDLE
    if not isinstance(value, str):
        raise ValueError(f"session status is {type(value).__name__}, not a string")
    try:
        return SessionStatus(value)
    except ValueError:
        return value


def _message_status(value: object) -> Union[MessageStatus, str]:
    if not isinstance(value, str):
        raise ValueError(f"message status is {type(value).__name__}, not a string")
    try:
        return MessageStatus(value)
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class AgentMessage:
    """One row of a session's history.

    Attributes:
        message_id: the row's id.
        role: ``user`` or ``assistant``.
        status: a ``MessageStatus`` (or the server's string, if it is a new one).
        message: the body as sent: ``{"type": "text", "text": ...}`` for a user row, a ``parts``
            list for an assistant row.
        created_at: the server's timestamp, verbatim (empty when absent).
        llm_cost_usd: the turn's cost as a decimal string, on a settled user row.
    """

    message_id: str
    role: str
    status: Union[MessageStatus, str]
    message: Mapping[str, Any] = field(default_factory=dict, hash=False)
    created_at: str = ""
    llm_cost_usd: Optional[str] = None

    @property
    def text(self) -> str:
        """The text: the body's ``text``, else its ``text`` parts joined with a newline."""
        text = self.message.get("text")
        if isinstance(text, str):
            return text
        parts = self.message.get("parts")
        if not isinstance(parts, list):
            return ""
        return "\n".join(
            part["text"]
            for part in parts
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )

    @property
    def asset_urls(self) -> list[str]:
        """The http(s) URLs in ``text``, in order, without repeats (a trailing ``.,;`` dropped)."""
        return _urls(self.text)

    @property
    def is_terminal(self) -> bool:
        """True for a row that ended: ``completed`` or ``failed``."""
        return self.status in _TERMINAL


def _urls(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for match in _URL.findall(text):
        seen.setdefault(match.rstrip(".,;"), None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class SessionState:
    """A session's status and the history rows asked for."""

    status: Union[SessionStatus, str]
    messages: tuple[AgentMessage, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentSession:
    """A session: its id and its status when it was created."""

    session_id: str
    status: Union[SessionStatus, str] = SessionStatus.IDLE


@dataclass(frozen=True, slots=True)
class TurnResult:
    """How a turn ended.

    Attributes:
        status: ``completed`` or ``failed`` (the answer's row), ``awaiting_input`` (a question
            nobody answered), or the session's status when the turn ended without an answer row
            (``idle`` after an interrupt, ``terminated``).
        message: the answer's row, or the question's; None when there is none.
        session_id: the session.
        message_id: the user message that started the turn.
        cost_usd: the turn's cost (its user rows' ``llm_cost_usd`` added up), when the API gave it.
    """

    status: str
    message: Optional[AgentMessage] = None
    session_id: Optional[str] = None
    message_id: Optional[str] = None
    cost_usd: Optional[Decimal] = None

    @property
    def text(self) -> str:
        """The answer's text (empty without a message)."""
        return self.message.text if self.message is not None else ""

    @property
    def asset_urls(self) -> list[str]:
        """The http(s) URLs in the answer's text."""
        return self.message.asset_urls if self.message is not None else []

    @property
    def failed(self) -> bool:
        """True when the turn ended ``failed``."""
        return self.status == MessageStatus.FAILED


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaSlot:
    """A media upload slot: PUT the bytes to ``upload_url``, confirm, then use ``url``.

    ``upload_headers`` are the headers the PUT carries: the slot's own, else its Content-Type.
    """

    media_id: str
    type: str
    content_type: str
    upload_url: str
    url: str
    upload_headers: tuple[tuple[str, str], ...]

    def __repr__(self) -> str:
        # The upload URL embeds a signature: a bearer secret while it is valid.
        return f"MediaSlot(media_id={self.media_id!r}, type={self.type!r}, url={self.url!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnUpdate:
    """Notify event: one poll of a turn saw the session in ``state``."""

    session_id: str
    state: SessionState


AGENT_ERRORS = ErrorTable(
    by_status={
        400: ValidationError,
        401: AuthenticationError,
        402: AgentInsufficientCreditsError,
        403: AgentAccessDeniedError,
        404: NotFoundError,
        409: SessionBusyError,
        422: ValidationError,
        429: RateLimitError,
    },
    server=AgentBackendError,
)
"""The Agent API: 402 is insufficient credits, 403 access denied, 409 a session busy."""

SESSIONS = Endpoint(
    name="agent session",
    method="POST",
    path="v1/agent/sessions",
    errors=AGENT_ERRORS,
    repeatable=False,  # a repeat could open a second session
)
MESSAGE = Endpoint(
    name="agent message",
    method="POST",
    path="v1/agent/sessions/{session_id}/messages",
    errors=AGENT_ERRORS,
    repeatable=False,  # a repeated message is a second, billed turn
)
MESSAGES = Endpoint(
    name="agent messages",
    method="GET",
    path="v1/agent/sessions/{session_id}/messages",
    errors=AGENT_ERRORS,
    repeatable=True,
)
INTERRUPT = Endpoint(
    name="agent interrupt",
    method="POST",
    path="v1/agent/sessions/{session_id}/interrupt",
    errors=AGENT_ERRORS,
    repeatable=True,  # interrupting twice stops the same turn
)
MEDIA = Endpoint(
    name="agent media",
    method="POST",
    path="v1/agent/media",
    errors=AGENT_ERRORS,
    repeatable=True,  # an unused slot costs nothing
)
MEDIA_CONFIRM = Endpoint(
    name="agent media confirm",
    method="POST",
    path="v1/agent/media/{media_id}/confirm",
    errors=AGENT_ERRORS,
    repeatable=True,
)


def _json(value: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"not JSON-serialisable: {exc}") from None


def check_content(content: object) -> str:
    """``content`` if it is a message the API accepts: text of 1 to 20,000 characters.

    Raises:
        InvalidArgumentError: not a string, empty, or longer.
    """
    if not isinstance(content, str):
        raise InvalidArgumentError(f"content must be text, got {type(content).__name__}")
    if not 1 <= len(content) <= MAX_CONTENT:
        raise InvalidArgumentError(f"content must be 1 to {MAX_CONTENT} characters, got {len(content)}")
    return content


def build_session_request(config: ApiConfig, agent_config: Optional[Mapping[str, Any]] = None) -> Request:
    """Build ``POST {base}/v1/agent/sessions``; a missing or empty config is sent as ``{}``.

    Raises:
        InvalidArgumentError: a config that is not a JSON-serialisable mapping.
    """
    if agent_config is not None and not isinstance(agent_config, Mapping):
        raise InvalidArgumentError(f"config must be a mapping, got {type(agent_config).__name__}")
    return SESSIONS.request(config, body=_json({"config": dict(agent_config or {})}))


def build_message_request(config: ApiConfig, session_id: str, content: str) -> Request:
    """Build ``POST {base}/v1/agent/sessions/{id}/messages`` (the content checked first).

    Raises:
        InvalidArgumentError: a bad session id, or content outside 1 to 20,000 characters.
    """
    body = _json({"content": check_content(content)})
    return MESSAGE.request(config, session_id=session_id, body=body)


def build_messages_request(config: ApiConfig, session_id: str, after: Optional[str] = None) -> Request:
    """Build ``GET {base}/v1/agent/sessions/{id}/messages[?after=<message id>]``."""
    query = urlencode({"after": after}) if after else ""
    return MESSAGES.request(config, session_id=session_id, query=query)


def build_interrupt_request(config: ApiConfig, session_id: str) -> Request:
    """Build ``POST {base}/v1/agent/sessions/{id}/interrupt`` (no body)."""
    return INTERRUPT.request(config, session_id=session_id)


def build_media_request(config: ApiConfig, extension: str, type: str = "image") -> Request:
    """Build ``POST {base}/v1/agent/media`` asking for a slot of ``type`` and ``extension``.

    Raises:
        InvalidArgumentError: a type outside image, video, audio and file, or an extension that
            is not 1 to 16 letters and digits.
    """
    if type not in MEDIA_TYPES:
        raise InvalidArgumentError(f"media type must be one of {', '.join(MEDIA_TYPES)}, got {type!r}")
    if not isinstance(extension, str) or not _EXTENSION.fullmatch(extension.lstrip(".")):
        raise InvalidArgumentError(f"invalid file extension {extension!r}")
    return MEDIA.request(config, body=_json({"extension": extension.lstrip("."), "type": type}))


def build_media_put_request(slot: MediaSlot, body: Body) -> Request:
    """Build the presigned ``PUT`` of a media slot: its headers, never a credential."""
    return Request(method="PUT", url=slot.upload_url, headers=slot.upload_headers, body=body)


def build_media_confirm_request(config: ApiConfig, slot: MediaSlot) -> Request:
    """Build ``POST {base}/v1/agent/media/{id}/confirm`` for an uploaded slot."""
    return MEDIA_CONFIRM.request(config, media_id=slot.media_id, body=_json({"type": slot.type}))


def _object(response: Response, what: str) -> dict[str, Any]:
    if not 200 <= response.status < 300:
        raise error_from_response(response, errors=AGENT_ERRORS)
    try:
        data = json.loads(response.body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise protocol_error(response, f"{what}: expected a JSON object")
    return data


def _text(data: Mapping[str, Any], name: str, response: Response, what: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise protocol_error(response, f"{what}: {name} is missing or not text")
    return value


def parse_session_response(response: Response) -> AgentSession:
    """Read a session create answer (201 ``{"session_id", "status"}``).

    Raises:
        AgentError subclasses / APIError: an error status. ProtocolError: no session id.
    """
    data = _object(response, "agent session")
    try:
        status = _session_status(data.get("status"))
    except ValueError as exc:
        raise protocol_error(response, f"agent session: {exc}") from None
    return AgentSession(_text(data, "session_id", response, "agent session"), status)


def parse_message_response(response: Response) -> str:
    """Read a message answer (202 ``{"message_id", "status"}``); returns the message id."""
    return _text(_object(response, "agent message"), "message_id", response, "agent message")


def agent_message_from_row(row: object) -> AgentMessage:
    """Read one history row.

    Raises:
        ProtocolError: not an object, or without ``message_id``, ``role`` or ``status`` text.
    """
    if not isinstance(row, dict):
        raise ProtocolError(f"a message row is {type(row).__name__}, not an object")
    try:
        message_id, role = row["message_id"], row["role"]
        if not isinstance(message_id, str) or not isinstance(role, str):
            raise ValueError("message_id and role must be text")
        status = _message_status(row["status"])
    except (KeyError, ValueError) as exc:
        raise ProtocolError(f"a message row is malformed: {exc}") from None
    body = row.get("message")
    cost = row.get("llm_cost_usd")
    created = row.get("created_at")
    return AgentMessage(
        message_id,
        role,
        status,
        body if isinstance(body, dict) else {},
        created if isinstance(created, str) else "",
        cost if isinstance(cost, str) else None,
    )


def parse_messages_response(response: Response) -> SessionState:
    """Read a history answer: the session's status (idle when absent) and the rows.

    Raises:
        AgentError subclasses / APIError: an error status. ProtocolError: a malformed answer.
    """
    data = _object(response, "agent messages")
    rows = data.get("messages", [])
    if not isinstance(rows, list):
        raise protocol_error(response, "agent messages: messages is not a list")
    try:
        status = _session_status(data.get("status"))
        messages = tuple(agent_message_from_row(row) for row in rows)
    except ValueError as exc:
        raise protocol_error(response, f"agent messages: {exc}") from None
    except ProtocolError as exc:
        raise protocol_error(response, f"agent messages: {exc}") from None
    return SessionState(status, messages)


def parse_interrupt_response(response: Response) -> None:
    """Accept any 2xx (its body, undocumented, is ignored)."""
    if not 200 <= response.status < 300:
        raise error_from_response(response, errors=AGENT_ERRORS)


def parse_media_response(response: Response) -> MediaSlot:
    """Read a media slot (``{"id", "type", "content_type", "upload_url", "url"}``)."""
    data = _object(response, "agent media slot")
    what = "agent media slot"
    content_type = _text(data, "content_type", response, what)
    headers = data.get("upload_headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise protocol_error(response, f"{what}: upload_headers is not a string mapping")
    upload_headers = tuple(headers.items()) or (("Content-Type", content_type),)
    slot = MediaSlot(
        media_id=_text(data, "id", response, what),
        type=_text(data, "type", response, what),
        content_type=content_type,
        upload_url=_text(data, "upload_url", response, what),
        url=_text(data, "url", response, what),
        upload_headers=upload_headers,
    )
    for name in ("upload_url", "url"):
        if not getattr(slot, name).startswith(("https://", "http://")):
            raise protocol_error(response, f"{what}: {name} is not an http(s) URL")
    return slot


def parse_media_confirm_response(response: Response) -> None:
    """Accept a confirmation whose ``status`` is ``uploaded``.

    Raises:
        ProtocolError: another status (the storage has not seen the bytes).
    """
    status = _object(response, "agent media confirm").get("status")
    if status != "uploaded":
        raise protocol_error(response, f"agent media confirm: status is {status!r}, not 'uploaded'")


def turn_cost(rows: tuple[AgentMessage, ...], message_ids: frozenset[str]) -> Optional[Decimal]:
    """The added ``llm_cost_usd`` of the rows named in ``message_ids``, or None if none has one."""
    costs: list[Decimal] = []
    for row in rows:
        if row.message_id in message_ids and row.llm_cost_usd is not None:
            try:
                costs.append(Decimal(row.llm_cost_usd))
            except InvalidOperation:
                continue
    return sum(costs, Decimal(0)) if costs else None
