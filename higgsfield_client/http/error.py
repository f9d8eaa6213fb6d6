"""The official ``higgsfield_client.http.error``: an error answer's message, and the typed error
for an ``httpx.Response``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from higgsfield_proto import GENERATION_ERRORS, ErrorTable, Response, error_from_response

from .._connections import httpx_module
from .._errors import HiggsfieldClientError

if TYPE_CHECKING:
    import httpx

__all__ = ["HiggsfieldClientError", "extract_error_message", "raise_for_status"]

_MESSAGE_KEYS = ("detail", "details", "message", "error")


def extract_error_message(response: Any) -> Any:
    """The message of an error answer, read as the official SDK reads it.

    The first non-empty value of ``detail``, ``details``, ``message`` and ``error`` in the JSON
    object of the body (a 422's ``detail`` is its list of field errors), else the body's text.

    Args:
        response: an ``httpx.Response``, or any object with ``json()`` and ``text``, such as
            ``exc.__cause__.response`` of an error this SDK raised.
    """
    try:
        data = response.json()
    except (ValueError, TypeError, AttributeError):
        return response.text
    if isinstance(data, dict):
        for key in _MESSAGE_KEYS:
            if data.get(key):
                return data[key]
    return response.text


def raise_for_status(response: httpx.Response) -> None:
    """Return if ``response`` is a 2xx; raise the typed error for it otherwise.

    The official function raises ``HiggsfieldClientError(message)``: this one raises the same
    typed error the clients raise (``NotFoundError``, ``ValidationError``... all under
    ``HiggsfieldClientError``), chained from httpx's own ``HTTPStatusError``, so that
    ``exc.__cause__.response`` is ``response``.

    Raises:
        APIError: a 4xx or 5xx answer, as its typed subclass.
        ProtocolError: any other status that is not 2xx (a redirect).
        ImportError: httpx is not installed.
    """
    raise_answer_error(response, GENERATION_ERRORS)


def raise_answer_error(response: httpx.Response, errors: ErrorTable) -> None:
    """``raise_for_status`` with the error table of an API family (the Agent API's has its own)."""
    lib = httpx_module("raise_for_status")
    if response.is_success:
        return
    headers = tuple(response.headers.multi_items())
    answer = Response(status=response.status_code, headers=headers, body=response.content)
    error = error_from_response(answer, errors=errors)
    try:
        request = response.request
    except RuntimeError:  # a response built by hand, without its request
        request = None
    cause = lib.HTTPStatusError(str(error.__cause__ or error), request=request, response=response)
    raise error from cause
