"""The emulator's HTTP routes (aiohttp.web): the API, the storage host, the outputs, and faults."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import re
import shutil
import time
import uuid
import weakref
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Set, Tuple
from urllib.parse import urlsplit

from aiohttp import web

from ._account import Account
from ._agent_routes import AgentRoutes
from ._catalog import ArgumentChecker, ModelSpec, batch_size, estimate
from ._faults import AFTER_HANDLER_KINDS, FAULT_ROUTES, SCRIPT_ONLY_ROUTES, FaultPlan
from ._jobs import Job, JobBook, JobInfo, JobScript, QueueFull
from ._journal import Journal, JournalEntry
from ._media import VIDEO_FORMAT, Renderings, image_format, image_size, render_image, render_video
from ._uploads import SUPPORTED_CONTENT_TYPES, PutRejected, UploadStore
from ._wire import BODY_LENGTH, CORRELATION_ID, detail, loc_error, parse_object, read_body, s3_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_FAULTABLE_ROUTES = frozenset(FAULT_ROUTES + SCRIPT_ONLY_ROUTES)
_CHUNK = 256 * 1024
_HTML_502 = (
    "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    "<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)
_FAULT_STATUS = {
    "500": (500, "Internal Server Error"),
    "502": (502, "Bad Gateway"),
    "503": (503, "Service Unavailable"),
    "504": (504, "Gateway Timeout"),
}
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Settings:
    """The fixed settings the routes read; mutable ones live in the components."""

    base_url: str
    api_key: str
    retry_after: int
    slow_seconds: float
    full_size_images: bool
    retention: int


def status_payload(info: JobInfo, base_url: str) -> Dict[str, Any]:
    """The status body (also the webhook body) of a job in its current state."""
    rid = info.request_id
    expires = _iso(info.expires_at) if info.expires_at is not None else None
    if info.status == "failed":
        return {"status": "failed", "request_id": rid, "error": info.error, "expires_at": expires}
    if info.status == "nsfw":
        return {"status": "nsfw", "request_id": rid, "expires_at": expires}
    if info.status == "canceled":
        return {"status": "canceled", "request_id": rid}
    payload: Dict[str, Any] = {
        "status": info.status,
        "request_id": rid,
        "status_url": f"{base_url}/requests/{rid}/status",
        "cancel_url": f"{base_url}/requests/{rid}/cancel",
    }
    if info.status == "completed":
        names = _output_names(info)
        if info.kind == "video":
            payload["video"] = {"url": f"{base_url}/outputs/{rid}/{names[0]}"}
        else:
            payload["images"] = [{"url": f"{base_url}/outputs/{rid}/{name}"} for name in names]
        payload["expires_at"] = expires
    return payload


def _iso(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _output_names(info: JobInfo) -> List[str]:
    if info.kind == "video":
        return [f"video.{VIDEO_FORMAT[2]}"]
    extension = image_format(info.arguments)[2]
    return [f"{index}.{extension}" for index in range(info.batch_size)]


class Api:
    """The routes and the state they share; build the aiohttp app with `make_app`.

    Args:
        settings: fixed settings.
        catalog: the models by id.
        book, uploads, faults, journal: the emulator's components.
        agent: the Agent API's routes.
        outputs: directory where generated output files are written.
        take_script: returns the scripted outcome for the next accepted job, if any;
            ``give_back`` returns it when the submit was then refused.
        timings: returns (queue time, run time) for a new job.
        changed: called on the loop after a job was added, to arm the state timer.
        openapi: returns the bytes served as the published OpenAPI document.
        account: the account's balance and ledger.
    """

    def __init__(
        self,
        settings: Settings,
        catalog: Mapping[str, ModelSpec],
        book: JobBook,
        uploads: UploadStore,
        faults: FaultPlan,
        journal: Journal,
        agent: AgentRoutes,
        outputs: Path,
        take_script: Callable[[], Optional[JobScript]],
        give_back: Callable[[JobScript], None],
        timings: Callable[[], Tuple[float, float]],
        changed: Callable[[], None],
        openapi: Callable[[], bytes],
        account: Account,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.book = book
        self.uploads = uploads
        self.faults = faults
        self.journal = journal
        self.agent = agent
        self.outputs = outputs
        self._take_script = take_script
        self._give_back = give_back
        self._timings = timings
        self._changed = changed
        self._openapi = openapi
        self.account = account
        self._checkers: Dict[str, ArgumentChecker] = {}
        self._connection_ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._connections_seen = 0
        self._idempotency: Dict[str, Tuple[str, Dict[str, Any]]] = {}
        self._renderings = Renderings()
        self._public_routes: Set[web.AbstractRoute] = set()

    def make_app(self) -> web.Application:
        """The aiohttp application; specific routes come before the catch-all model route.

        Every route requires credentials unless `_add_route` registered it with ``public=True``.
        """
        app = web.Application(middlewares=[self._middleware])
        app.on_response_prepare.append(self._add_correlation_id)
        add = self._add_route
        add(app, "GET", "/requests/{request_id}/status", self.status, name="status")
        add(app, "POST", "/requests/{request_id}/cancel", self.cancel, name="cancel")
        add(app, "DELETE", "/requests/{request_id}", self.delete, name="delete")
        add(app, "POST", "/files/generate-upload-url", self.upload_url, name="upload-url")
        add(app, "POST", "/estimate/{model_id:.+}", self.estimate, name="estimate")
        for method, path, handler, name, public in self.agent.routes():
            add(app, method, path, handler, name=name, public=public)
        # The storage host and the CDN: reached by presigned or public URLs, never with credentials.
        add(app, "PUT", "/storage/{slot_id}", self.put, name="put", public=True)
        add(app, "GET", "/uploads/{name}", self.public_file, name="upload", public=True)
        add(app, "GET", "/outputs/{request_id}/{name}", self.output, name="output", public=True)
        # The docs site publishes the OpenAPI document without credentials.
        add(app, "GET", "/docs/openapi.json", self.openapi, name="openapi", public=True)
        add(app, "POST", "/{model_id:.+}", self.submit, name="submit")
        return app

    def _add_route(
        self,
        app: web.Application,
        method: str,
        path: str,
        handler: Handler,
        *,
        name: str,
        public: bool = False,
    ) -> None:
        """Register ``handler`` for ``method`` on ``path`` (a GET answers HEAD too).

        The route requires credentials unless ``public`` is true. Routes registered any other
        way, and requests that match no route, require them as well.
        """
        resource = app.router.add_resource(path, name=name)
        for verb in (method, "HEAD") if method == "GET" else (method,):
            route = resource.add_route(verb, handler)
            if public:
                self._public_routes.add(route)

    # -- plumbing ---------------------------------------------------------------------------

    async def _add_correlation_id(self, request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Correlation-ID"] = request.get(CORRELATION_ID) or str(uuid.uuid4())

    def _connection_id(self, request: web.Request) -> int:
        transport = request.transport
        if transport is None:
            return 0
        known = self._connection_ids.get(transport)
        if known is None:
            self._connections_seen += 1
            known = self._connection_ids[transport] = self._connections_seen
        return known

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = getattr(request.match_info.route, "name", None) or "unknown"
        request[CORRELATION_ID] = str(uuid.uuid4())
        request[BODY_LENGTH] = 0
        arrived = time.time()
        connection_id = self._connection_id(request)
        fault = self.faults.pick(route) if route in _FAULTABLE_ROUTES else None
        response: Optional[web.StreamResponse] = None
        try:
            if fault is not None and fault not in AFTER_HANDLER_KINDS:
                await self._drain(request)
                response = self._fault_response(request, route, fault)
                if response is None:
                    # "drop": the request arrived in full, then the connection dies unanswered.
                    if request.transport is not None:
                        request.transport.abort()
                    return web.Response(status=499)
                return response
            public = request.match_info.route in self._public_routes
            if not public and not self._authorized(request):
                response = detail(401, "Invalid credentials")
                return response
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                kept = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
                response = detail(exc.status, exc.reason, headers=kept)
            if fault == "slow":
                await asyncio.sleep(self.settings.slow_seconds)
            elif fault == "truncate":
                response = await self._truncate(request, response)
            elif fault == "stall":
                response = await self._stall(request, response)
            return response
        finally:
            if self.journal.enabled:
                self._record(request, route, response, fault, connection_id, arrived)

    def _record(
        self,
        request: web.Request,
        route: str,
        response: Optional[web.StreamResponse],
        fault: Optional[str],
        connection_id: int,
        arrived: float,
    ) -> None:
        self.journal.append(
            JournalEntry(
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body_length=request[BODY_LENGTH],
                route=route,
                status=None if response is None else response.status,
                fault=fault,
                connection_id=connection_id,
                correlation_id=request[CORRELATION_ID],
                time=arrived,
            )
        )

    def _authorized(self, request: web.Request) -> bool:
        expected = self.settings.api_key.encode()
        header = request.headers.get("Authorization")
        if header is not None:
            scheme, _, credentials = header.partition(" ")
            given = credentials.strip().encode() if scheme.lower() == "key" else b""
            return hmac.compare_digest(given, expected)
        key_id = request.headers.get("hf-api-key")
        secret = request.headers.get("hf-secret")
        if key_id is None or secret is None:
            return False
        return hmac.compare_digest(f"{key_id}:{secret}".encode(), expected)

    async def _drain(self, request: web.Request) -> None:
        # Read the body in chunks, never whole: a faulted PUT may carry a large upload.
        async for chunk in request.content.iter_chunked(_CHUNK):
            request[BODY_LENGTH] += len(chunk)

    def _fault_response(
        self, request: web.Request, route: str, fault: str
    ) -> Optional[web.StreamResponse]:
        retry = {"Retry-After": str(self.settings.retry_after)}
        if fault == "429":
            if route == "submit":
                return web.json_response(self._queue_full_body(), status=429, headers=retry)
            return detail(429, "Too Many Requests", headers=retry)
        if fault in _FAULT_STATUS:
            status, reason = _FAULT_STATUS[fault]
            return detail(status, reason)
        if fault == "html":
            return web.Response(status=502, text=_HTML_502, content_type="text/html")
        if fault == "redirect_samehost":
            return web.Response(status=307, headers={"Location": str(request.url)})
        if fault == "redirect_offhost":
            url = request.url
            host = "localhost" if url.host == "127.0.0.1" else "127.0.0.1"
            return web.Response(status=307, headers={"Location": str(url.with_host(host))})
        return None

    async def _truncate(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        # Promise more bytes than are sent, then close: the client sees a short body.
        data, damaged = _restream(response, extra_length=16)
        await damaged.prepare(request)
        await damaged.write(data[: len(data) // 2])
        if request.transport is not None:
            request.transport.close()
        return damaged

    async def _stall(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        # The whole length is promised; half is sent, then nothing for slow_seconds, then the rest.
        data, stalled = _restream(response)
        await stalled.prepare(request)
        await stalled.write(data[: len(data) // 2])
        await asyncio.sleep(self.settings.slow_seconds)
        await stalled.write(data[len(data) // 2 :])
        await stalled.write_eof()
        return stalled

    def _queue_full_body(self) -> Dict[str, Any]:
        return {
            "detail": "Account queue is full",
            "code": "account_queue_full",
            "limit": self.book.queue_limit,
        }

    # -- API routes ---------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """POST /{model_id}: validate, apply the idempotency key and capacity, queue a job."""
        model_id = request.match_info["model_id"]
        model = self.catalog.get(model_id)
        if model is None:
            return detail(404, f"Model '{model_id}' not found")
        body, errors = parse_object(await read_body(request))
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (1 <= len(key) <= 255 and all("!" <= c <= "~" for c in key)):
            errors.append(loc_error(
                "string_pattern_mismatch", ["header", "idempotency-key"],
                "Idempotency-Key must be 1 to 255 visible ASCII characters without whitespace",
                key,
            ))
        expires_after, expiry_errors = self._expires_after(request)
        errors.extend(expiry_errors)
        webhook = request.query.get("hf_webhook")
        if webhook is not None and not _is_http_url(webhook):
            errors.append(loc_error(
                "url_scheme", ["query", "hf_webhook"], "URL scheme should be 'http' or 'https'",
                webhook,
            ))
        if body is not None:
            errors.extend(self._argument_errors(model, body))
        if errors or body is None:
            return detail(422, errors)
        fingerprint = json.dumps(
            [request.path, body, webhook, request.headers.get("Hf-Expires-After")],
            sort_keys=True,
            separators=(",", ":"),
        )
        if key is not None and key in self._idempotency:
            original_fingerprint, answer = self._idempotency[key]
            if original_fingerprint != fingerprint:
                return detail(422, "Idempotency-Key reused with different parameters")
            return web.json_response(answer)
        # The price is held against the balance; the generation API answers 403 when it does
        # not cover it (402 is the Agent API's code for the same).
        price = Decimal(estimate(model, body)["credits"])
        if not self.account.covers(price):
            return detail(403, self.account.shortfall(price))
        script = self._take_script()
        job = self._new_job(model, body, expires_after, webhook, key, script)
        try:
            self.book.add(job, job.submitted)
        except QueueFull:
            if script is not None:
                self._give_back(script)
            retry = {"Retry-After": str(self.settings.retry_after)}
            return web.json_response(self._queue_full_body(), status=429, headers=retry)
        self.account.hold(job.request_id, model.model_id, price)
        base = self.settings.base_url
        answer = {
            "status": "queued",
            "request_id": job.request_id,
            "status_url": f"{base}/requests/{job.request_id}/status",
            "cancel_url": f"{base}/requests/{job.request_id}/cancel",
        }
        if key is not None:
            self._idempotency[key] = (fingerprint, answer)
        self._changed()
        return web.json_response(answer)

    def _expires_after(self, request: web.Request) -> Tuple[int, List[Dict[str, Any]]]:
        raw = request.headers.get("Hf-Expires-After")
        retention = self.settings.retention
        if raw is None:
            return retention, []
        loc = ["header", "hf-expires-after"]
        if not _DIGITS.fullmatch(raw):
            msg = "Input should be a valid integer, unable to parse string as an integer"
            return retention, [loc_error("int_parsing", loc, msg, raw)]
        value = int(raw)
        if value < 3600:
            item = loc_error("greater_than_equal", loc,
                              "Input should be greater than or equal to 3600", raw)
            item["ctx"] = {"ge": 3600}
            return retention, [item]
        if value > retention:
            item = loc_error("less_than_equal", loc,
                              f"Input should be less than or equal to {retention}", raw)
            item["ctx"] = {"le": retention}
            return retention, [item]
        return value, []

    def _new_job(
        self,
        model: ModelSpec,
        body: Dict[str, Any],
        expires_after: int,
        webhook: Optional[str],
        key: Optional[str],
        script: Optional[JobScript],
    ) -> Job:
        # A scripted outcome wins over the prompt markers; scripted timings over the defaults.
        prompt = body.get("prompt")
        prompt = prompt if isinstance(prompt, str) else ""
        outcome, error = "completed", None
        if script is not None:
            outcome, error = script.outcome, script.error
        elif "[nsfw]" in prompt:
            outcome = "nsfw"
        elif "[fail]" in prompt:
            outcome, error = "failed", "Generation failed: the prompt asked for a failure ([fail])"
        if outcome == "failed" and error is None:
            error = "Generation failed"
        queue_time, run_time = self._timings()
        if script is not None and script.queue_time is not None:
            queue_time = script.queue_time
        if script is not None and script.run_time is not None:
            run_time = script.run_time
        return Job(
            request_id=(script.request_id if script is not None else None) or str(uuid.uuid4()),
            model=model,
            arguments=body,
            outcome=outcome,
            error=error,
            batch_size=batch_size(model, body),
            submitted=time.monotonic(),
            submitted_wall=time.time(),
            queue_time=queue_time,
            run_time=run_time,
            expires_after=expires_after,
            webhook_url=webhook,
            idempotency_key=key,
        )

    async def status(self, request: web.Request) -> web.StreamResponse:
        """GET /requests/{id}/status."""
        info = self.book.peek(request.match_info["request_id"], time.monotonic())
        if info is None:
            return detail(404, "Request not found")
        return web.json_response(status_payload(info, self.settings.base_url))

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        """POST /requests/{id}/cancel: 202 while queued, 400 once started or finished."""
        await read_body(request)
        request_id = request.match_info["request_id"]
        result = self.book.cancel(request_id, time.monotonic())
        if result == "missing":
            return detail(404, "Request not found")
        if result == "started":
            return detail(400, "Request is already being processed and can no longer be canceled")
        self.account.settle(request_id, "canceled")
        return web.Response(status=202)

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """DELETE /requests/{id}: drop a finished request's files (idempotent)."""
        request_id = request.match_info["request_id"]
        result = self.book.delete(request_id, time.monotonic())
        if result == "missing":
            return detail(404, "Request not found")
        if result == "unfinished":
            return detail(400, "Request is not finished; cancel it or wait for it to finish")
        shutil.rmtree(self.outputs / request_id, ignore_errors=True)
        return web.json_response({"request_id": request_id, "deleted": True})

    async def upload_url(self, request: web.Request) -> web.StreamResponse:
        """POST /files/generate-upload-url: open a presigned upload slot."""
        body, errors = parse_object(await read_body(request))
        if body is not None:
            content_type = body.get("content_type")
            if "content_type" not in body:
                errors.append(loc_error("missing", ["body", "content_type"], "Field required",
                                         body))
            elif content_type not in SUPPORTED_CONTENT_TYPES:
                expected = ", ".join(repr(ct) for ct in SUPPORTED_CONTENT_TYPES)
                item = loc_error("literal_error", ["body", "content_type"],
                                  f"Input should be {expected}", content_type)
                item["ctx"] = {"expected": expected}
                errors.append(item)
        if errors or body is None:
            return detail(422, errors)
        slot = self.uploads.create(body["content_type"], time.monotonic())
        return web.json_response(self.uploads.answer(slot, self.settings.base_url))

    async def estimate(self, request: web.Request) -> web.StreamResponse:
        """POST /estimate/{model_id}: the price of a submit body, as decimal strings."""
        model_id = request.match_info["model_id"]
        model = self.catalog.get(model_id)
        if model is None:
            return detail(404, f"Model '{model_id}' not found")
        body, errors = parse_object(await read_body(request))
        if body is not None:
            errors.extend(self._argument_errors(model, body))
        if errors or body is None:
            return detail(422, errors)
        return web.json_response(estimate(model, body))

    def _argument_errors(self, model: ModelSpec, body: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The 422 items for ``body``, with the model's schema (its checker is made once)."""
        checker = self._checkers.get(model.model_id)
        if checker is None:
            checker = self._checkers[model.model_id] = ArgumentChecker(model.json_schema())
        return checker.errors(body)

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        """GET /docs/openapi.json: the published OpenAPI document (see `Emulator.serve_openapi`)."""
        return web.Response(body=self._openapi(), content_type="application/json")

    # -- storage host and outputs -------------------------------------------------------------

    async def put(self, request: web.Request) -> web.StreamResponse:
        """PUT /storage/{slot}: the presigned upload, streamed to disk in chunks.

        A refused PUT (see `UploadStore.check_put`) is read to its end and stores nothing.
        """
        try:
            slot = self.uploads.check_put(
                request.match_info["slot_id"],
                request.query.get("X-Amz-Signature"),
                request.headers,
                time.monotonic(),
            )
        except PutRejected as exc:
            await self._drain(request)
            return s3_error(exc.status, exc.code, exc.message)
        slot.path.parent.mkdir(parents=True, exist_ok=True)
        # A private partial file per PUT: concurrent PUTs to one slot must not interleave.
        partial = slot.path.with_name(f"{slot.path.name}.{uuid.uuid4().hex}.part")
        digest = hashlib.md5(usedforsecurity=False)  # for the S3-style ETag only
        size = 0
        try:
            # Small local writes; running them on the loop is cheaper than a thread hop per chunk.
            with partial.open("wb") as sink:
                async for chunk in request.content.iter_chunked(_CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    request[BODY_LENGTH] = size
            partial.replace(slot.path)
        finally:
            partial.unlink(missing_ok=True)
        slot.size = size
        return web.Response(status=200, headers={"ETag": f'"{digest.hexdigest()}"'})

    async def public_file(self, request: web.Request) -> web.StreamResponse:
        """GET /uploads/{name}: the uploaded bytes, exactly, with the slot's content type."""
        slot = self.uploads.stored(request.match_info["name"])
        if slot is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.FileResponse(slot.path, headers={"Content-Type": slot.content_type})

    async def output(self, request: web.Request) -> web.StreamResponse:
        """GET /outputs/{id}/{name}: a completed job's output, made on first request."""
        request_id, name = request.match_info["request_id"], request.match_info["name"]
        info = self.book.peek(request_id, time.monotonic())
        gone = (
            info is None
            or info.status != "completed"
            or info.deleted
            or (info.expires_at is not None and time.time() >= info.expires_at)
            or name not in _output_names(info)
        )
        if gone or info is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        path = self.outputs / request_id / name
        render: Callable[[], bytes]
        size = image_size(info.arguments, self.settings.full_size_images)
        label = f"{info.model_id} #{name.split('.')[0]}"
        if info.kind == "video":
            content_type = VIDEO_FORMAT[1]
            picture = self._uploaded_picture(info.arguments)
            render = functools.partial(render_video, size, request_id, label, picture)
        else:
            pil_format, content_type, _ = image_format(info.arguments)
            render = functools.partial(render_image, size, pil_format, f"{request_id}/{name}", label)
        # Sent from memory (outputs are small) so that the "truncate" fault can cut the body.
        data = await self._renderings.read(path, render)
        return web.Response(body=data, headers={"Content-Type": content_type})

    def _uploaded_picture(self, arguments: Mapping[str, Any]) -> Optional[Path]:
        """The file of the first image among ``arguments`` that was uploaded to this emulator:
        a video is made from the job's own input picture where there is one."""
        prefix = f"{self.settings.base_url}/uploads/"
        for value in arguments.values():
            for url in value if isinstance(value, list) else [value]:
                if isinstance(url, str) and url.startswith(prefix):
                    slot = self.uploads.stored(url[len(prefix):])
                    if slot is not None and slot.content_type.startswith("image/"):
                        return slot.path
        return None


def _restream(response: web.StreamResponse, extra_length: int = 0) -> Tuple[bytes, web.StreamResponse]:
    """The body of ``response`` and a streamed answer with its status and headers, whose
    Content-Length is the body's plus ``extra_length``."""
    body = response.body if isinstance(response, web.Response) else b""
    data = body if isinstance(body, bytes) else b""
    copy = web.StreamResponse(status=response.status)
    for name, value in response.headers.items():
        if name.lower() != "content-length":
            copy.headers.add(name, value)
    copy.content_length = len(data) + extra_length
    return data, copy


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
