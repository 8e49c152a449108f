"""The emulator's settings: one immutable object, replaced as a whole when changed at runtime."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from bria_dagster.emulator.bodies import MAX_BODY_BYTES
from bria_dagster.emulator.faults import FaultRule
from bria_dagster.emulator.latency import Distribution, check_family

PLAN_RPM: dict[str, int] = {"free": 10, "starter": 60, "pro": 1000}
"""Requests per minute per endpoint for each of Bria's plans (bria-api.md §3)."""

DEFAULT_WEBHOOK_RETRY_DELAYS_S: tuple[float, ...] = (30.0, 120.0, 600.0, 1800.0)
"""Waits before the 2nd..5th delivery attempt: 5 attempts over about 42 minutes, like Bria."""

RUNTIME_FIELDS = frozenset(
    {
        "rpm",
        "rate_window_s",
        "latency",
        "faults",
        "result_ttl_s",
        "v1_result_ttl_s",
        "forbidden_token",
        "moderation_trigger",
        "training_seconds",
        "output_megapixels",
        "string_codes",
        "string_seeds",
        "webhook_retry_delays_s",
        "webhook_timeout_s",
    }
)
"""Fields ``POST /_emulator/config`` may change while the server runs."""


def _to_distribution(value: Any) -> Any:
    return Distribution.parse(value) if isinstance(value, str | int | float) else value


LatencySpec = Annotated[
    Distribution, BeforeValidator(_to_distribution), PlainSerializer(str, return_type=str)
]


class EmulatorConfig(BaseModel):
    """Everything that shapes the emulator's behaviour. Immutable: use ``model_copy(update=...)``.

    Latency keys are family names (``generation``, ``edit``, ...; see
    ``bria_dagster.client.catalog.families.FAMILIES``) or ``*``; values are distributions such as
    ``"lognormal:6,0.5"``, ``"uniform:1,3"`` or a number of seconds. A family with no entry (and
    no ``*``) gets a lognormal around its expected latency.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    public_url: str | None = Field(
        default=None,
        description="base URL written into status and file URLs; default: the bound address",
    )
    rpm: int | None = Field(
        default=PLAN_RPM["pro"],
        ge=1,
        description="requests per minute per token and endpoint; None: off",
    )
    rate_window_s: float = Field(
        default=60.0, gt=0, description="the sliding window of the rate limit"
    )
    latency: dict[str, LatencySpec] = Field(default_factory=dict)
    faults: tuple[FaultRule, ...] = ()
    result_ttl_s: float = Field(
        default=3 * 24 * 3600.0, gt=0, description="life of a v2 result URL"
    )
    v1_result_ttl_s: float = Field(default=3600.0, gt=0, description="life of a v1 result URL")
    seed: int | None = Field(default=None, description="seeds latencies, job seeds and faults")
    output_megapixels: float = Field(default=1.0, gt=0, le=16)
    forbidden_token: str | None = Field(default=None, description="a token answered with 403")
    moderation_trigger: str = Field(default="[moderate]", min_length=1)
    training_seconds: float = Field(default=60.0, ge=0, description="tailored model training time")
    string_codes: bool = Field(default=False, description="job error codes as strings ('422')")
    string_seeds: bool = Field(default=False, description="result seeds as strings ('123')")
    webhook_retry_delays_s: tuple[float, ...] = DEFAULT_WEBHOOK_RETRY_DELAYS_S
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    fetch_timeout_s: float = Field(default=10.0, gt=0, description="timeout of input URL downloads")
    max_input_bytes: int = Field(default=12 * 1024 * 1024, ge=1, description="input size cap (413)")
    max_body_bytes: int = Field(
        default=MAX_BODY_BYTES, ge=1024, description="request body cap (413); see bodies.py"
    )
    workers: int = Field(default=4, ge=1, le=64, description="threads that execute jobs")
    request_log_size: int = Field(
        default=10_000, ge=0, description="requests kept by the request log (0: no log)"
    )
    request_log_bytes: int = Field(
        default=64 * 1024 * 1024, ge=0, description="body bytes kept by the request log in all"
    )
    files_dir: Path | None = Field(
        default=None, description="where result files go; default: a temp dir"
    )

    @field_validator("latency")
    @classmethod
    def _known_families(cls, value: dict[str, Distribution]) -> dict[str, Distribution]:
        for family in value:
            check_family(family)
        return value

    @field_validator("webhook_retry_delays_s")
    @classmethod
    def _non_negative(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(d < 0 for d in value):
            raise ValueError("delays must be >= 0")
        return value

    @field_validator("forbidden_token", mode="after")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        return value or None

    def __repr_args__(self) -> Any:
        # The forbidden token is a token: keep it out of reprs.
        for name, value in super().__repr_args__():
            yield name, ("***" if name == "forbidden_token" and value else value)

    def updated(self, changes: dict[str, Any]) -> EmulatorConfig:
        """A copy with runtime ``changes`` applied and validated (ValueError names the field)."""
        frozen = sorted(set(changes) - RUNTIME_FIELDS)
        unknown = [name for name in frozen if name not in type(self).model_fields]
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown setting")
        if frozen:
            raise ValueError(f"{frozen[0]}: cannot be changed while the server runs")
        data = self.model_dump(exclude_defaults=False)
        data.update(changes)
        return type(self).model_validate(data)
