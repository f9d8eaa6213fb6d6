"""The check of a submit's arguments against the model catalog, before anything is sent.

Three modes, chosen per client (``validate=``) and per call: ``True`` (the default) warns about
each problem with ``HiggsfieldArgumentWarning`` and submits anyway, since the official client
checks nothing and the API stays the judge; ``"strict"`` raises ``ValidationError`` (or
``UnknownModelError`` for an id of another API plane) and sends nothing; ``False`` checks
nothing. A model the catalog does not know passes unchanged in every mode. The catalog loads on
the first check, not on import.
"""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Hashable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from higgsfield_proto import InvalidArgumentError, UnknownModelError

from ._errors import HiggsfieldArgumentWarning

if TYPE_CHECKING:
    from higgsfield_proto import Catalog

Validate = Union[bool, Literal["strict"]]
"""How a submit's arguments are checked: True (warn), ``"strict"`` (refuse) or False (skip)."""

_PACKAGE = __name__.split(".")[0]


def validate_mode(value: object) -> Validate:
    """``value`` if it is a mode of the argument check.

    Raises:
        InvalidArgumentError: it is not True, False or ``"strict"``.
    """
    if value is True or value is False or value == "strict":
        return value
    raise InvalidArgumentError(
        f"validate must be True (warn), 'strict' (refuse) or False (no check), not {value!r}"
    )


class ArgumentCheck:
    """One client's check of arguments against the catalog, and the warnings it has given.

    Each problem is warned about once per model and field for the life of the client: a program
    that submits one wrong body a thousand times reads one warning, and a new client (a new
    test) warns again.
    """

    def __init__(self) -> None:
        self._catalog: Optional[Catalog] = None
        self._warned: set[Hashable] = set()
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Catalog:
        """The catalog this client checks against (loaded on first use: the fresher of the
        refreshed cache and the snapshot)."""
        if self._catalog is None:
            from .models import current_catalog  # the catalog loads on the first check

            self._catalog = current_catalog()
        return self._catalog

    def use(self, catalog: Catalog) -> None:
        """Check against ``catalog`` from now on (after a refresh)."""
        self._catalog = catalog

    def check(self, model: str, arguments: Mapping[str, Any], mode: Validate) -> None:
        """Check ``arguments`` for ``model`` in ``mode``.

        Raises:
            ValidationError: strict mode, and the arguments do not match the model's schema or
                name fields it does not have (``local`` is True: nothing was sent).
            UnknownModelError: strict mode, and ``model`` is an id of another API plane.
        """
        if mode is False:
            return
        catalog = self.catalog
        entry = catalog.find(model)
        if entry is None:
            foreign = catalog.foreign(model)
            if foreign is None:
                return  # not in the catalog: the API may know it
            if mode == "strict":
                raise UnknownModelError(foreign.message, model_id=model, foreign=foreign)
            self._warn_once(model, f"{foreign.message} Submitted anyway.")
            return
        if mode == "strict":
            entry.validate(arguments, strict=True)
            return
        for problem in entry.problems(arguments, strict=True):
            if problem.type == "extra_forbidden" and "additionalProperties" not in (entry.schema or {}):
                consequence = "the API ignores a field the model does not have, and bills the job"
            else:
                consequence = "the API may refuse it"
            self._warn_once(
                (entry.model_id, problem.loc[:2]),
                f"{entry.model_id}: {problem} (model catalog of {catalog.date}). Submitted anyway: "
                f"{consequence}. validate='strict' refuses before sending; validate=False skips "
                "the check",
            )

    def _warn_once(self, key: Hashable, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        warnings.warn(message, HiggsfieldArgumentWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package: the
    line of the caller's own code that submitted."""
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_globals.get("__name__", "").split(".")[0] == _PACKAGE:
        frame = frame.f_back
        level += 1
    return level
