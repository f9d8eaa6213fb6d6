"""The three ways to trust a delivery, each with the example receivers under real servers (FastAPI
on uvicorn, Flask and Django on waitress, aiohttp), fed by the emulator and by forgers.

- signatures: the account's ``whsec_`` secrets (Standard Webhooks);
- a URL token: ``UrlToken``, the emulator's deliveries unsigned, as an account whose secret was
  never revealed gets them;
- polling: ``ConfirmByPolling`` with the client each framework suits (a SyncClient under WSGI,
  an AsyncClient under uvicorn, a SyncClient in a worker thread under aiohttp).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pytest
import requests

from higgsfield_client import AsyncClient, SyncClient
from higgsfield_client.testing import Emulator
from higgsfield_client.webhooks import ConfirmByPolling, UrlToken, signed_webhook_url
from higgsfield_proto import JobState

from .servers import SERVERS
from .support import FORGER, OLD_SECRET, SECRET, signed, status_body
from .test_served_receivers import MODEL, Events, wait_for

TOKEN_SECRET = "the app's URL token secret, for the served receivers"
OLD_TOKEN_SECRET = "the app's previous URL token secret, being rotated out"
MODES = ["signature", "url-token", "polling"]


@dataclass
class Setup:
    """A receiver served in one trust mode, and the emulator whose jobs it receives."""

    mode: str
    url: str
    emulator: Emulator
    events: Events
    token: UrlToken

    def webhook_url(self, ref: str) -> str:
        """The URL a job is submitted with: a signed one for a URL token."""
        return self.token.url(self.url, ref) if self.mode == "url-token" else self.url


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=sorted(SERVERS))
def setup(request: pytest.FixtureRequest, mode: str) -> Iterator[Setup]:
    server = str(request.param)
    events = Events()
    token = UrlToken([TOKEN_SECRET, OLD_TOKEN_SECRET])
    # Deliveries are signed only for the account that revealed its secret.
    emulator = Emulator(
        queue_time=0, run_time=0.05, webhook_secret=SECRET if mode == "signature" else None,
        webhook_retry_delay=0.05, seed=5,
    ).start()
    client: Any = None
    try:
        if mode == "polling":
            client_class = AsyncClient if server == "fastapi-uvicorn" else SyncClient
            client = client_class(base_url=emulator.base_url, api_key=emulator.api_key)
        trust = {"signature": [SECRET, OLD_SECRET], "url-token": token, "polling": ConfirmByPolling(client)}
        with SERVERS[server](trust[mode], events) as url:
            try:
                yield Setup(mode=mode, url=url, emulator=emulator, events=events, token=token)
            finally:
                emulator.stop()  # before the server: no delivery is left in flight
    finally:
        emulator.stop()
        if isinstance(client, SyncClient):
            client.close()


def _submit(setup: Setup, ref: str) -> str:
    emulator = setup.emulator
    with SyncClient(base_url=emulator.base_url, api_key=emulator.api_key) as client:
        return client.submit(MODEL, {"prompt": ref}, webhook_url=setup.webhook_url(ref)).request_id


def _delivered(setup: Setup, request_id: str) -> Any:
    def probe() -> Optional[Any]:
        deliveries = setup.emulator.webhook_deliveries
        return next((d for d in deliveries if d.request_id == request_id and d.finished), None)

    return wait_for(probe)


def test_every_mode_handles_the_emulators_deliveries_flat_and_nested(setup: Setup) -> None:
    ids = {}
    for shape in ("flat", "nested"):
        setup.emulator.webhook_body = shape  # the job's delivery takes the shape set when it ends
        ids[shape] = _submit(setup, f"item-{shape}")
        delivery = _delivered(setup, ids[shape])
        assert [attempt.status for attempt in delivery.attempts] == [200], setup.mode
    events = setup.events.snapshot()
    assert [event.status.request_id for event in events] == [ids["flat"], ids["nested"]]
    for event, request_id in zip(events, ids.values(), strict=True):
        assert event.status.state is JobState.COMPLETED
        assert event.status.images == (f"{setup.emulator.base_url}/outputs/{request_id}/0.png",)
        assert event.status.payload["images"] == [{"url": event.status.images[0]}]
    expected = ["item-flat", "item-nested"] if setup.mode == "url-token" else [None, None]
    assert [event.reference for event in events] == expected


def _post(url: str, body: bytes, headers: Optional[dict[str, str]] = None) -> requests.Response:
    return requests.post(url, data=body, headers=headers or {"content-type": "application/json"}, timeout=10)


def _made_up(request_id: str) -> bytes:
    """A "completed" body with URLs of the forger's choosing."""
    return status_body(request_id, images=[{"url": "https://forger.example/payload.png"}])


