"""A local emulator of the Higgsfield API for tests and demos, and its pytest fixture.

``with Emulator() as emu:`` serves the Higgsfield API on a loopback port; see `Emulator`.
The names are loaded on first use, so importing this package (the pytest plugin does, in every
test run) does not import aiohttp.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from ._account import LedgerEntry
    from ._agent import AGENT_OUTCOMES, AgentSessionInfo
    from ._agent_media import AGENT_MEDIA_TYPES
    from ._catalog import DEFAULT_MODELS, Arg, ModelSpec
    from ._emulator import Emulator
    from ._faults import FAULT_KINDS, FAULT_ROUTES
    from ._jobs import JobInfo
    from ._journal import JournalEntry
    from ._uploads import SUPPORTED_CONTENT_TYPES, UPLOAD_HEADER_STYLES
    from ._webhooks import WebhookAttempt, WebhookDelivery

__all__ = [
    "Emulator",
    "JournalEntry",
    "LedgerEntry",
    "JobInfo",
    "AgentSessionInfo",
    "AGENT_OUTCOMES",
    "AGENT_MEDIA_TYPES",
    "WebhookDelivery",
    "WebhookAttempt",
    "ModelSpec",
    "Arg",
    "DEFAULT_MODELS",
    "FAULT_KINDS",
    "FAULT_ROUTES",
    "SUPPORTED_CONTENT_TYPES",
    "UPLOAD_HEADER_STYLES",
]

_HOMES = {
    "Emulator": "_emulator",
    "JournalEntry": "_journal",
    "LedgerEntry": "_account",
    "JobInfo": "_jobs",
    "AgentSessionInfo": "_agent",
    "AGENT_OUTCOMES": "_agent",
    "AGENT_MEDIA_TYPES": "_agent_media",
    "WebhookDelivery": "_webhooks",
    "WebhookAttempt": "_webhooks",
    "ModelSpec": "_catalog",
    "Arg": "_catalog",
    "DEFAULT_MODELS": "_catalog",
    "FAULT_KINDS": "_faults",
    "FAULT_ROUTES": "_faults",
    "SUPPORTED_CONTENT_TYPES": "_uploads",
    "UPLOAD_HEADER_STYLES": "_uploads",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(list(globals()) + __all__)
