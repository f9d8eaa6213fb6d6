"""Where the MCP server may read and write files, and which URLs it may fetch.

Files: only inside the folders the server was started with (``--allow-dir``; none means no file
access). A path is resolved (``..`` and symbolic links followed) before it is checked, and a file
is opened by its resolved path and checked to be a regular file; a relative path is taken from
the first allowed folder.

URLs: only ``http`` and ``https``, without credentials, to a host whose every address is public:
no loopback, private, link-local, shared, reserved or multicast range (an IPv6 address that
embeds an IPv4 one is judged by that one). The host is resolved and each address checked before
the fetch; and because a name can resolve to another address a moment later (DNS rebinding), or a
redirect can lead anywhere, `PublicSockets` checks again the address each connection is about to
be made to, inside the HTTP client, so that no connection reaches an address the check refused.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Callable, List, Optional, Union
from urllib.parse import urlsplit

import anyio

from ._results import ToolFailure

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
AddressCheck = Callable[[IPAddress], bool]


class Folders:
    """The folders the server may read from and write into (resolved), in the order given."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = tuple(folders)

    def describe(self) -> str:
        """The folders in words, for the tools' descriptions."""
        if not self.folders:
            return "none: this server was started without --allow-dir, so it cannot read or write files"
        return ", ".join(str(folder) for folder in self.folders)

    def _inside(self, text: str, *, strict: bool) -> Path:
        if not self.folders:
            raise ToolFailure(
                "no_file_access",
                "this server was started without --allow-dir: it may not read or write any file",
            )
        raw = Path(os.path.expanduser(text))
        path = (raw if raw.is_absolute() else self.folders[0] / raw).resolve(strict=strict)
        if not any(path.is_relative_to(folder) for folder in self.folders):
            raise ToolFailure(
                "outside_allowed_folders",
                f"{text!r} is outside the folders this server may use ({self.describe()})",
                allowed_folders=[str(folder) for folder in self.folders],
            )
        return path

    def open_file(self, text: str) -> IO[bytes]:
        """Open the file at ``text`` for reading, once it is known to lie inside a folder.

        Raises:
            ToolFailure: ``no_file_access``, ``outside_allowed_folders`` or ``not_a_file``.
            OSError: the file cannot be opened.
        """
        try:
            path = self._inside(text, strict=True)
        except FileNotFoundError:
            raise ToolFailure("not_a_file", f"{text!r} does not exist") from None
        # Opened without blocking (a FIFO would wait for a writer) and without following a link
        # that replaced the checked file meanwhile; only a regular file is read.
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
        descriptor = os.open(path, flags)
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise ToolFailure("not_a_file", f"{text!r} is not a regular file")
        return os.fdopen(descriptor, "rb")

    def folder(self, text: Optional[str]) -> Path:
        """The folder ``text`` names (default: the first allowed one), created if missing.

        Raises:
            ToolFailure: ``no_file_access`` or ``outside_allowed_folders``.
            OSError: the folder cannot be created.
        """
        path = self._inside(text or ".", strict=False)
        path.mkdir(parents=True, exist_ok=True)
        return path


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet: not loopback, private, link-local, shared
    (100.64/10), reserved, unspecified or multicast; an IPv4-mapped, 6to4 or Teredo IPv6 address
    is judged by the IPv4 address it carries."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast and not address.is_unspecified


def _address(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is no part


class PublicSockets:
    """A socket factory for aiohttp's connector that refuses to connect to an address ``allowed``
    does not accept; what it refused is kept in ``refused``.

    Args:
        allowed: the address check (default `is_public`).
    """

    def __init__(self, allowed: AddressCheck = is_public) -> None:
        self.allowed = allowed
        self.refused: List[str] = []

    def __call__(self, addr_info: tuple) -> socket.socket:  # type: ignore[type-arg]
        family, type_, proto, _, sockaddr = addr_info
        address = _address(str(sockaddr[0]))
        if not self.allowed(address):
            self.refused.append(str(address))
            raise OSError(errno.EACCES, f"refused to connect to {address}: not a public address")
        return socket.socket(family=family, type=type_, proto=proto)


async def check_url(url: str, allowed: AddressCheck = is_public) -> str:
    """Check that ``url`` may be fetched: http(s), no credentials, every address of its host
    accepted by ``allowed``. Returns the URL.

    Raises:
        ToolFailure: ``url_refused`` saying why.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ToolFailure(
            "url_refused", f"only http:// and https:// URLs can be fetched, not {parts.scheme or 'this'}:"
        )
    if parts.username is not None or parts.password is not None:
        raise ToolFailure("url_refused", "a URL with credentials in it is not fetched")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ToolFailure("url_refused", "the URL's port is not a number from 0 to 65535") from None
    if not host:
        raise ToolFailure("url_refused", "the URL names no host")
    try:
        addresses = {_address(host)}
    except ValueError:
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            reason = f"the host {host!r} cannot be resolved ({exc.strerror})"
            raise ToolFailure("url_refused", reason) from None
        addresses = {_address(str(sockaddr[0])) for _, _, _, _, sockaddr in found}
    refused = sorted(str(address) for address in addresses if not allowed(address))
    if refused:
        raise ToolFailure(
            "url_refused",
            f"the host {host!r} is at {', '.join(refused)}: not a public address (loopback, private "
            "and reserved ranges are never fetched)",
        )
    return url
