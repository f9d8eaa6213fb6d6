"""Receive Higgsfield webhooks in a Django project: a view, exempt from CSRF (the signature is the
authentication).

In your project, ``receiver`` and ``higgsfield_webhook`` go in ``views.py``, and
``path("webhooks/higgsfield", views.higgsfield_webhook)`` in ``urls.py``. So that it runs as it
is, this file is also a whole one-file project: ``make_app(trust, on_event)`` makes the
receiver, configures Django and returns its WSGI application, which any WSGI server serves
(``main()`` uses waitress on port 8000). Several worker processes share one ``SQLiteStore``, so
that each event is handled once whichever worker a delivery reaches. HF_WEBHOOK_SECRET holds the
``whsec_...`` secret (several, space-separated, during a rotation).
"""

from __future__ import annotations

import os
import secrets
import sys
import types
from typing import Optional

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import clear_url_caches, path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from higgsfield_client.webhooks import Handler, WebhookReceiver, WebhookStore, WebhookTrust
from higgsfield_proto import WebhookEvent

PATH = "/webhooks/higgsfield"


# views.py: receiver = WebhookReceiver(settings.HF_WEBHOOK_SECRETS, on_event, store=SQLiteStore(...))
receiver: Optional[WebhookReceiver] = None


@csrf_exempt
@require_POST
def higgsfield_webhook(request: HttpRequest) -> HttpResponse:
    assert receiver is not None, "make_app() makes the receiver"
    query = request.META.get("QUERY_STRING", "")  # where a UrlToken's token is
    reply = receiver.handle(request.headers, request.body, query=query)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)


def make_app(trust: WebhookTrust, on_event: Handler, store: Optional[WebhookStore] = None) -> WSGIHandler:
    """The project's WSGI application, whose ``PATH`` receives the webhooks (``on_event`` must be
    a plain function; ``trust``: the ``whsec_...`` secret(s), a ``UrlToken`` or a
    ``ConfirmByPolling`` with a ``SyncClient``). Django runs one project per process: a second
    call replaces the first's receiver and routes."""
    global receiver
    receiver = WebhookReceiver(trust, on_event, store=store)
    urls = types.ModuleType("urls")  # urls.py
    urls.urlpatterns = [path(PATH.lstrip("/"), higgsfield_webhook)]  # type: ignore[attr-defined]
    if not settings.configured:
        settings.configure(
            ALLOWED_HOSTS=["*"],  # yours: the host names the webhooks are sent to
            SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(32),
            MIDDLEWARE=[
                "django.middleware.common.CommonMiddleware",
                "django.middleware.csrf.CsrfViewMiddleware",
            ],
            ROOT_URLCONF=urls,
            USE_TZ=True,
        )
        django.setup()
    else:
        settings.ROOT_URLCONF = urls
        clear_url_caches()
    return WSGIHandler()


def on_event(event: WebhookEvent) -> None:
    """Called once per job: keep it quick (queue the work); raise to have it delivered again."""
    status = event.status
    print(f"job {status.request_id} {status.state.value}: {', '.join(status.images) or status.error}")


def main() -> None:
    import waitress

    from higgsfield_client.webhooks import SQLiteStore

    secret = os.environ.get("HF_WEBHOOK_SECRET") or sys.exit("set HF_WEBHOOK_SECRET (whsec_...)")
    app = make_app(secret.split(), on_event, SQLiteStore("webhooks.sqlite3"))
    waitress.serve(app, host="0.0.0.0", port=8000)


if __name__ == "__main__":
    main()
