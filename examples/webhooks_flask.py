"""Receive Higgsfield webhooks in a Flask app: the SDK's WSGI receiver mounted at a path.

``make_app(trust, on_event)`` mounts the receiver beside the Flask app with werkzeug's
``DispatcherMiddleware``; any WSGI server serves the result (``main()`` uses waitress on port
8000). Several worker processes share one ``SQLiteStore``, so that each event is handled once
whichever worker a delivery reaches. HF_WEBHOOK_SECRET holds the ``whsec_...`` secret (several,
space-separated, during a rotation).
"""

from __future__ import annotations

import os
import sys
from typing import Optional

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from higgsfield_client.webhooks import Handler, WebhookReceiver, WebhookStore, WebhookTrust, wsgi_app
from higgsfield_proto import WebhookEvent

PATH = "/webhooks/higgsfield"


def make_app(trust: WebhookTrust, on_event: Handler, store: Optional[WebhookStore] = None) -> Flask:
    """A Flask app whose ``PATH`` receives the webhooks (``on_event`` must be a plain function).

    ``trust`` is the ``whsec_...`` secret(s), a ``UrlToken`` or a ``ConfirmByPolling`` with a
    ``SyncClient``."""
    app = Flask(__name__)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    receiver = WebhookReceiver(trust, on_event, store=store)
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {PATH: wsgi_app(receiver)})  # type: ignore[method-assign]
    return app


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
