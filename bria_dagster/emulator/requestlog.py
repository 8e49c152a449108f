"""The request log: every request the emulator received, as sent (``GET /_emulator/requests``).

Each entry holds the method, path, raw query, headers (``api_token`` removed: only its
fingerprint is kept, in ``token``), the exact body bytes (``body_b64``; also ``json`` when the
body is JSON), the arrival time and the answer's status (``None`` while unanswered or when the
connection was dropped). The admin routes (``/_emulator/*`` except the upload target) are not
logged.

Bounded, so long runs and benchmarks do not grow memory: at most ``request_log_size`` entries
and ``request_log_bytes`` body bytes in all; the oldest entries go first. A body larger than the
whole budget, or than :data:`BODY_KEEP_LIMIT`, is kept as its size only (``body_truncated``), so
an oversized upload that the app refuses while streaming is not held in the log either.
``POST /_emulator/reset`` clears the log; sequence numbers keep counting, so ``since`` stays
meaningful across a reset.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bria_dagster.emulator.ratelimit import token_hash

BODY_KEEP_LIMIT = 8 * 1024 * 1024
"""The largest body kept whole in one entry: bigger than any request a test inspects, far below
the app's body cap, which a chunked upload may fill before its 413."""

_TOKEN_HEADER = "api_token"
DRAIN_LIMIT = 1024 * 1024
"""Of a body the app answered without reading, the log reads at most this much itself (so a
large upload refused early, e.g. with 413, is not read in full just to be logged)."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (a copy: later changes do not show)."""

    seq: int
    """Increases by one per request, across resets."""
    time: float
    """Arrival, seconds since the epoch."""
    method: str
    path: str
    query: str
    """The raw query string (``a=1&b=2``)."""
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ``", "``; never ``api_token``."""
    token: str | None
    """Fingerprint of the ``api_token`` header (``ratelimit.token_hash``); None without one."""
    body: bytes = b""
    """The body bytes received (all of them unless ``body_truncated``)."""
    body_size: int = 0
    """How many body bytes arrived."""
    body_truncated: bool = False
    """The body was not kept whole (over the log's byte budget, or not read to its end)."""
    status: int | None = None
    """The answer's status; None while unanswered or when the connection was dropped."""

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None when it is empty or not JSON."""
        if not self.body or self.body_truncated:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        """The entry as ``GET /_emulator/requests`` shows it."""
        return {
            "seq": self.seq,
            "time": self.time,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "token": self.token,
            "json": self.json,
            "body_b64": base64.b64encode(self.body).decode("ascii"),
            "body_size": self.body_size,
            "body_truncated": self.body_truncated,
            "status": self.status,
        }


@dataclass
class _Entry:
    """A request being received: its head, and its body and status as they come."""

    head: RecordedRequest
    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0
    size: int = 0
    truncated: bool = False
    complete: bool = False
    status: int | None = None

    def freeze(self) -> RecordedRequest:
        return replace(
            self.head,
            headers=dict(self.head.headers),
            body=b"".join(self.chunks),
            body_size=self.size,
            body_truncated=self.truncated or not self.complete,
            status=self.status,
        )


def _headers(scope: Scope) -> tuple[dict[str, str], str | None]:
    headers: dict[str, str] = {}
    token = None
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name == _TOKEN_HEADER:
            token = token_hash(value.strip())
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers, token


class RequestLog:
    """The bounded log. Written from the event loop, read from any thread."""

    def __init__(self, size: int, max_bytes: int, clock: Callable[[], float] = time.time) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self._seq = 0

    def clear(self) -> None:
        """Forget every entry (sequence numbers keep counting)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def query(
        self, path: str | None = None, method: str | None = None, since: int = 0
    ) -> list[RecordedRequest]:
        """Entries, oldest first: ``path`` a glob on the path, ``method`` exact (any case),
        ``since`` only entries with a greater ``seq``."""
        wanted = method.upper() if method else None
        with self._lock:
            return [
                entry.freeze()
                for entry in self._entries
                if entry.head.seq > since
                and (wanted is None or entry.head.method == wanted)
                and (path is None or fnmatch.fnmatchcase(entry.head.path, path))
            ]

    @property
    def enabled(self) -> bool:
        """False when the log keeps nothing (``request_log_size`` 0)."""
        return self._size > 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the latest request (0 before the first)."""
        return self._seq

    def _open(self, scope: Scope) -> _Entry:
        headers, token = _headers(scope)
        with self._lock:
            self._seq += 1
            head = RecordedRequest(
                self._seq,
                self._clock(),
                scope["method"],
                scope["path"],
                scope.get("query_string", b"").decode("latin-1"),
                headers,
                token,
            )
            entry = _Entry(head)
            self._entries.append(entry)
            while len(self._entries) > self._size:
                self._drop_oldest()
        return entry

    def _drop_oldest(self) -> None:
        self._bytes -= self._entries.popleft().kept

    def _add_body(self, entry: _Entry, chunk: bytes, more: bool) -> None:
        with self._lock:
            entry.size += len(chunk)
            entry.complete = not more
            if entry.truncated or not chunk:
                return
            if entry.kept + len(chunk) > min(self._max_bytes, BODY_KEEP_LIMIT):
                self._bytes -= entry.kept
                entry.chunks, entry.kept, entry.truncated = [], 0, True
                return
            entry.chunks.append(chunk)
            entry.kept += len(chunk)
            self._bytes += len(chunk)
            while self._bytes > self._max_bytes and self._entries[0] is not entry:
                self._drop_oldest()

    async def record(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request through ``app``, logging it.

        Wraps the receive channel (the body as the app reads it) and ``send`` (the status).
        When the app answers before reading the whole body (an auth error, a fault), the rest
        of the body, up to :data:`DRAIN_LIMIT` bytes, is read just before the answer goes out,
        so the log still holds what the client sent.
        """
        entry = self._open(scope)

        async def logged_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._add_body(entry, message.get("body", b""), message.get("more_body", False))
            return message

        async def logged_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                while not entry.complete and not entry.truncated and entry.size < DRAIN_LIMIT:
                    if (await logged_receive())["type"] != "http.request":
                        break
                entry.status = message["status"]
            await send(message)

        await app(scope, logged_receive, logged_send)
