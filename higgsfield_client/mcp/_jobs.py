"""The generation tools' work: the catalog, prices, submits with the money rules, job states.

`Generations` holds what lives as long as the server (the client, the catalog, the spending
limits, the confirmations, the idempotency keys used) and does each tool's work, returning JSON
documents or raising what the tool reports as an error (`ToolFailure`, `MoneyRefusal`, the SDK's
errors). The MCP wiring is in ``_server``: here nothing knows of the protocol but the progress
callback it is handed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from higgsfield_proto import (
    Catalog,
    ModelEntry,
    NotCancellableError,
    UnknownModelError,
    WaitTimeoutError,
    job_status_from_payload,
)

from .._async import AsyncClient
from .._budget import BudgetExceededError, JobPrice
from .._settings import new_idempotency_key
from .._statuses import Failed, JobResult, Status
from ._money import Confirmations, Limits, MoneyRefusal, describe_price, fingerprint
from ._results import ToolFailure

Progress = Callable[[str], Awaitable[None]]
"""Reports one step of a wait (its text: the job's state) to the client, as MCP progress."""

_KEY_CHARACTERS = frozenset(chr(code) for code in range(0x21, 0x7F))


def describe_model(entry: ModelEntry, *, full: bool) -> Dict[str, Any]:
    """A catalog entry as JSON: id, kind, price; with ``full``, its arguments and schema too."""
    described: Dict[str, Any] = {"model_id": entry.model_id, "kind": entry.kind, "checked": entry.checked}
    if entry.price is not None:
        price = entry.price
        described["price"] = {"credits": str(price.credits), "usd": str(price.usd), "per": price.per}
    if not full:
        return described
    described["arguments"] = [
        {
            "name": argument.name,
            "type": argument.type,
            "required": argument.required,
            **({"default": argument.default} if argument.has_default else {}),
            **({"allowed": argument.allowed()} if argument.allowed() else {}),
            **({"description": argument.description} if argument.description else {}),
        }
        for argument in entry.arguments()
    ]
    described["schema"] = entry.schema
    if entry.price is not None:
        described["price"]["source"] = entry.price.source
    described["source"] = f"{entry.source} ({entry.date})"
    if entry.note:
        described["note"] = entry.note
    return described


def describe_status(status: Status) -> Dict[str, Any]:
    """A job's state as JSON: its id and state, its outputs once completed, its error if failed."""
    described: Dict[str, Any] = {"request_id": status.request_id, "status": status.state}
    if status.state == "completed":
        result = JobResult(job_status_from_payload(dict(status.payload), request_id=status.request_id))
        described["outputs"] = [{"kind": output.kind, "url": output.url} for output in result.outputs]
        if result.expires_at:
            described["expires_at"] = result.expires_at
    elif isinstance(status, Failed) and status.error:
        described["error"] = status.error
    return described


class Generations:
    """The work of the catalog, price, generate and job tools, for the server's life.

    Args:
        client: the client every call goes through (its retries, deadlines, idempotency keys).
        catalog: the model catalog generations are checked against.
        limits: the per-call cap and the budget.
        confirmations: the confirmation tokens, or None without ``--confirm-above``.
        max_wait: the most seconds one tool call waits for a job.
    """

    def __init__(
        self,
        client: AsyncClient,
        catalog: Catalog,
        limits: Limits,
        confirmations: Optional[Confirmations],
        max_wait: float,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.limits = limits
        self.confirmations = confirmations
        self.max_wait = max_wait
        # (idempotency key, fingerprint) -> request id of the submits this server made: a
        # retried call is answered with its job, not submitted (nor counted) again.
        self._submitted: Dict[Tuple[str, str], str] = {}

    # -- the catalog ------------------------------------------------------------------------

    def models(self, kind: Optional[str]) -> Dict[str, Any]:
        """Every model of the catalog, or those of one kind."""
        if kind is not None and kind not in self.catalog.kinds():
            raise ToolFailure(
                "unknown_kind", f"no model is of kind {kind!r}", kinds=list(self.catalog.kinds())
            )
        entries = self.catalog.list(kind=kind)
        return {
            "catalog": f"{self.catalog.source} ({self.catalog.date})",
            "count": len(entries),
            "models": [describe_model(entry, full=False) for entry in entries],
        }

    def model(self, model_id: str) -> ModelEntry:
        """The catalog's entry for ``model_id``.

        Raises:
            UnknownModelError: the catalog does not know it (with close ids in the message).
        """
        try:
            return self.catalog.get(model_id)
        except UnknownModelError as exc:
            close = difflib.get_close_matches(model_id.strip("/"), list(self.catalog.models), n=3)
            if close and exc.foreign is None:
                raise UnknownModelError(
                    f"{exc} Did you mean: {', '.join(close)}?", model_id=exc.model_id, foreign=exc.foreign
                ) from None
            raise

    def checked(self, model_id: str, arguments: Mapping[str, Any]) -> ModelEntry:
        """The entry of ``model_id`` once ``arguments`` pass its schema, strictly.

        Raises:
            UnknownModelError: an unknown model.
            ValidationError: the arguments do not match (the field list, nothing sent).
        """
        entry = self.model(model_id)
        entry.validate(arguments, strict=True)
        return entry

    # -- prices -----------------------------------------------------------------------------

    async def estimate(self, model_id: str, arguments: Mapping[str, Any]) -> Dict[str, Any]:
        """The ``estimate`` tool: the price of a generation, nothing submitted."""
        entry = self.checked(model_id, arguments)
        price = await self.client.price(entry.model_id, arguments)
        if price is None:
            raise ToolFailure(
                "price_unknown", "the API's estimate failed and the catalog has no price for this model"
            )
        return {"model_id": entry.model_id, "price": describe_price(price), **self._spent()}

    # -- generate ---------------------------------------------------------------------------

    async def generate(
        self,
        model_id: str,
        arguments: Mapping[str, Any],
        *,
        wait_seconds: float,
        idempotency_key: Optional[str],
        confirmation_token: Optional[str],
        progress: Progress,
    ) -> Dict[str, Any]:
        """The ``generate`` tool: check, price, apply the money rules, submit, maybe wait."""
        entry = self.checked(model_id, arguments)
        key = idempotency_key or new_idempotency_key()
        if not 0 < len(key) <= 255 or not set(key) <= _KEY_CHARACTERS:
            raise ToolFailure(
                "invalid_idempotency_key",
                "an idempotency key is 1 to 255 visible ASCII characters, without spaces",
            )
        digest = fingerprint(entry.model_id, arguments)
        known = self._submitted.get((key, digest))
        if known is not None:
            described = {**describe_status(await self.client.status(known)), "model_id": entry.model_id}
            described.update(idempotency_key=key, **self._spent())
            described["note"] = "this idempotency key was used already: the same job, not billed again"
            return await self._waited(described, wait_seconds, progress)
        price = None
        if self.limits.limited or self.confirmations is not None:
            price = await self.client.price(entry.model_id, arguments)
            self.limits.check(price)
        if self.confirmations is not None:
            asked = self._confirmation(token=confirmation_token, digest=digest, price=price)
            if asked is not None:
                return {"model_id": entry.model_id, "idempotency_key": key, **asked, **self._spent()}
        try:
            controller = await self.client.submit(entry.model_id, arguments, idempotency_key=key)
        except BudgetExceededError as exc:
            raise self.limits.refusal(exc) from None
        self._submitted[(key, digest)] = controller.request_id
        described = {
            "request_id": controller.request_id,
            "status": "queued",
            "model_id": entry.model_id,
            "idempotency_key": key,
        }
        if price is not None:
            described["price"] = describe_price(price)
        described.update(self._spent())
        return await self._waited(described, wait_seconds, progress)

    async def _waited(self, described: Dict[str, Any], seconds: float, progress: Progress) -> Dict[str, Any]:
        """``described`` (a job's answer), after a wait of up to ``seconds`` when positive."""
        if seconds > 0 and described["status"] in ("queued", "in_progress"):
            described.update(await self.wait(described["request_id"], seconds, progress))
        elif described["status"] in ("queued", "in_progress"):
            described["next"] = "call job_wait with this request_id to wait for the outputs"
        return described

    def _spent(self) -> Dict[str, Any]:
        """The spending, for an answer, when a limit makes it worth showing."""
        return {"spending": self.limits.describe()} if self.limits.limited else {}

    def _confirmation(
        self, *, token: Optional[str], digest: str, price: Optional[JobPrice]
    ) -> Optional[Dict[str, Any]]:
        """None when the generation may go on; else the ``confirmation_required`` answer."""
        assert self.confirmations is not None
        if price is None:
            raise MoneyRefusal(
                "price_unknown",
                "the price of this generation is not known, so it cannot be held against "
                f"--confirm-above {self.confirmations.threshold}: nothing was submitted",
            )
        if token is not None:
            if price.amount.credits <= self.confirmations.redeem(token, digest).amount.credits:
                return None
        elif not self.confirmations.required(price):
            return None
        credits = price.amount.credits
        return {
            "status": "confirmation_required",
            "price": describe_price(price),
            "confirm_above_credits": str(self.confirmations.threshold),
            "confirmation_token": self.confirmations.issue(digest, price),
            "expires_in_seconds": int(self.confirmations.ttl),
            "message": (
                f"this generation costs {credits} credits, above this server's threshold of "
                f"{self.confirmations.threshold}. Nothing was submitted. Ask the user to approve the "
                "price; to go ahead, call generate again with exactly the same model_id and "
                "arguments plus this confirmation_token (it works once)."
            ),
        }

    # -- jobs -------------------------------------------------------------------------------

    async def status(self, request_id: str) -> Dict[str, Any]:
        """The ``job_status`` tool: one status check."""
        return describe_status(await self.client.status(request_id))

    async def wait(self, request_id: str, seconds: float, progress: Progress) -> Dict[str, Any]:
        """Wait for a job up to ``seconds`` (at most the server's cap), reporting each check.

        Never cancels and never resubmits: at the deadline the job's last state is returned.
        """
        bound = min(seconds, self.max_wait)
        controller = self.client.get_request_controller(request_id)
        last: Optional[Status] = None
        try:
            async for status in controller.poll_request_status(timeout=bound):
                last = status
                await progress(status.state)
        except WaitTimeoutError:
            pass
        if last is None:
            last = await self.client.status(request_id)
        described = describe_status(last)
        if last.state in ("queued", "in_progress"):
            described["waited_seconds"] = bound
            described["next"] = (
                "the job goes on (it was neither canceled nor resubmitted): call job_wait again "
                "with this request_id"
            )
        return described

    async def cancel(self, request_id: str) -> Dict[str, Any]:
        """The ``job_cancel`` tool: cancel a queued job, or say why it cannot be."""
        try:
            await self.client.cancel(request_id)
        except NotCancellableError:
            described = describe_status(await self.client.status(request_id))
            started = described["status"] == "in_progress"
            described.update(
                canceled=False,
                case="already_started" if started else "already_finished",
                message=(
                    "only a queued job can be canceled; this one has "
                    + ("started and will run to its end (and be billed)" if started else "finished")
                ),
            )
            return described
        return {
            "request_id": request_id,
            "status": "canceled",
            "canceled": True,
            "case": "was_queued",
            "message": "the job was still queued: it is canceled and refunded",
        }
