"""Every call of the Agent API, written once as a ``Call`` for the sync and async agent classes."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any, Callable, Optional, Union

from higgsfield_proto import (
    TURN_POLL,
    AgentSession,
    Body,
    FlowEnv,
    InvalidArgumentError,
    MediaSlot,
    SessionState,
    TurnResult,
    TurnUpdate,
    create_session_flow,
    interrupt_flow,
    media_upload_flow,
    messages_flow,
    run_turn_flow,
    send_message_flow,
    wait_turn_flow,
)

from .._runner import Call
from .._settings import Settings, jitter
from .._uploads import Progress, body_from_data, body_from_path

MediaData = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", Any]
"""What ``media.upload`` takes: bytes, a path (``str`` or ``pathlib.Path``) or a binary file."""
QuestionHandler = Callable[[str], Any]
"""``on_question(question_text)`` returns the answer's text (a coroutine function may, in async
code)."""
UpdateHandler = Callable[[SessionState], Any]
"""``on_update(state)`` sees each poll of a turn: the session's status and the new rows."""


def _updates(on_update: Optional[UpdateHandler]) -> Optional[Callable[[object], Any]]:
    if on_update is None:
        return None

    def handle(event: object) -> Any:
        return on_update(event.state) if isinstance(event, TurnUpdate) else None

    return handle


def _media_url(slot: MediaSlot) -> str:
    return slot.url


def media_body(data: MediaData, progress: Optional[Progress]) -> Body:
    """The body of a media upload: bytes as they are, a path or a binary file streamed.

    Raises:
        InvalidArgumentError: an unreadable path, or data of another kind.
    """
    if isinstance(data, (str, os.PathLike)):
        return body_from_path(data, progress)
    if isinstance(data, (bytes, bytearray, memoryview)) or hasattr(data, "read"):
        return body_from_data(data, progress)
    raise InvalidArgumentError(
        f"cannot upload {type(data).__name__}: pass bytes, a path or a binary file object"
    )


class AgentCalls:
    """Builds the ``Call`` of every Agent API operation from a client's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _env(self) -> FlowEnv:
        poll = self.settings.turn_poll or TURN_POLL
        return FlowEnv(retry=self.settings.current_retry(), poll=poll, jitter=jitter)

    def create(self, config: Optional[Mapping[str, Any]]) -> Call[AgentSession, AgentSession]:
        """Open a session."""
        return Call(flow=create_session_flow(self.settings.config, self._env(), config))

    def send(self, session_id: str, content: str) -> Call[str, str]:
        """Send a message; the call returns its id."""
        return Call(flow=send_message_flow(self.settings.config, session_id, content, self._env()))

    def messages(self, session_id: str, after: Optional[str]) -> Call[SessionState, SessionState]:
        """Read a session's status and rows."""
        return Call(flow=messages_flow(self.settings.config, session_id, self._env(), after))

    def interrupt(self, session_id: str) -> Call[None, None]:
        """Stop a session's running turn."""
        return Call(flow=interrupt_flow(self.settings.config, session_id, self._env()))

    def run(
        self,
        session_id: str,
        content: str,
        *,
        on_question: Optional[QuestionHandler],
        on_update: Optional[UpdateHandler],
        timeout: float,
        raise_on_failure: bool,
        blocking: bool,
    ) -> Call[TurnResult, TurnResult]:
        """Send ``content`` and wait for the turn.

        Args:
            blocking: the call runs in plain Python, where a coroutine function cannot answer:
                it is refused before anything is sent.

        Raises:
            InvalidArgumentError: an ``on_question`` the runner cannot call.
        """
        _check_handler(on_question, blocking)
        flow = run_turn_flow(
            self.settings.config,
            session_id,
            content,
            self._env(),
            timeout=timeout,
            answering=on_question is not None,
            raise_on_failure=raise_on_failure,
        )
        on_event = _updates(on_update)
        return Call(flow=flow, on_ask=on_question, on_event=on_event, action="turn", subject=session_id)

    def wait(
        self,
        session_id: str,
        message_id: str,
        *,
        on_question: Optional[QuestionHandler],
        on_update: Optional[UpdateHandler],
        timeout: float,
        raise_on_failure: bool,
        blocking: bool,
    ) -> Call[TurnResult, TurnResult]:
        """Wait for the turn of a message already sent (see ``run``)."""
        _check_handler(on_question, blocking)
        flow = wait_turn_flow(
            self.settings.config,
            session_id,
            message_id,
            self._env(),
            timeout=timeout,
            answering=on_question is not None,
            raise_on_failure=raise_on_failure,
        )
        on_event = _updates(on_update)
        return Call(flow=flow, on_ask=on_question, on_event=on_event, action="turn", subject=session_id)

    def upload(
        self, data: MediaData, extension: str, type: str, progress: Optional[Progress]
    ) -> Call[MediaSlot, str]:
        """Upload media; the call returns the URL to put into a message."""
        body = media_body(data, progress)
        flow = media_upload_flow(self.settings.config, body, extension, self._env(), type=type)
        return Call(flow=flow, finish=_media_url)


def _check_handler(on_question: Optional[QuestionHandler], blocking: bool) -> None:
    if on_question is None:
        return
    if not callable(on_question):
        raise InvalidArgumentError("on_question must be a function taking the question's text")
    if blocking and inspect.iscoroutinefunction(on_question):
        raise InvalidArgumentError(
            "on_question is a coroutine function: use AsyncClient, or pass a plain function"
        )
