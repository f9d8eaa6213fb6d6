"""The transport interfaces and the warning raised for unverified TLS."""

from __future__ import annotations

from typing import Optional, Protocol, runtime_checkable

from higgsfield_proto._http import Outcome, Request

__all__ = ["AsyncTransport", "InsecureTransportWarning", "SyncTransport"]


class InsecureTransportWarning(UserWarning):
    """Issued when a transport is created with TLS certificate verification turned off."""


@runtime_checkable
class SyncTransport(Protocol):
    """Sends one request at a time from plain Python code.

    ``send`` returns a ``Response`` or, for a network fault, a ``TransportFailure``; it never raises
    for a network fault. ``timeout``, when given, bounds this one exchange in seconds (the time
    left before the caller's deadline). ``close`` releases the connections the transport owns.
    """

    def send(self, request: Request, *, timeout: Optional[float] = None) -> Outcome:
        """Send ``request`` and return the response or the network failure."""
        ...

    def close(self) -> None:
        """Release the connections and sessions the transport owns."""
        ...


@runtime_checkable
class AsyncTransport(Protocol):
    """Sends requests from asyncio or trio code; same contract as ``SyncTransport``."""

    async def send(self, request: Request) -> Outcome:
        """Send ``request`` and return the response or the network failure."""
        ...

    async def aclose(self) -> None:
        """Release the connections and sessions the transport owns."""
        ...
