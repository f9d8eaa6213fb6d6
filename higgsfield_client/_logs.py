"""The ``higgsfield_client`` logger, looked up only once some code has loaded ``logging``.

Loading ``logging`` is a tenth of the package's import time, and until some code has loaded it no
handler can exist, so no record could be written: ``import higgsfield_client`` does not load it,
and these functions return None until another module has. The logger gets a ``NullHandler`` when
it is first looked up (the library convention: records go where the application's configuration
sends them, and nowhere else; ``basicConfig`` is the application's to call, never this package's).

Levels: DEBUG one line per HTTP exchange (``_runner``), INFO the state changes of a job
(``_watch``), WARNING each retry and each rate-limit answer (``_observe``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import logging

LOGGER_NAME = "higgsfield_client"
DEBUG, INFO, WARNING = 10, 20, 30  # logging's levels, without loading it

_logger: Optional[logging.Logger] = None


def logger_at(level: int) -> Optional[logging.Logger]:
    """The ``higgsfield_client`` logger if it writes records of ``level`` now, else None."""
    global _logger
    if _logger is None:
        logging = sys.modules.get("logging")
        if logging is None:
            return None
        logger = logging.getLogger(LOGGER_NAME)
        logger.addHandler(logging.NullHandler())  # once: this runs once per process
        _logger = logger
    return _logger if _logger.isEnabledFor(level) else None
