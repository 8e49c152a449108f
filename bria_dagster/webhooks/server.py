"""Serve the receiver with uvicorn: in a background thread (:class:`WebhookServer`) or blocking."""

from __future__ import annotations

import threading
from types import TracebackType

import uvicorn

from bria_dagster.serving import bind, serve_in_thread, url_of
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


class WebhookServer:
    """The receiver on a local port, in a background thread. A context manager.

    >>> with WebhookServer(create_webhook_app(ledger, token)) as receiver:
    ...     bria.submit("image/generate", payload, webhook_url=receiver.webhook_url)
    """

    def __init__(
        self,
        app: WebhookApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._startup_timeout_s = startup_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def webhook_url(self) -> str:
        """The URL to pass as ``webhook_url`` when submitting."""
        return self.base_url + self.app.webhook_path

    def start(self) -> WebhookServer:
        """Bind, serve in a thread, and return once the server answers."""
        if self._server is not None:
            raise RuntimeError("the receiver was already started; make a new WebhookServer")
        sock = bind(self.host, self.port)
        self.base_url = url_of(sock)
        self._server = server = receiver_server(self.app)
        self._thread = serve_in_thread(server, sock, "bria-webhooks", self._startup_timeout_s)
        return self

    def stop(self) -> None:
        """Shut the server down and wait for it."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
