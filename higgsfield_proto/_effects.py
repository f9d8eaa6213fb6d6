"""Effects that flows yield to their runner, and what each is answered with. No I/O happens here.

- ``Send``: send the request once; a ``Response`` or a ``TransportFailure``.
- ``StreamedSend``: empty the sink, send, stream a 2xx body into the sink; a
  ``StreamedResponse`` (with the failure that cut the body short, if one did), a ``Response``
  (a non-2xx answer, read whole) or a ``TransportFailure`` (no 2xx answer began).
- ``Sleep``: wait; the monotonic time after waking.
- ``Now``: read the clock; the monotonic time (the Unix time for ``Now(wall=True)``).
- ``Notify``: hand the event to the caller's callbacks; None.
- ``Ask``: call the caller's answering function (awaited if it is a coroutine function); what
  it returns.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Optional, TypeVar, Union

from ._http import Request

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Send ``request`` once; answered with a ``Response`` or a ``TransportFailure``.

    Attributes:
        request: what to send.
        timeout: seconds left before the caller's deadline, or None; the runner ends the exchange
            as a ``TIMEOUT`` failure when it runs out (the transport's own timeout applies too).
        attempt: 1 for the first time this request is sent, 2 for its first repeat, and so on.
    """

    request: Request
    timeout: Optional[float] = None
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamedSend:
    """As ``Send``, but a 2xx body goes to the sink the runner was given (a download's file).

    The runner empties the sink before each attempt, so a repeat starts from nothing. It answers
    with a ``StreamedResponse`` once a 2xx answer began (status, headers, the byte count given to
    the sink, and the failure that cut the body short, if any), with a ``Response`` for a non-2xx
    answer (read whole, the sink untouched), or with a ``TransportFailure`` when no answer began.
    """

    request: Request
    timeout: Optional[float] = None
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Sleep:
    """Wait ``seconds``; answered with the monotonic time after waking."""

    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Now:
    """Read the clock; answered with the monotonic time, or with the Unix time when ``wall``.

    A flow never invents a start time, and reads the wall clock only to measure a Retry-After
    date against it.
    """

    wall: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify:
    """Hand ``event`` to the caller's callbacks; answered with None."""

    event: object


@dataclass(frozen=True, slots=True, kw_only=True)
class Ask:
    """Hand ``question`` to the caller's answering function; answered with what it returns."""

    question: object


Effect = Union[Send, StreamedSend, Sleep, Now, Notify, Ask]
"""What a flow asks its runner to do."""
Flow = Generator[Effect, Any, T]
"""A whole operation: yields effects, receives their answers, returns its result."""
