"""The MCP server: its options, its tools and resources on the MCP SDK's ``MCPServer``, serving.

`HiggsfieldServer` builds one ``MCPServer`` (the official MCP Python SDK does all of the protocol) whose
tools call into `Generations`, `Files` and `AgentTurns` with one `AsyncClient` for the server's
life, and serves it over stdio or Streamable HTTP.
"""

from __future__ import annotations

import inspect
import ipaddress
import os
import socket
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Callable, Dict, Optional, Union

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import Field

from higgsfield_proto import (
    CredentialsMissedError,
    HiggsfieldError,
    InvalidArgumentError,
    NotFoundError,
    UnknownModelError,
)

from .._async import AsyncClient
from . import _descriptions as text
from ._agent import AgentTurns
from ._files import DEFAULT_MAX_FETCH_BYTES, Files
from ._jobs import Generations, describe_model
from ._money import Confirmations, Limits, MoneyRefusal
from ._places import AddressCheck, Folders, is_public
from ._results import Answers, Redactor, ToolFailure

DEFAULT_MAX_WAIT = 50.0
"""Seconds one tool call waits for a job or a turn at most: below the 60 s after which common MCP
clients give up on a call."""

_MODEL_ID = Field(description="the model's id, as models_list gives it (e.g. higgsfield-ai/soul/standard)")
_KIND = Field(description='"image" or "video"; all models when left out')
_TEXT = Field(description="your message to the agent (or your answer to its question)")
_REQUEST_ID = Field(description="the job's request_id, as generate returned it")
_REPORTED = (HiggsfieldError, ToolFailure, MoneyRefusal, OSError)
"""What a tool answers as an error result; anything else is a bug, which the SDK reports."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerOptions:
    """How ``higgsfield-sansio mcp`` is started.

    Attributes:
        allow_dirs: the folders ``upload`` may read from and ``download`` may write into (none:
            no file access).
        max_credits_per_call: refuse a generation that costs more (None: no cap).
        budget: refuse a generation that would take the server's spending, over its life, above
            this many credits (None: no budget): a budget block of the server's client, so that
            ``client.spent`` and any budget of the client's own count the same jobs.
        confirm_above: above this price a generation needs a confirmation token (None: never).
        max_wait: the most seconds one call waits for a job or an agent turn.
        max_fetch_bytes: the largest file ``upload`` fetches from a URL.
    """

    allow_dirs: tuple[Path, ...] = ()
    max_credits_per_call: Optional[Decimal] = None
    budget: Optional[Decimal] = None
    confirm_above: Optional[Decimal] = None
    max_wait: float = DEFAULT_MAX_WAIT
    max_fetch_bytes: int = DEFAULT_MAX_FETCH_BYTES

    def __post_init__(self) -> None:
        for name in ("max_credits_per_call", "budget", "confirm_above"):
            value = getattr(self, name)
            if value is not None and not (value.is_finite() and value >= 0):
                raise InvalidArgumentError(f"{name} must be a number of credits, 0 or more")
        if not self.max_wait > 0:
            raise InvalidArgumentError("max_wait must be a positive number of seconds")

    def folders(self) -> Folders:
        """The allowed folders, resolved.

        Raises:
            InvalidArgumentError: one is not an existing folder.
        """
        resolved = []
        for folder in self.allow_dirs:
            path = Path(os.path.expanduser(folder)).resolve()
            if not path.is_dir():
                raise InvalidArgumentError(f"--allow-dir {folder}: not an existing folder")
            resolved.append(path)
        return Folders(resolved)


class _Progress:
    """MCP progress for one call: seconds waited (strictly growing), out of the wait's bound."""

    def __init__(self, ctx: Context[Any, Any], total: float) -> None:
        self._ctx = ctx
        self._total = total
        self._start = time.monotonic()
        self._last = 0.0

    async def __call__(self, message: str) -> None:
        value = max(round(time.monotonic() - self._start, 2), round(self._last + 0.01, 2))
        self._last = value
        await self._ctx.report_progress(value, self._total, message)


