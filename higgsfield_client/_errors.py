"""The public error names: the core's typed errors under the official root name."""

from __future__ import annotations

from higgsfield_proto import HiggsfieldError

HiggsfieldClientError = HiggsfieldError
"""The root of every error the SDK raises (the official SDK's name for it)."""
