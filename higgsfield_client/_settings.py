"""What a client is configured with, resolved once and shared by the sync and async clients."""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Tuple, Union

from higgsfield_proto import (
    DEFAULT_BASE_URL,
    ApiConfig,
    Body,
    Credentials,
    Deletion,
    Enqueued,
    Estimate,
    Flow,
    FlowEnv,
    JobStatus,
    PollPolicy,
    RetryPolicy,
    StatusUpdate,
    UploadTarget,
    cancel_flow,
    delete_flow,
    estimate_flow,
    status_flow,
    submit_flow,
    subscribe_flow,
    upload_flow,
    wait_flow,
)

from ._statuses import status_from_job

if TYPE_CHECKING:
    import ssl

DEFAULT_TIMEOUT = 90.0
"""Seconds allowed for one HTTP exchange (the official SDK's default)."""

Verify = Union[bool, str, "ssl.SSLContext"]
_jitter_source = random.Random()


def default_base_url(environ: Mapping[str, str]) -> str:
    """``HIGGSFIELD_BASE_URL``, else ``HF_BASE_URL`` (the official SDK's name), else the API host."""
    return environ.get("HIGGSFIELD_BASE_URL") or environ.get("HF_BASE_URL") or DEFAULT_BASE_URL


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key, so that a retried submit can never create a second job."""
    return str(uuid.uuid4())


@dataclass
class Settings:
    """A client's options. Credentials are looked up on first use, as the official SDK does."""

    base_url: str = field(default_factory=lambda: default_base_url(os.environ))
    timeout: Optional[float] = DEFAULT_TIMEOUT
    api_key: Optional[str] = field(default=None, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    verify: Verify = True
    proxy: Optional[str] = None
    allow_insecure_http: bool = False
    _config: Optional[ApiConfig] = field(default=None, repr=False)

    @property
    def config(self) -> ApiConfig:
        """The API endpoint and credentials (raises CredentialsMissedError if there are none)."""
        if self._config is None:
            credentials = (
                Credentials.from_string(self.api_key)
                if self.api_key
                else Credentials.from_environment(os.environ)
            )
            self._config = ApiConfig(
                credentials=credentials,
                base_url=self.base_url,
                allow_insecure_http=self.allow_insecure_http,
            )
        return self._config

    def env(
        self,
        now: float,
        wall: float,
        *,
        timeout: Optional[float] = None,
        delay: Optional[float] = None,
    ) -> FlowEnv:
        """The FlowEnv of one call started at monotonic ``now`` (``wall`` is the Unix time).

        Args:
            timeout: the overall deadline of a waiting call, replacing the poll policy's.
            delay: a fixed poll interval (the official ``poll_request_status(delay=...)``).
        """
        poll = self.poll
        if delay is not None:
            poll = replace(poll, initial_delay=delay, multiplier=1.0, max_delay=delay, jitter=0.0)
        if timeout is not None:
            poll = replace(poll, timeout=timeout)
        # Positional: one is built per call, and a keyword call costs more.
        return FlowEnv(now, wall - now, _jitter_source.random, self.retry, poll)


def event_handler(
    on_enqueue: Optional[Callable[[str], Any]], on_queue_update: Optional[Callable[[Any], Any]]
) -> Callable[[object], Any]:
    """Route a flow's Notify events to the official callbacks; returns what they return."""

    def handle(event: object) -> Any:
        if isinstance(event, Enqueued) and on_enqueue is not None:
            return on_enqueue(event.request_id)
        if isinstance(event, StatusUpdate) and on_queue_update is not None:
            return on_queue_update(status_from_job(event.status))
        return None

    return handle


class Operations:
    """Builds the flow of every public operation from a client's settings (sync and async alike).

    Each method takes the caller's clock reading (monotonic ``now``, Unix ``wall``) and returns a
    flow for a runner; nothing here performs I/O.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def submit(
        self,
        clock: Tuple[float, float],
        model: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: Optional[str],
        idempotency_key: Optional[str],
        expires_after: Optional[int],
    ) -> Flow[JobStatus]:
        return submit_flow(
            self.settings.config,
            model,
            arguments,
            self.settings.env(*clock),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key or new_idempotency_key(),
            expires_after=expires_after,
        )

    def subscribe(
        self,
        clock: Tuple[float, float],
        model: str,
        arguments: Mapping[str, Any],
        *,
        webhook_url: Optional[str],
        idempotency_key: Optional[str],
        expires_after: Optional[int],
        timeout: Optional[float],
        cancel_on_timeout: bool,
    ) -> Flow[JobStatus]:
        return subscribe_flow(
            self.settings.config,
            model,
            arguments,
            self.settings.env(*clock, timeout=timeout),
            webhook_url=webhook_url,
            idempotency_key=idempotency_key or new_idempotency_key(),
            expires_after=expires_after,
            cancel_on_timeout=cancel_on_timeout,
        )

    def status(self, clock: Tuple[float, float], request_id: str) -> Flow[JobStatus]:
        return status_flow(self.settings.config, request_id, self.settings.env(*clock))

    def wait(
        self,
        clock: Tuple[float, float],
        request_id: str,
        *,
        timeout: Optional[float] = None,
        delay: Optional[float] = None,
        cancel_on_timeout: bool = False,
    ) -> Flow[JobStatus]:
        return wait_flow(
            self.settings.config,
            request_id,
            self.settings.env(*clock, timeout=timeout, delay=delay),
            cancel_on_timeout=cancel_on_timeout,
            check_first=True,
        )

    def cancel(self, clock: Tuple[float, float], request_id: str) -> Flow[None]:
        return cancel_flow(self.settings.config, request_id, self.settings.env(*clock))

    def upload(self, clock: Tuple[float, float], body: Body, content_type: str) -> Flow[UploadTarget]:
        return upload_flow(self.settings.config, content_type, body, self.settings.env(*clock))

    def estimate(
        self, clock: Tuple[float, float], model: str, arguments: Mapping[str, Any]
    ) -> Flow[Estimate]:
        return estimate_flow(self.settings.config, model, arguments, self.settings.env(*clock))

    def delete(self, clock: Tuple[float, float], request_id: str) -> Flow[Deletion]:
        return delete_flow(self.settings.config, request_id, self.settings.env(*clock))
