"""download_flow: streamed attempts into the runner's sink, the size checked by the core, repeats
from the start, redirects to any host (the request carries no credential), typed endings."""

from __future__ import annotations

from typing import Any, List

import pytest
from proto_support import expect_error, run_flow

from higgsfield_proto import (
    USER_AGENT,
    DownloadError,
    FailureKind,
    FlowEnv,
    InvalidArgumentError,
    NotFoundError,
    OutputExpiredError,
    ProtocolError,
    RateLimitError,
    Response,
    RetryPolicy,
    StreamedResponse,
    StreamedSend,
    TransportFailure,
    download_flow,
)

URL = "https://cdn.example/outputs/r1/0.png?X-Amz-Signature=s3cr3t"
ENV = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.1, backoff_cap=0.1))


def streamed(received: int, length: int | None = None, *, failure: TransportFailure | None = None) -> Any:
    headers = (("Content-Type", "image/png"),) + ((("Content-Length", str(length)),) if length else ())
    return StreamedResponse(status=200, headers=headers, received=received, failure=failure)


def test_a_download_is_one_streamed_get_without_credentials_and_reports_what_arrived() -> None:
    done, runner = run_flow(download_flow(URL, ENV, user_agent="ua/1"), [streamed(1234, 1234)])
    assert (done.url, done.size, done.content_type) == (URL, 1234, "image/png")
    (send,) = runner.sends
    assert isinstance(send, StreamedSend)
    assert send.request.method == "GET"
    assert send.request.header("User-Agent") == "ua/1"
    assert send.request.header("Accept-Encoding") == "identity"
    assert not send.request.carries_credentials


def test_the_default_user_agent_is_the_sdks() -> None:
    _, runner = run_flow(download_flow(URL, ENV), [streamed(3)])
    assert runner.sends[0].request.header("User-Agent") == USER_AGENT


@pytest.mark.parametrize("received", [10, 30])
def test_a_body_of_the_wrong_size_is_repeated_from_the_start(received: int) -> None:
    done, runner = run_flow(download_flow(URL, ENV), [streamed(received, 20), streamed(20, 20)])
    assert done.size == 20
    assert [send.attempt for send in runner.sends] == [1, 2]
    assert runner.kinds() == ["send:GET", "notify:Retrying", "sleep", "send:GET"]


def test_an_encoded_body_is_not_held_to_its_content_length() -> None:
    encoded = StreamedResponse(
        status=200, headers=(("Content-Length", "3"), ("Content-Encoding", "gzip")), received=8
    )
    done, _ = run_flow(download_flow(URL, ENV), [encoded])
    assert done.size == 8


def test_a_body_cut_short_every_time_is_a_download_error_with_the_counts_and_no_signature() -> None:
    cut = TransportFailure(kind=FailureKind.READ, detail="reset", request_written=True, response_started=True)
    error, runner = expect_error(download_flow(URL, ENV), [streamed(7, 20, failure=cut)] * 3)
    assert isinstance(error, DownloadError)
    assert (error.received, error.expected, error.attempts) == (7, 20, 3)
    assert error.url == URL.split("?")[0]
    assert "s3cr3t" not in str(error)
    assert len(runner.sends) == 3


def test_a_failure_before_any_answer_is_a_plain_transport_error() -> None:
    refused = TransportFailure(kind=FailureKind.CONNECT, detail="refused")
    error, _ = expect_error(download_flow(URL, ENV), [refused] * 3)
    assert type(error).__name__ == "TransportError"
    assert "cdn.example" in str(error)


def test_a_redirect_to_another_host_is_followed_since_nothing_secret_travels() -> None:
    moved = "https://other-cdn.example/0.png"
    done, runner = run_flow(
        download_flow(URL, ENV), [Response(status=302, headers=(("Location", moved),)), streamed(5)]
    )
    assert done.size == 5
    assert [send.request.url for send in runner.sends] == [URL, moved]
    assert runner.sends[1].request.headers == runner.sends[0].request.headers


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Response(status=404, body=b"<Error><Code>NoSuchKey</Code></Error>"), NotFoundError),
        (Response(status=304), ProtocolError),
        (StreamedResponse(status=500, received=0), ProtocolError),
    ],
)
def test_an_answer_that_is_no_file_is_a_typed_error(answer: Any, error: type) -> None:
    raised, runner = expect_error(download_flow(URL, ENV), [answer])
    assert isinstance(raised, error)
    assert len(runner.sends) == 1


# What an S3-style storage host answers for a key that expired or was deleted (129 bytes).
NO_SUCH_KEY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>\n"
)


def test_an_expired_or_deleted_output_says_which_it_is_and_the_storages_code() -> None:
    answer = Response(
        status=404,
        headers=(("Content-Type", "application/xml"), ("X-Correlation-ID", "c-1")),
        body=NO_SUCH_KEY,
    )
    error, runner = expect_error(download_flow(URL + "#frag", ENV), [answer])
    assert isinstance(error, OutputExpiredError)
    assert isinstance(error, NotFoundError)  # existing ``except NotFoundError`` still catches it
    assert str(error) == (
        "output https://cdn.example/outputs/r1/0.png has expired or was deleted "
        "(HTTP 404, storage code NoSuchKey) [correlation_id=c-1]"
    )
    assert (error.url, error.storage_code) == ("https://cdn.example/outputs/r1/0.png", "NoSuchKey")
    assert (error.status_code, error.correlation_id, error.request_id) == (404, "c-1", None)
    assert error.body == NO_SUCH_KEY.decode()
    assert "s3cr3t" not in str(error) + repr(error) + error.url
    assert len(runner.sends) == 1  # a 404 is not repeated


@pytest.mark.parametrize(
    "body", [b"", b"Not Found", b'{"detail": "gone"}', b"<Error><Code></Code></Error>", b"<Code>a b</Code>"]
)
def test_a_404_without_a_storage_code_still_names_the_output(body: bytes) -> None:
    error, _ = expect_error(download_flow(URL, ENV), [Response(status=404, body=body)])
    assert isinstance(error, OutputExpiredError)
    assert error.storage_code is None
    assert str(error) == "output https://cdn.example/outputs/r1/0.png has expired or was deleted (HTTP 404)"


def test_other_error_statuses_of_a_file_host_keep_their_classes() -> None:
    error, _ = expect_error(
        download_flow(URL, FlowEnv(retry=RetryPolicy(max_attempts=1))),
        [Response(status=429, headers=(("Retry-After", "3"),), body=b"slow down")],
    )
    assert isinstance(error, RateLimitError)
    assert not isinstance(error, NotFoundError)
    assert error.retry_after == 3


@pytest.mark.parametrize(
    "url", ["ftp://cdn.example/x", "not a url", "https://", "/relative/0.png", "http://[::1", None]
)
def test_a_url_that_is_not_http_is_refused_before_anything_is_sent(url: Any) -> None:
    error, runner = expect_error(download_flow(url, ENV), [])
    assert isinstance(error, InvalidArgumentError)
    assert runner.sends == []


def test_503s_are_repeated_as_the_retry_policy_says() -> None:
    script: List[Any] = [Response(status=503), Response(status=503), streamed(4, 4)]
    done, runner = run_flow(download_flow(URL, ENV), script)
    assert done.size == 4
    assert len(runner.sends) == 3
