"""The emulator's control surface: JSON routes under ``/_emulator/`` for loopback clients only.

They are answered in front of the API: the API's routes, faults, credentials check and journal
never see these requests, so reading the jobs or the journal needs no API key and adds nothing
to what it reads. A request from a peer that is not on loopback gets 403, whatever interface the
emulator listens on. Secrets stay out of the answers: credential headers, signed query values
and the query of webhook URLs (which may carry a token) are shown redacted.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Mapping, Optional, Tuple

from aiohttp import web

from ._control_cli import PREFIX
from ._journal import JournalEntry

if TYPE_CHECKING:
    from ._emulator import Emulator
    from ._jobs import JobInfo
    from ._webhooks import WebhookDelivery

REDACTED = "[redacted]"
_SECRET_HEADERS = frozenset({"authorization", "hf-api-key", "hf-secret", "cookie"})
# Query values that authorize on their own: presigned URL signatures, webhook URL tokens.
_SECRET_QUERY = re.compile(r"signature|token|credential|secret", re.IGNORECASE)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request, List[str]], Awaitable[web.Response]]
"""A control route: called with the request and its path's segments under ``PREFIX``."""


def is_loopback(peer: object) -> bool:
    """True when ``peer``, a socket's peer name, is a loopback address (127.0.0.0/8, ::1, or
    an IPv4-mapped loopback address); False for any other address or an unknown peer."""
    if not isinstance(peer, tuple) or not peer or not isinstance(peer[0], str):
        return False
    try:
        address = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except ValueError:
        return False
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return (mapped or address).is_loopback


def without_query(url: Optional[str]) -> Optional[str]:
    """``url`` without its query and fragment: a webhook URL's query may carry its token."""
    return None if url is None else url.split("?", 1)[0].split("#", 1)[0]


def job_document(info: JobInfo) -> Dict[str, Any]:
    """One job as the control routes show it (times are Unix seconds, or None)."""
    return {
        "request_id": info.request_id,
        "model": info.model_id,
        "status": info.status,
        "outcome": info.outcome,
        "idempotency_key": info.idempotency_key,
        "batch_size": info.batch_size,
        "arguments": info.arguments,
        "webhook_url": without_query(info.webhook_url),
        "submitted_at": info.submitted_at,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "expires_at": info.expires_at,
        "deleted": info.deleted,
    }


def _query(entry: JournalEntry) -> Dict[str, List[str]]:
    shown: Dict[str, List[str]] = {}
    for name, value in entry.query.items():
        if _SECRET_QUERY.search(name):
            value = REDACTED
        elif name == "hf_webhook":
            value = without_query(value) or ""
        shown.setdefault(name, []).append(value)
    return shown


def journal_document(entry: JournalEntry) -> Dict[str, Any]:
    """One journal entry as the control routes show it, credentials and signed values redacted."""
    return {
        "time": entry.time,
        "method": entry.method,
        "path": entry.path,
        "query": _query(entry),
        "route": entry.route,
        "status": entry.status,
        "fault": entry.fault,
        "idempotency_key": entry.headers.get("Idempotency-Key"),
        "headers": {
            name.lower(): REDACTED if name.lower() in _SECRET_HEADERS else value
            for name, value in entry.headers.items()
        },
        "body_length": entry.body_length,
        "connection_id": entry.connection_id,
        "correlation_id": entry.correlation_id,
    }


def delivery_document(delivery: WebhookDelivery) -> Dict[str, Any]:
    """One webhook event and its attempts as the control routes show it."""
    return {
        "request_id": delivery.request_id,
        "url": without_query(delivery.url),
        "webhook_id": delivery.webhook_id,
        "fault": delivery.fault,
        "delivered": delivery.delivered,
        "finished": delivery.finished,
        "attempts": [
            {"time": a.time, "status": a.status, "error": a.error, "fault": a.fault}
            for a in delivery.attempts
        ],
    }


def _answer(document: Mapping[str, Any], status: int = 200, allow: Optional[str] = None) -> web.Response:
    return web.json_response(document, status=status, headers={"Allow": allow} if allow else None)


