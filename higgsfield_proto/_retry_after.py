"""Reading the Retry-After header, given as seconds or as an HTTP date. No I/O happens here."""

from __future__ import annotations

import math
import re
from typing import Optional

from ._http import Response

# HTTP dates (RFC 9110 5.6.7) are parsed here rather than with email.utils, which imports socket
# and random. Accepted: IMF-fixdate and the obsolete RFC 850 form (both GMT), and asctime (UTC).
_FIXDATE = re.compile(
    r"[A-Za-z]+, (\d{2})[ -]([A-Za-z]{3})[ -](\d{4}|\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT", re.ASCII
)
_ASCTIME = re.compile(r"[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})", re.ASCII)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _http_date(value: str) -> Optional[float]:
    fixdate = _FIXDATE.fullmatch(value)
    if fixdate is not None:
        day, month, year, hour, minute, second = fixdate.groups()
    else:
        asctime = _ASCTIME.fullmatch(value)
        if asctime is None:
            return None
        month, day, hour, minute, second, year = asctime.groups()
    if len(year) == 2:
        # RFC 850's two-digit year, read as 1950-2049 (the core has no clock to pivot on).
        year = ("19" if int(year) >= 50 else "20") + year
    if month.lower() not in _MONTHS:
        return None
    from datetime import datetime, timezone  # an HTTP date is rare: seconds are the rule

    try:
        moment = datetime(
            int(year),
            _MONTHS.index(month.lower()) + 1,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone.utc,
        )
    except ValueError:
        return None
    return moment.timestamp()


def retry_after_seconds(response: Response, *, now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait before repeating ``response``'s request, or None when it does not say.

    Args:
        response: the answer carrying ``Retry-After``.
        now: the current wall-clock time (Unix seconds), used for an HTTP-date value when the
            response has no ``Date`` header to measure it against.

    Returns:
        A finite number of seconds >= 0, or None for a missing or unreadable header.
    """
    value = response.header("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        target = _http_date(value)
        if target is None:
            return None
        date = response.header("Date")
        reference = _http_date(date) if date is not None else None
        if reference is None:
            reference = now
        if reference is None:
            return None
        seconds = target - reference
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)
