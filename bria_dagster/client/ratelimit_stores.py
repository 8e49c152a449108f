"""Where rate budgets live: pyrate-limiter buckets opened from a URI.

``memory``: this process only. ``sqlite:///path``: every process on this machine (a SQLite file
guarded by a file lock). ``redis://...`` and ``postgresql://...``: processes on several machines.
All use the sliding-window log, which never admits more than the limit in any window.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from pyrate_limiter import AbstractBucket, InMemoryBucket, Rate, RedisBucket, SQLiteBucket

from bria_dagster.client.errors import BriaInputError

_FIELD = "rate_limit_backend"


class BucketStore(ABC):
    """Opens one bucket per budget key and closes what it opened."""

    blocking_io: bool = True
    """True when bucket calls do I/O (file lock, network): async callers run them in a thread."""

    @abstractmethod
    def bucket(self, key: str, rate: Rate) -> AbstractBucket:
        """The bucket of budget ``key`` (created on first use)."""

    def close(self) -> None:  # noqa: B027 - most stores hold nothing
        """Release connections."""

    def check(self) -> None:  # noqa: B027 - a memory store cannot fail
        """Reach the store once (no slot is taken); raise what its driver raises."""


class MemoryStore(BucketStore):
    """Buckets in this process's memory, shared by every client of the process."""

    blocking_io = False
    _buckets: dict[tuple[str, int, int], InMemoryBucket] = {}
    _lock = threading.Lock()

    def bucket(self, key: str, rate: Rate) -> AbstractBucket:
        with self._lock:
            slot = (key, rate.limit, rate.interval)
            if slot not in self._buckets:
                self._buckets[slot] = InMemoryBucket([rate])
            return self._buckets[slot]


class SQLiteStore(BucketStore):
    """One table per budget in a SQLite file; a file lock makes check-and-put atomic."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: list[SQLiteBucket] = []

    def bucket(self, key: str, rate: Rate) -> AbstractBucket:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        bucket = SQLiteBucket.init_from_file(
            [rate], table=key, db_path=str(self.path), use_file_lock=True
        )
        self._opened.append(bucket)
        return bucket

    def check(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=5)) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        for bucket in self._opened:
            bucket.close()
        self._opened.clear()


class RedisStore(BucketStore):
    """A sorted set per budget in Redis (atomic check-and-put in a Lua script)."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise BriaInputError(
                _FIELD, "redis:// needs: pip install 'bria-dagster[redis]'"
            ) from None
        self._redis: Any = redis.Redis.from_url(url)

    def bucket(self, key: str, rate: Rate) -> AbstractBucket:
        bucket = RedisBucket.init([rate], self._redis, f"bria_dagster:{key}")
        assert isinstance(bucket, AbstractBucket)  # a sync client gives a sync bucket
        return bucket

    def check(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


class PostgresStore(BucketStore):
    """A table per budget in PostgreSQL, locked for each check-and-put; the server's clock."""

    def __init__(self, url: str) -> None:
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise BriaInputError(
                _FIELD, "postgresql:// needs: pip install 'bria-dagster[postgres]'"
            ) from None
        self._pool = ConnectionPool(url, min_size=1, max_size=4, open=False)
        self._lock = threading.Lock()
        self._opened = False

    def bucket(self, key: str, rate: Rate) -> AbstractBucket:
        from pyrate_limiter import PostgresBucket

        with self._lock:
            if not self._opened:
                self._pool.open()
                self._opened = True
        return PostgresBucket(self._pool, key, [rate])

    def check(self) -> None:
        with self._lock:
            if not self._opened:
                self._pool.open()
                self._opened = True
        with self._pool.connection(timeout=5) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self._pool.close()


def sqlite_path(uri: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` (as SQLAlchemy writes them)."""
    raw = uri[len("sqlite:///") :]
    if not raw:
        raise BriaInputError(_FIELD, "sqlite:/// needs a file path")
    return Path(raw).expanduser()


def open_store(uri: str) -> BucketStore:
    """The bucket store a ``rate_limit_backend`` URI names."""
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        return SQLiteStore(sqlite_path(uri))
    if scheme in ("redis", "rediss"):
        return RedisStore(uri)
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(uri)
    raise BriaInputError(_FIELD, f"unsupported scheme {scheme!r}")
