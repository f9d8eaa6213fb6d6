"""The generation tools' work: the catalog, prices, submits with the money rules, job states.

`Generations` holds what lives as long as the server (the client, the catalog, the ledger, the
confirmations) and does each tool's work, returning JSON documents or raising what the tool
reports as an error (`ToolFailure`, `MoneyRefusal`, the SDK's errors). The MCP wiring is in
``_server``: here nothing knows of the protocol but the progress callback it is handed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Awaitable, Callable, Dict, Optional

from higgsfield_proto import (
    APIError,
    Catalog,
    ModelEntry,
    NotCancellableError,
    NotFoundError,
    ProtocolError,
    RateLimitError,
    ServerError,
    TransportError,
    UnknownModelError,
    WaitTimeoutError,
    job_status_from_payload,
)

from .._async import AsyncClient
from .._settings import new_idempotency_key
from .._statuses import Failed, JobResult, Status
from ._money import Charge, Confirmations, MoneyRefusal, Quote, Spending, fingerprint
from ._results import ToolFailure

Progress = Callable[[str], Awaitable[None]]
"""Reports one step of a wait (its text: the job's state) to the client, as MCP progress."""

# The estimate could not be had from the API: the catalog's price stands in. Any other error
# (credentials, a 422 for the arguments) is the answer.
_ESTIMATE_UNAVAILABLE = (NotFoundError, ServerError, TransportError, ProtocolError, RateLimitError)
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
        spending: the per-call cap and budget.
        confirmations: the confirmation tokens, or None without ``--confirm-above``.
        max_wait: the most seconds one tool call waits for a job.
    """

    def __init__(
        self,
        client: AsyncClient,
        catalog: Catalog,
        spending: Spending,
        confirmations: Optional[Confirmations],
        max_wait: float,
    ) -> None:
        self.client = client
        self.catalog = catalog
        self.spending = spending
        self.confirmations = confirmations
        self.max_wait = max_wait

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

    async def quote(self, entry: ModelEntry, arguments: Mapping[str, Any]) -> Optional[Quote]:
        """The price of a generation: the API's estimate, else the catalog's price, else None.

        Raises:
            HiggsfieldError: the estimate was refused for a reason that is the answer
                (credentials, arguments).
        """
        try:
            estimate = await self.client.estimate(entry.model_id, arguments)
        except _ESTIMATE_UNAVAILABLE:
            if entry.price is None:
                return None
            return Quote(
                credits=entry.price.credits,
                usd=entry.price.usd,
                source="catalog (the API's estimate was unavailable)",
                per=entry.price.per,
            )
        return Quote(credits=estimate.credits, usd=estimate.usd, source="api")

    async def estimate(self, model_id: str, arguments: Mapping[str, Any]) -> Dict[str, Any]:
        """The ``estimate`` tool: the price of a generation, nothing submitted."""
        entry = self.checked(model_id, arguments)
        quote = await self.quote(entry, arguments)
        if quote is None:
            raise ToolFailure(
                "price_unknown", "the API's estimate failed and the catalog has no price for this model"
            )
        return {"model_id": entry.model_id, "price": quote.describe(), **self._spent()}

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
        priced = self.spending.limited or self.confirmations is not None
        quote = await self.quote(entry, arguments) if priced else None
        charge = self.spending.charge(key, digest, quote)
        if charge is not None and self.confirmations is not None:
            asked = self._confirmation(charge, confirmation_token, digest, quote)
            if asked is not None:
                return {"model_id": entry.model_id, "idempotency_key": key, **asked, **self._spent()}
        try:
            controller = await self.client.submit(entry.model_id, arguments, idempotency_key=key)
        except APIError as exc:
            if charge is not None and exc.status_code is not None and 400 <= exc.status_code < 500:
                charge.release()  # refused before anything was created
            raise
        if charge is not None:
            charge.settle(controller.request_id)
        described: Dict[str, Any] = {
            "request_id": controller.request_id,
            "status": "queued",
            "model_id": entry.model_id,
            "idempotency_key": key,
        }
        if quote is not None:
            described["price"] = quote.describe()
        described.update(self._spent())
        if charge is None:
            described["note"] = "this idempotency key was used already: the same job, not billed again"
        if wait_seconds > 0:
            described.update(await self.wait(controller.request_id, wait_seconds, progress))
        else:
            described["next"] = "call job_wait with this request_id to wait for the outputs"
        return described

    def _spent(self) -> Dict[str, Any]:
        """The spending, for an answer, when a limit makes it worth showing."""
        return {"spending": self.spending.describe()} if self.spending.limited else {}

    def _confirmation(
        self, charge: Charge, token: Optional[str], digest: str, quote: Optional[Quote]
    ) -> Optional[Dict[str, Any]]:
        """None when the generation may go on; else the ``confirmation_required`` answer (the
        charge given back)."""
        assert self.confirmations is not None
        if quote is None:
            charge.release()
            raise MoneyRefusal(
                "price_unknown",
                "the price of this generation is not known, so it cannot be held against "
                f"--confirm-above {self.confirmations.threshold}: nothing was submitted",
            )
        if token is not None:
            try:
                confirmed = self.confirmations.redeem(token, digest)
            except MoneyRefusal:
                charge.release()
                raise
            if quote.credits <= confirmed.credits:
                return None
        elif not self.confirmations.required(quote):
            return None
        charge.release()
        return {
            "status": "confirmation_required",
            "price": quote.describe(),
            "confirm_above_credits": str(self.confirmations.threshold),
            "confirmation_token": self.confirmations.issue(digest, quote),
            "expires_in_seconds": int(self.confirmations.ttl),
            "message": (
                f"this generation costs {quote.credits} credits, above this server's threshold of "
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
