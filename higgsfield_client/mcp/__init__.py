"""The SDK as an MCP server: ``higgsfield-sansio mcp``, for LLM agents (Claude, Cursor...).

Tools to choose a model and read its arguments, price a generation (free), generate (billed; checked
against the model catalog, with an idempotency key), follow, wait for (with MCP progress) and cancel
jobs, upload inputs from allowed folders or public URLs, download outputs into allowed folders, and
talk to the Agent API; resources for the catalog and for jobs. Money is guarded by a per-call cap,
a budget for the server's life and confirmations above a price. Built on the official MCP Python
SDK (the ``mcp`` extra: ``pip install 'higgsfield-sansio[mcp]'``); see "Use it from an LLM agent"
in the docs.

    server = HiggsfieldServer(ServerOptions(allow_dirs=(Path("~/pictures"),), budget=Decimal(100)))
    anyio.run(server.serve_stdio)
"""

from ._server import DEFAULT_MAX_WAIT, HiggsfieldServer, ServerOptions

__all__ = ["DEFAULT_MAX_WAIT", "HiggsfieldServer", "ServerOptions"]
