"""Everything a client can be configured with, in one validated pydantic model.

Values come from the arguments, else from the environment (``BRIA_API_TOKEN``,
``BRIA_BASE_URL``, ``BRIA_RATE_LIMIT_BACKEND``, ``BRIA_DAGSTER_HOME``), else from the defaults
below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from bria_dagster.client.errors import BriaInputError

DEFAULT_BASE_URL = "https://engine.prod.bria-api.com"

PLAN_REQUESTS_PER_MINUTE: dict[str, int] = {
    "free": 10,
    "starter": 60,
    "payg": 60,
    "pro": 1000,
    "enterprise": 1000,
}
"""Bria's published per-endpoint limits (bria-api.md §3); ``payg``/``enterprise`` are aliases."""

Plan = Literal["free", "starter", "payg", "pro", "enterprise"]

RATE_LIMIT_SCHEMES = ("memory", "sqlite", "redis", "rediss", "postgresql", "postgres")


def _env_token() -> SecretStr | None:
    value = os.environ.get("BRIA_API_TOKEN")
    return SecretStr(value) if value else None


def _env_base_url() -> str:
    return os.environ.get("BRIA_BASE_URL") or DEFAULT_BASE_URL


RATE_LIMIT_BACKEND_ENV = "BRIA_RATE_LIMIT_BACKEND"


def default_rate_limit_backend() -> str:
    """``$BRIA_RATE_LIMIT_BACKEND`` when set (``memory``, ``sqlite:///...``, ``redis://...``,
    ``postgresql://...``), else a SQLite file shared by every process of this user on this
    machine, in ``$BRIA_DAGSTER_HOME`` when set, else in ``~/.cache/bria_dagster``.
    """
    configured = os.environ.get(RATE_LIMIT_BACKEND_ENV, "").strip()
    if configured:
        return configured
    home = os.environ.get("BRIA_DAGSTER_HOME")
    folder = Path(home) if home else Path.home() / ".cache" / "bria_dagster"
    return f"sqlite:///{(folder / 'ratelimit.sqlite').resolve()}"


class ClientSettings(BaseModel):
    """Settings of :class:`BriaClient` and :class:`AsyncBriaClient`.

    The API token is a ``SecretStr``: it shows as ``**********`` in ``repr``, ``str`` and dumps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    api_token: SecretStr | None = Field(default_factory=_env_token)
    """Bria API token (default: ``$BRIA_API_TOKEN``). Required before any call."""
    base_url: str = Field(default_factory=_env_base_url)
    """Engine host (default: ``$BRIA_BASE_URL``, else Bria's production engine)."""

    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    write_timeout_s: float = Field(default=30.0, gt=0)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    sync_read_timeout_s: float = Field(default=90.0, gt=0)
    """Read timeout of calls that hold the connection while Bria works (``sync: true``, v1)."""
    download_read_timeout_s: float = Field(default=60.0, gt=0)

    plan: Plan = "starter"
    """Bria plan: free (10 rpm), starter/payg (60 rpm), pro/enterprise (1000 rpm) per endpoint."""
    requests_per_minute: int | None = Field(default=None, gt=0)
    """Explicit per-endpoint limit; overrides ``plan``."""
    rate_limit_fraction: float = Field(default=0.9, gt=0, le=1)
    """Share of the limit the client uses. 0.9 leaves room for the skew between the moment the
    client takes a slot and the moment the request reaches Bria, and for other users of the same
    token; measured against a sliding-window server, 100 % still drew a few 429s when several
    processes shared one budget, 90 % drew none (shared/notes/peers-storage-ratelimit.md §2)."""
    rate_limit_window_s: float = Field(default=60.0, gt=0)
    """Length of the rate-limit window. Bria counts per minute; tests shorten it."""
    rate_limit_backend: str = Field(default_factory=default_rate_limit_backend)
    """Where the budget lives: ``memory`` (this process), ``sqlite:///relative.db`` or
    ``sqlite:////absolute.db`` (processes on one machine), ``redis://...`` or
    ``postgresql://...`` (processes on several machines). Default: ``$BRIA_RATE_LIMIT_BACKEND``,
    else a SQLite file (see :func:`default_rate_limit_backend`)."""

    poll_first_factor: float = Field(default=1.0, gt=0)
    """First status poll after the endpoint family's expected latency times this factor."""
    poll_interval_s: float = Field(default=2.0, gt=0)
    """Gap between the first and the second poll; later gaps grow by ``poll_growth``."""
    poll_growth: float = Field(default=1.5, ge=1)
    poll_jitter: float = Field(default=0.1, ge=0, lt=1)
    """Each delay is shortened by a random share up to this, so jobs do not poll in lockstep."""
    poll_max_interval_s: float = Field(default=15.0, gt=0)
    wait_timeout_s: float = Field(default=1200.0, gt=0)
    """Default overall wait per job before :class:`WaitTimeoutError` (the job may still finish)."""
    max_concurrent_polls: int = Field(default=8, ge=1)
    """Status requests in flight at once in ``wait_many`` (all still within the status budget)."""

    max_attempts: int = Field(default=5, ge=1)
    """Attempts per request, where retrying is safe (see the retry rules)."""
    retry_base_delay_s: float = Field(default=0.5, ge=0)
    retry_max_delay_s: float = Field(default=60.0, ge=0)
    """Cap on one backoff delay, and on a server's ``Retry-After``."""

    download_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)

    @field_validator("api_token", mode="before")
    @classmethod
    def _strip_token(cls, value: object) -> object:
        # Never raise here: pydantic would quote the token in its error message.
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL such as https://engine.prod.bria-api.com")
        return value.strip().rstrip("/")

    @field_validator("rate_limit_backend")
    @classmethod
    def _check_backend(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].lower()
        if scheme not in RATE_LIMIT_SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(RATE_LIMIT_SCHEMES)}")
        if scheme == "sqlite" and not value.lower().startswith("sqlite:///"):
            raise ValueError("write sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return value

    @property
    def effective_requests_per_window(self) -> int:
        """Requests the client allows itself per endpoint and window (never below 1)."""
        per_minute = self.requests_per_minute or PLAN_REQUESTS_PER_MINUTE[self.plan]
        return max(1, int(per_minute * self.rate_limit_fraction))

    def require_token(self) -> str:
        """The token's value; :class:`BriaInputError` naming ``api_token`` when there is none."""
        if self.api_token is None:
            raise BriaInputError(
                "api_token", "missing: pass api_token=... or set the BRIA_API_TOKEN variable"
            )
        token = self.api_token.get_secret_value()
        if not token.isascii() or not token.isprintable() or " " in token:
            raise BriaInputError("api_token", "must be printable ASCII without spaces")
        return token

    def http_timeout(self, *, read: float | None = None) -> httpx.Timeout:
        """The httpx timeout for engine calls, with an optional longer read timeout."""
        return httpx.Timeout(
            connect=self.connect_timeout_s,
            read=self.read_timeout_s if read is None else read,
            write=self.write_timeout_s,
            pool=self.pool_timeout_s,
        )


def resolve_settings(settings: ClientSettings | None, overrides: dict[str, Any]) -> ClientSettings:
    """``settings`` (or a fresh default) with keyword ``overrides`` applied and validated."""
    if settings is not None and not overrides:
        return settings
    base = settings.model_dump() if settings is not None else {}
    return ClientSettings.model_validate({**base, **overrides})
