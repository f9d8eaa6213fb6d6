"""How the ``higgsfield-sansio`` command reports an error: its exit code, a line for people, a JSON
document."""

from __future__ import annotations

from typing import Dict, Optional

from higgsfield_proto import (
    AgentAccessDeniedError,
    AgentTimeoutError,
    AgentTurnFailedError,
    AuthenticationError,
    CredentialsMissedError,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobNSFWError,
    SessionBusyError,
    TransportError,
    ValidationError,
    WaitTimeoutError,
)

from .._version import COMMAND
from ._commands import FetchFailed, UsageError, WaitInterrupted
from ._output import Console, write_json

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTHENTICATION = 3
EXIT_FAILED = 4
EXIT_NSFW = 5
EXIT_CANCELLED = 6
EXIT_TIMEOUT = 7
EXIT_NETWORK = 8
EXIT_INTERRUPTED = 130


class TurnInterrupted(Exception):
    """Ctrl-C during an agent's turn: the turn was stopped through the API, or could not be.

    ``failure`` says why the interrupt failed (None when the turn was stopped).
    """

    def __init__(self, session_id: str, failure: Optional[str] = None) -> None:
        super().__init__("interrupted during the agent's turn")
        self.session_id = session_id
        self.failure = failure


# Most specific first: the first matching class decides.
_EXIT_CODES = (
    (UsageError, EXIT_USAGE),
    (WaitInterrupted, EXIT_INTERRUPTED),
    (TurnInterrupted, EXIT_INTERRUPTED),
    (AuthenticationError, EXIT_AUTHENTICATION),
    (AgentAccessDeniedError, EXIT_AUTHENTICATION),
    (AgentTurnFailedError, EXIT_FAILED),
    (AgentTimeoutError, EXIT_TIMEOUT),
    (CredentialsMissedError, EXIT_AUTHENTICATION),
    (JobFailedError, EXIT_FAILED),
    (JobNSFWError, EXIT_NSFW),
    (JobCancelledError, EXIT_CANCELLED),
    (WaitTimeoutError, EXIT_TIMEOUT),
    (TransportError, EXIT_NETWORK),
    (InvalidArgumentError, EXIT_USAGE),
)
# What an error may carry that a script wants, in the order its JSON lists them.
_FIELDS = (
    "request_id",
    "idempotency_key",
    "session_id",
    "message_id",
    "url",
    "status",
    "status_code",
    "correlation_id",
    "error",
)


def exit_code_for(error: BaseException) -> int:
    """The exit code that reports ``error``."""
    if isinstance(error, FetchFailed):
        return exit_code_for(error.cause)
    if isinstance(error, ValidationError) and error.local:
        return EXIT_USAGE  # checked against the catalog: nothing was sent
    for cls, code in _EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR


def message_for(error: BaseException) -> str:
    """What to tell a person at a terminal about ``error``, in the command line's own terms."""
    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, FetchFailed):
        return f"cannot download {error.url}: {message_for(error.cause)}"
    if isinstance(error, CredentialsMissedError):
        return (
            "no Higgsfield credentials: pass --api-key ID:SECRET, or set HF_KEY "
            "(or HF_API_KEY and HF_API_SECRET)"
        )
    if isinstance(error, InvalidArgumentError) and "allow_insecure_http" in str(error):
        return str(error).replace("allow_insecure_http=True", "--allow-insecure-http")
    if isinstance(error, FileExistsError):
        return f"{error.filename} exists already; pass --overwrite to replace it"
    if isinstance(error, ValidationError) and error.local:
        return f"{error}. --no-validate submits without this check"
    if isinstance(error, WaitInterrupted):
        if error.request_id is None:
            return (
                "interrupted before the submit was answered; the job may have been created: run the "
                f"same command with --idempotency-key {error.idempotency_key} to find it, not create another"
            )
        return (
            f"interrupted; job {error.request_id} goes on. Resume with: higgsfield-sansio result "
            f"{error.request_id}   Cancel with: higgsfield-sansio cancel {error.request_id}"
        )
    if isinstance(error, TurnInterrupted):
        if error.failure is None:
            return (
                f"interrupted: the agent's turn was stopped (session {error.session_id}). Continue the "
                f"session with: higgsfield-sansio agent ask --session {error.session_id} TEXT"
            )
        return (
            f"interrupted, but the agent's turn could not be stopped ({error.failure}); it may go on "
            f"(session {error.session_id}). Stop it with: higgsfield-sansio agent interrupt --session "
            f"{error.session_id}"
        )
    if isinstance(error, AgentTimeoutError):
        return (
            f"no answer within --timeout; the agent's turn goes on (session {error.session_id}, "
            f"message {error.message_id}). Wait for it with: higgsfield-sansio agent wait --session "
            f"{error.session_id}   Stop it with: higgsfield-sansio agent interrupt --session "
            f"{error.session_id}"
        )
    if isinstance(error, SessionBusyError):
        return (
            f"{type(error).__name__}: {error}. The session's last turn is still running: "
            "higgsfield-sansio agent wait --session ID waits for it, "
            "higgsfield-sansio agent interrupt --session ID stops it"
        )
    return f"{type(error).__name__}: {error}"


def describe(error: BaseException, code: int) -> Dict[str, object]:
    """``error`` as the JSON object a script reads: its type, message, exit code and ids."""
    inner = error.cause if isinstance(error, FetchFailed) else error
    described: Dict[str, object] = {
        "type": type(inner).__name__,
        "message": message_for(error),
        "exit_code": code,
    }
    for name in _FIELDS:
        value = getattr(error, name, None)
        if value is None:
            value = getattr(inner, name, None)
        if value is not None:
            described[name] = value
    return described


def report(console: Console, error: BaseException, code: int, *, compact: bool = False) -> None:
    """Say ``error`` on stderr, and under ``--json`` also as ``{"error": ...}`` on stdout (on one
    line when ``compact``, as in a stream of JSON lines)."""
    prefix = f"{COMMAND}: error: " if isinstance(error, UsageError) else f"{COMMAND}: "
    console.note(prefix + message_for(error))
    if console.json:
        write_json(console.out, {"error": describe(error, code)}, compact=compact)
