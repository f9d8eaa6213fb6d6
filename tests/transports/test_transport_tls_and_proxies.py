"""Every transport: certificate verification, verify=False, proxies from options and from the
environment."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from _transport_servers import Servers
from _transport_support import VERIFY_FLAVORS, Make, request_with

from higgsfield_proto._http import FailureKind, Response, TransportFailure
from higgsfield_transports import InsecureTransportWarning

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("trust", ["ca-path", "ssl-context"])
async def test_tls_succeeds_with_the_servers_ca(make: Make, servers: Servers, trust: str) -> None:
    verify: Any = servers.ca_path if trust == "ca-path" else servers.client_context()
    outcome = await make(verify=verify).send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert json.loads(outcome.body)["method"] == "GET"


async def test_a_given_ssl_context_is_used_as_is(make: Make, servers: Servers) -> None:
    context = servers.client_context()
    before = context.cert_store_stats()
    outcome = await make(verify=context).send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert context.cert_store_stats() == before  # no CA bundle was loaded into it


async def test_untrusted_certificate_is_a_tls_failure(make: Make, servers: Servers) -> None:
    outcome = await make().send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.TLS
    assert outcome.request_written is False
    assert "certificate" in outcome.detail.lower()


async def test_tls_to_a_plain_http_port_is_a_tls_failure(make: Make, servers: Servers) -> None:
    https_to_plain = servers.web.http_url.replace("http://", "https://") + "/echo"
    outcome = await make(verify=servers.ca_path).send(request_with(https_to_plain))
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.TLS
    assert outcome.request_written is False


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")  # urllib3's own, per request
@pytest.mark.parametrize("flavor", VERIFY_FLAVORS, indirect=True)
async def test_verify_false_warns_and_logs_then_skips_verification(
    make: Make, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="higgsfield_transports"),
        pytest.warns(InsecureTransportWarning, match="verify=False"),
    ):
        driver = make(verify=False)
    assert any(
        record.name == "higgsfield_transports" and "verify=False" in record.getMessage()
        for record in caplog.records
    )
    outcome = await driver.send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, Response), outcome


async def test_explicit_proxy_gets_plain_http_in_absolute_form(make: Make, servers: Servers) -> None:
    driver = make(proxy=servers.proxy.url)
    outcome = await driver.send(request_with(servers.web.http_url + "/echo?q=1"))
    assert isinstance(outcome, Response), outcome
    assert json.loads(outcome.body)["path"] == "/echo?q=1"
    [(method, target, _)] = servers.proxy.seen
    assert (method, target) == ("GET", servers.web.http_url + "/echo?q=1")


async def test_explicit_proxy_tunnels_https_with_connect(make: Make, servers: Servers) -> None:
    driver = make(proxy=servers.proxy.url, verify=servers.ca_path)
    outcome = await driver.send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    [(method, target, _)] = servers.proxy.seen
    assert (method, target) == ("CONNECT", servers.web.https_url.split("//")[1])


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_proxy_credentials_from_the_url_go_to_the_proxy_only(
    make: Make, servers: Servers, scheme: str
) -> None:
    proxy = servers.proxy.url.replace("http://", "http://user:p%40ss@")
    driver = make(proxy=proxy, verify=servers.ca_path)
    origin = servers.web.http_url if scheme == "http" else servers.web.https_url
    outcome = await driver.send(request_with(origin + "/echo"))
    assert isinstance(outcome, Response), outcome
    [(_, _, proxy_headers)] = servers.proxy.seen
    expected = "Basic " + base64.b64encode(b"user:p@ss").decode()
    assert {k.lower(): v for k, v in proxy_headers.items()}["proxy-authorization"] == expected
    echoed = [name.lower() for name, _ in json.loads(outcome.body)["headers"]]
    assert "proxy-authorization" not in echoed


async def test_proxy_password_is_not_in_the_repr(make: Make, servers: Servers) -> None:
    driver = make(proxy=servers.proxy.url.replace("http://", "http://user:pw-s3cret@"))
    assert "s3cret" not in repr(driver.transport)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_proxy_from_the_environment(
    make: Make, servers: Servers, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, servers.proxy.url)
    outcome = await make().send(request_with(servers.web.http_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert [target for _, target, _ in servers.proxy.seen] == [servers.web.http_url + "/echo"]


async def test_https_proxy_from_the_environment_tunnels(
    make: Make, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", servers.proxy.url)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # must not be used for https
    outcome = await make(verify=servers.ca_path).send(request_with(servers.web.https_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert [method for method, _, _ in servers.proxy.seen] == ["CONNECT"]


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "*", "localhost,127.0.0.1"])
async def test_no_proxy_bypasses_the_environment_proxy(
    make: Make, servers: Servers, monkeypatch: pytest.MonkeyPatch, no_proxy: str
) -> None:
    monkeypatch.setenv("HTTP_PROXY", servers.proxy.url)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    outcome = await make().send(request_with(servers.web.http_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert servers.proxy.seen == []


async def test_trust_env_false_ignores_the_environment_proxy(
    make: Make, servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", servers.proxy.url)
    outcome = await make(trust_env=False).send(request_with(servers.web.http_url + "/echo"))
    assert isinstance(outcome, Response), outcome
    assert servers.proxy.seen == []


async def test_unreachable_proxy_is_a_connect_failure(make: Make, closed_port: int) -> None:
    driver = make(proxy=f"http://127.0.0.1:{closed_port}")
    outcome = await driver.send(request_with("http://example.invalid/echo"))
    assert isinstance(outcome, TransportFailure), outcome
    assert outcome.kind is FailureKind.CONNECT
    assert outcome.request_written is False
