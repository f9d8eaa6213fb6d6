"""Errors for network failures: ``transport_error_from_failure`` and ``DownloadError``."""

from __future__ import annotations

import higgsfield_proto as hp


def test_a_timeout_becomes_a_network_timeout_error() -> None:
    failure = hp.TransportFailure(kind=hp.FailureKind.TIMEOUT, detail="no data for 5s", request_written=True)
    error = hp.transport_error_from_failure(failure)
    assert isinstance(error, hp.NetworkTimeoutError)
    assert isinstance(error, TimeoutError)
    assert (error.kind, error.request_written) == ("timeout", True)
    assert str(error) == "network failure (timeout): no data for 5s"


def test_other_failures_become_plain_transport_errors() -> None:
    error = hp.transport_error_from_failure(hp.TransportFailure(kind=hp.FailureKind.CONNECT))
    assert type(error) is hp.TransportError
    assert (error.kind, error.request_written) == ("connect", False)
    assert str(error) == "network failure (connect)"


def test_a_download_error_is_a_transport_error_with_the_byte_counts() -> None:
    error = hp.DownloadError("cut short", url="https://cdn.example/a.png", received=10, expected=20)
    assert isinstance(error, hp.TransportError)
    assert isinstance(error, hp.HiggsfieldError)
    assert (error.url, error.received, error.expected, error.kind, error.request_written) == (
        "https://cdn.example/a.png",
        10,
        20,
        "read",
        True,
    )
