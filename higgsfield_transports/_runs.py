"""Which trio run or asyncio loop is running: the async adapters bind to the one of their first send."""

from __future__ import annotations

import asyncio
import sys

import sniffio


def current_run(transport: str) -> tuple[str, object]:
    """The running library and its run (a trio run's token, or the asyncio loop).

    Args:
        transport: the adapter's name, for the error message.

    Raises:
        sniffio.AsyncLibraryNotFoundError: not inside async code.
        RuntimeError: inside a library other than trio or asyncio.
    """
    library = sniffio.current_async_library()
    if library == "trio":
        # Loaded, since trio runs; an import statement per send costs more than this lookup.
        return library, sys.modules["trio"].lowlevel.current_trio_token()
    if library == "asyncio":
        return library, asyncio.get_running_loop()
    raise RuntimeError(f"{transport} runs under trio or asyncio, not {library}")
