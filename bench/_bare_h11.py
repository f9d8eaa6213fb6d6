"""The bare h11-over-anyio client the trio baselines use: no timeout, no checks, no retries.

``exchange`` is the loop of ``status``'s trio baseline (one kept-alive connection);
``BarePool`` is the same loop over a pool of such connections, for the ``scale`` baseline
under trio. Both are as thin as an HTTP/1.1 client over h11 can be, so that a ratio against
them is the cost of everything our transport and client add to h11 and the async library.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import anyio
import anyio.abc
import h11

HeaderList = Sequence[Tuple[str, str]]


async def exchange(
    stream: anyio.abc.ByteStream, connection: h11.Connection, method: str, target: str,
    headers: HeaderList, body: bytes = b"",
) -> Tuple[int, bytes]:
    """Send one request on a kept-alive connection and read its whole answer: status and body.

    Raises:
        RuntimeError: the answer was not a plain response (the connection cannot be reused).
    """
    request = h11.Request(method=method, target=target, headers=list(headers))
    data = connection.send(request) or b""
    if body:
        data += connection.send(h11.Data(data=body)) or b""
    await stream.send(data + (connection.send(h11.EndOfMessage()) or b""))
    status, answer = 0, bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await stream.receive(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            answer += event.data
        elif isinstance(event, h11.EndOfMessage):
            connection.start_next_cycle()
            return status, bytes(answer)
        else:
            raise RuntimeError(f"unexpected {event!r}")


class BarePool:
    """At most ``size`` kept-alive connections to one host, used last-in first-out."""

    def __init__(self, host: str, port: int, size: int = 100) -> None:
        self._host, self._port = host, port
        self._limit = anyio.Semaphore(size)
        self._idle: List[Tuple[anyio.abc.ByteStream, h11.Connection]] = []

    async def request(
        self, method: str, target: str, headers: HeaderList, body: bytes = b""
    ) -> Tuple[int, bytes]:
        """One exchange on an idle connection, or a new one; the connection goes back afterwards."""
        async with self._limit:
            if self._idle:
                stream, connection = self._idle.pop()
            else:
                stream = await anyio.connect_tcp(self._host, self._port)
                connection = h11.Connection(our_role=h11.CLIENT)
            answer = await exchange(stream, connection, method, target, headers, body)
            self._idle.append((stream, connection))
            return answer

    async def aclose(self) -> None:
        """Close every idle connection."""
        for stream, _ in self._idle:
            await stream.aclose()
        self._idle.clear()
