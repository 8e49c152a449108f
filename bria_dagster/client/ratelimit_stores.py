"""Where rate budgets live: pyrate-limiter buckets opened from a URI.

``memory``: this process only. ``sqlite:///path``: every process on this machine (a SQLite file
guarded by a file lock). ``redis://...`` and ``postgresql://...``: processes on several machines.
All use the sliding-window log, which never admits more than the limit in any window.

A 429's ``Retry-After`` is kept in the store too (:meth:`BucketStore.block`), so the block holds
for every process that shares the budget, not only the one that got the 429: a row per budget
key in SQLite and PostgreSQL, a key with that expiry in Redis (server clocks where there is a
server, so the processes' clocks need not agree).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
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

    def block(self, bucket: AbstractBucket, key: str, seconds: float) -> None:  # noqa: B027
        """Block budget ``key`` for every sharer for ``seconds`` (a longer block stays).

        The memory store keeps nothing here: the process-wide gate already blocks.
        """

    def blocked_for(self, bucket: AbstractBucket, key: str) -> float:
        """Seconds left of budget ``key``'s shared block (0.0 when not blocked).

        Called with the store's lock held (see ``AbstractBucket.limiter_lock``).
        """
        return 0.0


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


_BLOCKS = "bria_dagster_blocks"
"""The table (SQLite, PostgreSQL) or key prefix (Redis) of the shared Retry-After blocks."""


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
        with self._locked(bucket):
            bucket.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_BLOCKS} (key TEXT PRIMARY KEY, until REAL)"
            )
            bucket.conn.commit()
        self._opened.append(bucket)
        return bucket

    @staticmethod
    def _locked(bucket: AbstractBucket) -> contextlib.AbstractContextManager[object]:
        lock = bucket.limiter_lock()
        return lock if lock is not None else contextlib.nullcontext()  # type: ignore[return-value]

    def block(self, bucket: AbstractBucket, key: str, seconds: float) -> None:
        assert isinstance(bucket, SQLiteBucket)
        with self._locked(bucket), bucket.lock:
            bucket.conn.execute(
                f"INSERT INTO {_BLOCKS} (key, until) VALUES (?, ?) ON CONFLICT (key) "
                f"DO UPDATE SET until = max(until, excluded.until)",
                (key, time.time() + seconds),
            )
            bucket.conn.commit()

    def blocked_for(self, bucket: AbstractBucket, key: str) -> float:
        assert isinstance(bucket, SQLiteBucket)
        with bucket.lock:
            row = bucket.conn.execute(f"SELECT until FROM {_BLOCKS} WHERE key = ?", (key,))
            found = row.fetchone()
        return max(0.0, found[0] - time.time()) if found else 0.0

    def check(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=5)) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        for bucket in self._opened:
            bucket.close()
        self._opened.clear()


_REDIS_BLOCK = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
"""


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

    def block(self, bucket: AbstractBucket, key: str, seconds: float) -> None:
        self._redis.eval(_REDIS_BLOCK, 1, f"{_BLOCKS}:{key}", max(1, int(seconds * 1000)))

    def blocked_for(self, bucket: AbstractBucket, key: str) -> float:
        left_ms = int(self._redis.pttl(f"{_BLOCKS}:{key}"))
        return left_ms / 1000 if left_ms > 0 else 0.0

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

        self._open()
        return PostgresBucket(self._pool, key, [rate])

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self._pool.open()
                with self._pool.connection() as conn:
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {_BLOCKS} "
                        "(key TEXT PRIMARY KEY, until TIMESTAMPTZ NOT NULL)"
                    )
                self._opened = True

    def block(self, bucket: AbstractBucket, key: str, seconds: float) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                f"INSERT INTO {_BLOCKS} AS b (key, until) "
                "VALUES (%s, clock_timestamp() + make_interval(secs => %s)) "
                "ON CONFLICT (key) DO UPDATE SET until = GREATEST(b.until, EXCLUDED.until)",
                (key, seconds),
            )

    def blocked_for(self, bucket: AbstractBucket, key: str) -> float:
        with self._pool.connection() as conn:
            row = conn.execute(
                f"SELECT EXTRACT(EPOCH FROM until - clock_timestamp()) FROM {_BLOCKS} "
                "WHERE key = %s",
                (key,),
            ).fetchone()
        return max(0.0, float(row[0])) if row else 0.0

    def check(self) -> None:
        self._open()
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
