"""How a broken exchange becomes a ``TransportFailure``: the facts each adapter records, and the
rules that turn a library's exception into a failure kind. No adapter decides whether to repeat."""

from __future__ import annotations

import enum
import os
import socket
import ssl
from typing import Optional

from higgsfield_proto import FailureKind, TransportFailure


class Progress:
    """The facts of one exchange, recorded as it goes.

    Attributes:
        request_written: any byte of the request may have left (False only until then).
        reused_connection: the request went out on a kept-alive connection; None if unknown.
        response_started: any byte of the answer arrived.
    """

    __slots__ = ("request_written", "response_started", "reused_connection")

    def __init__(self, *, reused_connection: Optional[bool] = None) -> None:
        self.request_written = False
        self.reused_connection = reused_connection
        self.response_started = False

    def failure(self, kind: FailureKind, detail: str) -> TransportFailure:
        """A failure of ``kind`` carrying the facts recorded so far."""
        return TransportFailure(
            kind=kind,
            detail=detail,
            request_written=self.request_written,
            reused_connection=self.reused_connection,
            response_started=self.response_started,
        )


class Stage(enum.Enum):
    """Where a library exception put the exchange, as its adapter reads it."""

    CONNECT = "connect"
    """Opening the connection, a proxy tunnel included: nothing of the request left."""
    TLS = "tls"
    """The TLS handshake: nothing of the request left."""
    TIMEOUT = "timeout"
    """A read or write waited longer than the timeout."""
    EXCHANGE = "exchange"
    """Writing the request or reading the answer."""


def failure_for(
    exc: BaseException,
    stage: Stage,
    progress: Progress,
    *,
    body_unfinished: bool = False,
    detail: Optional[str] = None,
) -> TransportFailure:
    """The failure that ``exc``, raised at ``stage``, stands for.

    A failure while connecting or in the TLS handshake left nothing written whatever
    ``progress`` says; one during the exchange is a ``WRITE`` failure while the request body was
    still going out and nothing of the answer had come, else a ``READ`` failure. ``detail``
    replaces the description made from ``exc``.
    """
    if detail is None:
        detail = "timed out" if stage is Stage.TIMEOUT else describe(exc)
    if stage in (Stage.CONNECT, Stage.TLS):
        kind = FailureKind.CONNECT if stage is Stage.CONNECT else FailureKind.TLS
        return TransportFailure(kind=kind, detail=detail, reused_connection=progress.reused_connection)
    if stage is Stage.TIMEOUT:
        return progress.failure(FailureKind.TIMEOUT, detail)
    writing = body_unfinished and not progress.response_started
    return progress.failure(FailureKind.WRITE if writing else FailureKind.READ, detail)


def root_cause(exc: BaseException) -> BaseException:
    """Follow the chain of wrapped exceptions (``__cause__``, urllib3 ``reason``, ``args[0]``,
    exception groups, ``__context__``) down to the original one."""
    seen = {id(exc)}
    current = exc
    for _ in range(12):
        following: Optional[BaseException] = None
        reason = getattr(current, "reason", None)
        grouped = getattr(current, "exceptions", None)
        if current.__cause__ is not None:
            following = current.__cause__
        elif isinstance(reason, BaseException):
            following = reason
        elif current.args and isinstance(current.args[0], BaseException):
            following = current.args[0]
        elif isinstance(grouped, (list, tuple)) and grouped:
            following = grouped[0]
        elif current.__context__ is not None and not current.__suppress_context__:
            following = current.__context__
        if following is None or id(following) in seen:
            break
        seen.add(id(following))
        current = following
    return current


def describe(exc: BaseException) -> str:
    """A short description of what went wrong under ``exc``.

    Built from the root cause's type and OS/TLS reason only: library messages often quote the
    URL, whose query string may carry a signature, so they are never copied.
    """
    root = root_cause(exc)
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {root.verify_message}"
    if isinstance(root, ssl.SSLError):
        return f"TLS error: {root.reason or type(root).__name__}"
    if isinstance(root, socket.gaierror):
        return "name resolution failed"
    if isinstance(root, (TimeoutError, socket.timeout)):
        return "timed out"
    if isinstance(root, OSError) and root.errno:
        return os.strerror(root.errno)
    if isinstance(root, OSError) and root.strerror:
        return str(root.strerror)
    return type(root).__name__
