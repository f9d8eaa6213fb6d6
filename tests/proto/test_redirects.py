"""Redirects inside an exchange: followed within the request's origin only, never with credentials
to another host, at most MAX_REDIRECTS hops, with the method rules of RFC 9110 section 15.4."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from proto_support import (
    BASE_URL,
    KEY_ID,
    REQUEST_ID,
    SECRET,
    SUBMITTED,
    UPLOAD_SLOT,
    ScriptedRunner,
    Slow,
    expect_error,
    json_response,
    run_flow,
    state_payload,
)

from higgsfield_proto import (
    MAX_REDIRECTS,
    ApiConfig,
    Credentials,
    FailureKind,
    FlowEnv,
    HiggsfieldError,
    JobState,
    PollPolicy,
    ProtocolError,
    Request,
    Response,
    RetryPolicy,
    Send,
    TransportFailure,
    WaitTimeoutError,
    build_status_request,
    build_submit_request,
    status_flow,
    submit_flow,
    subscribe_flow,
    upload_flow,
    wait_flow,
)

MODEL = "higgsfield-ai/soul/standard"
ARGS = {"prompt": "a lake"}
KEY = "idem-key-1"
ENV = FlowEnv(retry=RetryPolicy(max_attempts=3, backoff_base=0.5, backoff_cap=1.0))
STATUS_PATH = f"/requests/{REQUEST_ID}/status"


def redirect(status: int, location: str, *extra: Tuple[str, str]) -> Response:
    return Response(status=status, headers=(("Location", location), *extra))


def completed() -> Response:
    return json_response(200, state_payload("completed"))


def sent_urls(sends: Sequence[Send]) -> List[str]:
    return [send.request.url for send in sends]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_status_check_follows_a_redirect_within_the_api_origin(config: ApiConfig, status: int) -> None:
    moved = f"{BASE_URL}/v2{STATUS_PATH}"
    job, runner = run_flow(status_flow(config, REQUEST_ID, ENV), [redirect(status, moved), completed()])
    assert job.state is JobState.COMPLETED
    first, second = runner.sends
    assert sent_urls(runner.sends) == [f"{BASE_URL}{STATUS_PATH}", moved]
    # The same request, only the URL changed: credentials stay, since the origin is the same.
    assert second.request.method == "GET"
    assert second.request.headers == first.request.headers
    assert runner.kinds() == ["send:GET", "send:GET"]


def test_a_relative_location_is_resolved_against_the_request_url(config: ApiConfig) -> None:
    _, runner = run_flow(
        status_flow(config, REQUEST_ID, ENV), [redirect(302, "status-v2?x=1#frag"), completed()]
    )
    # The fragment never goes on the wire.
    assert runner.sends[1].request.url == f"{BASE_URL}/requests/{REQUEST_ID}/status-v2?x=1"


@pytest.mark.parametrize("status", [307, 308])
def test_a_submit_is_repeated_verbatim_on_307_and_308(config: ApiConfig, status: int) -> None:
    moved = f"{BASE_URL}/queue/{MODEL}"
    job, runner = run_flow(
        submit_flow(config, MODEL, ARGS, ENV, idempotency_key=KEY),
        [redirect(status, moved), json_response(200, SUBMITTED)],
    )
    assert job.request_id == REQUEST_ID
    first, second = (send.request for send in runner.sends)
    assert first == build_submit_request(config, MODEL, ARGS, idempotency_key=KEY)
    assert (second.method, second.headers, second.body) == (first.method, first.headers, first.body)
    assert second.url == moved
    assert second.header("Idempotency-Key") == KEY


@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_post_is_not_turned_into_a_get_by_301_302_303(config: ApiConfig, status: int) -> None:
    error, runner = expect_error(
        submit_flow(config, MODEL, ARGS, ENV, idempotency_key=KEY),
        [redirect(status, f"{BASE_URL}/elsewhere")],
    )
    assert isinstance(error, ProtocolError)
    assert error.status_code == status
    assert len(runner.sends) == 1


@pytest.mark.parametrize(
    ("location", "named"),
    [
        ("https://evil.example/requests/x/status", "evil.example"),
        ("//evil.example:8443/steal", "evil.example:8443"),
        ("https://api.higgsfield.ai.evil.example/x", "api.higgsfield.ai.evil.example"),
        ("http://api.higgsfield.ai/requests/x/status", "api.higgsfield.ai"),  # https -> http
        ("https://api.higgsfield.ai:8443/x", "api.higgsfield.ai:8443"),
        ("https://attacker:pw@evil.example/x", "evil.example"),
        ("ftp:/files/x", "a ftp URL"),
    ],
)
@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_to_another_origin_is_refused_and_names_the_host(
    config: ApiConfig, location: str, named: str, status: int
) -> None:
    error, runner = expect_error(status_flow(config, REQUEST_ID, ENV), [redirect(status, location)])
    assert isinstance(error, ProtocolError)
    assert f"({named})" in str(error)
    assert error.status_code == status
    # Nothing was sent to the other host: the one Send is the original request.
    assert sent_urls(runner.sends) == [f"{BASE_URL}{STATUS_PATH}"]
    assert SECRET not in str(error)
    assert KEY_ID not in str(error)


def test_the_same_origin_is_compared_with_default_ports_and_case(config: ApiConfig) -> None:
    moved = "HTTPS://API.Higgsfield.AI:443/v2/status"
    _, runner = run_flow(status_flow(config, REQUEST_ID, ENV), [redirect(307, moved), completed()])
    assert runner.sends[1].request.url == "https://API.Higgsfield.AI:443/v2/status"


@pytest.mark.parametrize(
    "location",
    [
        "https://api.higgsfield.ai:99999/x",  # a port out of range
        "https://api.higgsfield.ai/a path",  # no transport can send a space
        "https://api.higgsfield.ai/caf\u00e9",
        "https://user:pw@api.higgsfield.ai/x",  # credentials in the URL
    ],
)
def test_a_redirect_to_a_malformed_url_is_a_protocol_error(config: ApiConfig, location: str) -> None:
    error, runner = expect_error(status_flow(config, REQUEST_ID, ENV), [redirect(307, location)])
    assert isinstance(error, ProtocolError)
    assert "malformed" in str(error)
    assert len(runner.sends) == 1


def test_at_most_five_redirects_are_followed(config: ApiConfig) -> None:
    hops = [redirect(307, f"{BASE_URL}/hop/{n}") for n in range(MAX_REDIRECTS)]
    job, runner = run_flow(status_flow(config, REQUEST_ID, ENV), [*hops, completed()])
    assert job.state is JobState.COMPLETED
    assert len(runner.sends) == MAX_REDIRECTS + 1

    loop = [redirect(302, f"{BASE_URL}{STATUS_PATH}")] * (MAX_REDIRECTS + 1)
    error, runner = expect_error(status_flow(config, REQUEST_ID, ENV), loop)
    assert isinstance(error, ProtocolError)
    assert f"more than {MAX_REDIRECTS} redirects" in str(error)
    assert len(runner.sends) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "answer", [Response(status=302), Response(status=304, headers=(("Location", "/x"),))]
)
def test_a_3xx_without_location_or_outside_the_redirect_codes_is_not_followed(
    config: ApiConfig, answer: Response
) -> None:
    error, runner = expect_error(status_flow(config, REQUEST_ID, ENV), [answer])
    assert isinstance(error, ProtocolError)
    assert len(runner.sends) == 1


def test_each_location_gets_its_own_retry_attempts(config: ApiConfig) -> None:
    env = FlowEnv(retry=RetryPolicy(max_attempts=2, backoff_base=0.1, backoff_cap=0.1))
    script: List[Any] = [
        Response(status=503),
        redirect(307, f"{BASE_URL}/v2{STATUS_PATH}"),
        Response(status=503),
        completed(),
    ]
    job, runner = run_flow(status_flow(config, REQUEST_ID, env), script)
    assert job.state is JobState.COMPLETED
    repeat = ["notify:Retrying", "sleep", "send:GET"]
    assert runner.kinds() == ["send:GET", *repeat, "send:GET", *repeat]


def test_the_presigned_put_follows_a_redirect_on_the_storage_host_without_credentials(
    config: ApiConfig,
) -> None:
    moved = "https://storage.example/presigned-2?X-Amz-Signature=def456"
    target, runner = run_flow(
        upload_flow(config, "image/jpeg", b"jpeg bytes", ENV),
        [json_response(200, UPLOAD_SLOT), redirect(307, moved), Response(status=200)],
    )
    assert target.public_url == UPLOAD_SLOT["public_url"]
    put = runner.sends[2].request
    assert (put.method, put.url, put.body) == ("PUT", moved, b"jpeg bytes")
    assert put.header("Authorization") is None


def test_a_put_without_credentials_follows_a_redirect_to_another_host_still_without_them(
    config: ApiConfig,
) -> None:
    # S3 answers 307 towards a regional endpoint: the PUT carries no credential to leak.
    moved = "https://storage-eu.example/presigned-2?X-Amz-Signature=def456"
    _, runner = run_flow(
        upload_flow(config, "image/jpeg", b"jpeg bytes", ENV),
        [json_response(200, UPLOAD_SLOT), redirect(307, moved), Response(status=200)],
    )
    put = runner.sends[2].request
    assert (put.method, put.url) == ("PUT", moved)
    assert not put.carries_credentials
    assert put.headers == runner.sends[1].request.headers


def test_a_put_redirected_to_a_non_http_url_is_refused(config: ApiConfig) -> None:
    error, runner = expect_error(
        upload_flow(config, "image/jpeg", b"jpeg bytes", ENV),
        [json_response(200, UPLOAD_SLOT), redirect(307, "ftp://storage.example/x")],
    )
    assert isinstance(error, ProtocolError)
    assert len(runner.sends) == 2


def test_a_redirect_under_a_deadline_reads_the_clock_and_shrinks_the_send_timeout(
    config: ApiConfig,
) -> None:
    env = FlowEnv(
        retry=RetryPolicy(max_attempts=1),
        poll=PollPolicy(initial_delay=1.0, multiplier=1.0, max_delay=1.0, jitter=0.0, timeout=10.0),
    )
    moved = f"{BASE_URL}/v2{STATUS_PATH}"
    script: List[Any] = [Slow(redirect(307, moved), 4.0), completed()]
    job, runner = run_flow(wait_flow(config, REQUEST_ID, env, check_first=True), script, start=100.0)
    assert job.state is JobState.COMPLETED
    assert runner.kinds() == ["send:GET", "send:GET", "notify:StatusUpdate"]
    assert [send.timeout for send in runner.sends] == [10.0, 6.0]


def test_a_redirect_chain_that_outlasts_the_deadline_ends_in_a_wait_timeout(config: ApiConfig) -> None:
    env = FlowEnv(
        retry=RetryPolicy(max_attempts=1),
        poll=PollPolicy(initial_delay=1.0, multiplier=1.0, max_delay=1.0, jitter=0.0, timeout=3.0),
    )
    moved = f"{BASE_URL}/v2{STATUS_PATH}"
    script: List[Any] = [
        json_response(200, SUBMITTED),
        Slow(redirect(307, moved), 2.5),
        # The runner's deadline cut the followed request short.
        Slow(TransportFailure(kind=FailureKind.TIMEOUT, detail="deadline", request_written=True), 0.5),
    ]
    error, _ = expect_error(subscribe_flow(config, MODEL, ARGS, env, idempotency_key=KEY), script)
    assert isinstance(error, WaitTimeoutError)
    assert error.request_id == REQUEST_ID


# -- any chain of redirects --------------------------------------------------------------------

hosts = st.sampled_from(
    ["api.higgsfield.ai", "API.higgsfield.ai", "evil.example", "api.higgsfield.ai.evil.example", ""]
)
schemes = st.sampled_from(["https", "http", "HTTPS", ""])
ports = st.sampled_from(["", ":443", ":8443", ":0", ":99999", ":x"])
paths = st.text(alphabet="/abc?=#%@ \u00e9.", max_size=12)


@st.composite
def locations(draw: st.DrawFn) -> str:
    scheme, host = draw(schemes), draw(hosts)
    authority = f"//{host}{draw(ports)}" if host else ""
    return f"{scheme + ':' if scheme else ''}{authority}{draw(paths)}"


@settings(max_examples=300, deadline=None)
@given(
    chain=st.lists(st.tuples(st.sampled_from([301, 302, 303, 307, 308]), locations()), max_size=8),
    method=st.sampled_from(["status", "submit"]),
)
def test_no_chain_of_redirects_sends_credentials_to_another_origin(
    chain: List[Tuple[int, str]], method: str
) -> None:
    config = ApiConfig(credentials=Credentials(key_id=KEY_ID, secret=SECRET))
    script: List[Any] = [redirect(status, location) for status, location in chain]
    script.append(json_response(200, SUBMITTED if method == "submit" else state_payload("completed")))
    flow = (
        submit_flow(config, MODEL, ARGS, ENV, idempotency_key=KEY)
        if method == "submit"
        else status_flow(config, REQUEST_ID, ENV)
    )
    runner = ScriptedRunner(script)
    failure: Optional[HiggsfieldError] = None
    try:
        runner.run(flow)
    except HiggsfieldError as exc:
        failure = exc
    assert failure is None or isinstance(failure, ProtocolError), failure
    original: Request = (
        build_submit_request(config, MODEL, ARGS, idempotency_key=KEY)
        if method == "submit"
        else build_status_request(config, REQUEST_ID)
    )
    assert len(runner.sends) <= MAX_REDIRECTS + 1
    for send in runner.sends:
        assert config.is_api_url(send.request.url), send.request.url
        assert send.request.headers == original.headers
        assert send.request.method == original.method
        assert " " not in send.request.url
        assert "#" not in send.request.url