def test_forged_deliveries_never_reach_the_handler(setup: Setup) -> None:
    finished = _submit(setup, "a real job")
    _delivered(setup, finished)
    setup.emulator.script_next_job(queue_time=3600)
    queued = _submit(setup, "a queued job")
    handled_before = len(setup.events.snapshot())
    if setup.mode == "signature":
        body = _made_up(finished)
        answers = [
            _post(setup.url, body),  # unsigned
            _post(setup.url, body, signed(body, secret=FORGER, webhook_id="msg_forged")),
            _post(setup.url, body, signed(_made_up(queued), webhook_id="msg_2")),  # another body's
        ]
        assert [answer.status_code for answer in answers] == [401, 401, 401]
    elif setup.mode == "url-token":
        real_token = dict(part.split("=") for part in setup.webhook_url("item").split("?")[1].split("&"))
        forged_urls = [
            setup.url,  # no token
            f"{setup.url}?hf_ref=item-2&hf_token={real_token['hf_token']}",  # another job's reference
            signed_webhook_url(setup.url, "a forger's secret of plenty of bytes", "item"),
            f"{setup.url}?hf_ref=item&hf_token={real_token['hf_token'][:-2]}",
        ]
        answers = [_post(url, _made_up(finished)) for url in forged_urls]
        assert [answer.status_code for answer in answers] == [401] * 4
        # The old secret of a rotation still makes URLs the receiver takes.
        rotated = _post(signed_webhook_url(setup.url, OLD_TOKEN_SECRET, "item-old"), status_body("job-old"))
        assert rotated.status_code == 200
        assert setup.events.snapshot()[-1].reference == "item-old"
        handled_before += 1
    else:
        unknown = _post(setup.url, _made_up("made-up-job"))
        unfinished = _post(setup.url, _made_up(queued))
        assert (unknown.status_code, unfinished.status_code) == (400, 409)
        # A forgery about a real, finished job: the handler gets the API's status, not the body.
        confirmed = _post(setup.url, _made_up(finished))
        assert (confirmed.status_code, confirmed.text) == (200, "duplicate\n")  # the real one came first
        assert _post(setup.url, b"not json").status_code == 400
    events = setup.events.snapshot()
    assert len(events) == handled_before
    urls = [url for event in events for url in event.status.images]
    assert all(url.startswith(setup.emulator.base_url) for url in urls if "job-old" not in url)
    assert "forger.example" not in json.dumps([dict(event.status.payload) for event in events])


@pytest.mark.parametrize("mode", ["polling"])
def test_by_polling_a_forgery_that_comes_first_is_handled_with_the_apis_status(setup: Setup) -> None:
    setup.emulator.script_next_job(queue_time=0, run_time=0)
    with SyncClient(base_url=setup.emulator.base_url, api_key=setup.emulator.api_key) as client:
        request_id = client.submit(MODEL, {"prompt": "no webhook_url"}).request_id
    while setup.emulator.job(request_id).status != "completed":
        time.sleep(0.01)
    answer = _post(setup.url, _made_up(request_id))
    assert (answer.status_code, answer.text) == (200, "handled\n")
    (event,) = setup.events.snapshot()
    assert event.status.images == (f"{setup.emulator.base_url}/outputs/{request_id}/0.png",)
