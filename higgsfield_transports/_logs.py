"""Filters that keep secrets out of the log records of the HTTP libraries the adapters use."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

_QUERY = re.compile(r"\?[^\s'\"]*")


def without_queries(text: str) -> str:
    """``text`` with every URL query string cut to ``?...``."""
    return _QUERY.sub("?...", text) if "?" in text else text


class QueryRedactor(logging.Filter):
    """Cuts the query strings out of a library's log records.

    Libraries log request lines and response heads with full URLs (urllib3 its request line,
    httpx one INFO line per request, httpcore the response headers at DEBUG), and a presigned
    upload URL's query holds its signature (a bearer secret). Arguments are redacted when their
    text holds a ``?`` (a URL object becomes its redacted text); a record without arguments has
    its message redacted.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redacted(arg) for arg in record.args)
        elif not record.args and isinstance(record.msg, str):
            record.msg = without_queries(record.msg)
        return True


def _redacted(arg: object) -> object:
    if isinstance(arg, (int, float)) or arg is None:
        return arg
    text = arg if isinstance(arg, str) else str(arg)
    return without_queries(text) if "?" in text else arg


class HeaderBlockRedactor(logging.Filter):
    """Hides the arguments of hpack's DEBUG records, which show HTTP/2 header blocks.

    hpack logs headers as it encodes and decodes them: the ``:path`` of a presigned URL (its
    signature), and the encoded block that holds the ``Authorization`` value. Numbers and flags
    are kept; any other argument becomes ``<redacted>``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                arg if isinstance(arg, (int, float)) or arg is None else "<redacted>" for arg in record.args
            )
        return True


def install(redactor: logging.Filter, names: Iterable[str]) -> None:
    """Add ``redactor`` to the loggers ``names`` (adding the same filter twice adds it once)."""
    for name in names:
        logging.getLogger(name).addFilter(redactor)


QUERIES = QueryRedactor()
HEADER_BLOCKS = HeaderBlockRedactor()
