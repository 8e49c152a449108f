"""Serve the receiver with uvicorn: in a background thread (:class:`WebhookServer`) or blocking."""

from __future__ import annotations

import uvicorn

from bria_dagster.serving import BackgroundServer
from bria_dagster.webhooks.app import WebhookApp


def receiver_server(app: WebhookApp, *, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for the receiver (run it with ``server.run(sockets=[sock])``).

    Access logs are off: a delivery's outcome is logged by the app, without headers.
    """
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


class WebhookServer(BackgroundServer):
    """The receiver on a local port, in a background thread. A context manager.

    >>> with WebhookServer(create_webhook_app(ledger, token)) as receiver:
    ...     bria.submit("image/generate", payload, webhook_url=receiver.webhook_url)
    """

    thread_name = "bria-webhooks"

    def __init__(
        self,
        app: WebhookApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(host, port, startup_timeout_s)
        self.app = app

    @property
    def webhook_url(self) -> str:
        """The URL to pass as ``webhook_url`` when submitting."""
        return self.base_url + self.app.webhook_path

    def make_server(self) -> uvicorn.Server:
        """The receiver's uvicorn server."""
        return receiver_server(self.app)
