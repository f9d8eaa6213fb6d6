"""The public error names: the core's typed errors under the official root name, and the warning
of the argument check before a submit."""

from __future__ import annotations

from higgsfield_proto import HiggsfieldError

HiggsfieldClientError = HiggsfieldError
"""The root of every error the SDK raises (the official SDK's name for it)."""


class HiggsfieldArgumentWarning(UserWarning):
    """Arguments that the model catalog says the API will refuse or ignore, submitted anyway.

    Issued by the check before a submit in its default mode, once per model and field per
    client; ``validate="strict"`` raises ``ValidationError`` instead, ``validate=False`` checks
    nothing. An id of another Higgsfield API plane (``nano_banana_2``) is warned about too.
    """
