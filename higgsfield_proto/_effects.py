"""Effects that flows yield to their runner. No I/O happens here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Optional, TypeVar, Union

from ._http import Request

T = TypeVar("T")


@dataclass(frozen=True, init=False)
class Send:
    """Send ``request``; the runner answers with a ``Response`` or a ``TransportFailure``.

    ``timeout`` bounds this exchange in seconds (the time left before the caller's deadline), on
    top of the transport's own per-request timeout; None leaves only the transport's.
    """

    request: Request
    timeout: Optional[float] = None

    def __init__(self, request: Request, timeout: Optional[float] = None) -> None:
        # Built for every exchange: fills __dict__ as Request does (see _http.py).
        fields = self.__dict__
        fields["request"], fields["timeout"] = request, timeout


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds``; the runner answers with the monotonic time after waking."""

    seconds: float


@dataclass(frozen=True)
class Notify:
    """Hand ``event`` to the caller's callbacks; the runner answers with None."""

    event: object


Effect = Union[Send, Sleep, Notify]
Flow = Generator[Effect, Any, T]
"""A whole operation: yields effects, receives their outcomes, returns its result."""
