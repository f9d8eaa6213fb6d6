"""The protocol core driven by the standard library alone: a urllib adapter and a flow runner.

``higgsfield_proto`` decides everything (retries, redirects, polling, deadlines); an adapter
only moves bytes. Any adapter keeps this contract:

- send each request exactly once: never follow a redirect, never repeat on its own;
- send a streamed body with its ``Content-Length``;
- add no credentials of its own: the request carries what it needs, and a request without an
  ``Authorization`` header must leave without one;
- translate every failure into a ``TransportFailure`` with the facts it knows: could any byte
  of the request have been written? did any byte of the answer arrive?

Credentials come from HF_KEY, the API root from HIGGSFIELD_BASE_URL. Try it with the emulator:

    higgsfield-sansio emulator --port 8000     # prints the two export lines to paste
    python examples/urllib_adapter.py
"""

from __future__ import annotations

import http.client
import os
import random
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from typing import IO, Any, Callable, Optional, TypeVar

import higgsfield_proto as hp

T = TypeVar("T")
MODEL = "higgsfield-ai/soul/v2/standard"
CHUNK = 65536


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx comes back as an answer: the core decides whether to follow it


# build_opener adds no credentials (no netrc, no basic auth) and no cookies.
_OPENER = urllib.request.build_opener(_NoRedirects)


def _unsent(error: urllib.error.URLError) -> hp.TransportFailure:
    """urllib raises URLError while connecting or writing the request: which one was it?"""
    reason = error.reason
    if isinstance(reason, ssl.SSLError):
        return hp.TransportFailure(kind=hp.FailureKind.TLS, detail=str(reason))
    if isinstance(reason, (ConnectionRefusedError, socket.gaierror)):
        return hp.TransportFailure(kind=hp.FailureKind.CONNECT, detail=str(reason))
    # Connected, or it cannot tell: the request may have been written, so say so.
    kind = hp.FailureKind.TIMEOUT if isinstance(reason, TimeoutError) else hp.FailureKind.WRITE
    return hp.TransportFailure(kind=kind, detail=str(reason), request_written=True)


def _headers(answer: Any) -> hp.Headers:
    return tuple(answer.headers.items())


def send(request: hp.Request, timeout: Optional[float] = None, sink: Optional[IO[bytes]] = None) -> Any:
    """Send ``request`` once; return a Response, or a TransportFailure for a network fault.

    With ``sink``, a 2xx body is written to it instead of being returned (a download), and the
    answer is a StreamedResponse (urllib raises any other status as an HTTPError, read whole).
    """
    headers = dict(request.headers)
    data: Any = request.body
    if isinstance(request.body, hp.StreamedBody):
        data = request.body.chunks()  # streamed, never read whole into memory
        if request.body.length is not None:
            headers["Content-Length"] = str(request.body.length)
    http_request = urllib.request.Request(request.url, data=data, headers=headers, method=request.method)
    seconds = 90.0 if timeout is None else min(90.0, max(timeout, 0.01))
    try:
        answer = _OPENER.open(http_request, timeout=seconds)
    except urllib.error.HTTPError as error:  # 3xx, 4xx and 5xx are answers, not failures
        with error:
            return hp.Response(status=error.code, headers=_headers(error), body=error.read())
    except urllib.error.URLError as error:
        return _unsent(error)
    except TimeoutError:
        return hp.TransportFailure(kind=hp.FailureKind.TIMEOUT, detail="timed out", request_written=True)
    except (OSError, http.client.HTTPException) as error:  # closed before an answer began
        return hp.TransportFailure(kind=hp.FailureKind.READ, detail=repr(error), request_written=True)
    with answer:
        received = 0
        try:
            if sink is None:
                return hp.Response(status=answer.status, headers=_headers(answer), body=answer.read())
            while chunk := answer.read(CHUNK):
                sink.write(chunk)
                received += len(chunk)
        except (OSError, http.client.HTTPException) as error:  # the body broke off
            failure = hp.TransportFailure(
                kind=hp.FailureKind.READ, detail=repr(error), request_written=True, response_started=True
            )
            if sink is None:
                return failure
            return hp.StreamedResponse(
                status=answer.status, headers=_headers(answer), received=received, failure=failure
            )
        return hp.StreamedResponse(status=answer.status, headers=_headers(answer), received=received)


def run(
    flow: hp.Flow[T],
    *,
    on_event: Callable[[object], None] = print,
    sink: Optional[IO[bytes]] = None,
) -> T:
    """Perform the flow's effects until it returns its result (or raises its error)."""
    try:
        effect = next(flow)
        while True:
            answer: Any = None
            if isinstance(effect, hp.Send):
                answer = send(effect.request, effect.timeout)
            elif isinstance(effect, hp.StreamedSend):
                if sink is None:
                    raise RuntimeError("this flow downloads: pass sink=")
                sink.seek(0)
                sink.truncate()  # each attempt starts from nothing
                answer = send(effect.request, effect.timeout, sink)
            elif isinstance(effect, hp.Sleep):
                time.sleep(effect.seconds)
                answer = time.monotonic()
            elif isinstance(effect, hp.Now):
                answer = time.time() if effect.wall else time.monotonic()
            elif isinstance(effect, hp.Notify):
                on_event(effect.event)
            else:
                raise RuntimeError(f"this runner cannot answer {effect!r}")
            effect = flow.send(answer)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    finally:
        flow.close()


def main() -> None:
    config = hp.ApiConfig(
        credentials=hp.Credentials.from_string(os.environ["HF_KEY"]),
        base_url=os.environ.get("HIGGSFIELD_BASE_URL", hp.DEFAULT_BASE_URL),
    )
    env = hp.FlowEnv(
        retry=hp.RetryPolicy(max_attempts=5),
        poll=hp.PollPolicy(initial_delay=0.5, max_delay=2.0, timeout=600.0),
        jitter=random.random,
    )
    job = run(
        hp.subscribe_flow(
            config,
            MODEL,
            {"prompt": "A quiet alpine lake at sunrise, editorial photography"},
            env,
            idempotency_key=str(uuid.uuid4()),  # makes the submit safe to repeat
        )
    )
    hp.raise_for_job_outcome(job)  # JobFailedError, JobNSFWError or JobCancelledError
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as file:
        downloaded = run(hp.download_flow(job.images[0], env), sink=file)
    print(f"{job.request_id}: {downloaded.size} bytes in {file.name}")


if __name__ == "__main__":
    main()
