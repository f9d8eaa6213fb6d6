"""What a client is configured with, resolved once and shared by the sync and async clients."""

from __future__ import annotations

import enum
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Optional, Union

from higgsfield_proto import (
    DEFAULT_BASE_URL,
    USER_AGENT,
    ApiConfig,
    Credentials,
    FlowEnv,
    InvalidArgumentError,
    PollPolicy,
    RetryPolicy,
)

from ._budget import Budget
from ._checks import Validate, validate_mode

if TYPE_CHECKING:
    import ssl

DEFAULT_TIMEOUT = 90.0
"""Seconds for an answer to start and between reads (the official SDK's default)."""

Verify = Union[bool, str, "ssl.SSLContext"]
jitter = random.Random().random
"""The jitter source of every flow: uniform in [0, 1)."""


class Default(enum.Enum):
    """The value of a transport option left at its default (so that it can be told from one given)."""

    DEFAULT = "default"

    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT = Default.DEFAULT


def default_base_url(environ: Mapping[str, str]) -> str:
    """``HIGGSFIELD_BASE_URL``, else ``HF_BASE_URL`` (the official SDK's name), else the API host."""
    return environ.get("HIGGSFIELD_BASE_URL") or environ.get("HF_BASE_URL") or DEFAULT_BASE_URL


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key, so that a retried submit can never create a second job."""
    import uuid  # on the first submit: uuid loads the platform module (import time)

    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportOptions:
    """What the client's own transport is built with."""

    timeout: Optional[float] = DEFAULT_TIMEOUT
    verify: Verify = True
    proxy: Optional[str] = None

    @classmethod
    def resolve(
        cls,
        *,
        transport: object,
        timeout: Union[float, Default, None],
        verify: Union[Verify, Default],
        proxy: Union[str, Default, None],
        http_client: object = None,
    ) -> TransportOptions:
        """The options for the client's own transport; given with a transport or an httpx client
        of the caller's, they are refused rather than silently dropped.

        Raises:
            InvalidArgumentError: ``transport`` is an object or ``http_client`` is given, and an
                option was given too; or both ``transport`` and ``http_client`` are given.
        """
        if http_client is not None and transport is not None:
            raise InvalidArgumentError(
                "give either transport= or http_client=, not both: the client sends with one of them"
            )
        given = {
            name: value
            for name, value in (("timeout", timeout), ("verify", verify), ("proxy", proxy))
            if value is not DEFAULT
        }
        if given and http_client is not None:
            names = ", ".join(f"{name}=" for name in given)
            raise InvalidArgumentError(
                f"{names} cannot apply to an httpx client you built: the client sends with it as it "
                f"is. Give the same settings to httpx.Client() / httpx.AsyncClient() instead"
            )
        if given and transport is not None and not isinstance(transport, str):
            names = ", ".join(f"{name}=" for name in given)
            raise InvalidArgumentError(
                f"{names} cannot apply to a transport you built: the client sends with it as it is. "
                f"Give {names} to the transport's constructor instead"
            )
        return cls(**given)  # type: ignore[arg-type]


@dataclass(eq=False)
class Settings:
    """A client's options. Credentials are looked up on first use, as the official SDK does.

    ``poll`` schedules the status checks of a job; ``turn_poll`` the polls of an agent turn
    (the caller's poll policy when one was given; None: the official turn schedule).
    ``validate`` is how a submit's arguments are checked against the model catalog; ``budget``
    caps what the client's jobs may cost.
    """

    base_url: str = field(default_factory=lambda: default_base_url(os.environ))
    api_key: Optional[str] = field(default=None, repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    turn_poll: Optional[PollPolicy] = None
    transport: TransportOptions = field(default_factory=TransportOptions)
    allow_insecure_http: bool = False
    validate: Validate = True
    budget: Optional[Budget] = None
    user_agent: str = USER_AGENT
    _config: Optional[ApiConfig] = field(default=None, repr=False)
    _env: FlowEnv = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._env = FlowEnv(retry=self.retry, poll=self.poll, jitter=jitter)

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
                user_agent=self.user_agent,
                allow_insecure_http=self.allow_insecure_http,
            )
        return self._config

    def env(
        self,
        *,
        timeout: Optional[float] = None,
        delay: Optional[float] = None,
        poll: Optional[PollPolicy] = None,
    ) -> FlowEnv:
        """The FlowEnv of one call.

        Args:
            timeout: the overall deadline of a waiting call, replacing the poll policy's.
            delay: a fixed poll interval (the official ``poll_request_status(delay=...)``).
            poll: a poll policy replacing the client's (a webhook waiter's slow fallback).
        """
        if timeout is None and delay is None and poll is None:
            return self._env  # most calls: the client's own policies
        poll = poll or self.poll
        if delay is not None:
            poll = replace(poll, initial_delay=delay, multiplier=1.0, max_delay=delay, jitter=0.0)
        if timeout is not None:
            poll = replace(poll, timeout=timeout)
        return FlowEnv(retry=self.retry, poll=poll, jitter=jitter)


def client_settings(
    *,
    base_url: Optional[str],
    api_key: Optional[str],
    transport: object,
    http_client: object = None,
    timeout: Union[float, Default, None],
    verify: Union[Verify, Default],
    proxy: Union[str, Default, None],
    retry: Optional[RetryPolicy],
    poll: Optional[PollPolicy],
    allow_insecure_http: bool,
    validate: Validate = True,
    budget: Optional[Budget] = None,
) -> Settings:
    """The settings of a client built with these constructor arguments (see ``SyncClient``).

    Raises:
        InvalidArgumentError: transport options given together with a transport object, a
            ``validate`` that is not a mode of the argument check, or a ``budget`` that is no
            ``Budget``.
    """
    return Settings(
        base_url=base_url or default_base_url(os.environ),
        api_key=api_key,
        retry=retry or RetryPolicy(),
        poll=poll or PollPolicy(),
        turn_poll=poll,
        transport=TransportOptions.resolve(
            transport=transport, timeout=timeout, verify=verify, proxy=proxy, http_client=http_client
        ),
        allow_insecure_http=allow_insecure_http,
        validate=validate_mode(validate),
        budget=_budget(budget),
    )


def _budget(budget: object) -> Optional[Budget]:
    if budget is None or isinstance(budget, Budget):
        return budget
    raise InvalidArgumentError(f"budget must be a Budget(max_credits=..., max_usd=...), not {budget!r}")


def transport_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for a transport the client builds itself."""
    options = settings.transport
    return {"timeout": options.timeout, "verify": options.verify, "proxy": options.proxy}
