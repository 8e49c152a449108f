"""Serving an ASGI app on a loopback or public socket: shared by the emulator and the webhook
receiver (neither imports the other)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (``port=0`` picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and without
    # it Nagle's algorithm and delayed ACKs add ~40 ms to every keep-alive answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve_in_thread(
    server: uvicorn.Server, sock: socket.socket, name: str, startup_timeout_s: float
) -> threading.Thread:
    """Run ``server`` on ``sock`` in a daemon thread; return once it accepts connections.

    Raises RuntimeError (and closes the socket) if it does not start within the timeout.
    """
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"{name} did not start (see the log)")
        time.sleep(0.005)
    return thread


class BackgroundServer:
    """A uvicorn server on its own port, in a daemon thread. A context manager.

    Subclasses say what to serve (:meth:`make_server`, called once ``base_url`` is known)."""

    thread_name = "bria-server"

    def __init__(self, host: str, port: int, startup_timeout_s: float) -> None:
        self.host = host
        self.port = port
        self._startup_timeout_s = startup_timeout_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        """``http://host:port`` once started."""

    def make_server(self) -> uvicorn.Server:
        """The uvicorn server to run."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind, serve in a thread, and return once the server answers."""
        if self._server is not None:
            name = type(self).__name__
            raise RuntimeError(f"the {name} was already started; make a new {name}")
        sock = bind(self.host, self.port)
        self.base_url = url_of(sock)
        self._server = server = self.make_server()
        self._thread = serve_in_thread(server, sock, self.thread_name, self._startup_timeout_s)
        return self

    def stop(self) -> None:
        """Shut the server down and wait for it."""
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
