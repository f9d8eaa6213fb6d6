"""Waiting for jobs by webhook under asyncio or trio, with slow polling when a delivery is late."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import anyio

from higgsfield_proto import JobStatus, PollPolicy, WebhookEvent

if TYPE_CHECKING:
    from .._async import AsyncClient
    from .._statuses import JobResult

FALLBACK_POLL = PollPolicy(initial_delay=30.0, multiplier=2.0, max_delay=120.0, jitter=0.1)
"""The waiter's status checks after the one made when ``wait`` starts: 30 s later, 60 s after
that, then every 120 s."""


@dataclass(eq=False)
class _Waiting:
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    event: Optional[WebhookEvent] = None


class WebhookWaiter:
    """Completes ``await waiter.wait(request_id)`` when the job's webhook arrives.

    Pass ``waiter.deliver`` to a ``WebhookReceiver`` as its handler (or call it from yours)
    served in the same process and event loop, e.g. a FastAPI or aiohttp app, and submit jobs
    with that receiver's public URL as ``webhook_url``. Deliveries are not guaranteed to arrive
    (a receiver that was down, a worker process other than the waiting one), so the waiter also
    checks the job's status on a slow schedule (``fallback``): a lost webhook makes a job late,
    never stuck: one check is made when ``wait`` starts (a job that ended before, whose
    delivery was missed, is found at once), the next ones slowly. Works under asyncio and trio.

    Args:
        client: the AsyncClient whose status checks are the fallback and whose results
            ``wait`` returns.
        fallback: when to check the status again while no delivery came, after the check made
            at once; its ``timeout``, if any, is the default of ``wait``'s.
        keep: deliveries kept for jobs nobody waits for yet (``wait`` called after the webhook
            came); the oldest are dropped first, and their jobs are found by polling.
    """

    def __init__(
        self, client: AsyncClient, *, fallback: PollPolicy = FALLBACK_POLL, keep: int = 10_000
    ) -> None:
        self._client = client
        self.fallback = fallback
        self._keep = keep
        self._arrived: OrderedDict[str, WebhookEvent] = OrderedDict()
        self._waiting: dict[str, list[_Waiting]] = {}

    def __repr__(self) -> str:
        return f"WebhookWaiter(client={self._client!r}, waiting={len(self._waiting)})"

    def deliver(self, event: WebhookEvent) -> None:
        """Hand over a verified delivery: its waiters complete, or it is kept for a later ``wait``.

        Call it from the event loop (or trio run) that waits; deliveries of states that are not
        final are ignored.
        """
        status = event.status
        if not status.is_terminal:
            return
        waiting = self._waiting.get(status.request_id)
        if waiting:
            for each in waiting:
                each.event = event
                each.scope.cancel()
            return
        self._arrived[status.request_id] = event
        self._arrived.move_to_end(status.request_id)
        while len(self._arrived) > self._keep:
            self._arrived.popitem(last=False)

    # timeout= as in AsyncClient.result: the deadline of the fallback's checks, not a cancel scope.
    async def wait(self, request_id: str, *, timeout: Optional[float] = None) -> JobResult:  # noqa: ASYNC109
        """Wait for the job to finish, by its webhook or else by a status check.

        Args:
            request_id: the job, submitted with a ``webhook_url`` that reaches this waiter.
            timeout: seconds before WaitTimeoutError; default: ``fallback.timeout``.

        Returns:
            The completed job's result: the waiter raises for the other final states, as
            ``AsyncClient.result(request_id, raise_on_failure=True)`` does.

        Raises:
            JobFailedError, JobNSFWError, JobCancelledError: the job ended without output.
            WaitTimeoutError: ``timeout`` passed first.
        """
        final = await self.final_status(request_id, timeout=timeout)
        return self._client._calls.job(request_id).keep(final, raise_on_failure=True)

    async def final_status(self, request_id: str, *, timeout: Optional[float] = None) -> JobStatus:  # noqa: ASYNC109
        """As ``wait``, but return the job's final status, failed or not, instead of its result.

        Raises:
            WaitTimeoutError: ``timeout`` passed first.
        """
        arrived = self._arrived.pop(request_id, None)
        if arrived is not None:
            return self._delivered(arrived.status)
        waiting = _Waiting()
        self._waiting.setdefault(request_id, []).append(waiting)
        try:
            with waiting.scope:
                # One check at once (the job may have ended long ago), then the slow fallback.
                job = self._client._calls.job(request_id)
                call = job.final_status(timeout=timeout, cancel_on_timeout=False, poll=self.fallback)
                final: JobStatus = await self._client._run(call)
                return final
        finally:
            others = [each for each in self._waiting.pop(request_id) if each is not waiting]
            if others:
                self._waiting[request_id] = others
        # Only deliver() cancels this scope, after setting the event.
        assert waiting.event is not None
        return self._delivered(waiting.event.status)

    def _delivered(self, status: JobStatus) -> JobStatus:
        """``status``, a final one learnt from the job's webhook: the client's observer is told
        (the job's span ends)."""
        self._client._observer.ended(status)
        return status
