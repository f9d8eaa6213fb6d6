"""Presigned upload slots: creation, the storage host's checks on the PUT, and the stored files."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

SUPPORTED_CONTENT_TYPES: Dict[str, str] = {
    "image/jpeg": "jpeg",
    "image/jpg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "video/mp4": "mp4",
}
"""The upload content types the API accepts, with the file extension the public URL gets."""
UPLOAD_HEADER_STYLES = ("normal", "lowercase", "missing", "empty", "no_content_type")
"""How ``upload_headers`` is answered (``upload_headers_style``): all headers; the same with
lower-case names; the field absent; an empty object; or the signed headers without Content-Type."""
_CREDENTIAL_HEADERS = ("authorization", "hf-api-key", "hf-secret")


@dataclass
class UploadSlot:
    """One upload slot. ``size`` is set once a PUT has stored the file at ``path``."""

    slot_id: str
    content_type: str
    style: str
    signature: str
    headers: Dict[str, str]
    expires: float
    file_name: str
    path: Path
    size: Optional[int] = None


class PutRejected(Exception):
    """The storage host refuses a PUT with ``status``; ``code`` and ``message`` go into its
    S3-style XML body."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class UploadStore:
    """Upload slots and their files under ``directory``. Thread-safe.

    ``style`` (one of `UPLOAD_HEADER_STYLES`) applies to slots created after it is set.
    """

    def __init__(self, directory: Path, ttl: float, style: str) -> None:
        self.directory = directory
        self.ttl = ttl
        self.style = style
        self._key = os.urandom(32)
        self._slots: Dict[str, UploadSlot] = {}
        self._by_name: Dict[str, UploadSlot] = {}
        self._lock = threading.Lock()

    @property
    def style(self) -> str:
        """The ``upload_headers`` style of new slots."""
        return self._style

    @style.setter
    def style(self, value: str) -> None:
        if value not in UPLOAD_HEADER_STYLES:
            raise ValueError(f"upload_headers_style must be one of {UPLOAD_HEADER_STYLES}")
        self._style = value

    def _sign(self, *parts: str) -> str:
        return hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def create(
        self, content_type: str, now: float, *, extension: Optional[str] = None, signed: bool = True
    ) -> UploadSlot:
        """Open a slot for ``content_type``.

        Args:
            content_type: the type the PUT must send; a key of `SUPPORTED_CONTENT_TYPES` unless
                ``extension`` is given.
            now: the monotonic time, for the slot's expiry.
            extension: the public file name's extension; by default the content type's.
            signed: False opens a slot whose only header is Content-Type, whatever ``style``
                says (the Agent API's media slots, whose PUT sends nothing else).
        """
        slot_id = uuid.uuid4().hex
        style = self.style if signed else "normal"
        extra = {
            "x-amz-tagging": "retention=temporary",
            "x-amz-meta-signature": self._sign("meta", slot_id, content_type)[:32],
        }
        headers: Dict[str, str] = {}
        if style in ("normal", "lowercase"):
            headers["Content-Type"] = content_type
        if signed and style in ("normal", "lowercase", "no_content_type"):
            headers.update(extra)
        if style == "lowercase":
            headers = {name.lower(): value for name, value in headers.items()}
        name = f"{slot_id}.{extension or SUPPORTED_CONTENT_TYPES[content_type]}"
        slot = UploadSlot(
            slot_id=slot_id,
            content_type=content_type,
            style=style,
            signature=self._sign("put", slot_id, content_type),
            headers=headers,
            expires=now + self.ttl,
            file_name=name,
            path=self.directory / name,
        )
        with self._lock:
            self._slots[slot_id] = slot
            self._by_name[name] = slot
        return slot

    def upload_url(self, slot: UploadSlot, base_url: str) -> str:
        """The presigned URL the bytes of ``slot`` are PUT to (no credentials needed)."""
        signed = ";".join(sorted(name.lower() for name in slot.headers)) or "host"
        return (
            f"{base_url}/storage/{slot.slot_id}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires={int(self.ttl)}&X-Amz-SignedHeaders={signed}"
            f"&X-Amz-Signature={slot.signature}"
        )

    def public_url(self, slot: UploadSlot, base_url: str) -> str:
        """The public URL that serves the bytes of ``slot`` once its PUT completed."""
        return f"{base_url}/uploads/{slot.file_name}"

    def answer(self, slot: UploadSlot, base_url: str) -> Dict[str, Any]:
        """The generate-upload-url response body for ``slot``."""
        body: Dict[str, Any] = {
            "public_url": self.public_url(slot, base_url),
            "upload_url": self.upload_url(slot, base_url),
            "content_type": slot.content_type,
        }
        if slot.style != "missing":
            body["upload_headers"] = dict(slot.headers)
        return body

    def check_put(
        self, slot_id: str, signature: Optional[str], headers: Mapping[str, str], now: float
    ) -> UploadSlot:
        """Apply the storage host's rules to a PUT and return its slot.

        Raises:
            PutRejected: 411 when there is no Content-Length (a chunked body: storage behind
                presigned URLs needs the length up front); 403 when credentials were sent,
                the signature or slot is unknown, the slot expired, the Content-Type differs
                from the slot's, or a slot header is missing or altered.
        """
        if "content-length" not in headers:
            raise PutRejected(
                "MissingContentLength", "You must provide the Content-Length HTTP header.", 411
            )
        if any(name in headers for name in _CREDENTIAL_HEADERS):
            raise PutRejected(
                "InvalidArgument",
                "Only one auth mechanism allowed; credentials must not be sent with a "
                "presigned URL",
            )
        with self._lock:
            slot = self._slots.get(slot_id)
        if slot is None or signature is None or not hmac.compare_digest(
            signature, slot.signature
        ):
            raise PutRejected(
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided",
            )
        if now > slot.expires:
            raise PutRejected("AccessDenied", "Request has expired")
        sent_type = headers.get("content-type")
        type_optional = slot.style == "no_content_type"
        if sent_type != slot.content_type and not (type_optional and sent_type is None):
            raise PutRejected(
                "SignatureDoesNotMatch",
                f"Content-Type {sent_type!r} does not match the signed {slot.content_type!r}",
            )
        for name, value in slot.headers.items():
            if name.lower() != "content-type" and headers.get(name) != value:
                raise PutRejected(
                    "SignatureDoesNotMatch", f"Signed header {name} is missing or altered"
                )
        return slot

    def stored(self, file_name: str) -> Optional[UploadSlot]:
        """The slot whose file is ``file_name``, if its PUT completed."""
        with self._lock:
            slot = self._by_name.get(file_name)
        return slot if slot is not None and slot.size is not None else None

    def uploads(self) -> List[Tuple[str, int]]:
        """(public file name, size in bytes) of every completed upload, oldest slot first."""
        with self._lock:
            slots = list(self._slots.values())
        return [(slot.file_name, slot.size) for slot in slots if slot.size is not None]
