"""The emulator's Agent API routes, registered by ``_app`` under ``/v1/agent``."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Tuple

from aiohttp import web

from ._agent import IMAGE_PATH, MAX_CONTENT, AgentBook, AgentRefused
from ._agent_media import AGENT_MEDIA_TYPES, MediaBook
from ._media import Renderings, image_size, render_image
from ._wire import detail, loc_error, parse_object, read_body, s3_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BASE = "/v1/agent"


class AgentRoutes:
    """The Agent API's handlers over an `AgentBook` and a `MediaBook`; `routes` lists them.

    ``base_url`` is the emulator's root URL, for the media slots' upload and public URLs and the
    answers' image URLs. Answer images are rendered into ``images`` (a directory of the file
    store) on their first download, at most 256 pixels a side unless ``full_size``.

    Every API route answers 403 ``{"detail": "agent_api_access_denied"}`` while the book's
    account has no agent access (credentials are checked before, by the app). The image route is
    public, as a CDN is: no credentials, no agent access needed.
    """

    def __init__(
        self, book: AgentBook, media: MediaBook, base_url: str, images: Path, full_size: bool
    ) -> None:
        self.book = book
        self.media = media
        self.base_url = base_url
        self.images = images
        self.full_size = full_size
        self._renderings = Renderings()

    def routes(self) -> List[Tuple[str, str, Handler, str, bool]]:
        """(method, path, handler, route name, public) of each Agent API route."""
        session = f"{BASE}/sessions/{{session_id}}"
        table: List[Tuple[str, str, Handler, str]] = [
            ("POST", f"{BASE}/sessions", self.create_session, "agent-sessions"),
            ("POST", f"{session}/messages", self.send_message, "agent-message"),
            ("GET", f"{session}/messages", self.list_messages, "agent-messages"),
            ("POST", f"{session}/interrupt", self.interrupt, "agent-interrupt"),
            ("POST", f"{BASE}/media", self.media_slot, "agent-media"),
            ("POST", f"{BASE}/media/{{media_id}}/confirm", self.media_confirm,
             "agent-media-confirm"),
        ]
        routes = [
            (method, path, self._guarded(handler), name, False)
            for method, path, handler, name in table
        ]
        routes.append(("GET", f"{IMAGE_PATH}/{{name}}", self.image, "agent-output", True))
        return routes

    def _guarded(self, handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            if not self.book.access:
                await read_body(request)
                return detail(403, "agent_api_access_denied")
            try:
                return await handler(request)
            except AgentRefused as refusal:
                return detail(refusal.status, refusal.detail)

        return guarded

    async def create_session(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/agent/sessions: ``{"config": {...}}``, all optional; no body reads as ``{}``."""
        raw = await read_body(request)
        body, errors = parse_object(raw) if raw.strip() else ({}, [])
        config: Any = {} if body is None else body.get("config")
        if config is not None and not isinstance(config, dict):
            errors.append(loc_error("dict_type", ["body", "config"],
                                    "Input should be a valid dictionary", config))
        if errors:
            return detail(422, errors)
        session_id = self.book.create(config or {}, time.monotonic(), time.time())
        return web.json_response({"session_id": session_id, "status": "idle"}, status=201)

    async def send_message(self, request: web.Request) -> web.StreamResponse:
        """POST .../messages: ``{"content": "<1 to 20,000 characters>"}`` starts or answers a turn."""
        body, errors = parse_object(await read_body(request))
        if body is not None:
            errors.extend(_content_errors(body))
        if errors or body is None:
            return detail(422, errors)
        message_id = self.book.send(
            request.match_info["session_id"], body["content"], time.monotonic(), self.base_url
        )
        return web.json_response({"message_id": message_id, "status": "processing"}, status=202)

    async def list_messages(self, request: web.Request) -> web.StreamResponse:
        """GET .../messages[?after=<message_id>]: the session status and its rows."""
        status, rows = self.book.messages(
            request.match_info["session_id"], request.query.get("after") or None, time.monotonic()
        )
        return web.json_response({"status": status, "messages": rows})

    async def interrupt(self, request: web.Request) -> web.StreamResponse:
        """POST .../interrupt: stop the turn; 202 with an empty body (a body sent is ignored)."""
        await read_body(request)
        self.book.interrupt(request.match_info["session_id"], time.monotonic())
        return web.Response(status=202)

    async def image(self, request: web.Request) -> web.StreamResponse:
        """GET /agent-outputs/{name}: a PNG an answer links, made on its first download."""
        name = request.match_info["name"]
        label = self.book.image(name, time.monotonic())
        if label is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        size = image_size({}, self.full_size)
        render = functools.partial(render_image, size, "PNG", name, label)
        # Sent from memory (images are small) so that the "truncate" fault can cut the body.
        data = await self._renderings.read(self.images / name, render)
        return web.Response(body=data, headers={"Content-Type": "image/png"})

    async def media_slot(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/agent/media: ``{"extension", "type"}`` opens a presigned upload slot (201)."""
        body, errors = parse_object(await read_body(request))
        if body is not None:
            errors.extend(_type_errors(body))
            errors.extend(_extension_errors(body))
        if errors or body is None:
            return detail(422, errors)
        extension = body["extension"]
        try:
            slot = self.media.create(body["type"], extension, time.monotonic(), self.base_url)
        except ValueError as exc:
            item = loc_error("value_error", ["body", "extension"], f"Value error, {exc}", extension)
            return detail(422, [item])
        return web.json_response(slot, status=201)

    async def media_confirm(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/agent/media/{id}/confirm: ``{"type"}``; "uploaded" once the PUT stored it."""
        body, errors = parse_object(await read_body(request))
        if body is not None:
            errors.extend(_type_errors(body))
        if errors or body is None:
            return detail(422, errors)
        media_id = request.match_info["media_id"]
        status = self.media.confirm(media_id, body["type"])
        return web.json_response({"id": media_id, "status": status})


def _content_errors(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    loc = ["body", "content"]
    if "content" not in body:
        return [loc_error("missing", loc, "Field required", body)]
    content = body["content"]
    if not isinstance(content, str):
        return [loc_error("string_type", loc, "Input should be a valid string", content)]
    if not content:
        item = loc_error("string_too_short", loc, "String should have at least 1 character", content)
        item["ctx"] = {"min_length": 1}
        return [item]
    if len(content) > MAX_CONTENT:
        item = loc_error("string_too_long", loc,
                         f"String should have at most {MAX_CONTENT} characters", content)
        item["ctx"] = {"max_length": MAX_CONTENT}
        return [item]
    return []


def _type_errors(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    loc = ["body", "type"]
    if "type" not in body:
        return [loc_error("missing", loc, "Field required", body)]
    if not isinstance(body["type"], str) or body["type"] not in AGENT_MEDIA_TYPES:
        expected = "'image', 'video', 'audio' or 'file'"
        item = loc_error("literal_error", loc, f"Input should be {expected}", body["type"])
        item["ctx"] = {"expected": expected}
        return [item]
    return []


def _extension_errors(body: Dict[str, Any]) -> List[Dict[str, Any]]:
    loc = ["body", "extension"]
    if "extension" not in body:
        return [loc_error("missing", loc, "Field required", body)]
    extension = body["extension"]
    if not isinstance(extension, str):
        return [loc_error("string_type", loc, "Input should be a valid string", extension)]
    return []
