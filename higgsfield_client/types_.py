"""The official ``higgsfield_client.types_``: the status classes (the very objects the package
exports, so either serves as a dict key or in ``isinstance``), ``StatusEnum`` and ``AnyJSON``."""

from typing import Any, Dict

from higgsfield_proto import JobState

from ._statuses import NSFW, Cancelled, Completed, Failed, InProgress, Queued, Status

__all__ = [
    "NSFW",
    "AnyJSON",
    "Cancelled",
    "Completed",
    "Failed",
    "InProgress",
    "Queued",
    "Status",
    "StatusEnum",
]

AnyJSON = Dict[str, Any]
"""A JSON object with string keys."""

StatusEnum = JobState
"""The six job states by their wire value (``StatusEnum.COMPLETED == "completed"``): the core's
``JobState``."""