class HiggsfieldServer:
    """The SDK as an MCP server: the tools and resources of ``higgsfield-sansio mcp``.

    Args:
        options: the folders, money rules and bounds.
        client: the client every call goes through; by default one configured from the
            environment (``HF_KEY``..., ``HIGGSFIELD_BASE_URL``), closed with the server.
        url_addresses: which addresses ``upload`` may fetch a URL from. Keep the default (public
            addresses only) for any server a model drives; a test of the fetch against a
            loopback server passes a wider check.

    Raises:
        InvalidArgumentError: bad options (an allowed folder that does not exist...).
    """

    def __init__(
        self,
        options: ServerOptions = ServerOptions(),
        *,
        client: Optional[AsyncClient] = None,
        url_addresses: AddressCheck = is_public,
    ) -> None:
        from ..models import snapshot_catalog

        self.options = options
        self._owns_client = client is None
        self.client = client if client is not None else AsyncClient()
        folders = options.folders()
        self.limits = Limits(self.client, budget=options.budget, max_per_call=options.max_credits_per_call)
        confirmations = None if options.confirm_above is None else Confirmations(options.confirm_above)
        self.generations = Generations(
            self.client, snapshot_catalog(), self.limits, confirmations, options.max_wait
        )
        self.files = Files(self.client, folders, max_bytes=options.max_fetch_bytes, allowed=url_addresses)
        self.agents = AgentTurns(self.client, options.max_wait)
        self.answers = Answers(Redactor(_secrets(self.client)))
        self.server: MCPServer[Any] = MCPServer(
            "higgsfield",
            title="Higgsfield AI",
            instructions=text.INSTRUCTIONS,
            log_level="WARNING",
        )
        self._add_tools(folders)
        self._add_resources()

    async def aclose(self) -> None:
        """Close the connections of the server's clients (the given client stays open, its
        budget block for ``--budget`` closed)."""
        self.limits.close()
        await self.files.aclose()
        if self._owns_client:
            await self.client.aclose()

    # -- serving ----------------------------------------------------------------------------

    async def serve_stdio(self) -> None:
        """Serve one client on this process's standard input and output until it closes them."""
        try:
            await self.server.run_stdio_async()
        finally:
            await self.aclose()

    async def serve_http(
        self, host: str = "127.0.0.1", port: int = 0, *, ready: Callable[[str], None]
    ) -> None:
        """Serve Streamable HTTP on ``host``:``port`` (0: a free port) until interrupted.

        Only a loopback address is served: the server spends the account's credits for whoever
        reaches it, and has no authentication of its own. Host and Origin headers must name the
        address served (the MCP SDK's protection against DNS rebinding).

        Args:
            ready: called with the endpoint's URL once the port accepts connections.

        Raises:
            InvalidArgumentError: ``host`` is not a loopback address.
        """
        import uvicorn

        if not _is_loopback(host):
            raise InvalidArgumentError(
                f"--host {host}: the MCP server serves only a loopback address (127.0.0.1, ::1, "
                "localhost); it has no authentication, and whoever reaches it spends your credits"
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        bound = listener.getsockname()[1]
        names = {f"[{host}]" if ":" in host else host, "localhost", "127.0.0.1", "[::1]"}
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[f"{name}:{bound}" for name in sorted(names)],
            allowed_origins=[f"http://{name}:{bound}" for name in sorted(names)],
        )
        app = self.server.streamable_http_app(transport_security=security, host=host)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        listener.listen(128)
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{bound}/mcp")
        try:
            await uvicorn.Server(config).serve(sockets=[listener])
        finally:
            listener.close()
            await self.aclose()

    # -- the tools and resources ------------------------------------------------------------

    async def _answer(self, work: Callable[[], Any]) -> CallToolResult:
        """The result of ``work()`` (a document, or an awaitable of one), or the error it raised."""
        try:
            document = work()
            if inspect.isawaitable(document):
                document = await document
            return self.answers.ok(document)
        except _REPORTED as exc:
            return self.answers.error(exc)

    def _add_tools(self, folders: Folders) -> None:
        generations, answer = self.generations, self._answer
        free = ToolAnnotations(read_only_hint=True, open_world_hint=True)

        async def models_list(
            kind: Annotated[Optional[str], _KIND] = None,
        ) -> CallToolResult:
            return await answer(lambda: generations.models(kind))

        async def model_get(model_id: Annotated[str, _MODEL_ID]) -> CallToolResult:
            return await answer(lambda: describe_model(generations.model(model_id), full=True))

        async def estimate(
            model_id: Annotated[str, _MODEL_ID],
            arguments: Annotated[Dict[str, Any], Field(description="the model's arguments, as for generate")],
        ) -> CallToolResult:
            return await answer(lambda: generations.estimate(model_id, arguments))

        async def generate(
            ctx: Context[Any, Any],
            model_id: Annotated[str, _MODEL_ID],
            arguments: Annotated[Dict[str, Any], Field(description="the model's arguments (see model_get)")],
            wait_seconds: Annotated[
                float, Field(ge=0, description="seconds to wait for the outputs (capped); 0 returns at once")
            ] = 0,
            idempotency_key: Annotated[
                Optional[str], Field(description="a unique string; the same key again returns the same job")
            ] = None,
            confirmation_token: Annotated[
                Optional[str], Field(description="the token of a confirmation_required answer, once approved")
            ] = None,
        ) -> CallToolResult:
            return await answer(
                lambda: generations.generate(
                    model_id,
                    arguments,
                    wait_seconds=wait_seconds,
                    idempotency_key=idempotency_key,
                    confirmation_token=confirmation_token,
                    progress=_Progress(ctx, min(wait_seconds, self.options.max_wait)),
                )
            )

        async def job_status(request_id: Annotated[str, _REQUEST_ID]) -> CallToolResult:
            return await answer(lambda: generations.status(request_id))

        async def job_wait(
            ctx: Context[Any, Any],
            request_id: Annotated[str, _REQUEST_ID],
            timeout_seconds: Annotated[
                float, Field(gt=0, description="the most seconds to wait this time (capped by the server)")
            ] = self.options.max_wait,
        ) -> CallToolResult:
            bound = min(timeout_seconds, self.options.max_wait)
            return await answer(lambda: generations.wait(request_id, bound, _Progress(ctx, bound)))

        async def job_cancel(request_id: Annotated[str, _REQUEST_ID]) -> CallToolResult:
            return await answer(lambda: generations.cancel(request_id))

        async def upload(
            source: Annotated[str, Field(description="a file path in an allowed folder, or an http(s) URL")],
            content_type: Annotated[
                Optional[str], Field(description="e.g. image/png; guessed from the file when left out")
            ] = None,
        ) -> CallToolResult:
            return await answer(lambda: self.files.upload(source, content_type))

        async def download(
            request_id: Annotated[str, _REQUEST_ID],
            to: Annotated[
                Optional[str], Field(description="the folder to save into (default: the first allowed one)")
            ] = None,
        ) -> CallToolResult:
            return await answer(lambda: self.files.download(request_id, to))

        async def agent_run(
            ctx: Context[Any, Any],
            text: Annotated[str, _TEXT] = "",
            session_id: Annotated[
                Optional[str], Field(description="continue this session (from an earlier answer)")
            ] = None,
            message_id: Annotated[
                Optional[str], Field(description="only to wait again for a turn that was still running")
            ] = None,
        ) -> Union[CallToolResult, InputRequiredResult]:
            try:
                outcome = await self.agents.run(
                    ctx,
                    _Progress(ctx, self.options.max_wait),
                    text=text,
                    session_id=session_id,
                    message_id=message_id,
                )
            except _REPORTED as exc:
                return self.answers.error(exc)
            return outcome if isinstance(outcome, InputRequiredResult) else self.answers.ok(outcome)

        shown = folders.describe()
        billed = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
        for function, description, hints in (
            (models_list, text.MODELS_LIST, free),
            (model_get, text.MODEL_GET, free),
            (estimate, text.ESTIMATE, free),
            (generate, text.GENERATE, billed.model_copy(update={"idempotent_hint": True})),
            (job_status, text.JOB_STATUS, free),
            (job_wait, text.JOB_WAIT, free),
            (job_cancel, text.JOB_CANCEL, billed.model_copy(update={"destructive_hint": True})),
            (upload, text.UPLOAD.format(folders=shown), billed),
            (download, text.DOWNLOAD.format(folders=shown), billed),
            (agent_run, text.AGENT_RUN, billed),
        ):
            self.server.add_tool(function, description=description, annotations=hints)

    def _add_resources(self) -> None:
        generations, answers = self.generations, self.answers

        @self.server.resource(
            "higgsfield://models",
            name="models",
            description="Every model of the catalog: id, kind, price (as models_list).",
            mime_type="application/json",
        )
        def models() -> str:
            return answers.json(generations.models(None))

        @self.server.resource(
            "higgsfield://models/{+model_id}",
            name="model",
            description="One model: its arguments, JSON schema and price (as model_get).",
            mime_type="application/json",
        )
        def model(model_id: str) -> str:
            try:
                return answers.json(describe_model(generations.model(model_id), full=True))
            except UnknownModelError as exc:
                raise ResourceNotFoundError(answers.redactor.text(str(exc))) from None

        @self.server.resource(
            "higgsfield://jobs/{request_id}",
            name="job",
            description="A job's current state and, once completed, its outputs (as job_status).",
            mime_type="application/json",
        )
        async def job(request_id: str) -> str:
            try:
                return answers.json(await generations.status(request_id))
            except NotFoundError:
                raise ResourceNotFoundError(f"no job {request_id} on this account") from None
            except HiggsfieldError as exc:
                raise ResourceError(answers.redactor.text(f"{type(exc).__name__}: {exc}")) from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secrets(client: AsyncClient) -> list[str]:
    """The client's API key and its parts, never to be shown (none when it has no key)."""
    try:
        credentials = client._calls.settings.config.credentials
    except CredentialsMissedError:
        return []
    found = [credentials.secret, f"{credentials.key_id}:{credentials.secret}"]
    return found + ([credentials.key_id] if len(credentials.key_id) >= 8 else [])