def _detail(status: int, message: str, allow: Optional[str] = None) -> web.Response:
    return _answer({"detail": message}, status, allow)


class Control:
    """The control routes of one emulator, served by ``middleware`` in front of its API.

    ``GET /_emulator/`` lists them; see the testing guide for each answer.
    """

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        # Path segments under PREFIX ("*" matches any one), then the route of each method.
        self._routes: Dict[Tuple[str, ...], Dict[str, Route]] = {
            ("",): {"GET": self._index},
            ("jobs",): {"GET": self._jobs},
            ("jobs", "*", "expire"): {"POST": self._expire},
            ("journal",): {"GET": self._journal},
            ("webhooks",): {"GET": self._webhooks},
            ("faults",): {"POST": self._script_fault, "DELETE": self._clear_faults},
        }

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer requests under ``PREFIX`` (loopback peers only); pass any other on."""
        path = request.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return await handler(request)
        transport = request.transport
        if not is_loopback(None if transport is None else transport.get_extra_info("peername")):
            return _detail(403, "the emulator's control routes answer loopback clients only")
        parts = path[len(PREFIX) :].strip("/").split("/")
        for pattern, methods in self._routes.items():
            if len(pattern) == len(parts) and all(
                expected in ("*", part) for expected, part in zip(pattern, parts, strict=True)
            ):
                route = methods.get(request.method)
                if route is None:
                    return _detail(405, "method not allowed", ", ".join(methods))
                return await route(request, parts)
        return _detail(404, f"no control route {path}; GET {PREFIX}/ lists them")

    async def _index(self, request: web.Request, parts: List[str]) -> web.Response:
        return _answer({
            "base_url": self._emulator.base_url,
            "routes": [
                f"GET {PREFIX}/jobs",
                f"POST {PREFIX}/jobs/<request_id>/expire",
                f"GET {PREFIX}/journal[?route=<route>][&last=<n>]",
                f"GET {PREFIX}/webhooks",
                f'POST {PREFIX}/faults {{"route", "kind", "count"}}',
                f"DELETE {PREFIX}/faults",
            ],
        })

    async def _jobs(self, request: web.Request, parts: List[str]) -> web.Response:
        return _answer({"jobs": [job_document(info) for info in self._emulator.jobs()]})

    async def _expire(self, request: web.Request, parts: List[str]) -> web.Response:
        request_id = parts[1]
        try:
            self._emulator.expire(request_id)
        except KeyError:
            return _detail(404, f"no finished job {request_id}")
        return _answer({"request_id": request_id, "expired": True})

    async def _journal(self, request: web.Request, parts: List[str]) -> web.Response:
        routes = set(request.query.getall("route", []))
        last = request.query.get("last")
        if last is not None and not last.isdigit():
            return _detail(400, "last must be a whole number")
        entries = [
            journal_document(entry)
            for entry in self._emulator.journal
            if not routes or entry.route in routes
        ]
        if last is not None:
            entries = entries[len(entries) - int(last) :] if int(last) else []
        return _answer({"entries": entries})

    async def _webhooks(self, request: web.Request, parts: List[str]) -> web.Response:
        deliveries = self._emulator.webhook_deliveries
        return _answer({"deliveries": [delivery_document(delivery) for delivery in deliveries]})

    async def _script_fault(self, request: web.Request, parts: List[str]) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _detail(400, 'the body must be a JSON object: {"route", "kind", "count"}')
        if not isinstance(body, dict):
            return _detail(400, 'the body must be a JSON object: {"route", "kind", "count"}')
        route, kind, count = body.get("route"), body.get("kind"), body.get("count", 1)
        if not isinstance(route, str) or not isinstance(kind, str) or type(count) is not int:
            return _detail(400, "route and kind must be strings and count a whole number")
        try:
            self._emulator.script_fault(route, kind, count)
        except ValueError as exc:
            return _detail(400, str(exc))
        return _answer({"route": route, "kind": kind, "count": count})

    async def _clear_faults(self, request: web.Request, parts: List[str]) -> web.Response:
        self._emulator.clear_faults()
        return _answer({"cleared": True})
