"""TLS with certificates made by trustme, for every transport: the right CA verifies, anything
else is a typed TransportError of kind "tls" (never a raw ssl error), and turning verification
off is never silent."""

from __future__ import annotations

import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import trustme

from higgsfield_client import JobResult, TransportError
from higgsfield_client.testing import Emulator
from higgsfield_transports import InsecureTransportWarning

from .support import IMAGE_MODEL, REQUEST_ID, harness_for

ENVIRONMENT = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY",
               "https_proxy", "ALL_PROXY", "all_proxy")  # fmt: skip


@dataclass(frozen=True)
class Pki:
    ca: trustme.CA
    ca_path: str
    server: ssl.SSLContext  # a certificate for "localhost", signed by ``ca``
    wrong_name: ssl.SSLContext  # signed by ``ca``, but for another host name

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ca = trustme.CA()
    ca_path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return Pki(ca, str(ca_path), _server_context(ca, "localhost"), _server_context(ca, "other.example"))


@pytest.fixture(autouse=True)
def _no_environment_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    # CA bundles and proxies from the developer's shell must not decide these tests.
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def tls_emulator(pki: Pki) -> Iterator[Emulator]:
    with Emulator(queue_time=0.0, run_time=0.02, ssl_context=pki.server, seed=2) as emu:
        yield emu


def test_the_emulator_serves_https_on_localhost(tls_emulator: Emulator) -> None:
    assert tls_emulator.base_url.startswith("https://localhost:")


@pytest.mark.parametrize("how", ["context", "bundle"])
def test_verification_with_the_right_ca_succeeds(
    transport: str, pki: Pki, tls_emulator: Emulator, how: str
) -> None:
    verify: Any = pki.client_context() if how == "context" else pki.ca_path
    result: JobResult = harness_for(transport, tls_emulator).run(
        lambda client: client.subscribe(IMAGE_MODEL, {"prompt": "over TLS"}), verify=verify
    )
    assert result["status"] == "completed"
    assert all(entry.status == 200 for entry in tls_emulator.journal)


def expect_tls_failure(transport: str, emulator: Emulator, **options: Any) -> TransportError:
    async def scenario(client: Any) -> BaseException:
        with pytest.raises(TransportError) as caught:
            await client.status(REQUEST_ID)
        return caught.value

    error = harness_for(transport, emulator).run(scenario, **options)
    assert isinstance(error, TransportError)
    assert error.kind == "tls", repr(error)
    assert emulator.journal == []  # no request went through
    return error


def test_the_system_store_does_not_trust_a_private_ca(transport: str, tls_emulator: Emulator) -> None:
    error = expect_tls_failure(transport, tls_emulator)
    assert "certificate verify failed" in str(error)
    assert type(error) is TransportError  # typed at the edge: no ssl.SSLError reaches the caller


def test_a_certificate_for_another_host_name_is_refused(transport: str, pki: Pki) -> None:
    with Emulator(ssl_context=pki.wrong_name, seed=2) as emu:
        error = expect_tls_failure(transport, emu, verify=pki.client_context())
    assert "certificate verify failed" in str(error)


def test_another_ca_is_not_trusted(transport: str, tls_emulator: Emulator, tmp_path: Path) -> None:
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    expect_tls_failure(transport, tls_emulator, verify=str(stranger))


def test_turning_verification_off_works_but_is_never_silent(
    transport: str, tls_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = harness_for(transport, tls_emulator).run(
            lambda client: client.estimate(IMAGE_MODEL, {"prompt": "x"}), verify=False
        )
    assert status.credits > 0
    assert any(issubclass(w.category, InsecureTransportWarning) for w in caught)
    warned = [record for record in caplog.records if "verify=False" in record.getMessage()]
    assert any(record.levelname == "WARNING" for record in warned)
