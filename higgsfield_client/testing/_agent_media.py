"""Agent API media: the type and extension rules, media ids, and their upload slots."""

from __future__ import annotations

import re
import threading
from typing import Any, Dict, Optional, Tuple

from ._agent import AgentRefused
from ._uploads import UploadSlot, UploadStore

AGENT_MEDIA_TYPES: Dict[str, Dict[str, str]] = {
    "image": {
        "jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp",
        "gif": "image/gif",
    },
    "video": {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"},
    "audio": {"mp3": "audio/mpeg", "wav": "audio/wav", "m4a": "audio/mp4", "ogg": "audio/ogg"},
    "file": {
        "pdf": "application/pdf", "txt": "text/plain", "csv": "text/csv", "json": "application/json",
        "zip": "application/zip",
    },
}
"""The content type each agent media type's extensions get. The Agent API's documents name the four
types and the "jpeg" example only; this table is the emulator's choice. A "file" may also have any
other well-formed extension, served as application/octet-stream."""
_ANY_FILE = "application/octet-stream"
_EXTENSION = re.compile(r"[a-z0-9]{1,16}")


def media_content_type(kind: str, extension: str) -> Optional[str]:
    """The content type of a ``kind`` media with ``extension`` (any case), or None if refused."""
    extension = extension.lower()
    known = AGENT_MEDIA_TYPES[kind].get(extension)
    if known is not None:
        return known
    return _ANY_FILE if kind == "file" and _EXTENSION.fullmatch(extension) else None


class MediaBook:
    """The Agent API's media slots, numbered ``m1.<ext>``, ``m2.<ext>``... Thread-safe.

    Their bytes go through ``uploads`` like any presigned upload (the same PUT route and checks);
    a media item counts as uploaded once its PUT completed.
    """

    def __init__(self, uploads: UploadStore) -> None:
        self._uploads = uploads
        self._media: Dict[str, Tuple[str, UploadSlot]] = {}
        self._count = 0
        self._lock = threading.Lock()

    def create(self, kind: str, extension: str, now: float, base_url: str) -> Dict[str, Any]:
        """Open a slot for a ``kind`` media with ``extension``; returns the slot answer.

        The answer is ``{"id", "type", "content_type", "upload_url", "url"}`` (no
        ``upload_headers``: the official agent upload sends only Content-Type).

        Raises:
            ValueError: the extension does not suit ``kind`` (see `media_content_type`).
        """
        content_type = media_content_type(kind, extension)
        if content_type is None:
            raise ValueError(f"unsupported extension {extension!r} for {kind}")
        extension = extension.lower()
        slot = self._uploads.create(content_type, now, extension=extension, signed=False)
        with self._lock:
            self._count += 1
            media_id = f"m{self._count}.{extension}"
            self._media[media_id] = (kind, slot)
        return {
            "id": media_id,
            "type": kind,
            "content_type": content_type,
            "upload_url": self._uploads.upload_url(slot, base_url),
            "url": self._uploads.public_url(slot, base_url),
        }

    def confirm(self, media_id: str, kind: str) -> str:
        """The status of ``media_id``: "uploaded" once its PUT completed, else "pending".

        Raises:
            AgentRefused: 404 unknown id; 422 ``media_type_mismatch`` when ``kind`` is not the
                type the slot was opened for.
        """
        with self._lock:
            found = self._media.get(media_id)
        if found is None:
            raise AgentRefused(404, "Media not found")
        opened_as, slot = found
        if kind != opened_as:
            raise AgentRefused(422, "media_type_mismatch")
        return "pending" if self._uploads.stored(slot.file_name) is None else "uploaded"
