"""``client.agents``: the Agent API, a drop-in for the official ``client.agents`` and better.

The sync and async classes repeat signatures and docstrings only: each method builds its ``Call``
in ``._calls`` and hands it to the run function of the client it belongs to.

The official module's names are here too: ``AgentsResource``, ``Sessions`` and ``Media`` are
``SyncAgents``, ``SyncSessions`` and ``SyncMedia``, and ``AsyncAgentsResource`` is
``AsyncAgents``. Each class also takes the official constructor's arguments (an httpx client,
the upload client where the official takes one, and the base URL), and then sends the API's
requests through that client with the credentials of its ``Authorization`` header (else the
environment's), and the media PUT through the upload client.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Awaitable, Optional, Protocol, Tuple, TypeVar, overload

from higgsfield_proto import (
    AgentError,
    AgentSession,
    AgentTimeoutError,
    SessionState,
    SessionStatus,
    TurnResult,
)

from .._runner import Call
from .._settings import Settings
from .._uploads import Progress
from ._calls import AgentCalls, MediaData, QuestionHandler, UpdateHandler
from .errors import raise_for_agent_status

if TYPE_CHECKING:
    import httpx

__all__ = [
    "DEFAULT_TURN_TIMEOUT",
    "AgentError",
    "AgentSession",
    "AgentTimeoutError",
    "AgentsResource",
    "AsyncAgents",
    "AsyncAgentsResource",
    "AsyncMedia",
    "AsyncRun",
    "AsyncSessions",
    "Media",
    "QuestionHandler",
    "SessionState",
    "SessionStatus",
    "Sessions",
    "SyncAgents",
    "SyncMedia",
    "SyncRun",
    "SyncSessions",
    "TurnResult",
    "raise_for_agent_status",
]

R = TypeVar("R")


class SyncRun(Protocol):
    """Runs a call to its end in this thread: a SyncClient's ``_run``."""

    def __call__(self, call: Call[Any, R], /) -> R: ...


class AsyncRun(Protocol):
    """Runs a call under asyncio or trio: an AsyncClient's ``_run``."""

    def __call__(self, call: Call[Any, R], /) -> Awaitable[R]: ...

DEFAULT_TURN_TIMEOUT = 1800.0
"""Seconds a turn may take in ``run`` and ``wait`` (the official default)."""


def _sending_through(sdk: Any, client: Any, upload_client: Any) -> None:
    """Make ``sdk`` send as the official resources do: the API's requests through ``client``, the
    media PUT through ``upload_client`` (the client's own upload client when None)."""
    sdk.__dict__["_client"] = client  # as code written for the official client sets it
    if upload_client is not None:
        sdk.__dict__["_upload_client"] = upload_client


def _sync_parts(
    client: httpx.Client, upload_client: Optional[httpx.Client], base_url: str
) -> Tuple[SyncRun, AgentCalls]:
    """The run function and calls of the official constructors' ``(client, [upload_client,]
    base_url)``."""
    from .._sync import SyncClient  # the core client, made here only for the official shape

    sdk = SyncClient(base_url=base_url)  # the key of the client's header, as officially
    _sending_through(sdk, client, upload_client)
    return sdk._run, AgentCalls(sdk._calls.settings)


def _async_parts(
    client: httpx.AsyncClient, upload_client: Optional[httpx.AsyncClient], base_url: str
) -> Tuple[AsyncRun, AgentCalls]:
    """``_sync_parts`` for an ``httpx.AsyncClient``."""
    from .._async import AsyncClient

    sdk = AsyncClient(base_url=base_url)
    _sending_through(sdk, client, upload_client)
    return sdk._run, AgentCalls(sdk._calls.settings)


