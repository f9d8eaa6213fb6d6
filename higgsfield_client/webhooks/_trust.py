"""The two other ways a receiver trusts a delivery: a token in its URL, or the job's status
fetched again with the app's own credentials."""

from __future__ import annotations

from typing import Union

import anyio.to_thread

from higgsfield_proto import (
    HiggsfieldError,
    JobStatus,
    UrlTokenSecrets,
    check_url_token_secret,
    job_status_from_payload,
    signed_webhook_url,
    verify_webhook_url,
)

from .._async import AsyncClient
from .._statuses import Status
from .._sync import SyncClient


class UrlToken:
    """Trust a delivery whose URL carries a token that ``signed_webhook_url`` made.

    For deliveries that are not signed (an account whose webhook secret was never revealed):
    submit each job with ``token.url(base_url, ref)`` (or ``signed_webhook_url``) as its
    ``webhook_url``, where ``ref`` is your own reference for it; the receiver answers 401 to a
    delivery whose URL holds no valid token, and hands ``ref`` to the handler as
    ``event.reference``.

    Args:
        secret: a secret of your app's (any text of at least 24 bytes, such as
            ``secrets.token_urlsafe(32)``), or several during a rotation: URLs are made with the
            first, and a token made with any of them is valid.

    Raises:
        WebhookSecretError: no secret, or an empty or short one.
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: UrlTokenSecrets) -> None:
        check_url_token_secret(secret)
        self._secret = secret

    def __repr__(self) -> str:
        count = 1 if isinstance(self._secret, str) else len(self._secret)
        return f"UrlToken(<{count} secret{'s' if count != 1 else ''}>)"

    def url(self, base_url: str, ref: str) -> str:
        """``signed_webhook_url(base_url, <the first secret>, ref)``: the ``webhook_url`` to
        submit a job with. The URL is a secret: keep it out of logs."""
        current = self._secret if isinstance(self._secret, str) else self._secret[0]
        return signed_webhook_url(base_url, current, ref)

    def reference(self, query: str) -> str:
        """The reference of a delivery's URL query, once its token verified.

        Raises:
            WebhookVerificationError: no valid token for the reference.
        """
        return verify_webhook_url(self._secret, query)


class ConfirmByPolling:
    """Trust no delivery: take it as a hint, fetch the job's status with ``client``, and hand
    the handler the status fetched.

    A forged "completed" with made-up URLs never reaches the handler: the status comes from
    the API, with your credentials. It costs one status request per delivery, duplicates
    included. ``handle`` (WSGI) needs a ``SyncClient``; ``handle_async`` (ASGI, aiohttp) takes
    an ``AsyncClient``, or a ``SyncClient`` whose check then runs in a worker thread.

    Args:
        client: the client whose ``status(request_id)`` checks each job.
    """

    __slots__ = ("client",)

    def __init__(self, client: Union[SyncClient, AsyncClient]) -> None:
        self.client = client

    def __repr__(self) -> str:
        return f"ConfirmByPolling(client={self.client!r})"

    def fetch(self, request_id: str) -> Union[JobStatus, HiggsfieldError]:
        """The job's status, or the error that checking it raised (sync).

        Raises:
            TypeError: the client is an AsyncClient (use ``handle_async``).
        """
        client = self.client
        if isinstance(client, AsyncClient):
            raise TypeError("ConfirmByPolling with an AsyncClient needs handle_async (ASGI, aiohttp)")
        try:
            return _job(client.status(request_id))
        except HiggsfieldError as exc:
            return exc

    async def afetch(self, request_id: str) -> Union[JobStatus, HiggsfieldError]:
        """The job's status, or the error that checking it raised (asyncio or trio)."""
        client = self.client
        try:
            if isinstance(client, AsyncClient):
                return _job(await client.status(request_id))
            return _job(await anyio.to_thread.run_sync(client.status, request_id))
        except HiggsfieldError as exc:
            return exc


def _job(status: Status) -> JobStatus:
    """The core's ``JobStatus`` of a public status object (``Completed``, ``Failed``...)."""
    return job_status_from_payload(dict(status.payload), request_id=status.request_id)
