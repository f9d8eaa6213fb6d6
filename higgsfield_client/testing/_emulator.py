"""The `Emulator`: a loopback Higgsfield API server running on its own event loop in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Deque, Iterable, List, Mapping, Optional, Tuple, Type, Union

from ._account import Account, LedgerEntry
from ._agent import AgentBook, AgentScript, AgentSessionInfo
from ._agent_media import MediaBook
from ._catalog import DEFAULT_MODELS, ModelSpec, read_data
from ._faults import FaultPlan
from ._jobs import OUTCOMES, JobBook, JobInfo, JobScript
from ._journal import Journal, JournalEntry
from ._media import video_encoder
from ._uploads import UploadStore
from ._webhooks import WebhookDelivery, WebhookSender, check_webhook_body, webhook_body

if TYPE_CHECKING:
    from aiohttp import web

_START_TIMEOUT = 30.0
# stop() takes at most about a second (aiohttp's shutdown_timeout) unless something is wrong.
_STOP_TIMEOUT = 10.0


class Emulator:
    """A faithful local emulator of the Higgsfield generation API (see "The API on the wire").

    ``with Emulator() as emu:`` serves on a free loopback port until the block ends; point a
    client at ``emu.base_url`` with ``emu.api_key``. Jobs go queued -> in_progress -> a final
    state on their timings: a prompt containing ``[nsfw]`` ends ``nsfw``, ``[fail]`` ends
    ``failed``, anything else ``completed``, unless `script_next_job` says otherwise. States are
    computed from timestamps (see ``_jobs``): a job waits at least ``queue_time``, longer while
    ``concurrency_limit`` jobs are running, then runs ``run_time``.

    Every route requires ``api_key`` (``Authorization: Key id:secret``, or the legacy
    ``hf-api-key`` and ``hf-secret`` pair) and answers 401 ``{"detail": "Invalid credentials"}``
    without it, except the storage and CDN URLs: the presigned upload PUT, uploaded files, outputs
    and the images agent answers link. A request that matches no route needs credentials too
    before it learns 404 or 405.

    Faults (``fault_rate`` or `script_fault`) hit the API routes and the storage PUT; output
    downloads ("output", and "agent-output" for agent answer images) get only the faults scripted
    for them by name, and uploaded-file downloads none. They are decided before credentials are
    checked, as a proxy in front of the API would. "429" (with ``Retry-After``; on a submit the
    ``account_queue_full`` body), "500", "502", "503", "504", "html" (a 502 HTML page), "drop"
    (the request is read, then the connection closes unanswered) and the scripted-only
    "redirect_samehost"/"redirect_offhost" (307) answer *instead of* the route: nothing is
    created, canceled, deleted or stored. "slow" (answer after ``slow_seconds``) and "truncate" (a
    Content-Length longer than the body sent, then close) happen *after* the route did its work: a
    submit has created its job (and recorded its Idempotency-Key), so the client sees an ambiguous
    failure that only an idempotent retry resolves safely. The scripted-only "stall" sends the
    answer's headers and half its body, pauses ``slow_seconds``, then sends the rest (a download
    caught in the middle).

    Webhooks are sent for ``completed``, ``failed`` and ``nsfw`` only; the API's documents leave
    ``canceled`` open, and the emulator sends nothing for it.

    The Agent API is served under ``{base_url}/v1/agent`` with the same credentials. A message's
    turn runs ``agent_turn_time`` and answers ``Echo: <content>`` (an answer to a question too),
    unless `script_agent_turn` or a marker in the content (``[fail]``, ``[question]``, ``[hang]``;
    ``[long]`` runs ``agent_long_turn_time``, ``[image]`` links a generated PNG) says otherwise;
    `agent_sessions` shows each session's rows. The choices made where the protocol is silent are
    listed in ``_agent`` and in the testing guide.

    Args:
        host: interface to bind; keep it on loopback.
        port: port to bind; 0 picks a free one.
        queue_time: seconds a job waits before it may start.
        run_time: seconds a job runs.
        fault_rate: share (0.0 to 1.0) of API and storage PUT requests answered with a random
            fault; can be changed later through the attribute of the same name.
        seed: makes fault choices and timing jitter reproducible.
        webhook_secret: a ``whsec_...`` secret; webhook deliveries are signed when it is given.
        webhook_body: the deliveries' body shape: "flat" (the status answer's fields) or
            "nested" (``request_id``, ``status`` and ``error`` at the top, the results under
            ``payload``); can be changed later, between jobs.
        concurrency_limit: jobs in progress at once; later jobs stay queued until a slot frees.
        queue_limit: queued outputs (a batch counts each image) beyond which submits get 429
            ``account_queue_full``.
        retry_after: the ``Retry-After`` seconds of 429 answers.
        webhook_retry_window: seconds during which failed webhook deliveries are retried (less
            once the request's data expires or is deleted).
        webhook_retry_delay: first retry delay; doubles up to ``webhook_retry_max_delay``.
        webhook_retry_max_delay: the longest delay between two attempts.
        webhook_timeout: seconds a webhook receiver has to answer one attempt.
        slow_seconds: delay of the "slow" fault, and the longest a webhook event scripted
            "out_of_order" is held back.
        ssl_context: serve HTTPS with this server context; ``base_url`` then names ``localhost``.
        storage_dir: where uploads and outputs (agent answer images included) go; a temporary
            directory (removed on stop) if None.
        api_key: the ``id:secret`` key to accept; a random one if None.
        upload_headers_style: how ``upload_headers`` is answered ("normal", "lowercase",
            "missing", "empty", "no_content_type"); can be changed later.
        upload_url_ttl: seconds an upload slot stays valid.
        full_size_images: render images at their nominal size instead of at most 256 pixels.
        timing_jitter: each job's queue and run time is scaled by a random factor within
            1 +/- this fraction.
        retention: the account's data retention in seconds (the ``Hf-Expires-After`` maximum).
        models: the models to accept; if None, `DEFAULT_MODELS`: every model of the SDK's
            catalog, checked against its published schema (see "Models" in the docs).
        journal_limit: newest journal entries kept (None keeps all, 0 keeps none).
        agent_turn_time: seconds an unscripted Agent API turn runs; can be changed later.
        agent_long_turn_time: seconds an unscripted turn runs when its message contains
            ``[long]``; None makes it ten times ``agent_turn_time``. Can be changed later.
        agent_answer_lag: seconds the answer to an agent's question still reads
            ``awaiting_input`` before its turn turns ``processing`` (a stale poll: a client
            that takes it for a new question answers twice), unless the question's script says
            otherwise.
        agent_access: the account may use the Agent API; False answers 403
            ``agent_api_access_denied`` on every agent route. Can be changed later.
        agent_credits: the account has credits; False answers 402 ``insufficient_credits`` to
            agent messages. Can be changed later.
        balance: the account's credits for generations (None: no limit); readable and
            settable as ``balance``. A submit holds its price (the estimate's), a completed job
            is charged it, a failed, NSFW or canceled one gets it back; a submit whose price the
            balance less what is held does not cover is answered 403 (the generation API's code
            for insufficient credits). ``ledger`` lists every movement.

    Raises:
        ValueError: an argument is out of range (fault rate, limits, webhook secret or body
            shape, style, agent times, a negative or non-numeric balance).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        queue_time: float = 0.2,
        run_time: float = 0.5,
        fault_rate: float = 0.0,
        seed: Optional[int] = None,
        webhook_secret: Optional[str] = None,
        webhook_body: str = "flat",
        concurrency_limit: int = 50,
        queue_limit: int = 10_000,
        retry_after: int = 1,
        webhook_retry_window: float = 7200.0,
        webhook_retry_delay: float = 0.1,
        webhook_retry_max_delay: float = 60.0,
        webhook_timeout: float = 10.0,
        slow_seconds: float = 2.0,
        ssl_context: Optional[ssl.SSLContext] = None,
        storage_dir: Union[str, Path, None] = None,
        api_key: Optional[str] = None,
        upload_headers_style: str = "normal",
        upload_url_ttl: float = 3600.0,
        full_size_images: bool = False,
        timing_jitter: float = 0.1,
        retention: int = 604_800,
        models: Optional[Iterable[ModelSpec]] = None,
        journal_limit: Optional[int] = 100_000,
        agent_turn_time: float = 0.2,
        agent_long_turn_time: Optional[float] = None,
        agent_answer_lag: float = 0.0,
        agent_access: bool = True,
        agent_credits: bool = True,
        balance: Union[Decimal, int, str, None] = None,
    ) -> None:
        if not 0.0 <= timing_jitter < 1.0:
            raise ValueError("timing_jitter must be at least 0.0 and below 1.0")
        self.host = host
        self.queue_time = queue_time
        self.run_time = run_time
        self.timing_jitter = timing_jitter
        self._port = port
        self._ssl = ssl_context
        self._api_key = api_key or f"emu-{secrets.token_hex(6)}:{secrets.token_hex(16)}"
        if ":" not in self._api_key:
            raise ValueError("api_key must look like 'key_id:key_secret'")
        self._retry_after = retry_after
        self._slow_seconds = slow_seconds
        self._full_size = full_size_images
        self._retention = retention
        self._storage_arg = None if storage_dir is None else Path(storage_dir)
        self._upload_ttl = upload_url_ttl
        self._catalog = {m.model_id: m for m in (DEFAULT_MODELS if models is None else models)}
        self._openapi = read_data("openapi.json")
        self._webhook_body = check_webhook_body(webhook_body)
        self._timing_rng = random.Random(None if seed is None else f"timings:{seed}")
        self._faults = FaultPlan(fault_rate, seed)
        self._journal = Journal(journal_limit)
        self._webhooks = WebhookSender(
            webhook_secret,
            window=webhook_retry_window,
            first_delay=webhook_retry_delay,
            max_delay=webhook_retry_max_delay,
            timeout=webhook_timeout,
            hold=slow_seconds,
            faults=self._faults,
            journal=self._journal,
        )
        self._book = JobBook(concurrency_limit, queue_limit, self._job_finished)
        self._uploads = UploadStore(Path(), upload_url_ttl, upload_headers_style)
        self._scripts: Deque[JobScript] = deque()
        self._account = Account(_credits(balance))
        self._agent = AgentBook(
            agent_turn_time, agent_long_turn_time, agent_answer_lag, agent_access, agent_credits
        )
        self._media = MediaBook(self._uploads)
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._base_url: Optional[str] = None
        self._storage: Optional[Path] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._runner: Optional[web.AppRunner] = None
        self._connections = 0
        self._timer: Optional[asyncio.TimerHandle] = None
        self._timer_at = 0.0

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()

    def start(self) -> Emulator:
        """Start serving in a background thread; returns once the port accepts connections.

        Raises:
            RuntimeError: already started.
            OSError: the address could not be bound.
        """
        if self._thread is not None:
            raise RuntimeError("this Emulator was already started; make a new one")
        ready = threading.Event()
        failure: List[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name="higgsfield-emulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(_START_TIMEOUT):
            raise RuntimeError("the emulator did not start in time")
        if failure:
            self._thread.join()
            raise failure[0]
        return self

    def stop(self) -> None:
        """Stop serving, close connections, cancel pending webhooks, remove the temp storage.

        Requests in progress get a second to finish; then every connection is dropped (idle
        keep-alive ones and those in a TLS handshake too) and handlers still running are
        cancelled.

        Raises:
            TimeoutError: the shutdown overran its bound of 10 s (``concurrent.futures.TimeoutError``
                on Python 3.10); the emulator is stopped all the same.
        """
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(_STOP_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(_STOP_TIMEOUT)
            if self._storage is not None and self._storage_arg is None:
                shutil.rmtree(self._storage, ignore_errors=True)

    def _serve(self, ready: threading.Event, failure: List[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # handed to the thread that called start()
            failure.append(exc)
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            # As asyncio.run() ends (a _close() that overran is still running): a task left
            # pending when its loop closes is reported as "Task was destroyed but it is pending!".
            loop.run_until_complete(_cancel_other_tasks())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _open(self) -> None:
        from aiohttp import web

        from ._agent_routes import AgentRoutes
        from ._app import Api, Settings
        from ._control import Control

        storage = self._storage_arg or Path(tempfile.mkdtemp(prefix="higgsfield-emulator-"))
        self._storage = storage
        self._uploads.directory = storage / "uploads"
        self._uploads.directory.mkdir(parents=True, exist_ok=True)
        # Bind before building the routes: base_url needs the port the system picked.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self._port), family=family, backlog=4096)
        port = sock.getsockname()[1]
        if self._ssl is not None:
            self._base_url = f"https://localhost:{port}"
        elif family == socket.AF_INET6:
            self._base_url = f"http://[{self.host}]:{port}"
        else:
            self._base_url = f"http://{self.host}:{port}"
        settings = Settings(
            base_url=self._base_url,
            api_key=self._api_key,
            retry_after=self._retry_after,
            slow_seconds=self._slow_seconds,
            full_size_images=self._full_size,
            retention=self._retention,
        )
        api = Api(
            settings, self._catalog, self._book, self._uploads, self._faults, self._journal,
            AgentRoutes(
                self._agent, self._media, self._base_url, storage / "agent-outputs", self._full_size
            ),
            storage / "outputs",
            self._take_script, self._give_back, self._timings, self._arm_timer,
            lambda: self._openapi,
            self._account,
        )
        app = api.make_app()
        # The control routes answer in front of the API: its faults, credentials and journal.
        app.middlewares.insert(0, Control(self).middleware)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        protocol_factory = runner.server
        assert protocol_factory is not None

        def accept() -> asyncio.BaseProtocol:
            self._connections += 1
            return protocol_factory()

        self._server = await asyncio.get_running_loop().create_server(
            accept, sock=sock, ssl=self._ssl, backlog=4096
        )

    async def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        server, runner = self._server, self._runner
        assert server is not None
        assert runner is not None
        assert runner.server is not None
        server.close()
        await self._webhooks.close()
        # Since Python 3.12.1 Server.wait_closed() waits for every connection to end, so none may
        # linger. aiohttp closes its connections gracefully, and a TLS close then waits for the
        # peer's close_notify (up to 30 s), which a client keeping an idle keep-alive connection
        # never sends: each connection is aborted once aiohttp is done with it. Handlers whose
        # client went away still run, and a connection in its TLS handshake belongs to an
        # asyncio accept task: cancelling the tasks ends both.
        transports = [handler.transport for handler in runner.server.connections]
        await runner.cleanup()
        for transport in transports:
            if transport is not None:
                transport.abort()
        await _cancel_other_tasks()
        await server.wait_closed()

    # -- job timing and outcome scripts ---------------------------------------------------------

    def _timings(self) -> Tuple[float, float]:
        with self._lock:
            spread = self.timing_jitter
            queue_factor = 1.0 + self._timing_rng.uniform(-spread, spread)
            run_factor = 1.0 + self._timing_rng.uniform(-spread, spread)
        return self.queue_time * queue_factor, self.run_time * run_factor

    def _take_script(self) -> Optional[JobScript]:
        with self._lock:
            return self._scripts.popleft() if self._scripts else None

    def _give_back(self, script: JobScript) -> None:
        with self._lock:
            self._scripts.appendleft(script)

    def _arm_timer(self) -> None:
        # One loop timer at the next job event keeps webhooks on time without a timer per job.
        loop = self._loop
        moment = self._book.next_event()
        if loop is None or moment is None:
            return
        if self._timer is not None:
            if self._timer_at <= moment:
                return
            self._timer.cancel()
        self._timer_at = moment
        self._timer = loop.call_later(max(0.0, moment - time.monotonic()), self._tick)

    def _tick(self) -> None:
        self._timer = None
        self._book.advance(time.monotonic())
        self._arm_timer()

    def _job_finished(self, info: JobInfo) -> None:
        # Called in whichever thread advanced the book; deliveries start on the loop.
        self._account.settle(info.request_id, info.status)
        loop = self._loop
        if info.webhook_url is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the emulator stopped
            loop.call_soon_threadsafe(self._send_webhook, info)

    def _send_webhook(self, info: JobInfo) -> None:
        from ._app import status_payload

        assert info.webhook_url is not None
        assert self._base_url is not None
        body = json.dumps(webhook_body(status_payload(info, self._base_url), self._webhook_body)).encode()
        stop_at = None
        if info.expires_at is not None:
            stop_at = time.monotonic() + (info.expires_at - time.time())
        self._webhooks.deliver(
            info.request_id, info.webhook_url, body, stop_at, deleted=lambda: self._deleted(info.request_id)
        )

    def _deleted(self, request_id: str) -> bool:
        info = self._book.peek(request_id, time.monotonic())
        return info is None or info.deleted

    # -- public API -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The root URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash).

        Raises:
            RuntimeError: the emulator has not been started.
        """
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    @property
    def api_key(self) -> str:
        """The ``key_id:key_secret`` credentials it accepts."""
        return self._api_key

    @property
    def storage_dir(self) -> Path:
        """Directory holding uploads (``uploads/``), generated outputs (``outputs/``) and the
        images agent answers link (``agent-outputs/``).

        Raises:
            RuntimeError: the emulator has not been started.
        """
        if self._storage is None:
            raise RuntimeError("the emulator is not started")
        return self._storage

    @property
    def video_encoder(self) -> Optional[str]:
        """What makes its video outputs: ``"H.264 (PyAV <version>)"`` when PyAV (the ``video``
        extra) and Pillow are installed, else None: each video is then a small placeholder with
        MP4 boxes that no player opens."""
        return video_encoder()

    @property
    def fault_rate(self) -> float:
        """Share of API and storage PUT requests answered with a random fault."""
        return self._faults.rate

    @fault_rate.setter
    def fault_rate(self, value: float) -> None:
        self._faults.rate = value

    @property
    def webhook_body(self) -> str:
        """The shape of the next deliveries' bodies, "flat" or "nested" (see the constructor);
        a job's shape is the one set when it finishes."""
        return self._webhook_body

    @webhook_body.setter
    def webhook_body(self, value: str) -> None:
        self._webhook_body = check_webhook_body(value)

    @property
    def upload_headers_style(self) -> str:
        """How new upload slots answer ``upload_headers`` (see the constructor)."""
        return self._uploads.style

    @upload_headers_style.setter
    def upload_headers_style(self, value: str) -> None:
        self._uploads.style = value

    @property
    def models(self) -> Tuple[ModelSpec, ...]:
        """The models the emulator accepts, in catalog order."""
        return tuple(self._catalog.values())

    @property
    def journal(self) -> List[JournalEntry]:
        """The requests received so far, oldest first (a copy)."""
        return self._journal.entries()

    def clear_journal(self) -> None:
        """Forget the journal's entries."""
        self._journal.clear()

    @property
    def connection_count(self) -> int:
        """TCP connections accepted since start."""
        return self._connections

    @property
    def webhook_deliveries(self) -> List[WebhookDelivery]:
        """Webhook events sent or being sent, with their attempts and scripted fault (a snapshot).

        Each attempt is also in the journal, as an entry of route "webhook"."""
        return self._webhooks.deliveries()

    @property
    def uploads(self) -> List[Tuple[str, int]]:
        """(file name, size in bytes) of each completed upload, Agent API media included."""
        return self._uploads.uploads()

    def job(self, request_id: str) -> JobInfo:
        """A snapshot of one job in its current state.

        Raises:
            KeyError: no job has this id.
        """
        info = self._book.peek(request_id, time.monotonic())
        if info is None:
            raise KeyError(request_id)
        return info

    def expire(self, request_id: str) -> None:
        """Make a finished job's data expire now, as if its retention had passed.

        Its output URLs then answer 404 while its status still answers.

        Raises:
            KeyError: no finished job has this id.
        """
        if not self._book.expire(request_id, time.monotonic()):
            raise KeyError(request_id)

    def jobs(self) -> List[JobInfo]:
        """Snapshots of every job accepted so far, in submit order."""
        return self._book.peek_all(time.monotonic())

    def script_next_job(
        self,
        outcome: str = "completed",
        *,
        queue_time: Optional[float] = None,
        run_time: Optional[float] = None,
        error: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> None:
        """Decide the outcome (and optionally timings) of the next accepted submit.

        Scripts queue up: each accepted submit takes the oldest. A script beats the prompt's
        ``[nsfw]``/``[fail]`` markers. ``error`` is the failure text when ``outcome`` is "failed".
        ``request_id`` gives the job a chosen id (to follow a documented example id, say); a
        job already holding that id is replaced.

        Raises:
            ValueError: ``outcome`` is not "completed", "failed" or "nsfw".
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        with self._lock:
            self._scripts.append(JobScript(outcome, queue_time, run_time, error, request_id))

    def script_fault(self, route: str, kind: str, count: int = 1) -> None:
        """Answer the next ``count`` requests of ``route`` with the fault ``kind``.

        Routes: "submit", "status", "cancel", "delete", "upload-url", "put", "estimate",
        "agent-sessions", "agent-message", "agent-messages", "agent-interrupt", "agent-media",
        "agent-media-confirm", or "*" for any of them; and "output" (the generated files),
        "agent-output" (the images agent answers link) and "openapi" (the published OpenAPI
        document), which "*" does not include.
        Kinds: "429", "500", "502", "503", "504", "html", "drop", "slow", "truncate",
        "redirect_samehost", "redirect_offhost", "stall". Scripted faults are used before
        ``fault_rate`` applies, first in first out per route.

        The route "webhook" scripts the next webhook events instead, with kinds of its own:
        "drop" (the event is never sent, as a lost delivery), "duplicate" (sent once more right
        after its 2xx, same ``webhook-id``, signed anew) and "out_of_order" (held back until
        the next event's first attempt was answered, or ``slow_seconds``, so that a later
        event arrives first). Neither "*" nor ``fault_rate`` touches webhooks.

        Raises:
            ValueError: unknown route or kind (or a kind of the other family), or ``count``
                below 1.
        """
        self._faults.script(route, kind, count)

    def clear_faults(self) -> None:
        """Drop scripted faults not yet used (``fault_rate`` is unchanged)."""
        self._faults.clear()

    # -- the account ----------------------------------------------------------------------------

    @property
    def balance(self) -> Optional[Decimal]:
        """The account's credits (None: no limit): what completed jobs were charged is gone from
        it; what is held for jobs in progress is not (see ``held``). Settable, as a top-up."""
        return self._account.balance

    @balance.setter
    def balance(self, value: Union[Decimal, int, str, None]) -> None:
        self._account.balance = _credits(value)

    @property
    def held(self) -> Decimal:
        """Credits held for jobs not finished yet."""
        return self._account.held

    @property
    def charged(self) -> Decimal:
        """Credits charged for completed jobs so far."""
        return self._account.total("charge")

    @property
    def refunded(self) -> Decimal:
        """Credits given back for failed, NSFW and canceled jobs so far."""
        return self._account.total("refund")

    @property
    def ledger(self) -> List[LedgerEntry]:
        """The account's ledger, oldest first: a "hold" per accepted submit, then a "charge" or
        a "refund" when the job ends; each with the request id, model, credits and balance."""
        return self._account.entries()

    def serve_openapi(self, document: Union[Mapping[str, Any], bytes, None] = None) -> None:
        """Serve ``document`` at ``GET /docs/openapi.json`` from now on (no credentials needed).

        By default the emulator serves the published OpenAPI document of the SDK's catalog
        snapshot. Give a mapping (served as JSON: a document that drifted), bytes (served as
        they are: a broken or partial document), or None to serve the snapshot's again. The
        models the emulator accepts do not change. The route "openapi" takes scripted faults.
        """
        self._openapi = read_data("openapi.json") if document is None else (
            document if isinstance(document, bytes) else json.dumps(document).encode("utf-8")
        )

    # -- the Agent API --------------------------------------------------------------------------

    @property
    def agent_turn_time(self) -> float:
        """Seconds an unscripted agent turn runs (turns already started keep their timing)."""
        return self._agent.turn_time

    @agent_turn_time.setter
    def agent_turn_time(self, value: float) -> None:
        self._agent.turn_time = value

    @property
    def agent_long_turn_time(self) -> float:
        """Seconds a ``[long]`` agent turn runs: as set, else ten times `agent_turn_time`."""
        return self._agent.long_turn_time

    @agent_long_turn_time.setter
    def agent_long_turn_time(self, value: float) -> None:
        self._agent.long_turn_time = value

    @property
    def agent_access(self) -> bool:
        """False makes every agent route answer 403 ``agent_api_access_denied``."""
        return self._agent.access

    @agent_access.setter
    def agent_access(self, value: bool) -> None:
        self._agent.access = value

    @property
    def agent_credits(self) -> bool:
        """False makes agent messages answer 402 ``insufficient_credits`` (nothing is created)."""
        return self._agent.credits

    @agent_credits.setter
    def agent_credits(self, value: bool) -> None:
        self._agent.credits = value

    def script_agent_turn(
        self,
        outcome: str = "completed",
        *,
        text: Optional[str] = None,
        asset_urls: Iterable[str] = (),
        turn_time: Optional[float] = None,
        llm_cost_usd: Optional[str] = None,
        answer_lag: Optional[float] = None,
        images: int = 0,
    ) -> None:
        """Decide the next agent turn: what the next accepted user message gets.

        Scripts queue up, first in first out, across sessions; each accepted message takes
        one, an answer to a question included, so a question flow is scripted as a question
        followed by the turn that answers it. A script beats the content's markers
        (``[fail]``, ``[question]``, ``[hang]``, ``[long]``, ``[image]``); a message without a
        script gets the default turn (``Echo: <content>`` after ``agent_turn_time``).

        Args:
            outcome: "completed" (an assistant row with the reply), "failed" (an assistant row
                with status failed and ``text`` as its error), "question" (the session turns
                ``awaiting_input``; the question is an assistant row with status processing)
                or "hang" (processing until interrupted or terminated).
            text: the reply, the error text or the question; a default derived from the content
                when None.
            asset_urls: URLs added to a completed reply, one per line, in a text part of their
                own (e.g. an uploaded file's or a finished job's output URL, which the emulator
                serves).
            turn_time: seconds the turn runs; ``agent_turn_time`` when None.
            llm_cost_usd: the decimal string the user row carries once settled ("0.0010" when
                None).
            answer_lag: for a question, seconds its answer still reads ``awaiting_input``, with
                nothing after the answer, before its turn turns ``processing``;
                ``agent_answer_lag`` when None.
            images: for a completed turn, how many images the emulator generates for the reply:
                PNGs it serves without credentials under ``{base_url}/agent-outputs/``, linked
                after ``asset_urls``, one per line.

        Raises:
            ValueError: an unknown outcome, a negative time or image count, a cost that is not a
                decimal string, or a field the outcome does not use.
        """
        self._agent.script(AgentScript(
            outcome=outcome,
            text=text,
            asset_urls=tuple(asset_urls),
            turn_time=turn_time,
            llm_cost_usd=llm_cost_usd,
            answer_lag=answer_lag,
            images=images,
        ))

    def terminate_agent_session(self, session_id: str) -> None:
        """Make an agent session ``terminated``, stopping its turn as an interrupt would.

        Its messages then answer 409 ``session_terminated``; reading it still works.

        Raises:
            KeyError: no agent session has this id.
        """
        if not self._agent.terminate(session_id, time.monotonic()):
            raise KeyError(session_id)

    def agent_session(self, session_id: str) -> AgentSessionInfo:
        """A snapshot of one agent session in its current state.

        Raises:
            KeyError: no agent session has this id.
        """
        info = self._agent.info(session_id, time.monotonic())
        if info is None:
            raise KeyError(session_id)
        return info

    def agent_sessions(self) -> List[AgentSessionInfo]:
        """Snapshots of every agent session, in creation order."""
        return self._agent.infos(time.monotonic())


async def _cancel_other_tasks() -> None:
    """Cancel every task of the running loop but the current one; wait until they end."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _credits(value: Union[Decimal, int, str, None]) -> Optional[Decimal]:
    """A balance given as a number or decimal text, as a Decimal (None: no limit).

    Raises:
        ValueError: it is negative, or not a number.
    """
    if value is None:
        return None
    try:
        credits = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        credits = None
    if isinstance(value, bool) or credits is None or not credits.is_finite() or credits < 0:
        raise ValueError(f"balance must be a non-negative number of credits, not {value!r}")
    return credits