class SyncSessions:
    """Agent sessions from plain Python: ``client.agents.sessions`` (the official ``Sessions``).

    ``Sessions(client, base_url)``, the official constructor, sends through the ``httpx.Client``
    ``client``.
    """

    @overload
    def __init__(self, run: SyncRun, calls: AgentCalls) -> None: ...

    @overload
    def __init__(self, run: httpx.Client, calls: str) -> None: ...

    def __init__(self, run: Any, calls: Any) -> None:
        if isinstance(calls, str):  # the official (client, base_url)
            run, calls = _sync_parts(run, None, calls)
        self._run: SyncRun = run
        self._calls: AgentCalls = calls

    def create(self, config: Optional[Mapping[str, Any]] = None) -> AgentSession:
        """Open a session; a missing or empty ``config`` is sent as ``{}``.

        Not sent again after a failure that may have reached the API (a repeat could open a
        second session).
        """
        return self._run(self._calls.create(config))

    def send(self, session_id: str, content: str) -> str:
        """Send a message (1 to 20,000 characters, checked before sending); returns its id.

        Sent again only when the network failed before a byte of it left: a repeated message is
        a second, billed turn.
        """
        return self._run(self._calls.send(session_id, content))

    def messages(self, session_id: str, after: Optional[str] = None) -> SessionState:
        """The session's status and its rows, all of them or those after the message ``after``.

        An unknown session status is kept as its string rather than refused.
        """
        return self._run(self._calls.messages(session_id, after))

    def interrupt(self, session_id: str) -> None:
        """Stop the session's running turn (a ``run`` waiting for it then ends, ``idle``)."""
        self._run(self._calls.interrupt(session_id))

    def run(
        self,
        session_id: str,
        content: str,
        on_question: Optional[QuestionHandler] = None,
        timeout: float = DEFAULT_TURN_TIMEOUT,
        *,
        raise_on_failure: bool = False,
        on_update: Optional[UpdateHandler] = None,
    ) -> TurnResult:
        """Send ``content`` and wait for the turn to end; returns how it ended.

        The turn ends with the latest terminal answer row (``completed`` or ``failed``), or when
        the session goes back to ``idle`` or ``terminated`` without one (an interrupt). A
        question (``awaiting_input``) is handed to ``on_question(text)``, whose answer is sent
        (once per question); without ``on_question`` it ends the turn as ``awaiting_input``.
        Network failures, 429 and 5xx while waiting are polled through. The result carries the
        turn's cost when the API gives it.

        Args:
            session_id: the session.
            content: the message, 1 to 20,000 characters.
            on_question: answers the agent's questions (a plain function here).
            timeout: seconds for the whole turn, from before the message is sent.
            raise_on_failure: raise ``AgentTurnFailedError`` for a failed turn instead of
                returning it (the official client returns it).
            on_update: called with the ``SessionState`` of each poll (a live status line).

        Raises:
            InvalidArgumentError: ``timeout`` is not positive, bad content, or a coroutine
                function as ``on_question``: nothing is sent.
            AgentTimeoutError: the turn did not end in time; it keeps running, and its
                ``session_id`` and ``message_id`` resume the wait with ``wait``.
            SessionBusyError, AgentAccessDeniedError, InsufficientCreditsError, ...: the API
                refused the message.
        """
        call = self._calls.run(
            session_id,
            content,
            on_question=on_question,
            on_update=on_update,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            blocking=True,
        )
        return self._run(call)

    def wait(
        self,
        session_id: str,
        message_id: str,
        on_question: Optional[QuestionHandler] = None,
        timeout: float = DEFAULT_TURN_TIMEOUT,
        *,
        raise_on_failure: bool = False,
        on_update: Optional[UpdateHandler] = None,
    ) -> TurnResult:
        """Wait for the turn of a message already sent, as ``run`` does after sending it.

        ``message_id`` is the last message of the turn (``AgentTimeoutError.message_id``).
        """
        call = self._calls.wait(
            session_id,
            message_id,
            on_question=on_question,
            on_update=on_update,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            blocking=True,
        )
        return self._run(call)


class SyncMedia:
    """Media for agent messages from plain Python: ``client.agents.media`` (the official ``Media``).

    ``Media(client, upload_client, base_url)``, the official constructor, sends through the
    ``httpx.Client`` ``client``, and the PUT of the bytes through ``upload_client``.
    """

    @overload
    def __init__(self, run: SyncRun, calls: AgentCalls) -> None: ...

    @overload
    def __init__(self, run: httpx.Client, calls: httpx.Client, base_url: str) -> None: ...

    def __init__(self, run: Any, calls: Any, base_url: Optional[str] = None) -> None:
        if base_url is not None:  # the official (client, upload_client, base_url)
            run, calls = _sync_parts(run, calls, base_url)
        self._run: SyncRun = run
        self._calls: AgentCalls = calls

    def upload(
        self, data: MediaData, extension: str, type: str = "image", *, progress: Optional[Progress] = None
    ) -> str:
        """Upload media and return the URL to put into a message's text.

        Args:
            data: bytes, a path (``str`` or ``pathlib.Path``, streamed from disk) or a binary
                file object (streamed).
            extension: the file extension (``jpeg``, ``png``, ``mp4``...).
            type: ``image``, ``video``, ``audio`` or ``file``.
            progress: called as ``progress(bytes_sent, total_bytes)`` during the PUT.

        The PUT carries the slot's headers and no credentials; no error message holds the
        signed upload URL.
        """
        return self._run(self._calls.upload(data, extension, type, progress))


class SyncAgents:
    """``client.agents``: ``sessions`` and ``media`` (the official ``AgentsResource``).

    ``AgentsResource(client, upload_client, base_url)``, the official constructor, sends through
    the ``httpx.Client`` ``client``.
    """

    @overload
    def __init__(self, settings: Settings, run: SyncRun) -> None: ...

    @overload
    def __init__(self, settings: httpx.Client, run: httpx.Client, base_url: str) -> None: ...

    def __init__(self, settings: Any, run: Any, base_url: Optional[str] = None) -> None:
        if base_url is not None:  # the official (client, upload_client, base_url)
            run, calls = _sync_parts(settings, run, base_url)
        else:
            settings.config  # noqa: B018 - the official property looks credentials up
            calls = AgentCalls(settings)
        self.sessions = SyncSessions(run, calls)
        self.media = SyncMedia(run, calls)


class AsyncSessions:
    """Agent sessions under asyncio or trio: ``client.agents.sessions`` (see ``SyncSessions``).

    ``AsyncSessions(client, base_url)``, the official constructor, sends through the
    ``httpx.AsyncClient`` ``client``.
    """

    @overload
    def __init__(self, run: AsyncRun, calls: AgentCalls) -> None: ...

    @overload
    def __init__(self, run: httpx.AsyncClient, calls: str) -> None: ...

    def __init__(self, run: Any, calls: Any) -> None:
        if isinstance(calls, str):  # the official (client, base_url)
            run, calls = _async_parts(run, None, calls)
        self._run: AsyncRun = run
        self._calls: AgentCalls = calls

    async def create(self, config: Optional[Mapping[str, Any]] = None) -> AgentSession:
        """Open a session (see ``SyncSessions.create``)."""
        return await self._run(self._calls.create(config))

    async def send(self, session_id: str, content: str) -> str:
        """Send a message; returns its id (see ``SyncSessions.send``)."""
        return await self._run(self._calls.send(session_id, content))

    async def messages(self, session_id: str, after: Optional[str] = None) -> SessionState:
        """The session's status and rows (see ``SyncSessions.messages``)."""
        return await self._run(self._calls.messages(session_id, after))

    async def interrupt(self, session_id: str) -> None:
        """Stop the session's running turn."""
        await self._run(self._calls.interrupt(session_id))

    async def run(
        self,
        session_id: str,
        content: str,
        on_question: Optional[QuestionHandler] = None,
        timeout: float = DEFAULT_TURN_TIMEOUT,
        *,
        raise_on_failure: bool = False,
        on_update: Optional[UpdateHandler] = None,
    ) -> TurnResult:
        """Send ``content`` and wait for the turn to end (see ``SyncSessions.run``).

        ``on_question`` may be a plain function or a coroutine function. A coroutine function is
        awaited; a plain one runs in a worker thread (``anyio.to_thread``), so that a blocking
        answer (``input()``, a database) never blocks the event loop.
        """
        call = self._calls.run(
            session_id,
            content,
            on_question=on_question,
            on_update=on_update,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            blocking=False,
        )
        return await self._run(call)

    async def wait(
        self,
        session_id: str,
        message_id: str,
        on_question: Optional[QuestionHandler] = None,
        timeout: float = DEFAULT_TURN_TIMEOUT,
        *,
        raise_on_failure: bool = False,
        on_update: Optional[UpdateHandler] = None,
    ) -> TurnResult:
        """Wait for the turn of a message already sent (see ``SyncSessions.wait``)."""
        call = self._calls.wait(
            session_id,
            message_id,
            on_question=on_question,
            on_update=on_update,
            timeout=timeout,
            raise_on_failure=raise_on_failure,
            blocking=False,
        )
        return await self._run(call)


class AsyncMedia:
    """Media for agent messages under asyncio or trio (see ``SyncMedia``).

    ``AsyncMedia(client, upload_client, base_url)``, the official constructor, sends through the
    ``httpx.AsyncClient`` ``client``.
    """

    @overload
    def __init__(self, run: AsyncRun, calls: AgentCalls) -> None: ...

    @overload
    def __init__(self, run: httpx.AsyncClient, calls: httpx.AsyncClient, base_url: str) -> None: ...

    def __init__(self, run: Any, calls: Any, base_url: Optional[str] = None) -> None:
        if base_url is not None:  # the official (client, upload_client, base_url)
            run, calls = _async_parts(run, calls, base_url)
        self._run: AsyncRun = run
        self._calls: AgentCalls = calls

    async def upload(
        self, data: MediaData, extension: str, type: str = "image", *, progress: Optional[Progress] = None
    ) -> str:
        """Upload media and return the URL to put into a message (see ``SyncMedia.upload``)."""
        return await self._run(self._calls.upload(data, extension, type, progress))


class AsyncAgents:
    """``client.agents`` of an ``AsyncClient``: ``sessions`` and ``media`` (the official
    ``AsyncAgentsResource``).

    ``AsyncAgentsResource(client, upload_client, base_url)``, the official constructor, sends
    through the ``httpx.AsyncClient`` ``client``.
    """

    @overload
    def __init__(self, settings: Settings, run: AsyncRun) -> None: ...

    @overload
    def __init__(self, settings: httpx.AsyncClient, run: httpx.AsyncClient, base_url: str) -> None: ...

    def __init__(self, settings: Any, run: Any, base_url: Optional[str] = None) -> None:
        if base_url is not None:  # the official (client, upload_client, base_url)
            run, calls = _async_parts(settings, run, base_url)
        else:
            settings.config  # noqa: B018 - the official property looks credentials up
            calls = AgentCalls(settings)
        self.sessions = AsyncSessions(run, calls)
        self.media = AsyncMedia(run, calls)


AgentsResource = SyncAgents
"""The official name of ``SyncAgents``."""
AsyncAgentsResource = AsyncAgents
"""The official name of ``AsyncAgents``."""
Sessions = SyncSessions
"""The official name of ``SyncSessions``."""
Media = SyncMedia
"""The official name of ``SyncMedia``."""
